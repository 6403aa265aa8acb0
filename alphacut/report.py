"""Console reporting for batches: Rich progress on a terminal, plain lines when piped, JSON."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from alphacut.printable import printable_path, printable_text

if TYPE_CHECKING:
    from alphacut.pipeline.batch import JobResult
    from alphacut.pipeline.second_opinion import Verdict


class BatchReporter:
    """Prints what happens in a batch: errors as ``path: reason`` lines on stderr, always."""

    def __init__(
        self,
        *,
        json_lines: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
        review_below: float | None = None,
    ) -> None:
        from alphacut.pipeline.confidence import DEFAULT_REVIEW_BELOW

        self.json_lines = json_lines
        self.review_below = DEFAULT_REVIEW_BELOW if review_below is None else review_below
        # input -> reason, for every finished cutout whose confidence is below the threshold.
        self.flagged: dict[str, str] = {}
        self._judged = 0
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.interactive = self.err.isatty() and not json_lines
        self._start = time.perf_counter()
        self._failures: list[str] = []

    def problem(self, path: object, reason: str) -> None:
        """One input that failed before processing (missing path, loop, bad name)."""
        line = f"{printable_path(path)}: {printable_text(reason)}"
        self._failures.append(line)
        print(f"error: {line}", file=self.err)
        if self.json_lines:
            self._emit({"type": "image", "input": str(path), "status": "failed",
                        "error": reason})

    def started(self, total: int, provider: str, reason: str = "") -> None:
        """Say how many images run on which adapter, and why that adapter."""
        self._start = time.perf_counter()
        if not self.json_lines:
            why = f" ({reason})" if reason else ""
            print(f"alphacut: {total} image(s) on {provider}{why}", file=self.err)

    @contextmanager
    def progress(self, total: int) -> Iterator[Callable[[JobResult], None]]:
        """Context yielding ``advance(result)``; draws a Rich bar on a terminal."""
        if not self.interactive:
            yield self._plain
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(file=self.err)
        with Progress(
            TextColumn("[bold]removing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("remove", total=total, rate="")

            def advance(result: JobResult) -> None:
                # markup off: a file name like "[/x].png" is text, not a Rich tag.
                self._record(result, lambda line: console.print(line, markup=False))
                elapsed = time.perf_counter() - self._start
                done = bar.tasks[0].completed + 1
                bar.update(task, advance=1, rate=f"{done / elapsed:.2f} img/s" if elapsed else "")

            yield advance

    def _plain(self, result: JobResult) -> None:
        self._record(result, lambda line: print(line, file=self.err))

    def _record(self, result: JobResult, say: Callable[[str], None]) -> None:
        if self.json_lines:
            self._emit({"type": "image", **result.as_dict(self.review_below)})
        source = printable_path(result.job.source)
        review = result.needs_review(self.review_below)
        if result.confidence is not None:
            self._judged += 1
        if review and result.confidence is not None:
            self.flagged[str(result.job.source)] = result.confidence.reason
        if result.status == "failed":
            line = f"{source}: {printable_text(result.error)}"
            self._failures.append(line)
            say(f"error: {line}")
        elif not self.json_lines and not self.interactive:
            detail = f"{result.timings.total:.0f} ms" if result.status == "done" else result.status
            if review and result.confidence is not None:
                detail += f", review: confidence {result.confidence.score:.2f}"
            say(f"{source} -> {printable_path(result.job.dest)} ({detail})")
        for note in result.notes:
            say(f"note: {source}: {printable_text(note)}")

    @contextmanager
    def second_opinion(self, model: str, total: int) -> Iterator[Callable[[Verdict], None]]:
        """Context yielding ``verdict(v)`` for each re-run image; ends with what changed."""
        if not self.json_lines:
            print(f"second opinion: re-running {total} flagged image(s) with {model}",
                  file=self.err)
        changed: list[Verdict] = []

        def verdict(v: Verdict) -> None:
            if self.json_lines:
                self._emit(v.as_dict())
            source = str(v.source)
            if v.error:
                print(f"error: {printable_path(source)}: second opinion failed, first cutout "
                      f"kept: {printable_text(v.error)}",
                      file=self.err)
                return
            if v.changed and v.second is not None:
                changed.append(v)
                if v.second.needs_review(self.review_below):
                    self.flagged[source] = f"{v.second.reason} (after {model})"
                else:
                    self.flagged.pop(source, None)
            if not self.json_lines and not self.interactive:
                second = f"{v.second.score:.2f}" if v.second else "-"
                action = f"replaced by {model}" if v.changed else "kept"
                print(f"{printable_path(source)}: confidence {v.first.score:.2f} -> {second}, "
                      f"{action}",
                      file=self.err)

        yield verdict
        if not self.json_lines:
            print(f"second opinion: {len(changed)} of {total} replaced by {model}"
                  + ("".join(f"\n  {printable_path(v.source)}: {v.first.score:.2f} -> "
                             f"{v.second.score:.2f}"
                             for v in changed if v.second is not None)), file=self.err)

    def summary_line(
        self,
        done: int,
        skipped: int,
        failed: int,
        events: list[str],
        *,
        engine: dict[str, object] | None = None,
    ) -> None:
        """The closing summary: counts, fallback events and the failures again.

        ``engine`` describes how the batch ran (engine name, start-up, peak memory...); it
        appears in the JSON summary, and as one line when it names Ray workers.
        """
        elapsed = time.perf_counter() - self._start
        rate = done / elapsed if elapsed > 0 and done else 0.0
        if self.json_lines:
            self._emit({"type": "summary", "done": done, "skipped": skipped, "failed": failed,
                        "seconds": round(elapsed, 3), "images_per_s": round(rate, 3),
                        "fallback": events, "failures": self._failures,
                        "review": [{"input": path, "reason": reason}
                                   for path, reason in self.flagged.items()],
                        "review_below": self.review_below,
                        **({"engine": engine} if engine else {})})
            return
        print(f"done {done}, skipped {skipped}, failed {failed} in {elapsed:.1f} s "
              f"({rate:.2f} images/s)", file=self.err)
        if engine and engine.get("engine") == "ray":
            print(f"ray: {engine['workers']} worker(s) x {engine['threads']} thread(s) on "
                  f"{engine['nodes']} node(s), start-up {engine['startup_s']} s, "
                  f"{engine['processing_images_per_s']} images/s once running", file=self.err)
        for event in events:
            print(f"fallback: {event}", file=self.err)
        if self.flagged:
            print(f"{len(self.flagged)} of {self._judged} need review (confidence below "
                  f"{self.review_below:g}):", file=self.err)
            for path, reason in self.flagged.items():
                print(f"  {printable_path(path)}: {printable_text(reason)}", file=self.err)
        if self._failures:
            print("failed:", file=self.err)
            for line in self._failures:
                print(f"  {line}", file=self.err)

    def _emit(self, record: dict[str, object]) -> None:
        text = json.dumps(record, ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # A file name that is not UTF-8 arrives as lone surrogates; written raw they make
            # invalid UTF-8 (or crash a strict stdout). Escaped, they stay valid JSON and
            # os.fsencode() of the parsed string gives back the exact bytes on disk.
            text = json.dumps(record, ensure_ascii=True)
        print(text, file=self.out, flush=True)
