"""How a batch ends: polite stops on SIGINT/SIGTERM, then the summary and exit status.

Shared by both engines of ``alphacut remove`` (this process, or a Ray cluster).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alphacut.pipeline.tally import BatchTally


def finish(
    reporter: Any,
    tally: BatchTally,
    events: list[str],
    signum: int | None,
    engine_info: dict[str, object],
) -> int:
    """Print the summary; the exit status says all done (0), some failed (1) or stopped."""
    reporter.summary_line(tally.done, tally.skipped, tally.failed, events, engine=engine_info)
    if signum is not None:
        print(
            f"alphacut: stopped by {signal.Signals(signum).name}: {tally.cancelled} "
            "image(s) not started; run again with --skip-existing to finish them",
            file=sys.stderr,
        )
        return 128 + signum
    return 1 if tally.failed else 0


class _SignalStop:
    """The first SIGINT/SIGTERM asks the batch to stop; a second one aborts at once."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.event.is_set():
            # A worker stuck in a read that never returns (a hung network mount) would keep
            # both the pool shutdown and interpreter exit waiting, so leave at once. Outputs
            # are renamed into place whole or not at all, and the next run removes this
            # process's temp files.
            show_cursor = "\x1b[?25h" if sys.stderr.isatty() else ""  # Rich's bar hides it
            print(f"{show_cursor}alphacut: aborted", file=sys.stderr, flush=True)
            os._exit(128 + signum)
        self.signum = signum
        self.event.set()
        print(
            "alphacut: stopping: finishing the images being written "
            "(press Ctrl-C again to abort now)",
            file=sys.stderr,
        )


@contextmanager
def stop_on_signals() -> Iterator[_SignalStop]:
    """Treat SIGTERM like Ctrl-C: stop starting images, let started writes finish.

    Outputs are atomic either way; this makes a polite stop also print the summary and
    leave no temp files. Handlers can only be set from the main thread; elsewhere the
    defaults stay (a KeyboardInterrupt still ends the batch safely).
    """
    stop = _SignalStop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
