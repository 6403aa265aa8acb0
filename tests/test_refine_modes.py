"""Refine modes: valid soft alpha at full resolution that follows the photo's real edges."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from alphacut.choices import REFINE_MODES
from alphacut.pipeline import refine
from alphacut.pipeline.matte import make_alpha

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


def fringe_scene() -> tuple[Image.Image, np.ndarray]:
    """A block with a fringe of thin strands (the gate refines it) and a 320x320 model mask."""
    truth = np.zeros((420, 640), dtype=np.uint8)
    truth[:, :200] = 255
    truth[::6, 200:250] = 255
    photo = Image.fromarray(np.where(truth[..., None] > 0, SUBJECT, BACKDROP).astype(np.uint8))
    small = Image.fromarray(truth).resize((320, 320), Image.Resampling.BOX)
    mask = np.asarray(small.filter(ImageFilter.GaussianBlur(1)), dtype=np.float32) / 255.0
    return photo, mask


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
    # (The default matting gate leaves a plain edge like this one alone, see
    # test_refine_gate; here the solver itself is asked.)
    photo, truth, mask = disc_scene(2400, 1600)
    plain = sad(make_alpha(mask, photo, refine="none"), truth)
    if mode == "matting":
        alpha = refine.refine_matting(mask, photo, refine.MattingParams(gated=False))
    else:
        alpha = make_alpha(mask, photo, refine=mode)
    assert sad(alpha, truth) < gain * plain


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


@pytest.mark.parametrize("solver", ["knn", "cf"])
def test_matting_solver_follows_the_photo_edge(solver: str) -> None:
    photo, truth, mask = disc_scene(1200, 800)
    params = refine.MattingParams(solver=solver, gated=False)  # type: ignore[arg-type]
    alpha = refine.refine_matting(mask, photo, params)
    assert alpha.mode == "L" and alpha.size == photo.size
    a = np.asarray(alpha)
    assert np.count_nonzero((a > 0) & (a < 255)) > 1200
    plain = sad(make_alpha(mask, photo, refine="none"), truth)
    assert sad(alpha, truth) < 0.3 * plain


def strand_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Working-size photo of thin light strands over a dark backdrop, a trimap, true alpha.

    The strands cross a wide unknown band from the known foreground (a block of the same
    colour) into known background: the case KNN matting is for.
    """
    h, w = 96, 128
    truth = np.zeros((h, w), dtype=np.float32)
    truth[:, :40] = 1.0
    truth[8::12, 40:110] = 1.0  # one-pixel strands reaching into the band
    fg, bg = np.array([0.9, 0.8, 0.3]), np.array([0.1, 0.2, 0.5])
    image = truth[..., None] * fg + (1 - truth[..., None]) * bg
    trimap = np.zeros((h, w))
    trimap[:, :40] = 1.0
    trimap[:, 40:112] = 0.5
    return image, trimap, truth


def test_knn_alpha_finds_strands_inside_a_wide_band() -> None:
    image, trimap, truth = strand_scene()
    alpha = refine.knn_alpha(image, trimap, refine.DEFAULT_MATTING)
    assert alpha is not None
    band = trimap == 0.5
    # Known pixels keep their values exactly; unknown ones follow colour, not distance.
    assert np.array_equal(alpha[~band], trimap[~band])
    assert alpha[band & (truth == 1)].mean() > 0.8
    assert alpha[band & (truth == 0)].mean() < 0.2
    assert np.abs(alpha - truth)[band].mean() < 0.1


def test_knn_solve_runs_blas_on_one_thread(monkeypatch) -> None:
    import scipy.sparse.linalg
    from threadpoolctl import threadpool_info

    seen: list[int] = []
    real_cg = scipy.sparse.linalg.cg

    def recording_cg(*args, **kwargs):
        seen.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
        return real_cg(*args, **kwargs)

    monkeypatch.setattr(scipy.sparse.linalg, "cg", recording_cg)
    image, trimap, _ = strand_scene()
    assert refine.knn_alpha(image, trimap, refine.DEFAULT_MATTING) is not None
    assert seen and set(seen) == {1}


def test_knn_alpha_gives_up_without_both_known_sides_or_convergence() -> None:
    image, trimap, _ = strand_scene()
    no_background = np.where(trimap == 0.0, 0.5, trimap)
    assert refine.knn_alpha(image, no_background, refine.DEFAULT_MATTING) is None
    stalled = refine.MattingParams(cg_maxiter=1)
    assert refine.knn_alpha(image, trimap, stalled) is None
    # solve_band then keeps the model's own values in the band.
    mask = np.full(trimap.shape, 0.4, dtype=np.float32)
    kept = refine.solve_band(image, trimap, mask, stalled)
    assert np.allclose(kept[trimap == 0.5], 0.4) and np.all(kept[trimap == 1.0] == 1.0)


def test_knn_graph_settings_must_pair_up() -> None:
    with pytest.raises(ValueError, match="one entry per graph"):
        refine.MattingParams(knn_neighbours=(20,), knn_spatial=(2.0, 0.1))


def test_default_refine_is_matting_everywhere() -> None:
    from alphacut.pipeline.matte import DEFAULT_REFINE
    from alphacut.pipeline.remover import RemoveOptions

    assert DEFAULT_REFINE == "matting" and RemoveOptions().refine == "matting"
    photo, mask = fringe_scene()
    by_default = np.asarray(make_alpha(mask, photo))
    assert np.array_equal(by_default, np.asarray(refine.refine_matting(mask, photo)))
    assert not np.array_equal(by_default, np.asarray(make_alpha(mask, photo, refine="none")))


def test_unknown_matting_solver_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown matting solver"):
        refine.MattingParams(solver="lkm")  # type: ignore[arg-type]
