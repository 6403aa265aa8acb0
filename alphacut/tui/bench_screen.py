"""The benchmark screen (``b``): CPU vs accelerated adapters, live, with past runs to compare.

Runs :func:`alphacut.bench.hardware.run_hardware_bench` in a thread worker and shows the
same table as ``alphacut bench hardware``, a latency chart and the verdict. Every finished
run is saved as JSON under ``<data>/bench``; picking a past run shows it instead.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Input,
    Label,
    OptionList,
    ProgressBar,
    Select,
    SelectionList,
    Static,
)
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from alphacut.bench import history
from alphacut.bench.chart import latency_chart, series_from_result
from alphacut.bench.report import HARDWARE_COLUMNS, hardware_rows
from alphacut.paths import AppPaths

# Enough photos for stable percentiles, few enough for a run of a minute or two.
FOLDER_IMAGE_LIMIT = 8
IMAGE_SOURCES: tuple[tuple[str, str], ...] = (
    ("demo photos", "demo"),
    (f"this folder (first {FOLDER_IMAGE_LIMIT} images)", "folder"),
)


class BenchScreen(Screen[None]):
    """Choose adapters and runs, start, watch progress, read the verdict, compare past runs."""

    CSS_PATH = "bench_screen.tcss"
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("s", "start", "Start"),
        Binding("c", "cancel", "Cancel"),
    ]

    def __init__(
        self,
        *,
        images: Sequence[Path] | None = None,
        providers: Sequence[str] | None = None,
        model: str | None = None,
        model_path: Path | None = None,
    ) -> None:
        super().__init__()
        # Tests and callers may pin these; otherwise they come from the app and discovery.
        self._fixed_images = tuple(images) if images else None
        self._fixed_providers = tuple(providers) if providers else None
        self._model = model
        self._model_path = model_path
        self._skipped: dict[str, str] = {}
        self._cancel = threading.Event()
        self.running = False
        self.last_result: dict[str, object] | None = None
        self.saved_path: Path | None = None

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="bench-body"):
            with Vertical(id="bench-controls"):
                yield Label("Adapters")
                yield SelectionList[str](id="bench-adapters")
                yield Label("Runs")
                yield Input("3", id="bench-runs", type="integer", restrict=r"[0-9]*")
                yield Label("Images")
                yield Select(IMAGE_SOURCES, value="demo", allow_blank=False, id="bench-images")
                with Horizontal(id="bench-buttons"):
                    yield Button("Start", id="bench-start", variant="primary")
                    yield Button("Cancel", id="bench-cancel", disabled=True)
                yield Label("Past runs")
                yield OptionList(id="bench-history")
            with VerticalScroll(id="bench-results"):
                yield ProgressBar(id="bench-progress", show_eta=False)
                yield Static("", id="bench-status")
                yield DataTable(id="bench-table", zebra_stripes=True, cursor_type="row")
                yield Static("", id="bench-verdict")
                yield Static("", id="bench-chart")
                yield Static("", id="bench-notes")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#bench-table", DataTable)
        for _, title in HARDWARE_COLUMNS:
            table.add_column(title)
        self._status("choose adapters and runs, then Start (s)")
        self._refresh_history()
        if self._fixed_providers is not None:
            self._fill_adapters(self._fixed_providers, {})
        else:
            self._discover()

    # -- adapters -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="bench-discover")
    def _discover(self) -> None:
        from alphacut.bench.hardware import expand_providers
        from alphacut.errors import AlphacutError

        try:
            runnable, skipped = expand_providers("all")
        except (AlphacutError, OSError) as exc:
            runnable, skipped = ("cpu",), {"discovery": str(exc)}
        self.app.call_from_thread(self._fill_adapters, runnable, skipped)

    def _fill_adapters(self, runnable: Sequence[str], skipped: dict[str, str]) -> None:
        self._skipped = dict(skipped)
        adapters = self.query_one("#bench-adapters", SelectionList)
        adapters.clear_options()
        adapters.add_options([Selection(label, label, True) for label in runnable])
        adapters.add_options(
            [Selection(f"{label}: {why}", f"skipped:{label}", False, disabled=True)
             for label, why in skipped.items()]
        )

    # -- running ------------------------------------------------------------------------------
    def _paths(self) -> AppPaths:
        return getattr(self.app, "paths", None) or AppPaths.from_env()

    def _images(self, source: object) -> tuple[Path, ...]:
        """The photos to measure (runs in the worker: the demo photos may be fetched once)."""
        from alphacut.bench.hardware_command import default_images

        if self._fixed_images is not None:
            return self._fixed_images
        directory = getattr(self.app, "directory", None)
        if source == "folder" and directory is not None:
            return default_images(Path(directory))[:FOLDER_IMAGE_LIMIT]
        from alphacut.samples import ensure_samples

        return tuple(ensure_samples(self._paths()))

    def action_start(self) -> None:
        if self.running:
            return
        chosen = [v for v in self.query_one("#bench-adapters", SelectionList).selected
                  if not v.startswith("skipped:")]
        text = self.query_one("#bench-runs", Input).value or "0"
        runs = int(text)
        if not chosen:
            self._status("choose at least one adapter")
            return
        if runs < 1:
            self._status("runs must be at least 1")
            return
        self.running = True
        self._cancel.clear()
        self.query_one("#bench-start", Button).disabled = True
        self.query_one("#bench-cancel", Button).disabled = False
        self.query_one("#bench-progress", ProgressBar).update(total=None, progress=0)
        self._status(f"starting: {', '.join(chosen)}, {runs} runs")
        self._run(tuple(chosen), runs, self.query_one("#bench-images", Select).value)

    def action_cancel(self) -> None:
        if self.running:
            self._cancel.set()
            self._status("cancelling after the current pass…")

    @work(thread=True, exclusive=True, group="bench-run")
    def _run(self, providers: tuple[str, ...], runs: int, source: object) -> None:
        from alphacut.bench.hardware import HardwareSettings, run_hardware_bench
        from alphacut.errors import AlphacutError
        from alphacut.models.store import ModelStore

        def progress(done: int, total: int, message: str) -> None:
            self.app.call_from_thread(self._progress, done, total, message)

        try:
            model = self._model or getattr(getattr(self.app, "settings", None), "model", "u2netp")
            model_path = self._model_path or ModelStore(self._paths()).locate(model)
            settings = HardwareSettings(
                images=self._images(source), model=model, providers=providers, runs=runs
            )
            report = run_hardware_bench(
                settings,
                on_progress=progress,
                cancel=self._cancel,
                model_path=model_path,
                skipped=self._skipped,
            )
            data = report.as_dict()
            saved = history.save(data, self._paths())
        except (AlphacutError, OSError) as exc:
            self.app.call_from_thread(self._finished, None, None, str(exc))
            return
        self.app.call_from_thread(self._finished, data, saved, "")

    def _progress(self, done: int, total: int, message: str) -> None:
        self.query_one("#bench-progress", ProgressBar).update(total=total, progress=done)
        self._status(message)

    def _finished(self, data: dict[str, object] | None, saved: Path | None, error: str) -> None:
        self.running = False
        self.query_one("#bench-start", Button).disabled = False
        self.query_one("#bench-cancel", Button).disabled = True
        if data is None:
            self._status(f"benchmark failed: {error}")
            return
        self.saved_path = saved
        self.show_result(data)
        self._status(f"done; saved {saved}")
        self._refresh_history()

    # -- showing results ----------------------------------------------------------------------
    def show_result(self, data: dict[str, object]) -> None:
        """Fill the table, verdict, chart and notes from a result dict (live or saved)."""
        self.last_result = data
        table = self.query_one("#bench-table", DataTable)
        table.clear()
        for row in hardware_rows(data.get("adapters") or []):  # type: ignore[arg-type]
            table.add_row(*row)
        self.query_one("#bench-verdict", Static).update(
            Text(f"Verdict: {data.get('verdict', '')}", style="bold")
        )
        width = max(40, self.query_one("#bench-results").size.width - 4)
        chart = latency_chart(series_from_result(data), width=width, height=14)
        self.query_one("#bench-chart", Static).update(Text.from_ansi(chart))
        self.query_one("#bench-notes", Static).update(self._notes(data))

    @staticmethod
    def _notes(data: dict[str, object]) -> str:
        lines = []
        for label, ratios in (data.get("speedup_vs_cpu") or {}).items():  # type: ignore[union-attr]
            inf, e2e = ratios["inference"], ratios["end_to_end"]
            lines.append(
                f"{label} vs cpu: inference {inf['median']}x ({inf['min']}-{inf['max']}), "
                f"end to end {e2e['median']}x ({e2e['min']}-{e2e['max']}) over "
                f"{e2e['pairs']} paired runs"
            )
        for label, why in (data.get("unavailable") or {}).items():  # type: ignore[union-attr]
            lines.append(f"not measured: {label}: {why}")
        env = data.get("environment") or {}
        if env:
            lines.append(
                f"{env.get('cpu_model')} ({env.get('cpu_class') or 'ISA not recorded'}), "  # type: ignore[union-attr]
                f"{env.get('physical_cores')} cores; "  # type: ignore[union-attr]
                f"{env.get('ort_flavour')} {env.get('ort_version')}; "  # type: ignore[union-attr]
                f"started {data.get('started')}"
            )
        if data.get("cancelled"):
            lines.append("cancelled: the numbers cover the runs that finished")
        return "\n".join(lines)

    def _refresh_history(self) -> None:
        listing = self.query_one("#bench-history", OptionList)
        listing.clear_options()
        runs = history.past_runs(self._paths(), kind="hardware")
        listing.add_options([Option(run.title, id=str(run.path)) for run in runs])

    @on(OptionList.OptionSelected, "#bench-history")
    def _open_past_run(self, event: OptionList.OptionSelected) -> None:
        path = Path(str(event.option.id))
        try:
            data = history.load(path)
        except (OSError, ValueError) as exc:
            self._status(f"cannot read {path}: {exc}")
            return
        self.show_result(data)
        self._status(f"showing saved run {path.name}")

    # -- plumbing -----------------------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.query_one("#bench-status", Static).update(text)

    @on(Button.Pressed, "#bench-start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#bench-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_close(self) -> None:
        self._cancel.set()  # a running benchmark stops after its current pass
        self.app.pop_screen()
