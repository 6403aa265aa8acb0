"""Pictures whose look is known exactly, for the tests that read back what a terminal drew."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def stripes(size: int = 480, width: int = 12) -> Image.Image:
    """Vertical red/blue stripes: 40 of them, 39 red↔blue transitions plus two edges."""
    x = np.arange(size)
    red = (x // width) % 2 == 0
    pixels = np.zeros((size, size, 3), np.uint8)
    pixels[:, red, 0] = 255
    pixels[:, ~red, 2] = 255
    return Image.fromarray(pixels)


def disc() -> Image.Image:
    """A red disc (radius 120) in the middle of a 480² blue square."""
    image = Image.new("RGB", (480, 480), (0, 0, 255))
    ImageDraw.Draw(image).ellipse((120, 120, 360, 360), fill=(255, 0, 0))
    return image


def transitions(row: np.ndarray) -> int:
    """Red↔blue changes along a row of RGB pixels (pixels that are neither: skipped)."""
    labels = [1 if int(r) > int(b) + 80 else 0 for r, _, b in row if abs(int(r) - int(b)) > 80]
    return sum(1 for a, b in zip(labels, labels[1:], strict=False) if a != b)
