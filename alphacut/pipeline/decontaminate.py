"""Colour decontamination: the true foreground colour of semi-transparent pixels.

Only ``decontaminate`` (and the optional closed-form matting solver) use pymatting, whose
import costs a few seconds; :func:`preload` pays it in a background thread.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from alphacut.pipeline.guided import StripUpsampler, shrink_rgb, strips, working_size

# Foreground/background colours are estimated at this size, then corrected per pixel.
DECONTAMINATE_LONG_SIDE = 1024
# Weight of the smooth estimate against a pixel's own colour in the per-pixel step.
DECONTAMINATE_REG = 0.01


def preload() -> None:
    """Import pymatting and load its cached numba kernels before the first image needs them.

    A UI or batch can run this in a background thread while the model session opens.
    """
    import pymatting  # noqa: F401


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
    for y0, y1 in strips(rgb.height):
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
