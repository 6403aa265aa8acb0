"""The model's soft mask as an 8-bit image, at its own size or upsampled to the photo's."""

from __future__ import annotations

import numpy as np
from PIL import Image


def mask_to_image(mask: np.ndarray) -> Image.Image:
    """``(h, w)`` float mask in 0..1 -> 8-bit ``L`` image (rounded, not truncated)."""
    return Image.fromarray(np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")


def upsample_alpha(mask: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """Bilinear upsampling of the soft mask to ``size`` = (width, height), straight to 8 bits.

    Quantising the 320x320 mask to 8 bits before interpolating costs at most half a grey
    level, and lets Pillow's integer resampler write the full-size alpha in one pass.
    """
    low = mask_to_image(mask)
    if low.size == size:
        return low
    return low.resize(size, Image.Resampling.BILINEAR)
