"""Choosing how images are drawn: Kitty graphics, Sixel, coloured half-cells or unicode shades.

textual-image detects terminal support when it is first imported (it cannot ask once
Textual owns the terminal), so this module must be imported before the app starts.
"""

from __future__ import annotations

from textual_image.renderable import Image as DetectedRenderable
from textual_image.renderable.sixel import Image as SixelRenderable
from textual_image.renderable.tgp import Image as TGPRenderable
from textual_image.widget import HalfcellImage, SixelImage, TGPImage, UnicodeImage
from textual_image.widget._base import Image as BaseImage

from alphacut.config import GRAPHICS_MODES

WIDGETS: dict[str, type[BaseImage]] = {
    "kitty": TGPImage,
    "sixel": SixelImage,  # type: ignore[dict-item]  # a Widget with the same interface
    "halfcell": HalfcellImage,
    "unicode": UnicodeImage,
}


def detected_mode() -> str:
    """What ``auto`` means here: a real graphics protocol only when positively detected.

    textual-image falls back to greyscale unicode shading in some terminals (tmux among
    them); coloured half-cells look far better and work everywhere with 24-bit colour.
    """
    if DetectedRenderable is SixelRenderable:
        return "sixel"
    if DetectedRenderable is TGPRenderable:
        return "kitty"
    return "halfcell"


def resolve_mode(mode: str) -> str:
    """A concrete mode (never ``auto``)."""
    return detected_mode() if mode == "auto" else mode


def next_mode(mode: str) -> str:
    """The mode after ``mode`` in the ``g`` key's cycle."""
    index = GRAPHICS_MODES.index(mode) if mode in GRAPHICS_MODES else 0
    return GRAPHICS_MODES[(index + 1) % len(GRAPHICS_MODES)]


def is_pixel_mode(mode: str) -> bool:
    """Whether the terminal draws real pixels (so images need the full cell resolution)."""
    return resolve_mode(mode) in ("kitty", "sixel")
