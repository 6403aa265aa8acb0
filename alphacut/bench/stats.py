"""Small summary statistics for timings: percentiles and paired ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation, as numpy's default.

    Returns NaN for an empty sequence so a missing measurement can never look like 0 ms.
    """
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Ratio:
    """A speed ratio measured over interleaved pairs: the median and its spread."""

    median: float
    low: float
    high: float
    pairs: int

    @classmethod
    def of_pairs(cls, numerators: Sequence[float], denominators: Sequence[float]) -> Ratio:
        """Ratio ``numerator / denominator`` per pair (same run index), summarised."""
        ratios = [n / d for n, d in zip(numerators, denominators, strict=False) if d > 0]
        if not ratios:
            return cls(math.nan, math.nan, math.nan, 0)
        return cls(percentile(ratios, 50), min(ratios), max(ratios), len(ratios))

    def as_dict(self) -> dict[str, float | int]:
        return {
            "median": _round(self.median, 3),
            "min": _round(self.low, 3),
            "max": _round(self.high, 3),
            "pairs": self.pairs,
        }

    def describe(self) -> str:
        """``1.23x (1.10-1.31 over 3 pairs)``."""
        if self.pairs == 0:
            return "n/a"
        return f"{self.median:.2f}x ({self.low:.2f}-{self.high:.2f} over {self.pairs} pairs)"


def _round(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def round_or_none(value: float | None, digits: int = 2) -> float | None:
    """JSON-friendly rounding: NaN and None both become None (``null``)."""
    if value is None:
        return None
    return _round(float(value), digits)
