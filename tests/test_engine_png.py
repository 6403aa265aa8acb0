"""alphacut's streaming PNG encoder must round-trip bit-exactly through a standard decoder."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from alphacut.pipeline import png_encoder
from alphacut.pipeline.png_encoder import write_png


def _roundtrip(image: Image.Image, level: int = 1) -> Image.Image:
    buf = io.BytesIO()
    write_png(image, buf, level=level)
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    return out


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
@pytest.mark.parametrize("size", [(1, 1), (7, 3), (301, 257)])
def test_roundtrip_is_exact(mode: str, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(size))
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    arr = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    image = Image.fromarray(arr.squeeze(-1) if channels == 1 else arr, mode)
    out = _roundtrip(image)
    assert out.mode == mode and out.size == size
    assert np.array_equal(np.asarray(out), np.asarray(image))


def test_bands_join_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    # Force many small bands so the Up filter must carry the last row across each boundary.
    monkeypatch.setattr(png_encoder, "BAND_ROWS", 3)
    monkeypatch.setattr(png_encoder, "_IDAT_BYTES", 64)
    gradient = np.add.outer(np.arange(40), np.arange(50)).astype(np.uint8)
    image = Image.fromarray(np.dstack([gradient, gradient[::-1], gradient * 3, gradient]))
    assert np.array_equal(np.asarray(_roundtrip(image, level=6)), np.asarray(image))


def test_separate_alpha_is_interleaved() -> None:
    rgb = Image.fromarray(np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8))
    alpha = Image.fromarray(np.arange(99, dtype=np.uint8).reshape(9, 11))
    buf = io.BytesIO()
    write_png(rgb, buf, alpha=alpha)
    buf.seek(0)
    expected = rgb.copy()
    expected.putalpha(alpha)
    assert np.array_equal(np.asarray(Image.open(buf)), np.asarray(expected))


def test_other_modes_become_rgba() -> None:
    image = Image.new("P", (4, 4), 3)
    assert _roundtrip(image).mode == "RGBA"


def test_compresses_a_real_photo_about_as_well_as_pillow(photo) -> None:
    # The Up filter alone must stay close to Pillow's per-row adaptive filters on a photo.
    with Image.open(photo) as src:
        image = src.convert("RGBA")
    ours = io.BytesIO()
    write_png(image, ours)  # alphacut's default level
    pillows = io.BytesIO()
    image.save(pillows, "PNG", compress_level=1)
    assert len(ours.getvalue()) <= len(pillows.getvalue()) * 1.15


@pytest.mark.parametrize("separate_alpha", [True, False])
def test_clear_hidden_zeroes_only_fully_transparent_pixels(
    monkeypatch: pytest.MonkeyPatch, separate_alpha: bool
) -> None:
    monkeypatch.setattr(png_encoder, "BAND_ROWS", 4)  # the clearing must hold across bands
    rng = np.random.default_rng(7)
    rgb = rng.integers(1, 256, (13, 17, 3), dtype=np.uint8)
    alpha = rng.choice(np.array([0, 1, 128, 255], dtype=np.uint8), (13, 17))
    buf = io.BytesIO()
    if separate_alpha:
        write_png(Image.fromarray(rgb), buf, alpha=Image.fromarray(alpha), clear_hidden=True)
    else:
        write_png(Image.fromarray(np.dstack([rgb, alpha])), buf, clear_hidden=True)
    buf.seek(0)
    out = np.asarray(Image.open(buf))
    hidden = alpha == 0
    assert hidden.any() and (~hidden).any()
    assert np.array_equal(out[..., 3], alpha)
    assert np.array_equal(out[..., :3][~hidden], rgb[~hidden])
    assert not out[..., :3][hidden].any()


def test_clear_hidden_leaves_opaque_modes_alone() -> None:
    rgb = Image.fromarray(np.random.default_rng(3).integers(0, 256, (5, 6, 3), dtype=np.uint8))
    buf = io.BytesIO()
    write_png(rgb, buf, clear_hidden=True)
    buf.seek(0)
    assert np.array_equal(np.asarray(Image.open(buf)), np.asarray(rgb))
