"""The review queue's keys on the main screen: next flagged, flagged only, re-run, compare, keep.

A mixin of :class:`~alphacut.tui.screens.main.MainScreen`: it uses the screen's browser,
statuses, previews, planning and status panel, and adds the candidates of re-runs (see
:mod:`alphacut.tui.review_queue` for where they are written and how they are kept).
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import work

from alphacut.pipeline.confidence import DEFAULT_REVIEW_BELOW
from alphacut.pipeline.jobs import Job
from alphacut.tui import messages as msg
from alphacut.tui import review_queue
from alphacut.tui.batch_controller import BatchController
from alphacut.tui.listing import FileStatus
from alphacut.tui.screens.rerun_picker import RerunPicker
from alphacut.tui.widgets.status_panel import StatusPanel

if TYPE_CHECKING:
    from alphacut.pipeline.batch import JobResult
    from alphacut.tui.preview_images import PreviewSource


class ReviewQueueActions:
    """Review-queue actions and handlers, mixed into the main screen.

    It reads the screen's ``statuses``, ``previews``, ``preview_path``, ``marks``, ``running``,
    ``show_candidate``, ``remover`` and ``session`` and calls its ``_browser``, ``_plan_and_say``,
    ``_changed`` and ``_render_preview`` (not imported: the screen imports this module). Re-runs
    go through :class:`BatchController`, the one way the screen runs a batch.
    """

    candidates: dict[Path, review_queue.Candidate]

    def _candidate_view(self, path: Path, source: PreviewSource) -> PreviewSource:
        """While comparing, the preview with the re-run candidate's mask in place."""
        candidate = self.candidates.get(path) if self.show_candidate else None
        if candidate is None or candidate.mask is None:
            return source
        return dataclasses.replace(source, mask=candidate.mask)

    def action_next_review(self) -> None:
        if self._browser().next_flagged() is None:
            self.notify("no cutout in this folder is flagged for review")

    def action_review_filter(self) -> None:
        browser = self._browser()
        browser.only_review = not browser.only_review
        browser.reload()
        self.notify("showing only files to review" if browser.only_review else "showing all")

    def _selected_files(self) -> list[Path]:
        """The marked files, else the highlighted one."""
        if self.marks:
            return sorted(self.marks)
        entry = self._browser().current_entry
        return [] if entry is None or entry.is_dir else [entry.path]

    def action_rerun(self) -> None:
        if self.running or self.remover is None:
            self.notify("wait for the run (or the model) to finish", severity="warning")
            return
        files = self._selected_files()
        if not files:
            self.notify("highlight or mark the files to re-run", severity="warning")
            return
        current = review_queue.RerunChoice(self.remover.spec.name, self.remover.options.refine)
        models = self.session.cached_models()
        if current.model not in models:  # a model opened from elsewhere is still on offer
            models.insert(0, current.model)
        picker = RerunPicker(models, current, len(files))
        self.app.push_screen(picker, lambda choice: self._rerun_chosen(files, choice))

    def _rerun_chosen(self, files: list[Path], choice: review_queue.RerunChoice | None) -> None:
        if choice is None:
            return
        jobs = self._plan_and_say(files)
        if not jobs:
            return
        out_dir = self.session.output_dir()
        pairs = [(job, review_queue.candidate_job(job, out_dir, choice)) for job in jobs]
        self.running = True
        self.query_one(StatusPanel).set_run(escape(f"re-running {len(jobs)} with {choice.label}"))
        self._rerun_worker(pairs, choice)

    @work(thread=True, exclusive=True, group="batch")
    def _rerun_worker(
        self, pairs: list[tuple[Job, Job]], choice: review_queue.RerunChoice
    ) -> None:
        from alphacut.pipeline.remover import Remover

        current = self.remover
        assert current is not None
        options = dataclasses.replace(current.options, refine=choice.refine)  # type: ignore[arg-type]
        try:
            if choice.model == current.spec.name:  # same session, another refine: no reload
                remover = Remover(current.spec, current.runner, options)
            else:
                remover = self.session.open_remover(choice.model, options)
        except Exception as exc:
            self.post_message(msg.RerunFinished(f"{choice.model}: {exc}"))
            return
        # Candidates go to their own hidden folder; the written cutouts are never touched.
        output = dataclasses.replace(self.session.output_options(), existing="overwrite")
        firsts = {cand.source: first for first, cand in pairs}

        def candidate_ready(result: JobResult) -> None:
            source = result.job.source
            if result.status != "done":
                self.post_message(msg.CandidateReady(None, source, result.error or result.status))
                return
            self.post_message(msg.CandidateReady(review_queue.Candidate(
                firsts[source], result.job.dest, choice, result.confidence, result.mask), source))

        error = BatchController.run(remover, output, [cand for _, cand in pairs],
                                    threading.Event(), on_start=lambda i, j: None,
                                    on_result=candidate_ready)
        self.post_message(msg.RerunFinished(error))

    def on_candidate_ready(self, event: msg.CandidateReady) -> None:
        if event.candidate is None:
            self.notify(f"{event.source.name}: re-run failed: {event.error}", severity="error",
                        markup=False)
            return
        old = self.candidates.pop(event.source, None)
        if old is not None and old.file != event.candidate.file:
            review_queue.discard(old)
        self.candidates[event.source] = event.candidate
        if event.source == self.preview_path:
            self._render_preview()

    def on_rerun_finished(self, event: msg.RerunFinished) -> None:
        self.running = False
        text = f"re-run done: {len(self.candidates)} candidate(s); v compares, K keeps, X discards"
        if event.error:
            text = f"[red]re-run failed: {escape(event.error)}[/red]"
        self.query_one(StatusPanel).set_run(text if event.error else escape(text))

    def action_compare(self) -> None:
        if self.preview_path not in self.candidates:
            self.notify("no re-run candidate for this file (e re-runs)")
            return
        self.show_candidate = not self.show_candidate

    def watch_show_candidate(self) -> None:
        if self.is_mounted:
            self._render_preview()

    def _current_candidate(self) -> review_queue.Candidate | None:
        path = self.preview_path
        candidate = self.candidates.get(path) if path is not None else None
        if candidate is None:
            self.notify("no re-run candidate for this file", severity="warning")
        return candidate

    def action_keep_candidate(self) -> None:
        candidate = self._current_candidate()
        if candidate is None:
            return
        try:
            review_queue.keep(candidate)
        except OSError as exc:
            self.notify(f"cannot keep: {exc}", severity="error", markup=False)
            return
        source = candidate.job.source
        del self.candidates[source]
        confidence = candidate.confidence
        flagged = confidence is not None and confidence.needs_review(DEFAULT_REVIEW_BELOW)
        old = self.statuses.get(source, FileStatus("done"))
        self.statuses[source] = dataclasses.replace(
            old, review=confidence.reason if flagged and confidence else "",
            confidence=confidence.score if confidence else None,
        )
        preview = self.previews.get(source)
        if preview is not None and candidate.mask is not None:
            preview.mask = candidate.mask
        self.show_candidate = False
        self._changed([source])
        self._render_preview()
        self.notify(f"kept {candidate.choice.label} for {source.name}", markup=False)

    def action_discard_candidate(self) -> None:
        candidate = self._current_candidate()
        if candidate is None:
            return
        review_queue.discard(candidate)
        del self.candidates[candidate.job.source]
        self.show_candidate = False
        self._render_preview()


def review_queue_note(candidate: review_queue.Candidate | None, showing: bool) -> str:
    """The preview's line about a re-run candidate of the file shown."""
    if candidate is None:
        return ""
    score = candidate.confidence.score if candidate.confidence else None
    sure = f", confidence {score:.2f}" if score is not None else ""
    which = "showing re-run" if showing else "re-run ready"
    return f"   [{which}: {candidate.choice.label}{sure}; v compares, K keeps, X discards]"
