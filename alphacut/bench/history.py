"""Saved benchmark results: one JSON file per run under ``<data>/bench``, newest first."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from alphacut.paths import AppPaths


@dataclass(frozen=True)
class SavedRun:
    """A result file and the few facts a list of past runs shows."""

    path: Path
    kind: str
    started: str
    headline: str

    @property
    def title(self) -> str:
        return f"{self.started or self.path.stem}  {self.kind}  {self.headline}"


def bench_dir(paths: AppPaths | None = None) -> Path:
    return (paths or AppPaths.from_env()).data / "bench"


def save(result: dict[str, object], paths: AppPaths | None = None) -> Path:
    """Write ``result`` (an ``as_dict()``) as a new JSON file; returns its path."""
    folder = bench_dir(paths)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kind = str(result.get("kind", "bench"))
    counter = 1
    # The counter keeps two runs in one second apart and sorts them by name.
    while (path := folder / f"{stamp}-{counter:02d}-{kind}.json").exists():
        counter += 1
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def headline(result: dict[str, object]) -> str:
    """One line summarising a saved result, whatever its kind."""
    kind = result.get("kind")
    if kind == "hardware":
        adapters = result.get("adapters") or []
        parts = [
            f"{a.get('adapter')} {a.get('images_per_s')} img/s"  # type: ignore[union-attr]
            for a in adapters  # type: ignore[union-attr]
        ]
        return ", ".join(parts) or "no adapter ran"
    if kind == "quality":
        tools = result.get("tools") or {}
        parts = [
            f"{name} MAE {scores.get('summary', {}).get('mae')}"  # type: ignore[union-attr]
            for name, scores in tools.items()  # type: ignore[union-attr]
        ]
        return ", ".join(parts)
    if kind == "vs-rembg":
        ratio = (result.get("speedup_alphacut_vs_rembg") or {}).get("median")  # type: ignore[union-attr]
        return f"{ratio}x rembg" if ratio is not None else "no successful pair"
    return ""


def load(path: Path) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))


def past_runs(paths: AppPaths | None = None, kind: str | None = None) -> list[SavedRun]:
    """Saved runs, newest first; unreadable files are skipped, not fatal."""
    folder = bench_dir(paths)
    if not folder.is_dir():
        return []
    runs: list[SavedRun] = []
    for path in sorted(folder.glob("*.json"), reverse=True):
        try:
            data = load(path)
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or (kind and data.get("kind") != kind):
            continue
        runs.append(SavedRun(path, str(data.get("kind", "?")), str(data.get("started", "")),
                             headline(data)))
    return runs
