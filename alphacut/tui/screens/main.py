"""The main screen: file browser, preview and status; every long task runs in a thread worker."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker

from alphacut.accel.telemetry import TelemetrySampler
from alphacut.errors import AlphacutError
from alphacut.pipeline.batch import BatchRunner
from alphacut.pipeline.jobs import Job, plan_jobs
from alphacut.tui import messages as msg
from alphacut.tui import review_queue
from alphacut.tui.adapter_choices import ProbeReport, probe_all
from alphacut.tui.graphics import TERMINAL, choose, describe, next_mode
from alphacut.tui.listing import FileStatus, walk_images
from alphacut.tui.preview_images import (
    VIEW_MODES,
    VIEW_TITLES,
    PreviewSource,
    compose_view,
    load_preview,
)
from alphacut.tui.screens.adapter_picker import AdapterPicker
from alphacut.tui.screens.confirm_quit import ConfirmQuit
from alphacut.tui.screens.help import HelpScreen
from alphacut.tui.screens.output_settings import OutputSettingsScreen
from alphacut.tui.screens.review_actions import (
    REVIEW_PALETTE,
    ReviewQueueActions,
    review_queue_note,
)
from alphacut.tui.widgets.file_browser import FileBrowser
from alphacut.tui.widgets.preview_pane import PreviewPane
from alphacut.tui.widgets.status_panel import StatusPanel

if TYPE_CHECKING:
    from alphacut.pipeline.remover import Remover
    from alphacut.tui.session import AppSession

_PREVIEW_CACHE_SIZE = 48
_MASK_DEBOUNCE_S = 0.12

# (action, title, help) for the command palette: one entry per action.
PALETTE: tuple[tuple[str, str, str], ...] = (
    ("toggle_mark", "Mark / unmark file", "Toggle the mark on the highlighted file"),
    ("mark_all", "Mark all in folder", "Mark every listed image in this folder"),
    ("mark_recursive", "Mark all recursively", "Mark every image under this folder"),
    ("clear_marks", "Clear marks", "Unmark everything"),
    ("invert_marks", "Invert marks", "Invert the marks of the listed images"),
    ("filter", "Filter", "Filter images by glob or substring"),
    ("toggle_hidden", "Show / hide hidden files", "Toggle dot-files in the browser"),
    ("run", "Run", "Remove backgrounds of the marked files (or the highlighted one)"),
    ("cancel", "Cancel run", "Stop after the current image"),
    ("cycle_view", "Cycle preview", "side by side / mask / cutout / original"),
    ("cycle_graphics", "Cycle image rendering", "auto / kitty / sixel / halfcell / unicode"),
    ("adapters", "Adapter picker", "Choose the execution provider; R reprobes"),
    ("output_settings", "Output settings", "Folder, format, background, crop, overwrite"),
    ("bench", "Benchmark", "Open the benchmark screen"),
    ("help", "Help", "Show every key"),
    ("request_quit", "Quit", "Leave alphacut (asks while a run is active)"),
    *REVIEW_PALETTE,
)


class MainScreen(ReviewQueueActions, Screen[None]):
    """Browse, mark, preview, run and watch."""

    BINDINGS = [
        Binding("space", "toggle_mark", "Mark"),
        Binding("a", "mark_all", "All"),
        Binding("A", "mark_recursive", "All (rec.)", show=False),
        Binding("u", "clear_marks", "Clear", show=False),
        Binding("i", "invert_marks", "Invert", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("full_stop", "toggle_hidden", "Hidden", show=False),
        Binding("r", "run", "Run"),
        Binding("escape,c", "cancel", "Cancel"),
        Binding("n", "next_review", "Next review", show=False),
        Binding("exclamation_mark", "review_filter", "Review only", show=False),
        Binding("e", "rerun", "Re-run", show=False),
        Binding("v", "compare", "Compare", show=False),
        Binding("K", "keep_candidate", "Keep", show=False),
        Binding("X", "discard_candidate", "Discard", show=False),
        Binding("m", "cycle_view", "View"),
        Binding("g", "cycle_graphics", "Graphics", show=False),
        Binding("p", "adapters", "Adapter"),
        Binding("o", "output_settings", "Output"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "request_quit", "Quit"),
        Binding("b", "bench", "Bench"),  # last: the first key cut from a narrow footer
    ]

    running: reactive[bool] = reactive(False)
    view_mode: reactive[str] = reactive("side")
    show_candidate: reactive[bool] = reactive(False)

    def __init__(self, start_dir: Path) -> None:
        super().__init__()
        self.start_dir = start_dir
        self.marks: set[Path] = set()
        self.statuses: dict[Path, FileStatus] = {}
        self.previews: OrderedDict[Path, PreviewSource] = OrderedDict()
        self.preview_path: Path | None = None
        self.preview_error: dict[Path, str] = {}
        self.probes: ProbeReport | None = None
        self.telemetry: TelemetrySampler | None = None
        self._cancel = threading.Event()
        self._highlighted_at: dict[Path, float] = {}
        # Per file, milliseconds from highlight to the photo / the mask view being on screen.
        self.preview_latency_ms: dict[Path, dict[str, float]] = {}
        self._batch_started = 0.0
        self._batch_done = 0
        self._batch_total = 0
        self._batch_counts: dict[str, int] = {}
        self._latencies: list[float] = []
        self._picker: AdapterPicker | None = None
        # Re-run cutouts waiting for the user's choice, by source file.
        self.candidates: dict[Path, review_queue.Candidate] = {}
        self._mask_model = ""

    @property
    def session(self) -> AppSession:
        return self.app  # type: ignore[return-value]

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
        self.session.remover_changed = self._on_remover_changed
        if self.session.remover is not None:
            self._on_remover_changed()
        else:
            self.session.load_model()
        if self.session.live_stats:
            self.telemetry = TelemetrySampler()
            self._sample_stats()
            self.set_interval(1.0, self._sample_stats)

    @property
    def remover(self) -> Remover | None:
        return self.session.remover

    def _on_remover_changed(self) -> None:
        """The app loaded (or failed to load) a model; refresh what depends on it."""
        if not self._show_adapter() or self.remover is None:
            return
        if self.remover.spec.name != self._mask_model:
            # Masks belong to the model that made them; another adapter gives the same ones.
            self._mask_model = self.remover.spec.name
            for source in self.previews.values():
                source.mask = None
        if self.preview_path is not None:
            self._request_preview(self.preview_path)
        self.refresh_bindings()

    def _show_adapter(self) -> bool:
        """Adapter, device and any fallback notes in the status panel; False: no model."""
        panel = self.query_one(StatusPanel)
        if self.session.model_error:
            panel.set_adapter(f"[red]model: {escape(self.session.model_error)}[/red]")
            return False
        remover = self.remover
        if remover is None:
            panel.set_adapter(f"adapter: loading {self.session.settings.model}…")
            return False
        runner = remover.runner
        adapter = runner.adapter
        device = escape(adapter.name or adapter.device_type)
        panel.set_adapter(
            f"adapter: [b]{escape(adapter.label)}[/b] ({device}) · {remover.spec.name}"
        )
        notes = [*getattr(runner, "notes", []), *(e.describe() for e in runner.fallback_events)]
        panel.set_events(f"[yellow]{escape('; '.join(notes))}[/yellow]" if notes else "")
        return True

    def _sample_stats(self) -> None:
        # Well under a millisecond (psutil reads /proc and sysfs), so the UI thread is fine.
        if self.telemetry is not None:
            self.query_one(StatusPanel).set_telemetry(self.telemetry.sample())

    # -- browser events ---------------------------------------------------------------------
    def on_file_browser_folder_changed(self, event: FileBrowser.FolderChanged) -> None:
        browser = self.query_one(FileBrowser)
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
        if event.path is None:
            self.preview_path = None
            self.query_one(PreviewPane).show(None, "", "")
            return
        self._highlighted_at[event.path] = time.perf_counter()
        self.preview_path = event.path
        self._request_preview(event.path)

    def on_file_browser_file_opened(self, event: FileBrowser.FileOpened) -> None:
        self._highlighted_at[event.path] = time.perf_counter()
        self.preview_path = event.path
        self._request_preview(event.path)

    # -- preview ----------------------------------------------------------------------------
    def _request_preview(self, path: Path) -> None:
        if path in self.preview_error:
            self._render_preview()
            return
        source = self.previews.get(path)
        if source is not None:
            self.previews.move_to_end(path)
            self._render_preview()
            if source.mask is not None or self.remover is None:
                return
        else:
            pane = self.query_one(PreviewPane)
            pane.show(None, escape(path.name), "loading…")
        self._preview_worker(path, source, self._preview_side())

    def _preview_side(self) -> int:
        """Longest side a preview copy needs: the pane's pixels, and never below model input."""
        model_side = max(self.remover.spec.input_size) if self.remover else 320
        return max(model_side, *self.query_one(PreviewPane).box_pixels())

    @work(thread=True, exclusive=True, group="preview")
    def _preview_worker(self, path: Path, source: PreviewSource | None, side: int) -> None:
        worker = get_current_worker()
        if source is None:
            try:
                source = load_preview(path, side)
            except AlphacutError as exc:
                self.post_message(msg.PreviewFailed(path, getattr(exc, "reason", str(exc))))
                return
            except Exception as exc:  # never let one odd file kill the worker silently
                self.post_message(msg.PreviewFailed(path, f"{exc.__class__.__name__}: {exc}"))
                return
            self.post_message(msg.PreviewLoaded(source))
        remover = self.remover
        if remover is None:
            return
        # Holding a key scrolls through many files: only infer where the cursor rests.
        time.sleep(_MASK_DEBOUNCE_S)
        if worker.is_cancelled:
            return
        try:
            mask = remover.predict_mask(source.rgb)
        except Exception as exc:
            self.post_message(msg.PreviewFailed(path, f"mask failed: {exc}"))
            return
        self.post_message(msg.PreviewMasked(path, mask))

    def on_preview_loaded(self, event: msg.PreviewLoaded) -> None:
        self.previews[event.source.path] = event.source
        while len(self.previews) > _PREVIEW_CACHE_SIZE:
            self.previews.popitem(last=False)
        if event.source.path == self.preview_path:
            self._render_preview()

    def on_preview_masked(self, event: msg.PreviewMasked) -> None:
        source = self.previews.get(event.path)
        if source is None:
            return
        source.mask = event.mask
        if event.path == self.preview_path:
            self._render_preview()
        self._show_fallbacks()  # a preview inference can be the one that loses a device

    def on_preview_failed(self, event: msg.PreviewFailed) -> None:
        self.preview_error[event.path] = event.reason
        if event.path == self.preview_path:
            self._render_preview()

    def _render_preview(self) -> None:
        path = self.preview_path
        pane = self.query_one(PreviewPane)
        if path is None:
            return
        if path in self.preview_error:
            reason = escape(self.preview_error[path])
            pane.show(None, escape(path.name), f"[red]cannot preview: {reason}[/red]")
            return
        source = self.previews.get(path)
        if source is None:
            return
        candidate = self.candidates.get(path) if self.show_candidate else None
        if candidate is not None and candidate.mask is not None:
            source = dataclasses.replace(source, mask=candidate.mask)
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
        started = self._highlighted_at.get(path)
        if started is not None:
            key = "mask" if source.mask is not None else "photo"
            latency = self.preview_latency_ms.setdefault(path, {})
            latency.setdefault(key, (time.perf_counter() - started) * 1000)
            if source.mask is not None:
                self._highlighted_at.pop(path, None)

    def on_resize(self) -> None:
        # The pane's pixel size changed: shrink the picture again for the new size.
        self.call_after_refresh(self._render_preview)

    def watch_view_mode(self) -> None:
        if self.is_mounted:
            self._render_preview()

    # -- marking ----------------------------------------------------------------------------
    def _browser(self) -> FileBrowser:
        return self.query_one(FileBrowser)

    def _changed(self, paths: Iterable[Path]) -> None:
        self._browser().refresh_paths(list(paths))
        self._show_mark_count()

    def _show_mark_count(self) -> None:
        if not self.running:
            count = len(self.marks)
            self.query_one(StatusPanel).set_run(f"{count} marked" if count else "")

    def action_toggle_mark(self) -> None:
        entry = self._browser().current_entry
        if entry is None or entry.is_dir:
            return
        self.marks.symmetric_difference_update({entry.path})
        self._changed([entry.path])
        self._browser().action_cursor_down()

    def action_mark_all(self) -> None:
        paths = self._browser().image_paths()
        self.marks.update(paths)
        self._changed(paths)

    def action_mark_recursive(self) -> None:
        browser = self._browser()
        self._walk_worker(browser.folder, browser.show_hidden, browser.pattern,
                          self.session.output_dir())

    @work(thread=True, exclusive=True, group="walk")
    def _walk_worker(self, folder: Path, show_hidden: bool, pattern: str, out_dir: Path) -> None:
        found = walk_images(folder, show_hidden=show_hidden, pattern=pattern, exclude=out_dir)
        self.post_message(msg.MarksFound(found))

    def on_marks_found(self, event: msg.MarksFound) -> None:
        self.marks.update(event.paths)
        self._changed(event.paths)
        self.notify(f"marked {len(event.paths)} images under {self._browser().folder.name}/",
                    markup=False)

    def action_clear_marks(self) -> None:
        cleared = list(self.marks)
        self.marks.clear()
        self._changed(cleared)

    def action_invert_marks(self) -> None:
        paths = self._browser().image_paths()
        self.marks.symmetric_difference_update(paths)
        self._changed(paths)

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = self._browser().pattern
        field.display = True
        field.focus()
        self.refresh_bindings()

    @on(Input.Submitted, "#filter")
    def _apply_filter(self, event: Input.Submitted) -> None:
        browser = self._browser()
        browser.pattern = event.value.strip()
        event.input.display = False
        browser.reload()
        browser.focus()
        self.refresh_bindings()

    def action_toggle_hidden(self) -> None:
        browser = self._browser()
        browser.show_hidden = not browser.show_hidden
        browser.reload()

    # -- batch --------------------------------------------------------------------------------
    def _plan(self, files: list[Path]) -> tuple[list[Job], list[str]]:
        """Jobs for ``files``, keeping their folder structure below the opened folder."""
        options = self.session.output_options()
        out_dir = self.session.output_dir()
        root = self.start_dir
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

    def _plan_and_say(self, files: list[Path]) -> list[Job]:
        """:meth:`_plan`, with its problems shown as notifications."""
        try:
            jobs, notes = self._plan(files)
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
        for job in jobs:
            self.statuses[job.source] = FileStatus("queued")
        self._changed([j.source for j in jobs])
        self._cancel = threading.Event()
        self._batch_total = len(jobs)
        self._batch_done = 0
        self._batch_counts = {}
        self._latencies = []
        self._batch_started = time.perf_counter()
        panel = self.query_one(StatusPanel)
        panel.set_progress(len(jobs), 0)
        panel.set_run(escape(f"running {len(jobs)} → {self.session.output_dir()}"))
        self.running = True
        self._batch_worker(jobs, self._cancel)

    @work(thread=True, exclusive=True, group="batch")
    def _batch_worker(self, jobs: list[Job], cancel: threading.Event) -> None:
        remover = self.remover
        assert remover is not None
        # keep_cutouts hands back each image's model mask, which feeds the preview cache.
        runner = BatchRunner(remover, self.session.output_options(), keep_cutouts=True)
        try:
            for result in runner.run(
                jobs, cancel=cancel, on_start=lambda i, j: self.post_message(msg.JobStarted(i, j))
            ):
                mask = result.cutout.mask if result.cutout is not None else None
                result.cutout = None  # drop the full-resolution pixels right away
                self.post_message(msg.JobFinished(result, mask))
        except Exception as exc:  # the batch runner reports per-image errors itself
            error = f"{exc.__class__.__name__}: {exc}"
            self.post_message(msg.BatchFinished(cancel.is_set(), error))
            return
        self.post_message(msg.BatchFinished(cancel.is_set()))

    def on_job_started(self, event: msg.JobStarted) -> None:
        self.statuses[event.job.source] = FileStatus("running")
        self._changed([event.job.source])

    def on_job_finished(self, event: msg.JobFinished) -> None:
        result = event.result
        source = result.job.source
        if result.status == "done":
            self.statuses[source] = self._status_for(result)
            self._latencies.append(result.timings.total)
        else:
            self.statuses[source] = FileStatus(result.status, reason=result.error)
        preview = self.previews.get(source)
        if event.mask is not None and preview is not None and preview.mask is None:
            preview.mask = event.mask
        self._changed([source])
        self._batch_done += 1
        self._batch_counts[result.status] = self._batch_counts.get(result.status, 0) + 1
        panel = self.query_one(StatusPanel)
        panel.set_progress(self._batch_total, self._batch_done)
        elapsed = time.perf_counter() - self._batch_started
        if self._latencies:
            panel.set_speed(self._latencies[-1], sum(self._latencies) / len(self._latencies),
                            len(self._latencies) / elapsed if elapsed > 0 else None)
        self._show_fallbacks()
        if source == self.preview_path:
            self._render_preview()

    def _show_fallbacks(self) -> None:
        """A runtime fallback changes the adapter in use; show it and the reason."""
        remover = self.remover
        if remover is not None and remover.runner.fallback_events:
            self._show_adapter()

    def on_batch_finished(self, event: msg.BatchFinished) -> None:
        self.running = False
        summary = ", ".join(f"{n} {state}" for state, n in self._batch_counts.items())
        head = "cancelled" if event.cancelled else "finished"
        text = escape(f"{head}: {summary} → {self.session.output_dir()}")
        if event.error:
            text += f"   [red]{escape(event.error)}[/red]"
        self.query_one(StatusPanel).set_run(text)
        if self.session.exit_when_idle:
            self.app.exit()

    def stop_batch(self) -> None:
        """Stop a run after the image being written (no-op when nothing runs)."""
        self._cancel.set()

    def action_cancel(self) -> None:
        filter_field = self.query_one("#filter", Input)
        if filter_field.display:
            filter_field.display = False
            self._browser().focus()
            self.refresh_bindings()
            return
        if not self.running:
            return
        self._cancel.set()
        self.query_one(StatusPanel).set_run("cancelling: the current image finishes…")

    # -- view ---------------------------------------------------------------------------------
    def action_cycle_view(self) -> None:
        index = VIEW_MODES.index(self.view_mode)  # type: ignore[arg-type]
        self.view_mode = VIEW_MODES[(index + 1) % len(VIEW_MODES)]

    async def action_cycle_graphics(self) -> None:
        mode = next_mode(self.session.settings.graphics)
        self.session.update_settings(graphics=mode)
        await self.query_one(PreviewPane).set_graphics(mode)
        choice = choose(mode, TERMINAL)
        self.notify(f"image rendering: {mode} → {choice.mode}: {choice.reason}", markup=False)
        self.call_after_refresh(self._render_preview)

    # -- settings -----------------------------------------------------------------------------
    def action_adapters(self) -> None:
        picker = AdapterPicker(
            self.session.settings.provider, self.probes, lambda: self.start_probes(reprobe=True)
        )
        self._picker = picker
        if self.probes is None:
            self.start_probes()
        self.app.push_screen(picker, self._adapter_chosen)

    def start_probes(self, *, reprobe: bool = False) -> None:
        """Probe every adapter in a worker (cached results unless ``reprobe``)."""
        self.probes = None
        self._probe_worker(reprobe)

    @work(thread=True, exclusive=True, group="probe")
    def _probe_worker(self, reprobe: bool) -> None:
        model = self.session.resolved_model()
        if model is None:
            report = ProbeReport([], f"model {self.session.settings.model} is not downloaded")
        else:
            from alphacut.pipeline.probe_photos import probe_tensors

            report = probe_all(
                model.path, reprobe=reprobe, disabled_optimizers=model.spec.disabled_optimizers,
                rule=model.spec.agreement, inputs=probe_tensors(model.spec),
            )
        self.post_message(msg.ProbesDone(report))

    def on_probes_done(self, event: msg.ProbesDone) -> None:
        self.probes = event.report
        if self._picker is not None:
            self._picker.set_probes(event.report)

    def _adapter_chosen(self, label: str | None) -> None:
        self._picker = None
        if label is None or label == self.session.settings.provider:
            return
        if self.running:
            self.notify("cannot switch adapters during a run", severity="warning")
            return
        self.session.update_settings(provider=label)
        self.query_one(StatusPanel).set_adapter(f"adapter: opening {label}…")
        self.session.load_model()

    def action_output_settings(self) -> None:
        screen = OutputSettingsScreen(self.session.settings, str(self.session.output_dir(True)))
        self.app.push_screen(screen, self._output_chosen)

    def _output_chosen(self, settings: object) -> None:
        from alphacut.config import Settings

        if isinstance(settings, Settings):
            self.session.update_settings(**{
                k: getattr(settings, k)
                for k in ("output_dir", "format", "background", "crop_margin", "existing")
            })
            self.notify(f"output: {self.session.output_dir()} ({settings.format})", markup=False)
            self._render_preview()

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
                self._cancel.set()
                self.app.exit()

        self.app.push_screen(ConfirmQuit(), answered)

    def palette_commands(self) -> Iterable[SystemCommand]:
        """One command-palette entry per action on this screen."""
        for action, title, text in PALETTE:
            if action == "bench" and self.session.bench_screen is None:
                continue
            yield SystemCommand(title, text, getattr(self, f"action_{action}"))
