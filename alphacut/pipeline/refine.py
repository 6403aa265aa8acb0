"""Edge refinement at full resolution, in bounded memory.

The model sees the photo at 320x320 (or 1024x1024); its mask is soft and blurry once scaled up
to a camera-size photo. Two refinements turn it into a full-resolution alpha that follows the
photo's real edges:

* ``guided`` -- a fast guided filter (He & Sun, 2015). The linear coefficients that map the
  photo's colours to alpha are fitted on a working-size copy (long side ``WORK_LONG_SIDE``),
  then interpolated and applied to the full-resolution photo strip by strip, so the only
  full-size buffers are the decoded RGB and the 8-bit alpha.
* ``matting`` -- a trimap is built from the mask (band width scaled to the image), closed-form
  matting (pymatting) solves alpha in the unknown band only, on the working-size crop around
  the band, and the solution is carried to full resolution by the same guided upsampling.

``decontaminate`` replaces the colour of semi-transparent pixels with an estimate of the true
foreground colour (pymatting's multilevel estimator), one tile at a time, touching only tiles
that hold semi-transparent pixels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image
from scipy import ndimage

# Coefficients are fitted at this size: large enough that the working photo still shows the
# edges the 320-pixel mask blurred, small enough that the fit costs a fraction of a second.
WORK_LONG_SIDE = 1024
# Full-resolution rows processed at once: 256 rows of a 6000-pixel-wide photo need ~30 MB.
STRIP_ROWS = 256
# Foreground/background colours are estimated at this size, then corrected per pixel.
DECONTAMINATE_LONG_SIDE = 1024
# Weight of the smooth estimate against a pixel's own colour in the per-pixel step.
DECONTAMINATE_REG = 0.01


@dataclass(frozen=True)
class GuidedParams:
    """Guided filter settings, in mask cells (one model-output pixel, at working size)."""

    # The window must reach past the blur that upsampling left (a cell or two either side
    # of an edge) into pixels the model is sure of, or the filter keeps the blurred level.
    radius_cells: float = 2.5
    # Regularisation on 0..1 colours: edges with less contrast than ~sqrt(eps) stay smooth.
    eps: float = 1e-3
    # Only pixels the mask is unsure about, or within this many mask cells (one model-output
    # pixel, scaled to the working size) of its 0.5 contour, are re-estimated: that is where
    # upsampling blurred the edge. The model's confident interior and background stay.
    band_cells: float = 2.0


@dataclass(frozen=True)
class MattingParams:
    """Trimap and solver settings for the ``matting`` mode."""

    # Half-width of the unknown band around the mask's 0.5 contour, in mask cells (one
    # model-output pixel scaled to the working size): the zone upsampling left uncertain.
    band_cells: float = 2.0
    # Mask values outside [low, high] are taken as known background / foreground.
    low: float = 0.05
    high: float = 0.95
    # The solve runs at most at this long side (its cost grows with band area). Solving
    # ~800-pixel photos at their own size (1024) measured no better on matting-dev than 512
    # (SAD/1000 10.45 vs 10.35) at three times the cost: the error is in the trimap, not
    # in the upsampling.
    solve_long_side: int = 512
    # "cf": closed-form matting (Levin et al.), propagates alpha through 3x3 colour-line
    # windows -- fast, but only as far as the band reaches known pixels.
    # "knn": KNN matting (Chen et al.), links each pixel to its nearest neighbours in
    # colour-and-position space, so strands far from the known region find the colour of
    # other strands. On matting-dev (u2netp, 512): SAD/1000 9.89 vs 10.35, MSE 0.0076 vs
    # 0.0090, ecssd-dev MAE 0.0360 vs 0.0359, at ~2x the solve time.
    solver: Literal["cf", "knn"] = "cf"
    laplacian_eps: float = 1e-7
    cg_maxiter: int = 500
    # Guided upsampling of the solved alpha (radius in solve-size pixels): a small window
    # and weak regularisation keep the solved detail.
    upsample_radius: int = 2
    upsample_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.solver not in ("cf", "knn"):
            raise ValueError(f"unknown matting solver {self.solver!r} (expected cf or knn)")


DEFAULT_GUIDED = GuidedParams()
DEFAULT_MATTING = MattingParams()


def working_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """``(width, height)`` scaled so the long side is at most ``long_side`` (never enlarged)."""
    width, height = size
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def shrink_rgb(rgb: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Photo at ``size`` as float32 ``(h, w, 3)`` in 0..1 (box-reduced first, then bilinear)."""
    if rgb.size != size:
        factor = min(rgb.width // size[0], rgb.height // size[1])
        small = rgb.reduce(factor) if factor >= 2 else rgb
        if small.size != size:
            small = small.resize(size, Image.Resampling.BILINEAR)
    else:
        small = rgb
    return np.asarray(small, dtype=np.float32) / 255.0


def resize_float(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D float array to ``size`` = (width, height)."""
    if values.shape[::-1] == size:
        return values.astype(np.float32, copy=False)
    img = Image.fromarray(values.astype(np.float32), "F")
    return np.asarray(img.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)


def _box(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a ``(2r+1)``-square window, per channel."""
    size = 2 * radius + 1
    sizes = (size, size) if values.ndim == 2 else (size, size, 1)
    return ndimage.uniform_filter(values, size=sizes, mode="reflect")


def guided_coefficients(
    guide: np.ndarray, target: np.ndarray, radius: int, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Colour guided filter: smoothed coefficients ``(A (h,w,3), b (h,w))`` with q = A.I + b."""
    mean_i = _box(guide, radius)
    mean_p = _box(target, radius)
    cov_ip = _box(guide * target[..., None], radius) - mean_i * mean_p[..., None]
    sigma = np.empty(guide.shape[:2] + (3, 3), dtype=np.float32)
    for i in range(3):
        for j in range(i, 3):
            var = _box(guide[..., i] * guide[..., j], radius) - mean_i[..., i] * mean_i[..., j]
            sigma[..., i, j] = var
            sigma[..., j, i] = var
    sigma += eps * np.eye(3, dtype=np.float32)
    coeff_a = np.linalg.solve(sigma, cov_ip[..., None])[..., 0]
    coeff_b = mean_p - np.einsum("hwc,hwc->hw", coeff_a, mean_i)
    return _box(coeff_a, radius), _box(coeff_b, radius)


class StripUpsampler:
    """Bilinear upsampling of working-size float maps, one band of full-resolution rows at a time.

    Pillow's ``resize(box=...)`` resamples just the source region a strip needs (reading
    neighbours outside it for the filter support), so strips join without seams and match a
    whole-image bilinear resize.
    """

    def __init__(self, low_size: tuple[int, int], full_size: tuple[int, int]) -> None:
        self.low_size = low_size
        self.full_size = full_size
        self._scale_y = low_size[1] / full_size[1]

    def rows(self, values: np.ndarray, y0: int, y1: int) -> np.ndarray:
        """``values`` (working size, 2-D) upsampled, full-resolution rows ``y0..y1``."""
        if self.low_size == self.full_size:
            return values[y0:y1]
        img = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), "F")
        box = (0.0, y0 * self._scale_y, float(self.low_size[0]), y1 * self._scale_y)
        strip = img.resize((self.full_size[0], y1 - y0), Image.Resampling.BILINEAR, box=box)
        return np.asarray(strip, dtype=np.float32)


def _strips(height: int, rows: int = STRIP_ROWS) -> Iterator[tuple[int, int]]:
    for y0 in range(0, height, rows):
        yield y0, min(height, y0 + rows)


def _guide_rows(rgb: Image.Image, y0: int, y1: int) -> np.ndarray:
    return np.asarray(rgb.crop((0, y0, rgb.width, y1)), dtype=np.float32) * (1 / 255.0)


def guided_upsample(
    target: np.ndarray,
    guide_small: np.ndarray,
    rgb: Image.Image,
    *,
    radius: int,
    eps: float,
    keep: tuple[np.ndarray, np.ndarray] | None = None,
) -> Image.Image:
    """Fast guided filter: fit at working size, apply to the full-resolution photo in strips.

    ``target`` and ``guide_small`` share the working size. ``keep = (base, weight)`` (both
    working size) blends the result with ``base``'s bilinear upsampling: ``weight`` 1 takes the
    filtered value, 0 keeps ``base``, so confident regions can keep the model's value.
    """
    coeff_a, coeff_b = guided_coefficients(guide_small, target, radius, eps)
    maps = [coeff_a[..., c] for c in range(3)] + [coeff_b]
    if keep is not None:
        maps += list(keep)
    up = StripUpsampler((target.shape[1], target.shape[0]), rgb.size)
    width, height = rgb.size
    out = np.empty((height, width), dtype=np.uint8)
    for y0, y1 in _strips(height):
        guide = _guide_rows(rgb, y0, y1)
        value = up.rows(maps[3], y0, y1).copy()
        for c in range(3):
            value += up.rows(maps[c], y0, y1) * guide[..., c]
        if keep is not None:
            base, weight = up.rows(maps[4], y0, y1), up.rows(maps[5], y0, y1)
            value = base + (value - base) * weight
        value *= 255.0
        value += 0.5
        np.clip(value, 0, 255, out=value)
        out[y0:y1] = value.astype(np.uint8)
    return Image.fromarray(out, "L")


def band_half_width(size: tuple[int, int], mask_shape: tuple[int, ...], cells: float) -> int:
    """``cells`` model-output pixels, measured in pixels of an image of ``size``, at least 2."""
    cell = max(size[0] / mask_shape[1], size[1] / mask_shape[0])
    return max(2, round(cells * cell))


def uncertain_band(mask: np.ndarray, half_width: int, low: float, high: float) -> np.ndarray:
    """Pixels within ``half_width`` of the mask's 0.5 contour or of any soft mask value.

    The soft region (``low < mask < high``) grows by the same margin as the contour: the true
    extent of hair or fur is usually wider than where the low-resolution mask hesitated.
    Distances are Euclidean, so the band is round rather than diamond-shaped.
    """
    solid = mask >= 0.5
    seeds = (mask > low) & (mask < high)
    # Contour pixels: solid pixels with a non-solid 4-neighbour, and vice versa.
    edge = solid ^ ndimage.binary_erosion(solid, border_value=1)
    edge |= ~solid & ndimage.binary_dilation(solid)
    seeds |= edge
    if not seeds.any():
        return seeds
    return ndimage.distance_transform_edt(~seeds) <= half_width


def refine_guided(
    mask: np.ndarray, rgb: Image.Image, params: GuidedParams = DEFAULT_GUIDED
) -> Image.Image:
    """Edge-aware upsampling of the model mask with the full-resolution photo as guide."""
    size = working_size(rgb.size, WORK_LONG_SIDE)
    guide = shrink_rgb(rgb, size)
    target = resize_float(mask, size)
    radius = band_half_width(size, mask.shape, params.radius_cells)
    half_width = band_half_width(size, mask.shape, params.band_cells)
    band = uncertain_band(target, half_width, 0.02, 0.98)
    # Feather the band's edge so the switch between model and filter leaves no seam.
    weight = np.clip(_box(band.astype(np.float32), max(1, radius // 2)) * 2.0, 0.0, 1.0)
    return guided_upsample(target, guide, rgb, radius=radius, eps=params.eps, keep=(target, weight))


def trimap_from_mask(mask: np.ndarray, half_width: int, params: MattingParams) -> np.ndarray:
    """Trimap (0 background, 1 foreground, 0.5 unknown) from a working-size mask."""
    unknown = uncertain_band(mask, half_width, params.low, params.high)
    trimap = np.where(mask >= 0.5, 1.0, 0.0)
    trimap[unknown] = 0.5
    return trimap


def _solve_crop(image: np.ndarray, trimap: np.ndarray, params: MattingParams) -> np.ndarray:
    """Alpha for a float64 crop and its trimap with the configured pymatting solver."""
    from pymatting import estimate_alpha_cf, estimate_alpha_knn

    cg_kwargs = {"maxiter": params.cg_maxiter}
    if params.solver == "knn":
        return estimate_alpha_knn(image, trimap, cg_kwargs=cg_kwargs)
    return estimate_alpha_cf(
        image, trimap, laplacian_kwargs={"epsilon": params.laplacian_eps}, cg_kwargs=cg_kwargs
    )


def solve_band(
    image: np.ndarray, trimap: np.ndarray, mask: np.ndarray, params: MattingParams
) -> np.ndarray:
    """Alpha in the unknown band (``params.solver``), solved on the band's bounding box only.

    Where the band has nothing to propagate from (no known foreground or no known background
    in the crop) or the solver does not converge, the model's own soft values are kept.
    """
    unknown = trimap == 0.5
    alpha = np.where(unknown, mask, trimap).astype(np.float32)
    if not unknown.any():
        return alpha
    ys, xs = np.nonzero(unknown)
    pad = 4
    y0, y1 = max(0, ys.min() - pad), min(trimap.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(trimap.shape[1], xs.max() + pad + 1)
    crop_trimap = trimap[y0:y1, x0:x1].astype(np.float64)
    if not ((crop_trimap == 1.0).any() and (crop_trimap == 0.0).any()):
        return alpha
    try:
        solved = _solve_crop(image[y0:y1, x0:x1].astype(np.float64), crop_trimap, params)
    except ValueError:
        # pymatting raises ValueError when conjugate gradients do not converge.
        return alpha
    alpha[y0:y1, x0:x1] = solved
    return alpha


def refine_matting(
    mask: np.ndarray, rgb: Image.Image, params: MattingParams = DEFAULT_MATTING
) -> Image.Image:
    """Trimap from the mask, closed-form matting in the band, guided upsampling to full size."""
    size = working_size(rgb.size, params.solve_long_side)
    image = shrink_rgb(rgb, size)
    target = resize_float(mask, size)
    trimap = trimap_from_mask(target, band_half_width(size, mask.shape, params.band_cells), params)
    alpha = solve_band(image, trimap, target, params)
    if size == rgb.size:
        return Image.fromarray(np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    return guided_upsample(
        alpha, image, rgb, radius=params.upsample_radius, eps=params.upsample_eps
    )


def preload() -> None:
    """Import pymatting and load its cached numba kernels before the first refined image.

    That import costs a few seconds (most of the first ``matting`` call); a UI or batch
    can run this in a background thread while the model session opens.
    """
    import pymatting  # noqa: F401


def refine_alpha(mask: np.ndarray, rgb: Image.Image, *, mode: str) -> Image.Image:
    """Dispatch for :func:`alphacut.pipeline.matte.make_alpha`."""
    if mode == "guided":
        return refine_guided(mask, rgb)
    if mode == "matting":
        return refine_matting(mask, rgb)
    raise ValueError(f"unknown refine mode {mode!r} (expected none, guided or matting)")


def decontaminate(rgb: Image.Image, alpha: Image.Image) -> Image.Image:
    """Estimate the true foreground colour of semi-transparent pixels (others are untouched).

    pymatting's multilevel estimator (Germer et al., 2020) solves for foreground and
    background colours on a working-size copy. At full resolution each semi-transparent pixel
    then takes that smooth estimate plus its share of the compositing residual,
    ``F = F' + a (I - a F' - (1 - a) B') / (a^2 + (1 - a)^2 + r)``, the per-pixel step of the
    same estimator, so strand-level colour detail survives. Only rows holding such pixels are
    visited, and no full-size float buffer is made.
    """
    from pymatting import estimate_foreground_ml

    alpha_arr = np.asarray(alpha)
    soft = (alpha_arr > 0) & (alpha_arr < 255)
    if not soft.any():
        return rgb.copy()
    size = working_size(rgb.size, DECONTAMINATE_LONG_SIDE)
    image = shrink_rgb(rgb, size)
    small_alpha = alpha if alpha.size == size else alpha.resize(size, Image.Resampling.BILINEAR)
    fg, bg = estimate_foreground_ml(
        image, np.asarray(small_alpha, dtype=np.float32) / 255.0, return_background=True
    )
    up = StripUpsampler(size, rgb.size)
    out = np.array(rgb)
    for y0, y1 in _strips(rgb.height):
        ys, xs = np.nonzero(soft[y0:y1])
        if ys.size == 0:
            continue
        a = alpha_arr[y0:y1][ys, xs].astype(np.float32)[:, None] / 255.0
        pixels = out[y0:y1][ys, xs].astype(np.float32) / 255.0
        fg_rows = np.stack([up.rows(fg[..., c], y0, y1)[ys, xs] for c in range(3)], axis=1)
        bg_rows = np.stack([up.rows(bg[..., c], y0, y1)[ys, xs] for c in range(3)], axis=1)
        residual = pixels - a * fg_rows - (1 - a) * bg_rows
        colour = fg_rows + a * residual / (a * a + (1 - a) ** 2 + DECONTAMINATE_REG)
        strip = out[y0:y1]
        strip[ys, xs] = np.clip(colour * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(out, "RGB")
