"""How well the per-image confidence finds the failures of a labelled dataset.

A *failure* is a cutout whose IoU at 0.5 against the ground truth is below 0.8. The
confidence is judged as a ranking (AUROC: the chance that a random failure scores lower than
a random success) and as a review budget (the share of all failures among the images with
the lowest confidence, when 10, 20 or 30 % of the images are flagged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

FAILURE_IOU = 0.8
FLAG_SHARES: tuple[float, ...] = (0.1, 0.2, 0.3)


@dataclass
class ConfidenceScores:
    """The confidence against the truth on one dataset."""

    images: int
    failures: int
    auroc: float | None  # None when the set has no failure or no success
    caught: dict[float, float]  # share flagged -> share of failures among them
    review_below: float
    flagged: int  # images below review_below
    flagged_failures: int
    per_image: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "failure": f"IoU@0.5 < {FAILURE_IOU}",
            "images": self.images,
            "failures": self.failures,
            "auroc": None if self.auroc is None else round(self.auroc, 4),
            "caught": {f"{share:.0%}": round(got, 4) for share, got in self.caught.items()},
            "review_below": self.review_below,
            "flagged": self.flagged,
            "flagged_failures": self.flagged_failures,
        }

    def describe(self) -> str:
        auroc = "n/a (needs failures and successes)" if self.auroc is None else f"{self.auroc:.3f}"
        caught = "/".join(f"{got:.0%}" for got in self.caught.values())
        shares = "/".join(f"{share:.0%}" for share in self.caught)
        return (
            f"confidence: {self.failures} of {self.images} images fail (IoU@0.5 < "
            f"{FAILURE_IOU}); AUROC {auroc}; flagging the lowest {shares} catches {caught} of "
            f"the failures; {self.flagged} below {self.review_below:g} "
            f"({self.flagged_failures} of them failures)"
        )


def auroc(risk: np.ndarray, failed: np.ndarray) -> float | None:
    """Area under the ROC curve of ``risk`` (higher = more likely failed); ties count half."""
    from scipy.stats import mannwhitneyu

    failed = np.asarray(failed, bool)
    positives, negatives = risk[failed], risk[~failed]
    if not len(positives) or not len(negatives):
        return None
    u = mannwhitneyu(positives, negatives, alternative="two-sided").statistic
    return float(u / (len(positives) * len(negatives)))


def caught_share(risk: np.ndarray, failed: np.ndarray, share: float) -> float:
    """Share of all failures among the ``share`` of images with the highest risk."""
    failed = np.asarray(failed, bool)
    if not failed.any():
        return 0.0
    count = math.ceil(share * len(risk))
    worst = np.argsort(-risk, kind="stable")[:count]
    return float(failed[worst].sum() / failed.sum())


def score_confidence(
    confidence: dict[str, float], iou: dict[str, float], review_below: float
) -> ConfidenceScores:
    """Judge per-image confidences against per-image IoUs (images in both dicts)."""
    names = [name for name in confidence if name in iou]
    score = np.array([confidence[name] for name in names], dtype=np.float64)
    failed = np.array([iou[name] < FAILURE_IOU for name in names], dtype=bool)
    risk = -score
    below = score < review_below
    return ConfidenceScores(
        images=len(names),
        failures=int(failed.sum()),
        auroc=auroc(risk, failed),
        caught={share: caught_share(risk, failed, share) for share in FLAG_SHARES},
        review_below=review_below,
        flagged=int(below.sum()),
        flagged_failures=int((below & failed).sum()),
        per_image={name: confidence[name] for name in names},
    )
