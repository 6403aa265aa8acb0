"""Decoding a batch's first photos while the model session is still being opened.

Opening the session (reading the model, compiling it for the adapter) keeps one core busy
for about half a second and decoding a camera photo takes 0.1-0.5 s of CPU; done one after
the other, the second core idles through the first and the first inference waits for the
first decode. :class:`DecodeAhead` decodes the first jobs on a thread of its own from the
moment the batch is planned; :class:`~alphacut.pipeline.batch.BatchRunner` takes them over.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from alphacut.errors import AlphacutError
from alphacut.pipeline.decode import DEFAULT_MAX_PIXELS, DecodedImage, decode
from alphacut.pipeline.jobs import Job
from alphacut.pipeline.ownership import existing_output_action


@dataclass(frozen=True)
class EarlyDecode:
    """A photo decoded ahead, with the milliseconds its decoding took."""

    image: DecodedImage
    ms: float


class DecodeAhead:
    """Decodes the first ``count`` jobs, one at a time, on a thread of its own.

    A job whose output the ``existing`` policy would skip or refuse is not decoded (the batch
    then says why, as it would have). The decoded images are held only until the batch takes
    them; a job the thread has not started when the batch asks is left to the batch.
    """

    def __init__(
        self,
        jobs: Sequence[Job],
        *,
        count: int = 2,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        existing: str = "error",
    ) -> None:
        self._max_pixels = max_pixels
        self._existing = existing
        self._futures: dict[Job, Future[EarlyDecode | None]] = {
            job: Future() for job in jobs[:count]
        }
        # A daemon thread, not a ThreadPoolExecutor: the executor's threads are joined at
        # interpreter exit, so a read that never returns (a hung network mount) would keep a
        # Ctrl-C'd process alive, even one stopped while its model session was opening.
        threading.Thread(
            target=self._work, args=(list(self._futures.items()),),
            name="alphacut-ahead", daemon=True,
        ).start()

    def _work(self, queued: list[tuple[Job, Future[EarlyDecode | None]]]) -> None:
        for job, future in queued:
            if not future.set_running_or_notify_cancel():
                continue  # taken over by the batch, or discarded
            try:
                future.set_result(self._decode(job))
            except BaseException as exc:  # noqa: BLE001 - raised again by take()
                future.set_exception(exc)

    def _decode(self, job: Job) -> EarlyDecode | None:
        try:
            if existing_output_action(job.dest, self._existing) == "skip":
                return None
        except AlphacutError:
            return None  # refused: the batch's own check reports it
        start = time.perf_counter()
        image = decode(job.source, max_pixels=self._max_pixels)
        return EarlyDecode(image, (time.perf_counter() - start) * 1000.0)

    def take(self, job: Job) -> EarlyDecode | None:
        """The decoded photo of ``job`` (waiting for it if it is being decoded), or None when
        the batch should decode it itself. A decoding error is raised here, as
        :func:`~alphacut.pipeline.decode.decode` raises it."""
        future = self._futures.pop(job, None)
        if future is None or future.cancel():  # cancel() succeeds only if not yet started
            return None
        return future.result()

    def discard(self) -> None:
        """Drop every photo not taken (a cancelled batch); one being decoded finishes first."""
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()
