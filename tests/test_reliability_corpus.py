"""A generated corpus of bad and odd inputs through ``alphacut remove``, end to end.

No binary fixtures: every file is made here with Pillow or by damaging Pillow's output.
Bad files must each get one ``error: PATH: reason`` line and leave no output; odd but
valid files (tiny, extreme aspect, CMYK, 16-bit, palette, LA, EXIF 1-8, animated) must
come out right. One CLI run covers the whole corpus, so the model is loaded once.
"""

from __future__ import annotations

import io
import random
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphacut.cli import main

# EXIF orientation -> how to build the stored pixels so that a correct reader shows the
# reference picture (the inverse of the display transform in the EXIF 2.3 spec, written
# with numpy so the test does not borrow Pillow's own table).
_STORE_FOR_ORIENTATION = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # display = mirror horizontally
    3: lambda a: a[::-1, ::-1],  # display = rotate 180
    4: lambda a: a[::-1, :],  # display = mirror vertically
    5: lambda a: a.transpose(1, 0, 2),  # display = transpose
    6: lambda a: np.rot90(a, 1),  # display = rotate 90 clockwise
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),  # display = transverse
    8: lambda a: np.rot90(a, -1),  # display = rotate 270 clockwise
}
_QUADRANT_COLOURS = ((230, 30, 30), (30, 200, 40), (40, 60, 220), (240, 220, 30))


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _jpeg_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _photo_like(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A smooth gradient with a bright disc: enough structure for the model and for JPEG."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(seed)
    base = np.stack([x / max(width, 1) * 200, y / max(height, 1) * 180, (x + y) % 97], axis=-1)
    disc = ((x - width / 2) ** 2 + (y - height / 2) ** 2) < (min(width, height) / 3) ** 2
    base[disc] = (250, 240, 220)
    base += rng.normal(0, 4, base.shape)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR claiming ``width`` x ``height``, a tiny IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _bad_crc_png() -> bytes:
    data = bytearray(_png_bytes(_photo_like((40, 30))))
    idat = data.index(b"IDAT")
    (length,) = struct.unpack(">I", data[idat - 4 : idat])
    data[idat + 4 + length] ^= 0xFF  # first CRC byte of IDAT; the pixel data is intact
    return bytes(data)


def _quadrants(width: int = 96, height: int = 64) -> np.ndarray:
    arr = np.zeros((height, width, 3), np.uint8)
    h2, w2 = height // 2, width // 2
    arr[:h2, :w2], arr[:h2, w2:] = _QUADRANT_COLOURS[0], _QUADRANT_COLOURS[1]
    arr[h2:, :w2], arr[h2:, w2:] = _QUADRANT_COLOURS[2], _QUADRANT_COLOURS[3]
    return arr


def _quadrant_means(arr: np.ndarray) -> list[np.ndarray]:
    h, w = arr.shape[:2]
    h2, w2, m = h // 2, w // 2, 6
    boxes = [(0, h2, 0, w2), (0, h2, w2, w), (h2, h, 0, w2), (h2, h, w2, w)]
    return [
        arr[t + m : b - m, left + m : r - m, :3].reshape(-1, 3).mean(0) for t, b, left, r in boxes
    ]


# name -> (bytes, substring the error line must contain)
def _bad_files() -> dict[str, tuple[bytes, str]]:
    jpeg = _jpeg_bytes(_photo_like((320, 240)))
    png = _png_bytes(_photo_like((200, 150), seed=1))
    return {
        "zero bytes.jpg": (b"", "empty file"),
        "cut short.jpg": (jpeg[: len(jpeg) * 3 // 5], "truncated"),
        "truncated.png": (png[: len(png) // 2], "damaged PNG"),
        "random.jpg": (random.Random(6).randbytes(4096), "not a recognised image format"),
        "text.png": (b"hello, I am not a picture\n" * 20, "not a recognised image format"),
        "bad crc.png": (_bad_crc_png(), "damaged PNG"),
        "over limit.png": (_png_header_only(12_000, 10_000), "above the 100 MP limit"),
        "bomb.png": (_png_header_only(200_000, 200_000), "image too large"),
        "phone.heic": (
            b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00heicmif1" + bytes(64),
            "pip install 'alphacut[heic]'",
        ),
    }


def _good_files(folder: Path) -> dict[str, Image.Image]:
    """Write odd-but-valid inputs; returns the picture each output's RGB must show."""
    expected: dict[str, Image.Image] = {}

    one = Image.new("RGB", (1, 1), (10, 200, 30))
    one.save(folder / "one.png")
    expected["one.png"] = one

    tall = _photo_like((1, 20_000))
    tall.save(folder / "tall.png")
    expected["tall.png"] = tall

    cmyk = _photo_like((96, 64), seed=2).convert("CMYK")
    cmyk.save(folder / "cmyk.jpg", quality=95)
    with Image.open(folder / "cmyk.jpg") as img:
        assert img.mode == "CMYK"
        expected["cmyk.jpg"] = img.convert("RGB")

    ramp = (np.arange(64 * 96, dtype=np.uint32).reshape(64, 96) * 10).astype(np.uint16)
    Image.fromarray(ramp).save(folder / "sixteen.png")
    with Image.open(folder / "sixteen.png") as img:
        assert img.mode in ("I;16", "I")
    grey = ((ramp.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    expected["sixteen.png"] = Image.fromarray(grey, "L").convert("RGB")

    pal = _photo_like((96, 64), seed=3).quantize(16)
    pal.info["transparency"] = 0
    pal.save(folder / "palette.png", transparency=0)
    expected["palette.png"] = pal.convert("RGB")

    la = Image.merge("LA", (_photo_like((96, 64), seed=4).convert("L"), _half_alpha((96, 64))))
    la.save(folder / "grey alpha.png")
    expected["grey alpha.png"] = la.convert("RGB")

    frames = [_photo_like((80, 60), seed=s) for s in (5, 6, 7)]
    frames[0].save(folder / "anim gif.gif", save_all=True, append_images=frames[1:], duration=50)
    with Image.open(folder / "anim gif.gif") as img:
        expected["anim gif.gif"] = img.convert("RGB")
    frames[0].save(
        folder / "anim webp.webp",
        save_all=True,
        append_images=frames[1:],
        duration=50,
        lossless=True,
    )
    expected["anim webp.webp"] = frames[0]

    exif_dir = folder / "exif"
    exif_dir.mkdir()
    reference = _quadrants()
    for orientation, store in _STORE_FOR_ORIENTATION.items():
        exif = Image.Exif()
        exif[0x0112] = orientation
        stored = Image.fromarray(np.ascontiguousarray(store(reference)), "RGB")
        stored.save(exif_dir / f"orient {orientation}.jpg", quality=95, exif=exif.tobytes())
        expected[f"exif/orient {orientation}.jpg"] = Image.fromarray(reference, "RGB")
    return expected


def _half_alpha(size: tuple[int, int]) -> Image.Image:
    alpha = np.full((size[1], size[0]), 255, np.uint8)
    alpha[:, : size[0] // 2] = 0
    return Image.fromarray(alpha, "L")


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict, dict]:
    folder = tmp_path / "corpus"
    folder.mkdir()
    bad = _bad_files()
    for name, (data, _) in bad.items():
        (folder / name).write_bytes(data)
    good = _good_files(folder)
    # The HEIC case is "no plugin installed", whether or not this machine has one.
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    return folder, bad, good


def test_corpus_through_the_cli(corpus, tmp_path: Path, home_with_model: Path, capsys) -> None:
    folder, bad, good = corpus
    out = tmp_path / "out"
    # --keep-hidden-rgb: every output pixel must then be the decoded input pixel, which is
    # what this test checks (orientation, modes); clearing is tested in test_engine_png.
    code = main(["remove", str(folder), "-r", "-o", str(out), "--provider", "cpu",
                 "--keep-hidden-rgb"])
    err = capsys.readouterr().err
    assert code == 1, err
    error_lines = [line for line in err.splitlines() if line.startswith("error: ")]

    for name, (_, reason) in bad.items():
        path = folder / name
        mine = [line for line in error_lines if line.startswith(f"error: {path}: ")]
        assert len(mine) == 1, f"{name}: expected one error line, got {mine}\n{err}"
        assert reason in mine[0], mine[0]
        assert "\n" not in mine[0] and "Traceback" not in err
        assert not (out / name).with_suffix(".png").exists()
    assert len(error_lines) == len(bad), "\n".join(error_lines)
    assert f"done {len(good)}, skipped 0, failed {len(bad)}" in err

    for name in ("anim gif.gif", "anim webp.webp"):
        fmt = "GIF" if name.endswith("gif") else "WEBP"
        assert f"note: {folder / name}: animated {fmt} with 3 frames: used the first frame" in err

    for name, picture in good.items():
        dest = (out / name).with_suffix(".png")
        with Image.open(dest) as img:
            img.load()
            assert img.mode == "RGBA" and img.size == picture.size, name
            rgba = np.asarray(img)
        if name.startswith("exif/"):
            want = _quadrant_means(np.asarray(picture))
            got = _quadrant_means(rgba)
            for quadrant, (w, g) in enumerate(zip(want, got, strict=True)):
                assert np.abs(w - g).max() < 12, f"{name} quadrant {quadrant}: {g} != {w}"
        else:
            assert np.array_equal(rgba[..., :3], np.asarray(picture)), name

    with Image.open(folder / "palette.png") as src:
        transparent = np.asarray(src) == 0
    with Image.open(out / "palette.png") as img:
        assert transparent.any() and (np.asarray(img)[..., 3][transparent] == 0).all()
    with Image.open(out / "grey alpha.png") as img:
        assert (np.asarray(img)[:, :48, 3] == 0).all()  # the input's own transparency is kept
    assert not list(out.rglob("*alphacut-tmp*"))


def test_sixteen_bit_is_scaled_not_clipped(corpus) -> None:
    from alphacut.pipeline.decode import decode

    folder, _, good = corpus
    decoded = decode(folder / "sixteen.png")
    arr = np.asarray(decoded.rgb)
    assert np.array_equal(arr, np.asarray(good["sixteen.png"]))
    assert len(np.unique(arr)) > 200  # clipping at 255 would leave almost everything white


def test_pixel_limit_is_configurable(tmp_path: Path) -> None:
    from alphacut.errors import DecodeError
    from alphacut.pipeline.decode import decode

    path = tmp_path / "p.png"
    _photo_like((400, 300)).save(path)
    assert decode(path, max_pixels=120_000).size == (400, 300)
    with pytest.raises(DecodeError, match=r"400x300 is 0.12 MP, above the 0.1 MP limit"):
        decode(path, max_pixels=100_000)


def test_oversized_headers_are_refused_without_allocating(tmp_path: Path) -> None:
    """A 40-byte file claiming 40 gigapixels (or 120 MP) must not make us allocate it."""
    for name, (w, h) in {"bomb.png": (200_000, 200_000), "big.png": (12_000, 10_000)}.items():
        (tmp_path / name).write_bytes(_png_header_only(w, h))
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from alphacut.errors import DecodeError\n"
        "from alphacut.pipeline.decode import decode\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "for name in ('bomb.png', 'big.png'):\n"
        "    try:\n"
        "        decode(Path(sys.argv[1]) / name)\n"
        "        print('DECODED', name)\n"
        "    except DecodeError as exc:\n"
        "        print('REFUSED', exc.reason)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print('GROWTH_KB', after - before)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["REFUSED", "REFUSED"], proc.stdout
    growth_kb = int(lines[-1].split()[1])
    assert growth_kb < 50_000, f"peak RSS grew by {growth_kb} kB refusing header-only bombs"
