"""Per-family pre- and post-processing: pixels in, a soft mask in 0..1 out.

A recipe never resizes: the pipeline hands it an RGB array already at the
model's input size (it picks the cheapest decode/resize path for that), and
upsamples the low-resolution mask it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from alphacut.models.catalogue import ModelSpec

MaskMapping = Literal["minmax", "clip"]


@dataclass(frozen=True)
class Recipe:
    """How one model family reads its input and writes its mask."""

    family: str
    output_index: int
    mapping: MaskMapping
    # Intermediate masks the model already computes (decoder side outputs), read for the
    # confidence score at no inference cost; empty where none has been measured.
    stage_indices: tuple[int, ...] = ()

    def preprocess(self, spec: ModelSpec, rgb: np.ndarray) -> np.ndarray:
        """``(h, w, 3) uint8`` at the model's size -> ``(1, 3, h, w) float32`` input tensor."""
        norm = spec.normalisation
        x = rgb.astype(np.float32)
        if norm.divisor == "max":
            peak = float(x.max())
            x *= 1.0 / (peak if peak > 0 else 1.0)
        else:
            x *= 1.0 / 255.0
        mean = np.asarray(norm.mean, dtype=np.float32)
        inv_std = 1.0 / np.asarray(norm.std, dtype=np.float32)
        x -= mean
        x *= inv_std
        return np.ascontiguousarray(x.transpose(2, 0, 1)[np.newaxis])

    def postprocess(self, outputs: list[np.ndarray]) -> np.ndarray:
        """The model's outputs -> ``(h, w) float32`` soft mask in 0..1 at model resolution."""
        return self.to_mask(outputs[self.output_index])

    def stage_outputs(self, outputs: list[np.ndarray]) -> list[np.ndarray]:
        """The raw side outputs named by ``stage_indices`` (turn each into a mask with
        :meth:`to_mask`)."""
        return [outputs[index] for index in self.stage_indices if index < len(outputs)]

    def to_mask(self, output: np.ndarray) -> np.ndarray:
        """One raw output -> ``(h, w) float32`` mask in 0..1, mapped like the main one."""
        pred = np.asarray(output, dtype=np.float32)
        pred = pred.reshape(pred.shape[-2], pred.shape[-1])
        if not np.isfinite(pred).all():
            # NaN/inf are an inference fault, not a mask; the accel layer falls back on this.
            raise FloatingPointError("model output contains NaN or infinity")
        if self.mapping == "minmax":
            lo, hi = float(pred.min()), float(pred.max())
            span = hi - lo
            if span > 1e-12:
                pred = (pred - lo) * (1.0 / span)
            else:
                pred = np.zeros_like(pred)
        return np.clip(pred, 0.0, 1.0, out=pred)


_RECIPES: dict[str, Recipe] = {
    # U^2-Net: seven sigmoid side outputs, the first is the fused one; rembg stretches it
    # to the full 0..1 range, which we keep so masks agree with the reference tool.
    # Side outputs 1-5 feed the confidence; 6 is decoded from the 1/32 stage (10 px across
    # at 320), so its outline is too blurred to tell doubt from a soft edge (README,
    # "Confidence": including it lowers the failure ranking).
    "u2net": Recipe(
        family="u2net", output_index=0, mapping="minmax", stage_indices=(1, 2, 3, 4, 5)
    ),
    # ISNet as built by IMG.LY: output 0 ("output") is already a sigmoid probability, which
    # IMG.LY's dist/index.mjs turns into alpha as-is (x 255); no min-max stretch. On
    # ecssd-dev a stretch scores about the same (MAE 0.0315 vs 0.0318) but would blow faint
    # noise up into a full mask on a photo with no subject, so the reference's way is kept.
    "isnet-imgly": Recipe(family="isnet-imgly", output_index=0, mapping="clip"),
}

FAMILIES: tuple[str, ...] = tuple(_RECIPES)


def recipe_for(spec: ModelSpec) -> Recipe:
    """The recipe for a model's family."""
    try:
        return _RECIPES[spec.family]
    except KeyError:
        from alphacut.errors import ModelError

        raise ModelError(
            f"model {spec.name!r} has unknown family {spec.family!r}; known: {', '.join(FAMILIES)}"
        ) from None
