"""Small synthetic photos for tests: noise with a bright block the model can find."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def synthetic_photo(path: Path, seed: int = 0, size: tuple[int, int] = (96, 72)) -> Path:
    """Write a ``size`` (width, height) RGB image to ``path`` (folders made) and return it."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    arr[size[1] // 4 : -size[1] // 4, size[0] // 4 : -size[0] // 4] = (240, 230, 210)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path
