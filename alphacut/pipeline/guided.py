"""Guided filtering, and carrying working-size maps to full resolution in bounded memory.

The model sees the photo at 320x320 (or 1024x1024); its mask is soft and blurry once scaled up
to a camera-size photo. A fast guided filter (He & Sun, 2015) fits the linear coefficients
that map the photo's colours to alpha on a working-size copy, then interpolates them and
applies them to the full-resolution photo strip by strip, so the only full-size buffers are
the decoded RGB and the 8-bit alpha. ``refine_guided`` is the ``guided`` refine mode; the
``matting`` mode uses :func:`guided_upsample` to carry its solved alpha to full size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from alphacut.pipeline.trimap import band_half_width, uncertain_band

# Coefficients are fitted at this size: large enough that the working photo still shows the
# edges the 320-pixel mask blurred, small enough that the fit costs a fraction of a second.
WORK_LONG_SIDE = 1024
# Full-resolution rows processed at once: 64 rows of a 6000-pixel-wide photo need ~8 MB.
STRIP_ROWS = 64


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


DEFAULT_GUIDED = GuidedParams()


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


def box_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a ``(2r+1)``-square window, per channel."""
    size = 2 * radius + 1
    sizes = (size, size) if values.ndim == 2 else (size, size, 1)
    return ndimage.uniform_filter(values, size=sizes, mode="reflect")


def guided_coefficients(
    guide: np.ndarray, target: np.ndarray, radius: int, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Colour guided filter: smoothed coefficients ``(A (h,w,3), b (h,w))`` with q = A.I + b."""
    mean_i = box_mean(guide, radius)
    mean_p = box_mean(target, radius)
    cov_ip = box_mean(guide * target[..., None], radius) - mean_i * mean_p[..., None]
    sigma = {}
    for i in range(3):
        for j in range(i, 3):
            var = box_mean(guide[..., i] * guide[..., j], radius) - mean_i[..., i] * mean_i[..., j]
            sigma[i, j] = var + eps if i == j else var
    coeff_a = solve_symmetric_3x3(sigma, cov_ip)
    coeff_b = mean_p - np.einsum("hwc,hwc->hw", coeff_a, mean_i)
    return box_mean(coeff_a, radius), box_mean(coeff_b, radius)


def solve_symmetric_3x3(
    sigma: dict[tuple[int, int], np.ndarray], rhs: np.ndarray
) -> np.ndarray:
    """Per-pixel ``sigma^-1 rhs`` for symmetric 3x3 ``sigma`` (upper entries ``(i, j)``, i <= j).

    Cramer's rule on the cofactors, in float64: a handful of whole-array products instead of
    one small LAPACK call per pixel, about ten times faster than ``np.linalg.solve`` here.
    ``sigma`` is the colour covariance plus ``eps`` on the diagonal, so it is positive
    definite and its determinant stays clear of zero.
    """
    s00, s01, s02 = (sigma[0, j].astype(np.float64) for j in range(3))
    s11, s12, s22 = (sigma[i, j].astype(np.float64) for i, j in ((1, 1), (1, 2), (2, 2)))
    c00, c01, c02 = s11 * s22 - s12 * s12, s02 * s12 - s01 * s22, s01 * s12 - s02 * s11
    c11, c12, c22 = s00 * s22 - s02 * s02, s01 * s02 - s00 * s12, s00 * s11 - s01 * s01
    inv_det = 1.0 / (s00 * c00 + s01 * c01 + s02 * c02)
    v0, v1, v2 = rhs[..., 0], rhs[..., 1], rhs[..., 2]
    out = np.empty(rhs.shape, dtype=np.float32)
    out[..., 0] = (c00 * v0 + c01 * v1 + c02 * v2) * inv_det
    out[..., 1] = (c01 * v0 + c11 * v1 + c12 * v2) * inv_det
    out[..., 2] = (c02 * v0 + c12 * v1 + c22 * v2) * inv_det
    return out


class StripUpsampler:
    """Bilinear upsampling of working-size float maps, one band of full-resolution rows at a time.

    Pillow's ``resize(box=...)`` resamples just the source region a strip needs (reading
    neighbours outside it for the filter support), so strips join without seams and match a
    whole-image bilinear resize.
    """

    def __init__(self, low_size: tuple[int, int], full_size: tuple[int, int]) -> None:
        self.low_size = low_size
        self.full_size = full_size
        self._scale_x = low_size[0] / full_size[0]
        self._scale_y = low_size[1] / full_size[1]

    def source(self, values: np.ndarray) -> np.ndarray | Image.Image:
        """``values`` (working size, 2-D) ready for :meth:`rows`: made once per map, so the
        strips of one map share a single float image instead of converting it per strip."""
        if self.low_size == self.full_size:
            return values
        return Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), "F")

    def rows(
        self,
        values: np.ndarray | Image.Image,
        y0: int,
        y1: int,
        x0: int = 0,
        x1: int | None = None,
    ) -> np.ndarray:
        """``values`` (working size, 2-D, or its :meth:`source`) upsampled: full-resolution
        rows ``y0..y1``, columns ``x0..x1`` (all by default)."""
        x1 = self.full_size[0] if x1 is None else x1
        if isinstance(values, np.ndarray):
            values = self.source(values)
        if isinstance(values, np.ndarray):
            return values[y0:y1, x0:x1]
        box = (x0 * self._scale_x, y0 * self._scale_y, x1 * self._scale_x, y1 * self._scale_y)
        strip = values.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR, box=box)
        return np.asarray(strip, dtype=np.float32)


def strips(height: int, rows: int = STRIP_ROWS) -> Iterator[tuple[int, int]]:
    """``(y0, y1)`` row ranges of at most ``rows`` rows covering ``height``."""
    for y0 in range(0, height, rows):
        yield y0, min(height, y0 + rows)


def guide_rows(
    rgb: Image.Image, y0: int, y1: int, x0: int = 0, x1: int | None = None
) -> np.ndarray:
    """Full-resolution rows ``y0..y1`` (columns ``x0..x1``) of the photo as float32 0..1."""
    box = (x0, y0, rgb.width if x1 is None else x1, y1)
    return np.asarray(rgb.crop(box), dtype=np.float32) * (1 / 255.0)


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
    maps = [up.source(values) for values in maps]
    width, height = rgb.size
    out = np.empty((height, width), dtype=np.uint8)
    for y0, y1 in strips(height):
        guide = guide_rows(rgb, y0, y1)
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
    weight = np.clip(box_mean(band.astype(np.float32), max(1, radius // 2)) * 2.0, 0.0, 1.0)
    return guided_upsample(target, guide, rgb, radius=radius, eps=params.eps, keep=(target, weight))
