"""Batch processing with overlapped stages and a bounded number of images in flight.

Decoding and encoding run in a small thread pool while the inference session works
on the next image (Pillow and ONNX Runtime both release the GIL). When the session can
run several images at once (OpenVINO CPU streams, ``Runner.concurrency``), that many
images are in inference together. Results come back in input order, one per job, and a
failing image never stops the batch.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image

from alphacut.errors import AlphacutError, OutputExistsError
from alphacut.pipeline.confidence import DEFAULT_REVIEW_BELOW, Confidence
from alphacut.pipeline.decode_ahead import DecodeAhead
from alphacut.pipeline.jobs import Job, header_pixels
from alphacut.pipeline.output import (
    OutputOptions,
    clean_stray_temps,
    load_background,
    save_output,
)
from alphacut.pipeline.ownership import existing_output_action
from alphacut.pipeline.remover import Prepared, Remover, StageTimings

Status = Literal["done", "skipped", "failed", "cancelled"]

# Decoded photos are most of a batch's memory: Pillow holds RGB in 4 bytes a pixel, and the
# finish stage adds the alpha plane and encoder bands. Three photos in flight (one decoding,
# one in inference, one being finished) keep two cores busy. This many pixels is four 12 MP
# photos: batches of photos up to 16 MP still keep three in flight, while runs of 17-24 MP
# photos keep two. On the 12 lomiri photos (6-24 MP; three of 17-24 MP in a row), 100 images
# peaked at 553-563 MB instead of 603-613 MB with matting (514-519 instead of 562-568
# without), with the same outputs and no loss of speed (issue 13).
PIXELS_IN_FLIGHT = 48_000_000


@dataclass
class JobResult:
    """What happened to one job."""

    index: int
    job: Job
    status: Status
    error: str = ""
    provider: str = ""
    timings: StageTimings = field(default_factory=StageTimings)
    notes: list[str] = field(default_factory=list)
    bytes_written: int = 0
    mask: np.ndarray | None = None  # model-resolution soft mask, with ``keep_masks`` only
    confidence: Confidence | None = None

    def needs_review(self, below: float = DEFAULT_REVIEW_BELOW) -> bool:
        """Whether this finished cutout should be checked by a person."""
        return self.confidence is not None and self.confidence.needs_review(below)

    def as_dict(self, review_below: float = DEFAULT_REVIEW_BELOW) -> dict[str, object]:
        """JSON-friendly record (no pixels)."""
        judged = self.confidence.as_dict(review_below) if self.confidence else {
            "confidence": None, "review": False, "reason": None}
        return {
            "input": str(self.job.source),
            "output": str(self.job.dest) if self.status == "done" else None,
            "status": self.status,
            "error": self.error or None,
            "provider": self.provider or None,
            "ms": self.timings.as_dict(),
            "bytes": self.bytes_written,
            "notes": self.notes,
            **judged,
        }


def error_text(exc: BaseException) -> str:
    """The one-line reason an image failed: an AlphacutError's own reason, else the type."""
    if isinstance(exc, AlphacutError):
        reason = getattr(exc, "reason", None)
        return reason if reason else str(exc)
    return f"{exc.__class__.__name__}: {exc}"


class BatchRunner:
    """Runs jobs through a :class:`Remover`, overlapping decode, inference and encode."""

    def __init__(
        self,
        remover: Remover,
        output: OutputOptions,
        *,
        in_flight: int = 2,
        workers: int = 2,
        keep_masks: bool = False,
        ahead: DecodeAhead | None = None,
        pixels_in_flight: int = PIXELS_IN_FLIGHT,
    ) -> None:
        self.remover = remover
        self.output = output
        self.in_flight = max(1, in_flight)
        self.workers = max(1, workers)
        # One inference at a time: a photo starts decoding only while the photos already
        # started and not yet written hold, with it, at most this many pixels (one alone
        # always may). Several streams run small photos, bounded by count alone.
        self.pixels_in_flight = pixels_in_flight
        self.keep_masks = keep_masks
        self.ahead = ahead  # the first photos, decoded while the session was being opened
        self._background: Image.Image | None = None
        self._background_lock = threading.Lock()

    # -- stages ---------------------------------------------------------------------------
    def _prepare(self, job: Job) -> Prepared | None:
        """Stage 1 (pool): skip check, decode, model input. None means 'skip'."""
        if existing_output_action(job.dest, self.output.existing) == "skip":
            return None
        early = self.ahead.take(job) if self.ahead is not None else None
        if early is None:
            return self.remover.load(job.source)
        prepared = self.remover.load(early.image)
        prepared.timings.decode = early.ms
        return prepared

    def _finish(self, index: int, job: Job, prepared: Prepared, mask: np.ndarray) -> JobResult:
        """Stage 3 (pool): alpha, compose, encode and write atomically."""
        cutout = self.remover.complete(prepared, mask)
        start = time.perf_counter()
        background = self._load_background()
        try:
            size = save_output(
                cutout.rgb, cutout.alpha, job.dest, self.output, background=background
            )
        except OutputExistsError:
            if self.output.existing != "skip":
                raise
            # Another run wrote it after our check: with --skip-existing that is a skip.
            return JobResult(index=index, job=job, status="skipped", error="output exists",
                             provider=cutout.provider, timings=cutout.timings)
        cutout.timings.encode = (time.perf_counter() - start) * 1000
        return JobResult(
            index=index,
            job=job,
            status="done",
            provider=cutout.provider,
            timings=cutout.timings,
            notes=cutout.notes,
            bytes_written=size,
            mask=mask if self.keep_masks else None,
            confidence=cutout.confidence,
        )

    def _load_background(self) -> Image.Image | None:
        """``--bg-image``, decoded once per batch rather than once per image.

        A failure is not cached: each image then fails with the same one-line reason.
        """
        if self.output.bg_image is None:
            return None
        with self._background_lock:
            if self._background is None:
                self._background = load_background(self.output)
            return self._background

    # -- driver ---------------------------------------------------------------------------
    def run(
        self,
        jobs: Sequence[Job],
        *,
        cancel: threading.Event | None = None,
        on_start: Callable[[int, Job], None] | None = None,
    ) -> Iterator[JobResult]:
        """Yield one :class:`JobResult` per job, in input order.

        Setting ``cancel`` stops new images from starting; images already being written
        finish, and the rest are reported as ``cancelled``. ``on_start`` is called as an
        image reaches inference (from a worker thread when several run at once).
        """
        for folder in {job.dest.parent for job in jobs}:
            clean_stray_temps(folder)
        streams = self.remover.runner.concurrency
        try:
            if streams > 1:
                yield from self._run_concurrent(jobs, streams, cancel, on_start)
            else:
                yield from self._run_sequential(jobs, cancel, on_start)
        finally:
            if self.ahead is not None:
                self.ahead.discard()  # photos a cancelled batch never reached

    def _run_sequential(
        self,
        jobs: Sequence[Job],
        cancel: threading.Event | None,
        on_start: Callable[[int, Job], None] | None,
    ) -> Iterator[JobResult]:
        """One inference at a time on the calling thread; decode and encode in the pool."""
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="alphacut")
        waiting: deque[tuple[int, Job]] = deque(enumerate(jobs))
        prepared: deque[tuple[int, Job, Future[Prepared | None]]] = deque()
        finishing: deque[tuple[int, Job, Future[JobResult] | JobResult]] = deque()
        pixels: dict[int, int] = {}  # each started job's size, from its header

        def pixels_open() -> int:
            """Pixels of the jobs decoding, decoded or being finished."""
            started = [index for index, _, _ in prepared] + [
                index for index, _, item in finishing
                if not isinstance(item, JobResult) and not item.done()
            ]
            return sum(pixels.get(index, 0) for index in started)

        def refill() -> None:
            while waiting and len(prepared) < self.in_flight and not _cancelled():
                index, job = waiting[0]
                if index not in pixels:
                    pixels[index] = header_pixels(job.source)
                held = pixels_open()
                if held and held + pixels[index] > self.pixels_in_flight:
                    return  # started again once a photo is written
                waiting.popleft()
                prepared.append((index, job, pool.submit(self._prepare, job)))

        def _cancelled() -> bool:
            return cancel is not None and cancel.is_set()

        try:
            while prepared or finishing or (waiting and not _cancelled()):
                while finishing and (
                    isinstance(finishing[0][2], JobResult) or finishing[0][2].done()
                ):
                    yield _settle(*finishing.popleft())
                refill()  # a photo written since makes room for the next
                if prepared and not _cancelled():
                    index, job, future = prepared.popleft()
                    if on_start:
                        on_start(index, job)
                    finishing.append((index, job, self._infer(index, job, future, pool)))
                    refill()
                elif prepared:  # cancelled: drop what has not reached inference
                    index, job, future = prepared.popleft()
                    future.cancel()
                    finishing.append(
                        (index, job, JobResult(index=index, job=job, status="cancelled"))
                    )
                elif finishing:
                    yield _settle(*finishing.popleft())
                while len(finishing) >= self.in_flight:
                    yield _settle(*finishing.popleft())
            for index, job in waiting:
                yield JobResult(index=index, job=job, status="cancelled")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _infer(
        self, index: int, job: Job, future: Future[Prepared | None], pool: ThreadPoolExecutor
    ) -> Future[JobResult] | JobResult:
        try:
            prep = future.result()
        except Exception as exc:
            return JobResult(index=index, job=job, status="failed", error=error_text(exc))
        if prep is None:
            return JobResult(index=index, job=job, status="skipped", error="output exists")
        try:
            mask = self.remover.run_model(prep)
        except Exception as exc:
            return JobResult(index=index, job=job, status="failed", error=error_text(exc))
        return pool.submit(self._finish, index, job, prep, mask)

    def _run_concurrent(
        self,
        jobs: Sequence[Job],
        streams: int,
        cancel: threading.Event | None,
        on_start: Callable[[int, Job], None] | None,
    ) -> Iterator[JobResult]:
        """``streams`` images in inference at once, each job decoded, inferred and written
        by one thread; at most ``in_flight + streams`` jobs (one decoded image each) are
        open at a time, as many as the one-at-a-time path holds at its peak with two."""
        stage_slots = threading.Semaphore(self.workers)  # decode and encode, as the pool
        infer_slots = threading.Semaphore(streams)

        def cancelled() -> bool:
            return cancel is not None and cancel.is_set()

        def process(index: int, job: Job) -> JobResult:
            with stage_slots:
                prep = self._prepare(job)
            if prep is None:
                return JobResult(index=index, job=job, status="skipped", error="output exists")
            with infer_slots:
                if cancelled():  # not yet in inference: dropped, as in the sequential path
                    return JobResult(index=index, job=job, status="cancelled")
                if on_start:
                    on_start(index, job)
                mask = self.remover.run_model(prep)
            with stage_slots:
                return self._finish(index, job, prep, mask)

        depth = self.in_flight + streams
        pool = ThreadPoolExecutor(max_workers=depth, thread_name_prefix="alphacut")
        waiting: deque[tuple[int, Job]] = deque(enumerate(jobs))
        open_jobs: deque[tuple[int, Job, Future[JobResult]]] = deque()
        try:
            while waiting or open_jobs:
                while waiting and len(open_jobs) < depth and not cancelled():
                    index, job = waiting.popleft()
                    open_jobs.append((index, job, pool.submit(process, index, job)))
                if not open_jobs:
                    break
                yield _settle(*open_jobs.popleft())
            for index, job in waiting:
                yield JobResult(index=index, job=job, status="cancelled")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _settle(index: int, job: Job, item: Future[JobResult] | JobResult) -> JobResult:
    """A job's result; an exception from any of its stages fails that image only."""
    if isinstance(item, JobResult):
        return item
    try:
        return item.result()
    except Exception as exc:  # one image's failure must not end the batch
        return JobResult(index=index, job=job, status="failed", error=error_text(exc))
