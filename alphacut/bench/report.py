"""Turning benchmark results into tables (Rich on a terminal, rows for the TUI) and files.

The column lists here are shared by the CLI and the TUI, so both show the same table.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import RenderableType

    from alphacut.bench.hardware import HardwareReport
    from alphacut.bench.quality import QualityReport
    from alphacut.bench.throughput import ThroughputReport

HARDWARE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("adapter", "adapter"),
    ("session_create_ms", "create ms"),
    ("first_inference_ms", "first ms"),
    ("inference_p50_ms", "p50 ms"),
    ("inference_p90_ms", "p90 ms"),
    ("inference_p99_ms", "p99 ms"),
    ("end_to_end_p50_ms", "e2e p50 ms"),
    ("images_per_s", "img/s"),
    ("cpu_percent", "CPU %"),
    ("peak_rss_mb", "peak RSS MB"),
    ("temperature", "temp °C start/max/end"),
    ("gpu", "GPU max %/MiB/°C"),
    ("errors", "errors"),
)
QUALITY_LABELS: dict[str, str] = {
    "mae": "MAE ↓",
    "max_f": "max F (β²=0.3) ↑",
    "s_measure": "S-measure ↑",
    "e_measure": "E-measure (max) ↑",
    "weighted_f": "weighted F ↑",
    "iou": "IoU@0.5 ↑",
    "sad": "SAD/1000 ↓",
    "mse": "MSE ↓",
    "grad": "gradient/1000 ↓",
}


def fmt(value: object, digits: int = 1) -> str:
    """A table cell: numbers rounded, missing values as ``n/a``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def hardware_rows(summaries: Sequence[dict[str, object]]) -> list[list[str]]:
    """One row of cells per adapter summary (live or saved), in ``HARDWARE_COLUMNS`` order."""
    rows = []
    for adapter in summaries:
        summary = dict(adapter)
        temps = "/".join(fmt(summary[k], 0) for k in ("temp_start_c", "temp_max_c", "temp_end_c"))
        summary["temperature"] = "n/a" if temps == "n/a/n/a/n/a" else temps
        # Saved runs from before GPU telemetry have no GPU keys.
        gpu = "/".join(fmt(summary.get(k), 0)
                       for k in ("gpu_percent_max", "gpu_memory_peak_mb", "gpu_temp_max_c"))
        summary["gpu"] = "n/a" if gpu == "n/a/n/a/n/a" else gpu
        rows.append(
            [fmt(summary[key], 2 if key == "images_per_s" else 1) for key, _ in HARDWARE_COLUMNS]
        )
    return rows


def hardware_notes(report: HardwareReport) -> list[str]:
    """The lines under the table: speed-ups, unavailable adapters, verdict, environment."""
    env = report.environment
    lines = [
        f"{label} vs cpu: inference {report.inference_speedup[label].describe()}, "
        f"end to end {report.end_to_end_speedup[label].describe()}"
        for label in report.inference_speedup
    ]
    lines += [f"not measured: {label}: {why}" for label, why in report.unavailable.items()]
    lines += [f"skipped image: {problem}" for problem in report.problems]
    lines.append(f"verdict: {report.verdict}")
    lines.append(
        f"{len(report.settings.images)} images x {report.settings.runs} runs, "
        f"warm-up {report.settings.warmup}; {env.cpu_model} ({env.cpu_class or 'ISA unknown'}), "
        f"{env.physical_cores} cores/"
        f"{env.logical_cpus} threads, {env.ram_gib} GiB; {env.ort_flavour} {env.ort_version}"
        + "".join(f", {k} {v}" for k, v in env.ep_versions.items())
        + f"; threads {env.threads.get('intra_op_num_threads', 'default')}"
    )
    if report.cancelled:
        lines.append("cancelled: the numbers cover the runs that finished")
    return lines


def hardware_table(report: HardwareReport) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"alphacut bench hardware: {report.environment.model}")
    for index, (_, title) in enumerate(HARDWARE_COLUMNS):
        table.add_column(title, justify="left" if index == 0 else "right")
    for row in hardware_rows([a.summary() for a in report.adapters]):
        table.add_row(*row)
    return Group(table, *(Text(line) for line in hardware_notes(report)))


def hardware_csv_rows(report: HardwareReport) -> list[dict[str, object]]:
    return [adapter.summary() for adapter in report.adapters]


def quality_table(report: QualityReport) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    tools = list(report.tools)
    table = Table(
        title=f"alphacut bench quality: {report.settings.dataset.name} "
        f"({len(report.samples)} images, {'alpha mattes' if report.matte else 'binary masks'})"
    )
    table.add_column("metric")
    for tool in tools:
        table.add_column(f"{tool}\n{report.tools[tool].detail}", justify="right")
    for key, label in QUALITY_LABELS.items():
        table.add_row(label, *(fmt(report.tools[t].summary.get(key), 4) for t in tools))
    # One pass each, one after the other: not a speed comparison (bench vs-rembg is one).
    table.add_row("wall s (not paired)", *(fmt(report.tools[t].seconds, 1) for t in tools))
    worst = Table(title="10 worst images (alphacut MAE)")
    for column in ("image", "MAE", "max F", "IoU@0.5"):
        worst.add_column(column, justify="left" if column == "image" else "right")
    for name, row in report.worst():
        worst.add_row(name, fmt(row["mae"], 4), fmt(row["max_f"], 4), fmt(row["iou"], 4))
    notes = []
    if report.confidence is not None:
        notes.append(report.confidence.describe())
    change = report.second_opinion_summary()
    if change:
        notes.append(
            "second opinion vs plain: "
            + ", ".join(f"{key.removesuffix('_change').upper()} {value:+.1%}"
                        for key, value in change.items() if key.endswith("_change"))
            + (f"; wall time {change['time_ratio']:.2f}x plain" if "time_ratio" in change
               else "")
        )
    if report.mean_mask_difference is not None:
        notes.append(
            f"mean absolute difference between alphacut and rembg masks: "
            f"{report.mean_mask_difference:.4f} (0..1 scale)"
        )
    for tool in tools:
        notes += [f"{tool}: {error}" for error in report.tools[tool].errors]
    notes += report.problems
    return Group(table, worst, *(Text(n) for n in notes))


def throughput_table(report: ThroughputReport) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=f"alphacut vs rembg: {report.images} images, mean {report.megapixels:.1f} MP, "
        f"{report.settings.runs} runs each"
    )
    for column in ("tool", "seconds per run", "median s", "img/s", "CPU s per run",
                   "peak RSS MB"):
        table.add_column(column, justify="left" if column == "tool" else "right")
    for name, tool in report.tools.items():
        data = tool.as_dict(report.images)
        table.add_row(
            name,
            " ".join(fmt(s, 1) for s in data["seconds"]),  # type: ignore[union-attr]
            fmt(data["median_s"], 2),
            fmt(data["images_per_s"], 2),
            " ".join(fmt(s, 1) for s in data["cpu_s"]),  # type: ignore[union-attr]
            fmt(data["peak_rss_mb"], 0),
        )
    lines = [
        f"alphacut speed vs rembg (wall time): {report.speedup.describe()}",
        f"rembg CPU time / alphacut CPU time: {report.cpu_ratio.describe()}",
    ]
    for name, tool in report.tools.items():
        lines += [f"{name}: {r.error}" for r in tool.runs if r.error]
    return Group(table, *(Text(line) for line in lines))


def write_json(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def write_csv(path: Path, rows: Sequence[dict[str, object]]) -> None:
    """Rows with possibly different keys: the header is the union, in first-seen order."""
    header: list[str] = []
    for row in rows:
        header += [key for key in row if key not in header]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
