"""Scale benchmark: the local engine against Ray with 1 and 2 workers, taking turns.

Each configuration is a real ``alphacut remove --json`` process over the same folder,
run in rounds (A B C D, A B C D, ...) so a machine whose load changes affects every
configuration alike. Reported per configuration (medians over rounds):

- images/s once running (first image started to last image written), and its ratio to
  the local engine in the same round; also the ratio over the whole process (launch to
  exit, start-up included);
- job start-up: from the command's launch to the first image's processing start (local:
  to the model loaded), and for Ray to the first output written;
- per-image cost on one worker (median of the per-image totals);
- peak RSS of the driver and of each worker;
- whether every output is byte-identical to the local engine's.

::

    alphacut bench scale --images DIR --rounds 2
    alphacut bench scale --images DIR --configs local,ray:2x1 --ray-address auto
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CONFIGS = "local,ray:2x1,ray:1x1,ray:1x2"


@dataclass(frozen=True)
class Config:
    """One way to run the batch: ``local``, or ``ray:WxT`` (W workers of T threads)."""

    name: str
    workers: int = 0
    threads: int = 0

    @classmethod
    def parse(cls, text: str) -> Config:
        if text == "local":
            return cls("local")
        kind, _, shape = text.partition(":")
        workers, _, threads = shape.partition("x")
        if kind != "ray" or not workers.isdigit() or not threads.isdigit():
            raise ValueError(f"{text!r}: use 'local' or 'ray:WxT', e.g. ray:2x1")
        return cls(text, int(workers), int(threads))

    def arguments(self, ray_address: str | None) -> list[str]:
        if self.name == "local":
            return []
        extra = ["--engine", "ray", "--workers", str(self.workers), "--threads",
                 str(self.threads)]
        return extra + (["--ray-address", ray_address] if ray_address else [])


@dataclass
class Run:
    """One configuration's figures in one round."""

    config: str
    round: int
    done: int
    wall_s: float
    images_per_s: float  # once running
    startup_s: float
    image_ms_median: float
    driver_peak_rss_mb: float
    worker_peak_rss_mb: list[float] = field(default_factory=list)
    first_output_s: float | None = None  # Ray only: launch to the first output written


def run_once(config: Config, images: Path, out: Path, extra: list[str],
             ray_address: str | None, round_no: int) -> Run:
    """One ``alphacut remove --json`` process; its JSON lines give the figures."""
    command = [sys.executable, "-m", "alphacut", "remove", str(images), "-o", str(out),
               "--overwrite", "--json", *config.arguments(ray_address), *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    summaries = [r for r in records if r.get("type") == "summary"]
    if done.returncode != 0 or not summaries:
        raise RuntimeError(f"{config.name}: exit {done.returncode}: {done.stderr.strip()[-800:]}")
    summary = summaries[0]
    engine = summary.get("engine", {})
    totals = [r["ms"]["total"] for r in records
              if r.get("type") == "image" and r["status"] == "done"]
    rate = engine.get("processing_images_per_s") if config.name != "local" else None
    return Run(
        config=config.name,
        round=round_no,
        done=int(summary["done"]),
        wall_s=round(wall, 3),
        images_per_s=float(rate if rate is not None else summary["images_per_s"]),
        startup_s=float(engine.get("startup_s") or 0.0),
        image_ms_median=round(statistics.median(totals), 1) if totals else 0.0,
        driver_peak_rss_mb=float(engine.get("driver_peak_rss_mb", 0.0)),
        worker_peak_rss_mb=sorted(engine.get("worker_peak_rss_mb", {}).values()),
        first_output_s=engine.get("first_output_s"),
    )


def summarise(runs: list[Run], configs: list[Config]) -> list[dict[str, Any]]:
    """Per configuration: medians over rounds, and the median per-round ratio to local."""
    local = {r.round: r for r in runs if r.config == "local"}
    rows = []
    for config in configs:
        mine = [r for r in runs if r.config == config.name]
        ratios = [r.images_per_s / local[r.round].images_per_s for r in mine
                  if r.round in local and local[r.round].images_per_s]
        # Whole process, start-up included: the same work, so the inverse ratio of walls.
        whole = [local[r.round].wall_s / r.wall_s for r in mine if r.round in local and r.wall_s]
        workers = [mb for r in mine for mb in r.worker_peak_rss_mb]
        firsts = [r.first_output_s for r in mine if r.first_output_s is not None]
        rows.append({
            "config": config.name,
            "rounds": len(mine),
            "images_per_s": round(statistics.median(r.images_per_s for r in mine), 3),
            "vs_local": round(statistics.median(ratios), 3) if ratios else None,
            "vs_local_min": round(min(ratios), 3) if ratios else None,
            "vs_local_max": round(max(ratios), 3) if ratios else None,
            "whole_run_vs_local": round(statistics.median(whole), 3) if whole else None,
            "startup_s": round(statistics.median(r.startup_s for r in mine), 2),
            "first_output_s": round(statistics.median(firsts), 2) if firsts else None,
            "wall_s": round(statistics.median(r.wall_s for r in mine), 2),
            "image_ms_median": round(statistics.median(r.image_ms_median for r in mine), 1),
            "driver_peak_rss_mb": round(max(r.driver_peak_rss_mb for r in mine), 1),
            "worker_peak_rss_mb": round(max(workers), 1) if workers else None,
        })
    return rows


def same_files(folder: Path, reference: Path) -> bool:
    """Whether both folders hold the same file names with the same bytes."""
    names = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    expected = sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    return names == expected and all(
        (folder / name).read_bytes() == (reference / name).read_bytes() for name in names
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from alphacut.bench.command_options import add_output_options

    parser.add_argument("--images", type=Path, required=True, metavar="DIR",
                        help="folder of photos (each round processes all of them)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of turns (default: 2)")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS,
                        help=f"comma-separated, in turn order (default: {DEFAULT_CONFIGS})")
    parser.add_argument("--ray-address", default=None, metavar="ADDR",
                        help="join this cluster (default: each Ray run starts its own)")
    parser.add_argument("--remove-args", default="", metavar="ARGS",
                        help="extra 'alphacut remove' options for every run, e.g. '--refine none'")
    add_output_options(parser)


def register(sub: Any) -> None:
    """``alphacut bench scale``: local engine vs Ray workers, in turns."""
    parser = sub.add_parser(
        "scale", help="local engine vs Ray with 1 and 2 workers: images/s, start-up, RSS",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run every configuration in turns and print the table; exit 2 on bad arguments."""
    import shlex

    from rich.table import Table

    from alphacut.bench.command_options import emit, step_progress
    from alphacut.bench.environment import collect

    try:
        configs = [Config.parse(c.strip()) for c in args.configs.split(",") if c.strip()]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.images.is_dir() or args.rounds < 1 or not configs:
        print("error: need --images DIR, --rounds >= 1 and at least one config", file=sys.stderr)
        return 2
    extra = shlex.split(args.remove_args)
    runs: list[Run] = []
    total = args.rounds * len(configs)
    with tempfile.TemporaryDirectory(prefix="alphacut-scale-") as tmp, \
            step_progress("scale") as progress:
        for round_no in range(args.rounds):
            for config in configs:
                progress(len(runs), total, f"round {round_no + 1}: {config.name}")
                out = Path(tmp) / config.name.replace(":", "-")
                runs.append(run_once(config, args.images, out, extra, args.ray_address,
                                     round_no))
        rows = summarise(runs, configs)
        local_out = Path(tmp) / "local"
        for row in rows:
            out = Path(tmp) / str(row["config"]).replace(":", "-")
            row["same_bytes_as_local"] = (
                same_files(out, local_out) if local_out.is_dir() else None
            )
    table = Table(title=f"alphacut bench scale: {args.images} ({runs[0].done} images)")
    for column in ("config", "images/s", "vs local (min-max)", "whole run", "start-up s",
                   "image ms", "driver MB", "worker MB", "same bytes"):
        table.add_column(column)
    for row in rows:
        ratio = (f"{row['vs_local']:.2f}x ({row['vs_local_min']:.2f}-{row['vs_local_max']:.2f})"
                 if row["vs_local"] is not None else "-")
        whole = f"{row['whole_run_vs_local']:.2f}x" if row["whole_run_vs_local"] else "-"
        startup = f"{row['startup_s']:.1f}" + (
            f" ({row['first_output_s']:.1f})" if row["first_output_s"] is not None else "")
        table.add_row(row["config"], f"{row['images_per_s']:.2f}", ratio, whole,
                      startup, f"{row['image_ms_median']:.0f}",
                      f"{row['driver_peak_rss_mb']:.0f}",
                      f"{row['worker_peak_rss_mb']:.0f}" if row["worker_peak_rss_mb"] else "-",
                      {True: "yes", False: "NO", None: "-"}[row["same_bytes_as_local"]])
    data = {"kind": "scale", "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "images": str(args.images), "environment": asdict(collect()),
            "rows": rows, "runs": [asdict(r) for r in runs]}
    emit(args, data, table, rows)
    return 0
