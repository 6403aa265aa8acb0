"""Pixels for the preview pane: fast thumbnails, masks and cutouts at the pane's pixel size.

Nothing here imports Textual, so it can be timed and tested on its own. Full-resolution
decoding is left to the batch; the preview decodes a JPEG at a reduced scale (``draft``)
which turns a 12 MP decode into a ~1 MP one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps

from alphacut.pipeline.decode import DEFAULT_MAX_PIXELS, decode, to_rgb8
from alphacut.pipeline.matte import upsample_alpha

ViewMode = Literal["side", "mask", "cutout", "original"]
VIEW_MODES: tuple[ViewMode, ...] = ("side", "mask", "cutout", "original")
VIEW_TITLES: dict[str, str] = {
    "side": "original | cutout",
    "mask": "mask",
    "cutout": "cutout",
    "original": "original",
}

# Enough for the model input (320 px) and a half-cell pane; pixel terminals ask for more.
PREVIEW_MAX_SIDE = 512
_GAP = 8  # pixels between the two halves of the side-by-side view


@dataclass
class PreviewSource:
    """A downscaled copy of one photo, plus the model's mask once it has been computed."""

    path: Path
    rgb: Image.Image  # mode "RGB", longest side at most twice the requested side
    full_size: tuple[int, int]
    mask: np.ndarray | None = None  # model-resolution soft mask in 0..1


def load_preview(path: Path, max_side: int = PREVIEW_MAX_SIDE) -> PreviewSource:
    """Decode ``path`` at reduced size with EXIF orientation applied.

    Anything Pillow refuses goes through :func:`decode`, so the error the user sees is the
    same one-line :class:`~alphacut.errors.DecodeError` the batch would report.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                full = img.size
                if full[0] * full[1] > DEFAULT_MAX_PIXELS:
                    raise ValueError("too large")
                # JPEG decodes straight to 1/2, 1/4 or 1/8 scale; other formats ignore this.
                img.draft("RGB", (max_side, max_side))
                img.seek(0)
                img.load()
                img = ImageOps.exif_transpose(img) or img
                rgb, _ = to_rgb8(img)
    except Exception:
        decoded = decode(path)  # raises the user-facing DecodeError
        rgb, full = decoded.rgb, decoded.size
    # Keep some headroom over ``max_side``: the short side still matters for the model input.
    if max(rgb.size) > 2 * max_side:
        rgb = rgb.copy()
        rgb.thumbnail((2 * max_side, 2 * max_side), Image.Resampling.BILINEAR)
    if full != rgb.size and _is_transposed(full, rgb.size):
        full = (full[1], full[0])
    return PreviewSource(path=path, rgb=rgb, full_size=full)


def _is_transposed(full: tuple[int, int], small: tuple[int, int]) -> bool:
    """Whether EXIF rotation swapped width and height between ``full`` and ``small``."""
    return (full[0] > full[1]) != (small[0] > small[1]) and full[0] != full[1]


def fit_size(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """``size`` scaled to fit inside ``box`` keeping its aspect ratio (never below 1x1)."""
    width, height = size
    scale = min(box[0] / width, box[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def checkerboard(size: tuple[int, int], square: int = 8) -> Image.Image:
    """A light grey checkerboard, the usual way to show transparency."""
    width, height = size
    ys, xs = np.indices((height, width))
    cells = ((xs // square) + (ys // square)) % 2
    grey = np.where(cells == 0, 204, 153).astype(np.uint8)
    return Image.fromarray(grey, "L").convert("RGB")


def _over_background(
    rgb: Image.Image, alpha: Image.Image, background: tuple[int, int, int] | None
) -> Image.Image:
    base = Image.new("RGB", rgb.size, background) if background else checkerboard(rgb.size)
    return Image.composite(rgb, base, alpha)


def compose_view(
    source: PreviewSource,
    mode: ViewMode,
    box: tuple[int, int],
    background: tuple[int, int, int] | None = None,
) -> Image.Image:
    """The image to show for ``mode``, already shrunk to fit ``box`` (pixels).

    Views that need the mask show the original until the mask is known.
    """
    wants_mask = mode != "original"
    if mode == "side":
        half = (max(1, (box[0] - _GAP) // 2), box[1])
        size = fit_size(source.rgb.size, half)
    else:
        size = fit_size(source.rgb.size, box)
    small = source.rgb.resize(size, Image.Resampling.BILINEAR)
    if not wants_mask or source.mask is None:
        return small
    alpha = upsample_alpha(source.mask, size)
    if mode == "mask":
        return alpha.convert("RGB")
    cutout = _over_background(small, alpha, background)
    if mode == "cutout":
        return cutout
    canvas = Image.new("RGB", (size[0] * 2 + _GAP, size[1]), (0, 0, 0))
    canvas.paste(small, (0, 0))
    canvas.paste(cutout, (size[0] + _GAP, 0))
    return canvas
