"""The status panel: adapter, speed, memory, temperature and the batch progress bar."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from alphacut.accel.telemetry import TelemetrySnapshot


def _mib(value: int) -> str:
    return f"{value / 2**20:.0f} MiB"


class StatusPanel(Vertical):
    """Read-only numbers about the session; the app pushes updates into it."""

    def compose(self) -> ComposeResult:
        yield Static("adapter: loading model…", id="status-adapter")
        yield Static("latency –", id="status-speed")
        yield Static("RSS – · temp n/a", id="status-memory")
        yield Static("", id="status-gpu")  # filled by live telemetry; hidden while empty
        yield Static("", id="status-events")
        yield ProgressBar(total=1, show_eta=True, id="status-progress")
        yield Static("", id="status-run")

    def set_adapter(self, text: str) -> None:
        self.query_one("#status-adapter", Static).update(text)

    def set_speed(self, last_ms: float | None, avg_ms: float | None, per_s: float | None) -> None:
        last = f"{last_ms:.0f} ms" if last_ms is not None else "–"
        avg = f"{avg_ms:.0f} ms" if avg_ms is not None else "–"
        rate = f"{per_s:.2f}" if per_s is not None else "–"
        self.query_one("#status-speed", Static).update(
            f"latency {last} · avg {avg} · {rate} img/s"
        )

    def set_telemetry(self, snapshot: TelemetrySnapshot) -> None:
        """RSS and peak, CPU use and temperature, GPU load/memory/temperature ("n/a" if none)."""
        # Short enough for the 80-column layout: peak in MiB without the unit.
        peak = f"{snapshot.peak_rss_bytes / 2**20:.0f}" if snapshot.peak_rss_bytes else "n/a"
        cpu = (f" · CPU {snapshot.process_cpu_percent:.0f}%"
               if snapshot.process_cpu_percent is not None else "")
        temp = (f"{snapshot.cpu_temperature_c:.0f} °C"
                if snapshot.cpu_temperature_c is not None else "n/a")
        self.query_one("#status-memory", Static).update(
            f"RSS {_mib(snapshot.rss_bytes)} (peak {peak}){cpu} · temp {temp}"
        )
        # A line of its own: next to the CPU figures it would be cut off at 80 columns.
        gpus = " · ".join(gpu.short() for gpu in snapshot.gpus) or "GPU n/a"
        self.query_one("#status-gpu", Static).update(gpus)

    def set_events(self, text: str) -> None:
        self.query_one("#status-events", Static).update(text)

    def set_progress(self, total: int | None, done: int) -> None:
        bar = self.query_one("#status-progress", ProgressBar)
        bar.update(total=total, progress=done)

    def set_run(self, text: str) -> None:
        self.query_one("#status-run", Static).update(text)
