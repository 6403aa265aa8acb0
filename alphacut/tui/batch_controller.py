"""Batch control behind the main screen: plan jobs for chosen files, run them, keep the
per-file states and the tally. No Textual in here: the screen runs :meth:`run` in a thread
worker and turns the callbacks into messages."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from alphacut.pipeline.batch import BatchRunner, JobResult
from alphacut.pipeline.confidence import DEFAULT_REVIEW_BELOW
from alphacut.pipeline.jobs import Job, plan_jobs
from alphacut.pipeline.tally import BatchTally
from alphacut.tui.listing import FileStatus

if TYPE_CHECKING:
    from alphacut.pipeline.output import OutputOptions
    from alphacut.pipeline.remover import Remover


class BatchController:
    """One batch at a time: its jobs' states (shared with the file browser) and tally."""

    def __init__(self, statuses: dict[Path, FileStatus]) -> None:
        self.statuses = statuses
        self.cancel = threading.Event()
        self.tally = BatchTally()
        self.total = 0

    @staticmethod
    def plan(files: Sequence[Path], start_dir: Path, out_dir: Path,
             options: OutputOptions) -> tuple[list[Job], list[str]]:
        """Jobs for ``files``, keeping their folder structure below the opened folder."""
        root = start_dir
        if not all(root in f.parents for f in files):
            root = Path(os.path.commonpath([f.parent for f in files]))
        nested = any(f.parent != root for f in files)
        jobs, problems = plan_jobs([root], out_dir, options, recursive=nested)
        wanted = set(files)
        jobs = [j for j in jobs if j.source in wanted]
        planned = {j.source for j in jobs}
        notes = [f"{p.path.name}: {p.reason}" for p in problems if p.path in wanted]
        notes += [f"{f.name}: not planned" for f in files if f not in planned
                  and not any(p.path == f for p in problems)]
        return jobs, notes

    def start(self, jobs: Sequence[Job]) -> threading.Event:
        """Queue ``jobs`` and start a fresh tally; returns this batch's cancel event."""
        for job in jobs:
            self.statuses[job.source] = FileStatus("queued")
        self.cancel = threading.Event()
        self.tally = BatchTally()
        self.total = len(jobs)
        return self.cancel

    @staticmethod
    def run(
        remover: Remover,
        options: OutputOptions,
        jobs: Sequence[Job],
        cancel: threading.Event,
        *,
        on_start: Callable[[int, Job], None],
        on_result: Callable[[JobResult], None],
    ) -> str:
        """Run the batch (in a worker thread); returns an error that ended it, or ''.

        Each result carries its model mask, which feeds the preview cache.
        """
        runner = BatchRunner(remover, options, keep_masks=True)
        try:
            for result in runner.run(jobs, cancel=cancel, on_start=on_start):
                on_result(result)
        except Exception as exc:  # the batch runner reports per-image errors itself
            return f"{exc.__class__.__name__}: {exc}"
        return ""

    def job_started(self, job: Job) -> None:
        self.statuses[job.source] = FileStatus("running")

    def job_finished(self, result: JobResult) -> None:
        """Record one result in the file states and the tally."""
        if result.status == "done":
            self.statuses[result.job.source] = done_status(result)
        else:
            self.statuses[result.job.source] = FileStatus(result.status, reason=result.error)
        self.tally.add(result)

    def summary(self, cancelled: bool, out_dir: Path) -> str:
        """The closing line, e.g. ``finished: 3 done, 1 failed → OUT``."""
        head = "cancelled" if cancelled else "finished"
        return f"{head}: {self.tally.describe()} → {out_dir}"


def done_status(result: JobResult) -> FileStatus:
    """A finished job's status, with the review flag and reason when it needs a look."""
    confidence = result.confidence
    return FileStatus(
        "done", ms=result.timings.total,
        review=confidence.reason if result.needs_review(DEFAULT_REVIEW_BELOW) else "",
        confidence=confidence.score if confidence else None,
    )
