"""Messages that thread workers post back to the UI thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from textual.message import Message

from alphacut.pipeline.batch import JobResult
from alphacut.pipeline.jobs import Job
from alphacut.pipeline.remover import Remover
from alphacut.tui.adapter_choices import ProbeReport
from alphacut.tui.preview_images import PreviewSource
from alphacut.tui.review_queue import Candidate


class ModelReady(Message):
    def __init__(self, remover: Remover) -> None:
        super().__init__()
        self.remover = remover


class ModelFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class ModelChanged(Message):
    """The app's model (``remover`` or ``model_error``) changed; sent by the app to its
    main screen."""


class ProbesDone(Message):
    def __init__(self, report: ProbeReport) -> None:
        super().__init__()
        self.report = report


class PreviewLoaded(Message):
    """The downscaled photo is ready (the mask may follow in :class:`PreviewMasked`)."""

    def __init__(self, source: PreviewSource) -> None:
        super().__init__()
        self.source = source


class PreviewMasked(Message):
    def __init__(self, path: Path, mask: np.ndarray) -> None:
        super().__init__()
        self.path = path
        self.mask = mask


class PreviewFailed(Message):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__()
        self.path = path
        self.reason = reason


class MarksFound(Message):
    """Result of a recursive mark (``A``)."""

    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.paths = paths


class JobStarted(Message):
    def __init__(self, index: int, job: Job) -> None:
        super().__init__()
        self.index = index
        self.job = job


class JobFinished(Message):
    """One job's result; ``result.mask`` is its model-resolution mask when it succeeded."""

    def __init__(self, result: JobResult) -> None:
        super().__init__()
        self.result = result


class BatchFinished(Message):
    def __init__(self, cancelled: bool, error: str = "") -> None:
        super().__init__()
        self.cancelled = cancelled
        self.error = error


class CandidateReady(Message):
    """A re-run wrote a second cutout of ``candidate.job.source`` (or failed: ``error``)."""

    def __init__(self, candidate: Candidate | None, source: Path, error: str = "") -> None:
        super().__init__()
        self.candidate = candidate
        self.source = source
        self.error = error


class RerunFinished(Message):
    def __init__(self, error: str = "") -> None:
        super().__init__()
        self.error = error
