"""How far to trust one cutout: a score in 0..1 and the reason, from the model's own masks.

The signal is *stray uncertainty*: mask pixels that are neither clearly subject nor clearly
background (0.01 < m < 0.99) and lie well away from the subject's outline. A soft band along
the outline is normal (hair, blur, anti-aliasing); soft regions far from it mean the model
could not decide whether a whole part of the picture belongs to the subject (the pot found
but not the plant, a second person half taken).

U^2-Net computes a mask at every decoder stage on the way to its fused output; they come
with the same inference, free. Where the model gives them (``stages``), the share is the
mean over the fused mask and those stages: doubt that the fusion smoothed away still shows
in them. Measured on the dev sets (README, "Confidence"), this ranks failures (IoU < 0.8)
better than the fused mask alone (AUROC ecssd-dev 0.882 vs 0.844, pascal-dev 0.849 vs
0.845), and better than the soft share of the whole mask, the subject's size, its pieces,
holes, frame contact, stage-vs-fused overlap or colour contrast, alone or combined in a
logistic fit (leave-one-dataset-out).

The score is a two-parameter logistic in that share, fitted on ecssd-dev, pascal-dev and
matting-dev together: ``1 / (1 + (stray / at_even) ** steepness)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# A pixel is "soft" when the model gives it between 1 % and 99 %.
SOFT_MARGIN = 0.01
# "Away from the outline": farther than 8 px at 320 px (2.5 % of the side), so the soft band
# of a normal edge, about 2-6 px wide at model resolution, is not counted.
FAR_SHARE = 8 / 320
# Fitted parameters (mean over fused mask and stages): at a stray share of 0.35 of the
# subject's area a failure is as likely as not; each doubling of the share multiplies the
# odds of failure by 2 ** 1.51. Left out in turn, each dev set moves them to 0.31-0.47 and
# 1.39-1.71. Stages see more doubt than the fused mask, hence a separate fit for models
# that give the fused mask only (0.26, 1.13).
STRAY_AT_EVEN = 0.35
STEEPNESS = 1.51
FUSED_ONLY_AT_EVEN = 0.26
FUSED_ONLY_STEEPNESS = 1.13
# Masks are judged at this size, so scores from models of different input sizes compare.
ASSESS_SIDE = 320
# Below this share of the frame the mask holds no subject worth the name.
MIN_SUBJECT = 0.002
# Review what is more likely wrong than right (overridable with --review-below).
DEFAULT_REVIEW_BELOW = 0.5


@dataclass(frozen=True)
class Confidence:
    """How far a cutout can be trusted, and why."""

    score: float  # 0 (surely wrong) .. 1 (surely right)
    reason: str
    signals: dict[str, float] = field(default_factory=dict)

    def needs_review(self, below: float = DEFAULT_REVIEW_BELOW) -> bool:
        """Whether a person should look at this cutout."""
        return self.score < below

    def as_dict(self, below: float = DEFAULT_REVIEW_BELOW) -> dict[str, object]:
        return {
            "confidence": round(self.score, 3),
            "review": self.needs_review(below),
            "reason": self.reason,
        }


def stray_share(mask: np.ndarray) -> tuple[float, float]:
    """(soft pixels far from the subject's outline / subject pixels, subject / frame)."""
    subject = mask > 0.5
    area = int(subject.sum())
    if area == 0 or area == subject.size:
        return 0.0, area / subject.size
    soft = (mask > SOFT_MARGIN) & (mask < 1.0 - SOFT_MARGIN)
    if not soft.any():
        return 0.0, area / subject.size
    # "Far" is a square neighbourhood, counted with an integral image: numpy alone, about
    # 1 ms, where exact Euclidean distances cost ~30 ms (plus SciPy's import) and rank
    # failures the same on the dev sets (AUROC within 0.003).
    reach = max(1, round(FAR_SHARE * max(mask.shape)))
    around = _box_sums(subject, reach)
    side = 2 * reach + 1
    deep_inside = around == side * side
    far_outside = around == 0
    stray = int(np.count_nonzero(soft & (deep_inside | far_outside)))
    # Capped: a handful of subject pixels in a sea of doubt would otherwise read 10,000 %.
    return min(stray / area, 99.0), area / subject.size


def _box_sums(flags: np.ndarray, reach: int) -> np.ndarray:
    """For each pixel, how many set pixels lie within ``reach`` (a square), edges repeated."""
    padded = np.pad(flags.astype(np.int32), reach, mode="edge")
    table = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1), np.int32)
    np.cumsum(np.cumsum(padded, axis=0), axis=1, out=table[1:, 1:])
    side = 2 * reach + 1
    height, width = flags.shape
    return (
        table[side : side + height, side : side + width]
        - table[:height, side : side + width]
        - table[side : side + height, :width]
        + table[:height, :width]
    )


def assess(mask: np.ndarray, stages: Sequence[np.ndarray] = ()) -> Confidence:
    """Confidence for a soft mask in 0..1 at model resolution (any size).

    ``stages`` are the model's intermediate masks of the same image (decoder side outputs,
    mapped to 0..1 like ``mask``), when it gives them.
    """
    mask = _judged(mask)
    stray, area = stray_share(mask)
    signals = {"stray_fused": round(stray, 4), "subject_area": round(area, 4)}
    if area < MIN_SUBJECT:
        signals["stray_soft"] = signals["stray_fused"]
        return Confidence(0.0, "no subject found", signals)
    if area >= 1.0:
        signals["stray_soft"] = signals["stray_fused"]
        return Confidence(0.0, "the whole frame is subject", signals)
    at_even, steepness = FUSED_ONLY_AT_EVEN, FUSED_ONLY_STEEPNESS
    if stages:
        stray = (stray + sum(stray_share(_judged(stage))[0] for stage in stages)) / (
            1 + len(stages))
        at_even, steepness = STRAY_AT_EVEN, STEEPNESS
    signals["stray_soft"] = round(stray, 4)
    score = 1.0 / (1.0 + (stray / at_even) ** steepness)
    if score >= DEFAULT_REVIEW_BELOW:
        reason = "clear subject" if stray < at_even / 4 else "some unsure regions"
    else:
        reason = f"unsure about regions away from the subject's edge ({_of_subject(stray)})"
    return Confidence(float(score), reason, signals)


def _of_subject(share: float) -> str:
    """The stray share in words a person reads at a glance.

    The share is relative to the subject, so a small subject in a wide unsure area makes it
    exceed 1; "6624 % of its area" reads as a bug, "66x the subject's area" does not.
    """
    if share < 1.0:
        return f"{share:.0%} of its area"
    times = f"{share:.1f}" if share < 10 else f"{share:.0f}"
    return f"{times}x the subject's area"


def _judged(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask, dtype=np.float32)
    return _shrink(mask, ASSESS_SIDE) if max(mask.shape) > ASSESS_SIDE else mask


def _shrink(mask: np.ndarray, side: int) -> np.ndarray:
    """Area-average a larger mask down so its longer side is ``side`` pixels."""
    from PIL import Image

    height, width = mask.shape
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    shrunk = Image.fromarray(mask, "F").resize(size, Image.Resampling.BOX)
    return np.asarray(shrunk, dtype=np.float32)
