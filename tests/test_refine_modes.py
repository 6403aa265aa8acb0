"""Refine modes: valid soft alpha at full resolution that follows the photo's real edges."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from alphacut.pipeline import refine
from alphacut.pipeline.matte import REFINE_MODES, make_alpha

SUBJECT = (214, 52, 40)
BACKDROP = (40, 150, 200)


def disc_scene(width: int, height: int) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """A photo of a soft-edged disc, its true alpha, and a blurry 320x320 'model' mask of it."""
    box = (width * 0.25, height * 0.2, width * 0.75, height * 0.85)
    truth = Image.new("L", (width, height), 0)
    ImageDraw.Draw(truth).ellipse(box, fill=255)
    # A few pixels of real partial opacity, as defocus or fine hair give.
    truth = truth.filter(ImageFilter.GaussianBlur(max(1.5, max(width, height) / 400)))
    photo = Image.composite(
        Image.new("RGB", (width, height), SUBJECT),
        Image.new("RGB", (width, height), BACKDROP),
        truth,
    )
    # The model sees 320x320 and answers with a soft mask, about a cell blurrier than truth.
    small = truth.resize((320, 320), Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(1))
    mask = np.asarray(small, dtype=np.float32) / 255.0
    return photo, np.asarray(truth), mask


def sad(alpha: Image.Image, truth: np.ndarray) -> float:
    return float(np.abs(np.asarray(alpha, dtype=np.float64) - truth).sum() / 255.0)


@pytest.mark.parametrize("size", [(640, 420), (2400, 1600)])
@pytest.mark.parametrize("mode", REFINE_MODES)
def test_mode_gives_full_size_soft_alpha(mode: str, size: tuple[int, int]) -> None:
    photo, truth, mask = disc_scene(*size)
    alpha = make_alpha(mask, photo, refine=mode)
    assert alpha.mode == "L" and alpha.size == photo.size
    a = np.asarray(alpha)
    # Three mask cells either side of the outline (a cell spans max(size)/320 pixels).
    reach = 2 * (3 * max(size) // 320) + 1
    near_edge = ndimage.maximum_filter(truth, reach) != ndimage.minimum_filter(truth, reach)
    soft = (a > 0) & (a < 255)
    assert soft.any(), "no semi-transparent pixel at all"
    # Soft values sit on the subject's outline, not scattered over the frame.
    assert np.count_nonzero(soft & near_edge) > max(size)
    assert np.count_nonzero(soft & ~near_edge) < 0.01 * a.size
    # Far inside and far outside the disc the answer is certain.
    h, w = a.shape
    assert a[h // 2, w // 2] >= 250
    assert a[5, 5] <= 5 and a[h - 5, w - 5] <= 5


@pytest.mark.parametrize(("mode", "gain"), [("guided", 0.9), ("matting", 0.3)])
def test_refinement_follows_the_photo_edge(mode: str, gain: float) -> None:
    # The guided filter keeps the local mean of the blurred mask, so it only partly
    # sharpens; matting re-solves the band from the colours and recovers most of the edge.
    photo, truth, mask = disc_scene(2400, 1600)
    plain = sad(make_alpha(mask, photo, refine="none"), truth)
    refined = sad(make_alpha(mask, photo, refine=mode), truth)
    assert refined < gain * plain


def test_strip_upsampler_matches_whole_image_resize() -> None:
    rng = np.random.default_rng(3)
    low = rng.random((37, 53), dtype=np.float32)
    full = (1000, 700)
    whole = np.asarray(Image.fromarray(low, "F").resize(full, Image.Resampling.BILINEAR))
    up = refine.StripUpsampler((53, 37), full)
    strips = np.concatenate([up.rows(low, y0, min(700, y0 + 64)) for y0 in range(0, 700, 64)])
    np.testing.assert_allclose(strips, whole, atol=1e-4)


def test_band_scales_with_image_size() -> None:
    small = refine.band_half_width((800, 600), (320, 320), 2.0)
    large = refine.band_half_width((3200, 2400), (320, 320), 2.0)
    assert small == 5 and large == 20


def test_solve_band_keeps_mask_without_known_foreground() -> None:
    image = np.full((40, 40, 3), 0.5, dtype=np.float32)
    trimap = np.zeros((40, 40))
    trimap[10:30, 10:30] = 0.5
    mask = np.full((40, 40), 0.3, dtype=np.float32)
    alpha = refine.solve_band(image, trimap, mask, refine.DEFAULT_MATTING)
    assert np.allclose(alpha[10:30, 10:30], 0.3) and np.all(alpha[:10] == 0)


def test_unknown_mode_is_rejected() -> None:
    photo, _, mask = disc_scene(64, 64)
    with pytest.raises(ValueError, match="unknown refine mode"):
        refine.refine_alpha(mask, photo, mode="sharpen")


@pytest.mark.parametrize("mode", REFINE_MODES)
def test_remover_refines_real_photo(remover, matting_dir, mode: str) -> None:
    from alphacut.pipeline.remover import RemoveOptions, Remover

    refining = Remover(remover.spec, remover.runner, RemoveOptions(refine=mode))
    image = matting_dir / "images" / "GT05.jpg"
    cutout = refining.remove(image)
    with Image.open(image) as original:
        assert cutout.alpha.size == original.size
    a = np.asarray(cutout.alpha)
    assert np.count_nonzero((a > 0) & (a < 255)) > 100
    assert a.min() == 0 and a.max() == 255


def test_preload_imports_the_matting_library() -> None:
    import sys

    refine.preload()
    assert "pymatting" in sys.modules


def test_knn_solver_follows_the_photo_edge() -> None:
    photo, truth, mask = disc_scene(1200, 800)
    params = refine.MattingParams(solver="knn")
    alpha = refine.refine_matting(mask, photo, params)
    assert alpha.mode == "L" and alpha.size == photo.size
    a = np.asarray(alpha)
    assert np.count_nonzero((a > 0) & (a < 255)) > 1200
    plain = sad(make_alpha(mask, photo, refine="none"), truth)
    assert sad(alpha, truth) < 0.3 * plain


def test_unknown_matting_solver_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown matting solver"):
        refine.MattingParams(solver="lkm")  # type: ignore[arg-type]
