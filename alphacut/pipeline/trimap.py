"""Where the model's mask is unsure: the band around its outline and its soft values."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def band_half_width(size: tuple[int, int], mask_shape: tuple[int, ...], cells: float) -> int:
    """``cells`` model-output pixels, measured in pixels of an image of ``size``, at least 2."""
    cell = max(size[0] / mask_shape[1], size[1] / mask_shape[0])
    return max(2, round(cells * cell))


def outline(solid: np.ndarray) -> np.ndarray:
    """Pixels on either side of the boundary of ``solid`` (4-connected)."""
    edge = solid ^ ndimage.binary_erosion(solid, border_value=1)
    edge |= ~solid & ndimage.binary_dilation(solid)
    return edge


def uncertain_band(mask: np.ndarray, half_width: int, low: float, high: float) -> np.ndarray:
    """Pixels within ``half_width`` of the mask's 0.5 contour or of any soft mask value.

    The soft region (``low < mask < high``) grows by the same margin as the contour: the true
    extent of hair or fur is usually wider than where the low-resolution mask hesitated.
    Distances are Euclidean, so the band is round rather than diamond-shaped.
    """
    seeds = (mask > low) & (mask < high)
    seeds |= outline(mask >= 0.5)
    if not seeds.any():
        return seeds
    return ndimage.distance_transform_edt(~seeds) <= half_width
