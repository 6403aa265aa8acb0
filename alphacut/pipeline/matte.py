"""From the model's low-resolution soft mask to a full-resolution 8-bit alpha."""

from __future__ import annotations

import numpy as np
from PIL import Image

from alphacut.choices import RefineMode
from alphacut.pipeline.upsample import mask_to_image as mask_to_image
from alphacut.pipeline.upsample import upsample_alpha as upsample_alpha

# Chosen by measurement (README, "Edge quality"): KNN matting in the edge band lowers
# matting-dev SAD/1000 from 12.47 to 9.41 and keeps ecssd-dev MAE (0.0355 vs 0.0353) for
# ~0.1-0.3 s per image at any size. "none" is the fastest path (the same job as rembg's default).
DEFAULT_REFINE: RefineMode = "matting"


def make_alpha(
    mask: np.ndarray,
    rgb: Image.Image,
    *,
    refine: RefineMode = DEFAULT_REFINE,
) -> Image.Image:
    """Full-resolution alpha for ``rgb`` from the model's mask, refined as asked."""
    if refine == "none":
        return upsample_alpha(mask, rgb.size)
    from alphacut.pipeline import refine as refine_module

    return refine_module.refine_alpha(mask, rgb, mode=refine)
