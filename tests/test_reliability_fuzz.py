"""Fuzzing the decode path: damaged encodings of every format we read, and noise.

The property: ``decode`` returns an 8-bit RGB image (with a matching alpha, if any) or
raises ``DecodeError`` with a one-line reason. Nothing else may escape, and no input may
take long (a crafted header must not make it allocate or loop).
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from alphacut.errors import DecodeError
from alphacut.pipeline.decode import decode

FUZZ_MAX_PIXELS = 4_000_000  # keeps any header that claims a huge size cheap to refuse
SLOW_SECONDS = 5.0


def _encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _seeds() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(11)
    rgb = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    rgba = rgb.copy()
    rgba.putalpha(128)
    pal = rgb.quantize(8)
    frames = [rgb, rgb.rotate(90), rgb.rotate(180)]
    exif = Image.Exif()
    exif[0x0112] = 6
    return [
        (".png", _encode(rgb, "PNG")),
        (".png", _encode(rgba, "PNG")),
        (".png", _encode(pal, "PNG", transparency=0)),
        (".png", _encode(rgb.convert("LA"), "PNG")),
        (
            ".png",
            _encode(Image.fromarray(rng.integers(0, 65535, (24, 32), dtype=np.uint16)), "PNG"),
        ),
        (".jpg", _encode(rgb, "JPEG", quality=80, exif=exif.tobytes())),
        (".jpg", _encode(rgb.convert("CMYK"), "JPEG")),
        (".jpg", _encode(rgb, "JPEG", progressive=True)),
        (".gif", _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])),
        (".webp", _encode(rgba, "WEBP", lossless=True)),
        (".webp", _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])),
        (".bmp", _encode(rgb, "BMP")),
        (".tif", _encode(rgb, "TIFF", compression="tiff_deflate")),
        (".tif", _encode(rgb, "TIFF", compression="packbits")),
        (".tif", _encode(rgb.convert("I;16"), "TIFF")),
    ]


SEEDS = _seeds()


@st.composite
def damaged_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """A seed file with a few damaging edits, or plain noise under an image suffix."""
    if draw(st.integers(0, 9)) == 0:
        suffix = draw(st.sampled_from([".jpg", ".png", ".webp", ".heic", ".tif", ".gif"]))
        return suffix, draw(st.binary(max_size=512))
    suffix, data = draw(st.sampled_from(SEEDS))
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        edit = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "dims", "splice"]))
        if not buf:
            break
        pos = draw(st.integers(0, len(buf) - 1))
        if edit == "flip":
            buf[pos] ^= draw(st.integers(1, 255))
        elif edit == "truncate":
            del buf[pos:]
        elif edit == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif edit == "delete":
            del buf[pos : pos + draw(st.integers(1, 16))]
        elif edit == "dims":
            # Overwrite 4 bytes with a big number: hits width/height/length fields.
            buf[pos : pos + 4] = struct.pack(">I", draw(st.integers(0, 2**32 - 1)))
        else:
            other = draw(st.sampled_from(SEEDS))[1]
            buf[pos:] = other[draw(st.integers(0, len(other) - 1)) :]
    if suffix == ".png" and draw(st.booleans()) and len(buf) > 33:
        # Keep the IHDR CRC right now and then, so damage gets past the header check.
        ihdr = bytes(buf[12:29])
        buf[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    return suffix, bytes(buf)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _check(path: Path) -> None:
    start = time.perf_counter()
    try:
        decoded = decode(path, max_pixels=FUZZ_MAX_PIXELS)
    except DecodeError as exc:
        assert exc.path == path
        assert exc.reason and "\n" not in exc.reason, repr(exc.reason)
    else:
        assert decoded.rgb.mode == "RGB"
        width, height = decoded.rgb.size
        assert width >= 1 and height >= 1 and width * height <= FUZZ_MAX_PIXELS
        if decoded.alpha is not None:
            assert decoded.alpha.mode == "L" and decoded.alpha.size == decoded.rgb.size
        np.asarray(decoded.rgb)  # the pixels are really there
    elapsed = time.perf_counter() - start
    assert elapsed < SLOW_SECONDS, f"decode took {elapsed:.1f} s"


@settings(
    max_examples=300,
    deadline=None,  # shared CI cores make per-example deadlines flaky; _check times each one
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=damaged_files())
def test_decode_survives_damaged_files(case: tuple[str, bytes], fuzz_dir: Path) -> None:
    suffix, data = case
    path = fuzz_dir / f"case{suffix}"
    path.write_bytes(data)
    _check(path)


def test_every_seed_decodes(fuzz_dir: Path) -> None:
    """The seeds themselves are valid, so the fuzz starts from files that work."""
    for index, (suffix, data) in enumerate(SEEDS):
        path = fuzz_dir / f"seed{index}{suffix}"
        path.write_bytes(data)
        decoded = decode(path)
        assert decoded.rgb.size in ((32, 24), (24, 32)), (suffix, decoded.rgb.size)
