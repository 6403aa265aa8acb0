"""Whether an adapter's outputs agree with the CPU provider's, judged the way masks are used.

An fp32 adapter computes the same arithmetic as the CPU provider, so its outputs must match
to ~1e-3 on every value. A quantized model is different: int8 kernels round differently on
every instruction set (AVX2 without VNNI saturates 16-bit sums, VNNI does not), so single
values of the mask can differ by 0.2-0.8 while the masks are equally good (ecssd-dev MAE
0.0346 on OpenVINO and 0.0374 on the CPU provider on an AVX2-only CPU). Such a model is
judged at mask level on photos: the mean absolute difference of its primary output and the
IoU of the two masks thresholded at 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

# fp32 providers that agree with CPU stay well inside this (OpenVINO CPU: 4e-5 here).
MAX_ABS_DIFF = 1e-3


@dataclass(frozen=True)
class AgreementRule:
    """The limits an adapter's outputs must keep against the CPU's; None = not judged."""

    max_abs_diff: float | None = MAX_ABS_DIFF  # largest difference over all outputs
    mask_mean_diff: float | None = None  # mean |adapter - cpu| of the primary output
    mask_min_iou: float | None = None  # IoU of (adapter >= 0.5) and (cpu >= 0.5)

    @property
    def mask_level(self) -> bool:
        """Whether this rule judges masks (and so needs photo-like probe inputs)."""
        return self.mask_mean_diff is not None or self.mask_min_iou is not None

    def describe(self) -> str:
        parts = []
        if self.max_abs_diff is not None:
            parts.append(f"max diff \u2264 {self.max_abs_diff:g}")
        if self.mask_mean_diff is not None:
            parts.append(f"mask mean diff \u2264 {self.mask_mean_diff:g}")
        if self.mask_min_iou is not None:
            parts.append(f"mask IoU@0.5 \u2265 {self.mask_min_iou:g}")
        return ", ".join(parts) or "not judged"


EXACT = AgreementRule()


@dataclass(frozen=True)
class Agreement:
    """How far an adapter's outputs were from the CPU's on the probe inputs."""

    max_abs_diff: float
    mask_mean_diff: float
    mask_iou: float

    def failure(self, rule: AgreementRule) -> str:
        """Why the outputs break ``rule`` ("" when they keep it)."""
        if rule.max_abs_diff is not None and not self.max_abs_diff <= rule.max_abs_diff:
            return f"outputs differ from CPU by {self.max_abs_diff:.2g} (> {rule.max_abs_diff:g})"
        if rule.mask_mean_diff is not None and not self.mask_mean_diff <= rule.mask_mean_diff:
            return (f"masks differ from CPU by {self.mask_mean_diff:.3g} on average "
                    f"(> {rule.mask_mean_diff:g})")
        if rule.mask_min_iou is not None and not self.mask_iou >= rule.mask_min_iou:
            return f"masks overlap the CPU's by IoU {self.mask_iou:.3f} (< {rule.mask_min_iou:g})"
        return ""


def mask_iou(a: np.ndarray, b: np.ndarray, threshold: float = 0.5) -> tuple[int, int]:
    """(intersection, union) pixel counts of ``a >= threshold`` and ``b >= threshold``."""
    import numpy as np

    fa, fb = a >= threshold, b >= threshold
    return int(np.count_nonzero(fa & fb)), int(np.count_nonzero(fa | fb))


def measure(
    outputs: Sequence[Sequence[np.ndarray]], reference: Sequence[Sequence[np.ndarray]]
) -> Agreement:
    """Compare per-input output lists (adapter vs CPU), the first output being the mask.

    The mask mean difference is averaged over inputs (as MAE is over a data set); the IoU
    pools all inputs' pixels, so a photo with almost no foreground cannot swing it alone.
    Shapes that disagree count as total disagreement.
    """
    import numpy as np

    worst, means, inter, union = 0.0, [], 0, 0
    if len(outputs) != len(reference) or not outputs:
        return Agreement(float("inf"), float("inf"), 0.0)
    for got, want in zip(outputs, reference, strict=True):
        if len(got) != len(want) or any(x.shape != y.shape for x, y in zip(got, want,
                                                                               strict=True)):
            return Agreement(float("inf"), float("inf"), 0.0)
        for x, y in zip(got, want, strict=True):
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
            worst = max(worst, float(diff.max()) if diff.size else 0.0)
        mask, ref = got[0].astype(np.float32), want[0].astype(np.float32)
        means.append(float(np.abs(mask - ref).mean()) if mask.size else 0.0)
        i, u = mask_iou(mask, ref)
        inter, union = inter + i, union + u
    iou = inter / union if union else 1.0
    return Agreement(worst, float(np.mean(means)), iou)
