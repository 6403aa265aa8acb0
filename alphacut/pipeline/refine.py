"""Edge refinement at full resolution, in bounded memory: the refine modes' front door.

* ``guided`` -- a fast guided filter fitted at working size and applied strip by strip
  (:mod:`alphacut.pipeline.guided`).
* ``matting`` -- a trimap from the mask; a gate (:mod:`alphacut.pipeline.matting_gate`)
  picks the regions of its unsure band that colour can settle; KNN matting
  (:mod:`alphacut.pipeline.knn_matting`) or closed-form matting solves them; guided
  upsampling carries the result to full size (:mod:`alphacut.pipeline.matting`).

``decontaminate`` (:mod:`alphacut.pipeline.decontaminate`) replaces the colour of
semi-transparent pixels with an estimate of the true foreground colour. The names below are
re-exported so callers keep one import path.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from alphacut.pipeline.decontaminate import (
    DECONTAMINATE_LONG_SIDE as DECONTAMINATE_LONG_SIDE,
)
from alphacut.pipeline.decontaminate import decontaminate as decontaminate
from alphacut.pipeline.decontaminate import preload as preload
from alphacut.pipeline.guided import DEFAULT_GUIDED as DEFAULT_GUIDED
from alphacut.pipeline.guided import GuidedParams as GuidedParams
from alphacut.pipeline.guided import StripUpsampler as StripUpsampler
from alphacut.pipeline.guided import refine_guided
from alphacut.pipeline.knn_matting import knn_alpha as knn_alpha
from alphacut.pipeline.matting import DEFAULT_MATTING as DEFAULT_MATTING
from alphacut.pipeline.matting import MattingParams as MattingParams
from alphacut.pipeline.matting import matting_with_decision as matting_with_decision
from alphacut.pipeline.matting import refine_matting
from alphacut.pipeline.matting import solve_band as solve_band
from alphacut.pipeline.trimap import band_half_width as band_half_width


def refine_alpha(mask: np.ndarray, rgb: Image.Image, *, mode: str) -> Image.Image:
    """Dispatch for :func:`alphacut.pipeline.matte.make_alpha`."""
    if mode == "guided":
        return refine_guided(mask, rgb)
    if mode == "matting":
        return refine_matting(mask, rgb)
    raise ValueError(f"unknown refine mode {mode!r} (expected none, guided or matting)")
