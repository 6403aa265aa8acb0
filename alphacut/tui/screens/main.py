"""The main screen: file browser, preview and status. It shows state and dispatches actions;
preview and batch state live in plain controllers, long tasks run in thread workers."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker

from alphacut.accel.telemetry import TelemetrySampler
from alphacut.errors import AlphacutError
from alphacut.pipeline.jobs import Job
from alphacut.tui import messages as msg
from alphacut.tui import review_queue
from alphacut.tui.actions import bindings, palette
from alphacut.tui.adapter_choices import ProbeReport
from alphacut.tui.batch_controller import BatchController
from alphacut.tui.graphics import TERMINAL, describe
from alphacut.tui.listing import FileStatus
from alphacut.tui.preview_controller import PreviewController, load_and_mask
from alphacut.tui.preview_images import VIEW_MODES, VIEW_TITLES, PreviewSource, compose_view
from alphacut.tui.screens.adapter_picker import AdapterPicker
from alphacut.tui.screens.confirm_quit import ConfirmQuit
from alphacut.tui.screens.help import HelpScreen
from alphacut.tui.screens.main_marking import MarkingActions
from alphacut.tui.screens.main_settings import SettingsActions
from alphacut.tui.screens.review_actions import ReviewQueueActions, review_queue_note
from alphacut.tui.widgets.file_browser import FileBrowser
from alphacut.tui.widgets.preview_pane import PreviewPane
from alphacut.tui.widgets.status_panel import StatusPanel

if TYPE_CHECKING:
    import numpy as np

    from alphacut.pipeline.remover import Remover
    from alphacut.tui.session import AppSession

# (action, title, help) for the command palette: one entry per action.
PALETTE = palette()


class MainScreen(ReviewQueueActions, MarkingActions, SettingsActions, Screen[None]):
    """Browse, mark, preview, run and watch."""

    BINDINGS = bindings()

    running: reactive[bool] = reactive(False)
    view_mode: reactive[str] = reactive("side")
    show_candidate: reactive[bool] = reactive(False)

    def __init__(self, start_dir: Path) -> None:
        super().__init__()
        self.start_dir = start_dir
        self.marks: set[Path] = set()
        self.statuses: dict[Path, FileStatus] = {}
        self.preview = PreviewController()
        self.batch = BatchController(self.statuses)
        self.probes: ProbeReport | None = None
        self.telemetry: TelemetrySampler | None = None
        self._picker: AdapterPicker | None = None
        # Re-run cutouts waiting for the user's choice, by source file.
        self.candidates: dict[Path, review_queue.Candidate] = {}

    @property
    def session(self) -> AppSession:
        return self.app  # type: ignore[return-value]

    @property
    def remover(self) -> Remover | None:
        return self.session.remover

    # The preview controller's state, under the names the screen has always offered.
    @property
    def previews(self) -> dict[Path, PreviewSource]:
        return self.preview.sources

    @property
    def preview_path(self) -> Path | None:
        return self.preview.path

    @property
    def preview_error(self) -> dict[Path, str]:
        return self.preview.errors

    @property
    def preview_latency_ms(self) -> dict[Path, dict[str, float]]:
        return self.preview.latency_ms

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield Static("", id="folder")
                yield FileBrowser(self.start_dir, self.marks, self.statuses, id="browser")
                yield Input(placeholder="filter: glob (*.jpg) or text; enter applies",
                            id="filter")
            with Vertical(id="right"):
                yield PreviewPane(self.session.settings.graphics, id="preview")
                yield StatusPanel(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one(FileBrowser).focus()
        if self.session.remover is not None:
            self.on_model_changed()
        else:
            self.session.load_model()
        if self.session.live_stats:
            self.telemetry = TelemetrySampler()
            self._sample_stats()
            self.set_interval(1.0, self._sample_stats)

    def on_model_changed(self, _event: msg.ModelChanged | None = None) -> None:
        """The app loaded (or failed to load) a model; refresh what depends on it."""
        if not self._show_adapter() or self.remover is None:
            return
        self.preview.model_changed(self.remover.spec.name)
        if self.preview.path is not None:
            self._request_preview(self.preview.path)
        self.refresh_bindings()

    def _show_adapter(self) -> bool:
        return self.query_one(StatusPanel).show_model(
            self.remover, self.session.model_error, self.session.settings.model
        )

    def _show_fallbacks(self) -> None:
        """A runtime fallback changes the adapter in use; show it and the reason."""
        if self.remover is not None and self.remover.runner.fallback_events:
            self._show_adapter()

    def _sample_stats(self) -> None:
        # Well under a millisecond (psutil reads /proc and sysfs), so the UI thread is fine.
        if self.telemetry is not None:
            self.query_one(StatusPanel).set_telemetry(self.telemetry.sample())

    # -- browser events ---------------------------------------------------------------------
    def on_file_browser_folder_changed(self, event: FileBrowser.FolderChanged) -> None:
        browser = self._browser()
        extra = f"   filter: {browser.pattern}" if browser.pattern else ""
        hidden = "   (+hidden)" if browser.show_hidden else ""
        shown = self._display_folder(event.folder)
        self.query_one("#folder", Static).update(f"[b]{escape(shown)}[/b]{escape(extra)}{hidden}")

    def _display_folder(self, folder: Path) -> str:
        """Inside the opened folder, a short relative name; elsewhere the full path."""
        base = self.start_dir.parent
        if folder == self.start_dir or self.start_dir in folder.parents:
            return f"{folder.relative_to(base)}/"
        return str(folder)

    def on_file_browser_file_highlighted(self, event: FileBrowser.FileHighlighted) -> None:
        self.preview.highlight(event.path)
        if event.path is None:
            self.query_one(PreviewPane).show(None, "", "")
            return
        self._request_preview(event.path)

    def on_file_browser_file_opened(self, event: FileBrowser.FileOpened) -> None:
        self.preview.highlight(event.path)
        self._request_preview(event.path)

    # -- preview ----------------------------------------------------------------------------
    def _request_preview(self, path: Path) -> None:
        request = self.preview.request(path, has_model=self.remover is not None)
        if request.step != "load":
            self._render_preview()
            if not request.needs_mask:
                return
        else:
            self.query_one(PreviewPane).show(None, escape(path.name), "loading…")
        self._preview_worker(path, request.source, self._preview_side())

    def _preview_side(self) -> int:
        """Longest side a preview copy needs: the pane's pixels, and never below model input."""
        model_side = max(self.remover.spec.input_size) if self.remover else 320
        return max(model_side, *self.query_one(PreviewPane).box_pixels())

    @work(thread=True, exclusive=True, group="preview")
    def _preview_worker(self, path: Path, source: PreviewSource | None, side: int) -> None:
        worker = get_current_worker()
        load_and_mask(
            path, source, side, self.remover,
            cancelled=lambda: worker.is_cancelled,
            on_loaded=lambda loaded: self.post_message(msg.PreviewLoaded(loaded)),
            on_masked=lambda p, mask: self.post_message(msg.PreviewMasked(p, mask)),
            on_failed=lambda p, reason: self.post_message(msg.PreviewFailed(p, reason)),
        )

    def on_preview_loaded(self, event: msg.PreviewLoaded) -> None:
        if self.preview.loaded(event.source):
            self._render_preview()

    def on_preview_masked(self, event: msg.PreviewMasked) -> None:
        self._mask_arrived(event.path, event.mask)
        self._show_fallbacks()  # a preview inference can be the one that loses a device

    def _mask_arrived(self, path: Path, mask: np.ndarray, *, only_if_missing: bool = False
                      ) -> None:
        if self.preview.masked(path, mask, only_if_missing=only_if_missing):
            self._render_preview()

    def on_preview_failed(self, event: msg.PreviewFailed) -> None:
        if self.preview.failed(event.path, event.reason):
            self._render_preview()

    def _render_preview(self) -> None:
        path = self.preview.path
        pane = self.query_one(PreviewPane)
        if path is None:
            return
        if path in self.preview.errors:
            reason = escape(self.preview.errors[path])
            pane.show(None, escape(path.name), f"[red]cannot preview: {reason}[/red]")
            return
        source = self.preview.sources.get(path)
        if source is None:
            return
        source = self._candidate_view(path, source)
        background = self.session.background_rgb()
        image = compose_view(source, self.view_mode, pane.box_pixels(), background)  # type: ignore[arg-type]
        width, height = source.full_size
        state = VIEW_TITLES[self.view_mode]
        if source.mask is None and self.view_mode != "original":
            state += " (computing mask…)" if self.remover else " (model loading…)"
        status = self.statuses.get(path)
        info = f"{width}×{height}" + (f"   {status.describe()}" if status else "")
        info += review_queue_note(self.candidates.get(path), self.show_candidate)
        pane.show(image, f"[b]{escape(path.name)}[/b]   {state}", escape(info))
        self.preview.shown(path, source)

    def on_resize(self) -> None:
        # The pane's pixel size changed: shrink the picture again for the new size.
        self.call_after_refresh(self._render_preview)

    def watch_view_mode(self) -> None:
        if self.is_mounted:
            self._render_preview()

    # -- marking (actions in MarkingActions) ----------------------------------------------
    @on(Input.Submitted, "#filter")
    def _apply_filter(self, event: Input.Submitted) -> None:
        browser = self._browser()
        browser.pattern = event.value.strip()
        event.input.display = False
        browser.reload()
        browser.focus()
        self.refresh_bindings()

    # -- batch --------------------------------------------------------------------------------
    def _plan_and_say(self, files: list[Path]) -> list[Job]:
        """Jobs for ``files`` (see :meth:`BatchController.plan`); problems become notices."""
        try:
            jobs, notes = self.batch.plan(files, self.start_dir, self.session.output_dir(),
                                          self.session.output_options())
        except AlphacutError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return []
        for note in notes:
            self.notify(note, severity="warning", markup=False)
        return jobs

    def action_run(self) -> None:
        if self.running:
            self.notify("a run is already active", severity="warning")
            return
        if self.remover is None:
            self.notify("the model is still loading", severity="warning")
            return
        files = sorted(self.marks)
        if not files:
            entry = self._browser().current_entry
            if entry is None or entry.is_dir:
                self.notify("mark files with space or a, or highlight one", severity="warning")
                return
            files = [entry.path]
        jobs = self._plan_and_say(files)
        if not jobs:
            return
        cancel = self.batch.start(jobs)
        self._changed([j.source for j in jobs])
        panel = self.query_one(StatusPanel)
        panel.set_progress(len(jobs), 0)
        panel.set_run(escape(f"running {len(jobs)} → {self.session.output_dir()}"))
        self.running = True
        self._batch_worker(jobs, cancel)

    @work(thread=True, exclusive=True, group="batch")
    def _batch_worker(self, jobs: list[Job], cancel: threading.Event) -> None:
        remover = self.remover
        assert remover is not None
        error = self.batch.run(
            remover, self.session.output_options(), jobs, cancel,
            on_start=lambda i, j: self.post_message(msg.JobStarted(i, j)),
            on_result=lambda result: self.post_message(msg.JobFinished(result)),
        )
        self.post_message(msg.BatchFinished(cancel.is_set(), error))

    def on_job_started(self, event: msg.JobStarted) -> None:
        self.batch.job_started(event.job)
        self._changed([event.job.source])

    def on_job_finished(self, event: msg.JobFinished) -> None:
        result = event.result
        self.batch.job_finished(result)
        if result.mask is not None:
            self._mask_arrived(result.job.source, result.mask, only_if_missing=True)
        self._changed([result.job.source])
        tally = self.batch.tally
        panel = self.query_one(StatusPanel)
        panel.set_progress(self.batch.total, tally.finished)
        if tally.last_ms is not None:
            panel.set_speed(tally.last_ms, tally.mean_ms(), tally.images_per_s())
        self._show_fallbacks()
        if result.job.source == self.preview.path:
            self._render_preview()

    def on_batch_finished(self, event: msg.BatchFinished) -> None:
        self.running = False
        text = escape(self.batch.summary(event.cancelled, self.session.output_dir()))
        if event.error:
            text += f"   [red]{escape(event.error)}[/red]"
        self.query_one(StatusPanel).set_run(text)
        if self.session.exit_when_idle:
            self.app.exit()

    def stop_batch(self) -> None:
        """Stop a run after the image being written (no-op when nothing runs)."""
        self.batch.cancel.set()

    def action_cancel(self) -> None:
        filter_field = self.query_one("#filter", Input)
        if filter_field.display:
            filter_field.display = False
            self._browser().focus()
            self.refresh_bindings()
            return
        if not self.running:
            return
        self.batch.cancel.set()
        self.query_one(StatusPanel).set_run("cancelling: the current image finishes…")

    # -- view ---------------------------------------------------------------------------------
    def action_cycle_view(self) -> None:
        index = VIEW_MODES.index(self.view_mode)  # type: ignore[arg-type]
        self.view_mode = VIEW_MODES[(index + 1) % len(VIEW_MODES)]

    # -- other --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "bench":
            return self.session.bench_screen is not None
        if action == "cancel":
            # Shown only when there is something to cancel: frees footer room at 80 columns.
            return self.running or self.query_one("#filter", Input).display
        return True

    def watch_running(self) -> None:
        self.refresh_bindings()

    def action_bench(self) -> None:
        factory = self.session.bench_screen
        if factory is not None:
            self.app.push_screen(factory())

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(include_bench=self.session.bench_screen is not None,
                                        graphics=describe(self.session.settings.graphics,
                                                          TERMINAL)))

    def action_request_quit(self) -> None:
        if not self.running:
            self.app.exit()
            return

        def answered(quit_now: bool | None) -> None:
            if quit_now:
                self.batch.cancel.set()
                self.app.exit()

        self.app.push_screen(ConfirmQuit(), answered)

    def palette_commands(self) -> Iterable[SystemCommand]:
        """One command-palette entry per action on this screen."""
        for action, title, text in PALETTE:
            if action == "bench" and self.session.bench_screen is None:
                continue
            yield SystemCommand(title, text, getattr(self, f"action_{action}"))
