"""One running tally of a batch's results, kept alike by the CLI, the demo and the UI."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alphacut.pipeline.batch import JobResult


@dataclass
class BatchTally:
    """Results so far: how many ended in each state, and how fast the done ones went.

    ``problems`` counts inputs refused while planning (they never become jobs) and are
    counted as failures. ``counts`` keeps states in the order they first appeared.
    """

    problems: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    last_ms: float | None = None
    _done_ms: float = 0.0

    def add(self, result: JobResult) -> None:
        """Count one finished job."""
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        if result.status == "done":
            self.last_ms = result.timings.total
            self._done_ms += result.timings.total

    def add_unreported(self, state: str, count: int) -> None:
        """Count jobs that ended without a result of their own (a lost cluster, a stop
        before they started)."""
        if count > 0:
            self.counts[state] = self.counts.get(state, 0) + count

    @property
    def finished(self) -> int:
        """Jobs with a result (any state)."""
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.counts.get("done", 0)

    @property
    def skipped(self) -> int:
        return self.counts.get("skipped", 0)

    @property
    def cancelled(self) -> int:
        return self.counts.get("cancelled", 0)

    @property
    def failed(self) -> int:
        """Failed jobs plus inputs refused while planning."""
        return self.counts.get("failed", 0) + self.problems

    @property
    def all_done(self) -> bool:
        """Every input became a written output."""
        return self.problems == 0 and self.done == self.finished

    def mean_ms(self) -> float | None:
        """Mean milliseconds per done image."""
        return self._done_ms / self.done if self.done else None

    def images_per_s(self) -> float | None:
        """Done images per wall-clock second since the tally started."""
        elapsed = time.perf_counter() - self.started
        return self.done / elapsed if self.done and elapsed > 0 else None

    def describe(self) -> str:
        """``"3 done, 1 failed"``: every state seen, in order of first appearance."""
        return ", ".join(f"{n} {state}" for state, n in self.counts.items())
