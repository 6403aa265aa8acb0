"""The review queue's second tries: cutouts made with another model or refine setting.

A re-run never touches the cutout already written. Its file goes into a hidden folder
inside the output folder (so keeping it is one atomic rename on the same file system) and
stays a *candidate* until the user keeps it, which replaces the first cutout, or discards it.
No Textual import: the main screen drives these records and the logic is testable alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alphacut.pipeline.confidence import Confidence
from alphacut.pipeline.jobs import Job

CANDIDATES_DIR = ".alphacut-candidates"


@dataclass(frozen=True)
class RerunChoice:
    """What to re-run the flagged files with."""

    model: str
    refine: str

    @property
    def label(self) -> str:
        return f"{self.model}, refine {self.refine}"


@dataclass
class Candidate:
    """A second cutout of ``job.source`` waiting for the user's choice."""

    job: Job  # dest: the cutout already written
    file: Path  # the candidate's own file, beside it in the hidden folder
    choice: RerunChoice
    confidence: Confidence | None
    mask: np.ndarray | None  # the model mask, for the preview


def candidate_job(job: Job, out_dir: Path, choice: RerunChoice) -> Job:
    """The job that writes ``job``'s second try into the hidden candidates folder."""
    try:
        relative = job.dest.relative_to(out_dir)
    except ValueError:
        relative = Path(job.dest.name)
    tag = f"{choice.model}-{choice.refine}"
    dest = out_dir / CANDIDATES_DIR / relative.parent / f"{relative.stem}.{tag}{relative.suffix}"
    return Job(source=job.source, dest=dest)


def keep(candidate: Candidate) -> Path:
    """Replace the first cutout with the candidate (one atomic rename); returns the output."""
    candidate.job.dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(candidate.file, candidate.job.dest)
    return candidate.job.dest


def discard(candidate: Candidate) -> None:
    """Forget the candidate and delete its file; the first cutout stays as it was."""
    candidate.file.unlink(missing_ok=True)
