"""Edge refinement at full resolution, in bounded memory.

The model sees the photo at 320x320 (or 1024x1024); its mask is soft and blurry once scaled up
to a camera-size photo. Two refinements turn it into a full-resolution alpha that follows the
photo's real edges:

* ``guided`` -- a fast guided filter (He & Sun, 2015). The linear coefficients that map the
  photo's colours to alpha are fitted on a working-size copy (long side ``WORK_LONG_SIDE``),
  then interpolated and applied to the full-resolution photo strip by strip, so the only
  full-size buffers are the decoded RGB and the 8-bit alpha.
* ``matting`` -- a trimap is built from the mask (band width scaled to the image), KNN matting
  solves alpha for the unknown band only, on a small working-size copy of the photo (the
  band's pixels and the known pixels near them form the graph), and the solution is carried
  to full resolution by the same guided upsampling. Closed-form matting (pymatting) is the
  alternative solver.

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
# Full-resolution rows processed at once: 64 rows of a 6000-pixel-wide photo need ~8 MB.
STRIP_ROWS = 64
# Points per KNN query: bounds the query's scratch arrays to a few MB.
KNN_QUERY_CHUNK = 8192
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
    # Mask values at or below ``low`` are known background, at or above ``high`` known
    # foreground; values between are unknown. The foreground side is stricter (0.9, not 0.95)
    # because a region the model gives 0.9-0.95 is a solid part it is slightly unsure of
    # (a dark head against dark trees): left unknown, colour alone decides it and punches
    # holes. On the background side faint values are where stray hair lies, so 0.05 stays.
    low: float = 0.05
    high: float = 0.9
    # The solve runs at most at this long side. KNN matting measured better at lower
    # resolution (its neighbourhoods reach further across gaps between strands) while
    # hard-edged objects blur: matting-dev SAD/1000 9.65 / 9.41 / 9.36 at 512 / 384 / 320,
    # ecssd-dev MAE 0.0347 / 0.0355 / 0.0362. 384 sits between, and keeps the solve to a
    # fraction of a second whatever the photo's size.
    solve_long_side: int = 384
    # "knn": KNN matting (Chen et al., 2013). Each pixel is linked to its nearest neighbours
    # in colour-and-position space, so a strand far from the known region still finds the
    # colour of other strands; alpha is the harmonic solution with known pixels held fixed.
    # "cf": closed-form matting (Levin et al., via pymatting), which propagates only through
    # 3x3 colour-line windows: matting-dev SAD/1000 10.35 at 512 against knn's 9.41.
    solver: Literal["knn", "cf"] = "knn"
    # KNN graph: neighbour counts and the weight of position against colour (positions in
    # units of the working image's long side, so the graph does not depend on where the band
    # lies), as in pymatting's knn_laplacian: 20 neighbours near in colour and place, then
    # 10 near in colour almost anywhere.
    knn_neighbours: tuple[int, ...] = (20, 10)
    knn_spatial: tuple[float, ...] = (2.0, 0.1)
    # Known pixels within this fraction of the long side of the band (0.02: ~8 px, six mask
    # cells, at 384) join the graph: the colours the unknown pixels are compared with.
    # Nearby known colours describe a strand's surroundings better than far ones, and each
    # extra node costs neighbour queries: matting-dev SAD/1000 9.67 / 9.52 / 9.46 / 9.41 /
    # 9.35 at 0.1 / 0.05 / 0.03 / 0.02 / 0.01, ecssd-dev MAE 0.0355 throughout (0.0356 at
    # 0.01), solve time down by about half from 0.05 to 0.02.
    knn_reach: float = 0.02
    laplacian_eps: float = 1e-7
    cg_maxiter: int = 500
    cg_tol: float = 1e-6
    # Guided upsampling of the solved alpha (radius in solve-size pixels): a small window
    # and weak regularisation keep the solved detail.
    upsample_radius: int = 2
    upsample_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.solver not in ("cf", "knn"):
            raise ValueError(f"unknown matting solver {self.solver!r} (expected cf or knn)")
        if len(self.knn_neighbours) != len(self.knn_spatial):
            raise ValueError("knn_neighbours and knn_spatial need one entry per graph")


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


def _solve_cf(image: np.ndarray, trimap: np.ndarray, params: MattingParams) -> np.ndarray | None:
    """Closed-form alpha on the band's bounding box (pymatting); ``None`` if it cannot solve."""
    from pymatting import estimate_alpha_cf

    unknown = trimap == 0.5
    ys, xs = np.nonzero(unknown)
    pad = 4
    y0, y1 = max(0, ys.min() - pad), min(trimap.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(trimap.shape[1], xs.max() + pad + 1)
    crop_trimap = trimap[y0:y1, x0:x1].astype(np.float64)
    if not ((crop_trimap == 1.0).any() and (crop_trimap == 0.0).any()):
        return None
    try:
        solved = estimate_alpha_cf(
            image[y0:y1, x0:x1].astype(np.float64),
            crop_trimap,
            laplacian_kwargs={"epsilon": params.laplacian_eps},
            cg_kwargs={"maxiter": params.cg_maxiter},
        )
    except ValueError:
        # pymatting raises ValueError when conjugate gradients do not converge.
        return None
    alpha = trimap.astype(np.float32)
    alpha[y0:y1, x0:x1] = solved
    return alpha


def _nearest_neighbours(features: np.ndarray, k: int) -> np.ndarray:
    """``(n, k)`` int32 indices of each point's ``k`` nearest other points."""
    from scipy.spatial import cKDTree

    tree = cKDTree(features)
    # Queried in chunks so the float64 distances (discarded) never exist for all points at
    # once; k + 1 because every point is its own nearest neighbour.
    chunks = [
        tree.query(features[start : start + KNN_QUERY_CHUNK], k=k + 1, workers=-1)[1]
        for start in range(0, len(features), KNN_QUERY_CHUNK)
    ]
    return np.concatenate([chunk[:, 1:].astype(np.int32) for chunk in chunks])


def knn_alpha(image: np.ndarray, trimap: np.ndarray, params: MattingParams) -> np.ndarray | None:
    """KNN matting: alpha for the trimap's unknown pixels, known pixels held at their values.

    The graph holds the unknown pixels and the known ones within ``knn_reach`` of them; each
    is joined to its nearest neighbours in (colour, weighted position) space, once per entry
    of ``knn_neighbours``. With the symmetric graph Laplacian ``L = D - W`` split into unknown
    (u) and known (k) parts, ``L_uu a_u = -L_uk a_k`` -- every unknown alpha is the mean of its
    neighbours' -- is solved by Jacobi-preconditioned conjugate gradients. Returns ``None``
    when no known foreground or background is in reach, or the solve does not converge.
    """
    import scipy.sparse
    import scipy.sparse.linalg

    unknown = trimap == 0.5
    long_side = max(trimap.shape)
    reach = max(2.0, params.knn_reach * long_side)
    ys, xs = np.nonzero(ndimage.distance_transform_edt(~unknown) <= reach)
    values = trimap[ys, xs].astype(np.float64)
    is_unknown = values == 0.5
    if not ((values == 1.0).any() and (values == 0.0).any()):
        return None
    count = ys.size
    colour = image[ys, xs].astype(np.float32)
    position = np.stack([xs, ys], axis=1).astype(np.float32) / long_side
    links = []
    for neighbours, spatial in zip(params.knn_neighbours, params.knn_spatial, strict=True):
        features = np.concatenate([colour, position * spatial], axis=1)
        links.append(_nearest_neighbours(features, min(neighbours, count - 1)))
    # Row i of the directed graph holds i's neighbours from every pass, so it is built as CSR
    # directly (no sort); adding its transpose makes it symmetric.
    neighbours_of = np.concatenate(links, axis=1)
    del links
    per_row = neighbours_of.shape[1]
    directed = scipy.sparse.csr_matrix(
        (
            np.ones(neighbours_of.size, dtype=np.float32),
            neighbours_of.ravel(),
            np.arange(0, count * per_row + 1, per_row),
        ),
        shape=(count, count),
    )
    del neighbours_of
    weights = (directed + directed.T).tocsr()
    del directed
    degree = np.asarray(weights.sum(axis=1), dtype=np.float64).ravel()
    # L = D - W restricted to the unknown rows: L_uu = D_u - W_uu and -L_uk = W_uk.
    unknown_rows = weights[is_unknown]
    del weights
    system = (
        scipy.sparse.diags(degree[is_unknown]) - unknown_rows[:, is_unknown].astype(np.float64)
    ).tocsr()
    rhs = unknown_rows[:, ~is_unknown] @ values[~is_unknown]
    del unknown_rows
    solution, info = scipy.sparse.linalg.cg(
        system,
        rhs,
        x0=np.full(int(is_unknown.sum()), 0.5),
        M=scipy.sparse.diags(1.0 / np.maximum(system.diagonal(), 1e-12)),
        rtol=params.cg_tol,
        maxiter=params.cg_maxiter,
    )
    if info != 0:
        return None
    alpha = trimap.astype(np.float32)
    alpha[ys[is_unknown], xs[is_unknown]] = np.clip(solution, 0.0, 1.0)
    return alpha


def solve_band(
    image: np.ndarray, trimap: np.ndarray, mask: np.ndarray, params: MattingParams
) -> np.ndarray:
    """Alpha in the trimap's unknown band with ``params.solver``; known pixels stay 0 or 1.

    Where the band has nothing to propagate from (no known foreground or no known background
    nearby) or the solver does not converge, the model's own soft values are kept.
    """
    fallback = np.where(trimap == 0.5, mask, trimap).astype(np.float32)
    if not (trimap == 0.5).any():
        return fallback
    if params.solver == "knn":
        solved = knn_alpha(image, trimap, params)
    else:
        solved = _solve_cf(image, trimap, params)
    return fallback if solved is None else solved


def refine_matting(
    mask: np.ndarray, rgb: Image.Image, params: MattingParams = DEFAULT_MATTING
) -> Image.Image:
    """Trimap from the mask, matting in the band (``params.solver``), guided upsampling."""
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
    """Import pymatting and load its cached numba kernels before the first image needs them.

    Only ``decontaminate`` (and the optional ``cf`` solver) use pymatting. Its import costs
    a few seconds; a UI or batch can run this in a background thread while the model
    session opens.
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
