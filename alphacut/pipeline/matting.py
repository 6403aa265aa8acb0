"""The ``matting`` refine mode: re-solve alpha where the gate lets it, keep the model elsewhere.

A trimap is built from the mask (band width scaled to the image); the gate
(:mod:`alphacut.pipeline.matting_gate`) picks the regions of its unknown band that colour can
settle; KNN matting (or closed-form matting) solves alpha there on a small working-size copy
of the photo, and guided upsampling carries the solution to full resolution. Pixels the solve
did not touch are exactly the ``none`` mode's, and an image with nothing to refine costs what
``none`` costs.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image
from scipy import ndimage

from alphacut.pipeline.guided import (
    StripUpsampler,
    box_mean,
    guide_rows,
    guided_coefficients,
    resize_float,
    shrink_rgb,
    strips,
    working_size,
)
from alphacut.pipeline.knn_matting import knn_alpha
from alphacut.pipeline.matting_gate import GateDecision, gate_regions, region_size
from alphacut.pipeline.matting_params import DEFAULT_MATTING as DEFAULT_MATTING
from alphacut.pipeline.matting_params import MattingParams as MattingParams
from alphacut.pipeline.see_through import see_through
from alphacut.pipeline.trimap import band_half_width, uncertain_band

# Matting adds what the mask could not resolve, so it needs a photo with at least this many
# pixels per mask cell (long sides: a 320-cell mask on a 640 px photo). Nearer the mask's
# own resolution (400 px photos, 1.25 px per cell) the upsampled mask already follows the
# photo almost pixel for pixel; re-solving it there measured no gain on average and made
# single images worse (see issue 13's note), so such photos keep the model's mask.
MIN_DETAIL_SCALE = 2.0


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


def solve_band(
    image: np.ndarray,
    trimap: np.ndarray,
    mask: np.ndarray,
    params: MattingParams,
    also_known: np.ndarray | None = None,
) -> np.ndarray:
    """Alpha in the trimap's unknown band with ``params.solver``; known pixels stay 0 or 1.

    Where the band has nothing to propagate from (no known foreground or no known background
    nearby) or the solver does not converge, the model's own soft values are kept. Known
    pixels in ``also_known`` join the KNN graph however far they lie from the band (the
    closed-form solver works on the band's bounding box and does not need them).
    """
    fallback = np.where(trimap == 0.5, mask, trimap).astype(np.float32)
    if not (trimap == 0.5).any():
        return fallback
    if params.solver == "knn":
        solved = knn_alpha(image, trimap, params, also_known)
    else:
        solved = _solve_cf(image, trimap, params)
    return fallback if solved is None else solved


def coefficients_near(
    alpha: np.ndarray, image: np.ndarray, weight: np.ndarray, params: MattingParams
) -> tuple[np.ndarray, np.ndarray]:
    """Guided-filter coefficients of ``alpha``, fitted only around the non-zero ``weight``.

    Each coefficient depends on the pixels within two filter radii of it (two box means), and
    bilinear upsampling reads one working pixel further; fitting on the weight's bounding
    box grown by that much gives, wherever the weight reaches, exactly what fitting the whole
    image gives. Elsewhere the coefficients are 0 and the weight keeps the model's alpha.
    """
    rows, cols = np.flatnonzero(weight.any(axis=1)), np.flatnonzero(weight.any(axis=0))
    coeff_a = np.zeros(alpha.shape + (3,), dtype=np.float32)
    coeff_b = np.zeros(alpha.shape, dtype=np.float32)
    if rows.size == 0:
        return coeff_a, coeff_b
    margin = 2 * params.upsample_radius + 2
    y0, y1 = max(0, rows[0] - margin), min(alpha.shape[0], rows[-1] + margin + 1)
    x0, x1 = max(0, cols[0] - margin), min(alpha.shape[1], cols[-1] + margin + 1)
    coeff_a[y0:y1, x0:x1], coeff_b[y0:y1, x0:x1] = guided_coefficients(
        image[y0:y1, x0:x1], alpha[y0:y1, x0:x1], params.upsample_radius, params.upsample_eps
    )
    return coeff_a, coeff_b


def blend_upsample(
    alpha: np.ndarray,
    image: np.ndarray,
    weight: np.ndarray,
    base: Image.Image,
    rgb: Image.Image,
    params: MattingParams,
) -> Image.Image:
    """``base`` (full-size 8-bit alpha) with the guided upsampling of ``alpha`` mixed in by
    ``weight``, written into ``base`` in place and returned.

    ``alpha``, ``image`` and ``weight`` share the working size. Only full-resolution rows
    and columns where ``weight`` is non-zero are filtered, one strip at a time: the rest of
    ``base`` is never read, and no full-size copy of it is made (a batch holds several photos
    in flight, so each full-size buffer counts against its peak memory).
    """
    coeff_a, coeff_b = coefficients_near(alpha, image, weight, params)
    up = StripUpsampler((alpha.shape[1], alpha.shape[0]), rgb.size)
    maps = [up.source(m) for m in [coeff_a[..., c] for c in range(3)] + [coeff_b, weight]]
    scale_y, scale_x = alpha.shape[0] / rgb.height, alpha.shape[1] / rgb.width
    for y0, y1 in strips(rgb.height):
        # Only the columns where the weight is non-zero are filtered; bilinear support reaches
        # one working pixel past them either side.
        lo, hi = max(0, int(y0 * scale_y) - 1), min(alpha.shape[0], int(y1 * scale_y) + 2)
        columns = np.flatnonzero(weight[lo:hi].any(axis=0))
        if columns.size == 0:
            continue
        x0 = max(0, int((columns[0] - 1) / scale_x))
        x1 = min(rgb.width, int((columns[-1] + 2) / scale_x) + 1)
        if alpha.shape[::-1] == base.size:
            value = alpha[y0:y1, x0:x1].copy()
        else:
            guide = guide_rows(rgb, y0, y1, x0, x1)
            value = up.rows(maps[3], y0, y1, x0, x1).copy()
            for c in range(3):
                value += up.rows(maps[c], y0, y1, x0, x1) * guide[..., c]
        mix = up.rows(maps[4], y0, y1, x0, x1)
        rows = np.asarray(base.crop((x0, y0, x1, y1)), dtype=np.float32)
        value = rows + (value * 255.0 - rows) * mix + 0.5
        np.clip(value, 0, 255, out=value)
        base.paste(Image.fromarray(value.astype(np.uint8), "L"), (x0, y0))
    return base


def matting_with_decision(
    mask: np.ndarray, rgb: Image.Image, params: MattingParams = DEFAULT_MATTING
) -> tuple[Image.Image, GateDecision]:
    """The ``matting`` mode's alpha, and the gate's decision for this image."""
    from alphacut.pipeline.upsample import upsample_alpha

    size = working_size(rgb.size, params.solve_long_side)
    if params.gated and max(rgb.size) < MIN_DETAIL_SCALE * max(mask.shape):
        reason = "photo near the mask's resolution"
        return upsample_alpha(mask, rgb.size), GateDecision.skipped(size[::-1], reason)
    target = resize_float(mask, size)
    trimap = trimap_from_mask(target, band_half_width(size, mask.shape, params.band_cells), params)
    unknown = trimap == 0.5
    cell = max(size[0] / mask.shape[1], size[1] / mask.shape[0])
    if params.gated:
        # The gate reads colours only where it has to; a band-free mask needs no photo.
        image = shrink_rgb(rgb, size) if unknown.any() else np.zeros(target.shape + (3,))
        decision = gate_regions(
            image,
            target,
            unknown,
            cell=cell,
            band_cells=params.band_cells,
            low=params.low,
            high=params.high,
        )
    else:
        image = shrink_rgb(rgb, size)
        decision = GateDecision(unknown, 1, 1, 0, 0, 0)
    base = upsample_alpha(mask, rgb.size)
    if not decision.solve:
        return base, decision
    also_known = None
    if params.gated and params.see_through and decision.fringe is not None:
        # Sparse fringe the model called solid joins the solve (see_through.py), with the
        # confident background whose colours testified for it, so that the solve can give
        # those pixels the backdrop's alpha.
        region = region_size(target.shape)
        seen = see_through(
            image,
            target,
            unknown,
            decision.fringe,
            size=region,
            thin=params.band_cells * cell,
            low=params.low,
            high=params.high,
        )
        if seen.any():
            also_known = (target <= params.low) & (
                ndimage.distance_transform_edt(~seen) <= region
            )
            trimap = np.where(seen, 0.5, trimap)
            unknown = trimap == 0.5
            decision = replace(
                decision, refine=decision.refine | seen, see_through=int(seen.sum())
            )
    if params.gated:
        # The band is solved within a region's reach of the accepted regions, so each sees
        # the confident pixels on both sides of it and the strands around it; further off,
        # the band is cut at the model's 0.5 contour, which costs the solve nothing. Only
        # accepted regions -- and the confident pixels the solve snapped to 0 or 1 beside
        # them, feathered over the upsampling window -- replace the model's alpha.
        reach = 2 * region_size(target.shape) + 1
        near = ndimage.maximum_filter(decision.refine, size=reach)
        trimap = np.where(unknown & ~near, np.where(target >= 0.5, 1.0, 0.0), trimap)
    solved = solve_band(image, trimap, target, params, also_known)
    if params.gated:
        feather = box_mean(decision.refine.astype(np.float32), params.upsample_radius)
        weight = np.clip(feather * 2.0, 0.0, 1.0)
    else:
        weight = np.ones_like(target)
    return blend_upsample(solved, image, weight, base, rgb, params), decision


def refine_matting(
    mask: np.ndarray, rgb: Image.Image, params: MattingParams = DEFAULT_MATTING
) -> Image.Image:
    """Trimap from the mask, matting where the gate allows (``params.solver``), upsampling."""
    return matting_with_decision(mask, rgb, params)[0]
