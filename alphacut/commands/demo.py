"""``alphacut demo``: fetch the default model and four sample photos, then run the main job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from alphacut.models.catalogue import DEFAULT_MODEL


def register(sub: Any) -> None:
    """Add the ``demo`` sub-command."""
    p = sub.add_parser(
        "demo",
        help="fetch the default model and sample photos, then cut them out",
        description=(
            "Fetch the default model and four public-domain / CC0 sample photos (from the "
            "scikit-image wheel on PyPI), then open the UI on them when stdout is a terminal, "
            "or run a headless batch and print a table of the results."
        ),
    )
    p.add_argument("-o", "--output", type=Path, default=None, metavar="OUT",
                   help="where to write the cutouts (default: <data dir>/demo)")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--provider", default="auto", metavar="NAME[:DEVICE]")
    p.add_argument("--headless", action="store_true",
                   help="never open the UI, even on a terminal")
    p.set_defaults(func=run)


def _tui_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("alphacut.tui.app") is not None


def run(args: argparse.Namespace) -> int:
    """Fetch what the demo needs, then run it."""
    from alphacut.models.store import ModelStore
    from alphacut.paths import AppPaths
    from alphacut.progress import download_progress
    from alphacut.samples import ensure_samples

    paths = AppPaths.from_env()
    store = ModelStore(paths)
    with download_progress() as progress:
        store.ensure(args.model, progress=progress, say=lambda m: print(m, file=sys.stderr))
    with download_progress() as progress:
        samples = ensure_samples(paths, progress=progress)
    out_dir = args.output or (paths.data / "demo")
    if sys.stdout.isatty() and not args.headless and _tui_available():
        from alphacut.tui.app import run_app

        return run_app(
            samples[0].parent, output_dir=out_dir, model=args.model, provider=args.provider,
            graphics=None,
        )
    return _headless(samples, out_dir, args)


def _headless(samples: list[Path], out_dir: Path, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from alphacut.pipeline.batch import BatchRunner
    from alphacut.pipeline.jobs import plan_jobs
    from alphacut.pipeline.output import OutputOptions
    from alphacut.pipeline.remover import Remover
    from alphacut.pipeline.tally import BatchTally

    output = OutputOptions(existing="overwrite")
    jobs, problems = plan_jobs(samples, out_dir, output)
    remover = Remover.open(args.model, provider=args.provider)
    table = Table(title=f"alphacut demo on {remover.provider}")
    for column in ("image", "size", "inference ms", "total ms"):
        table.add_column(column, justify="right" if "ms" in column else "left")
    table.add_column("cutout (in the folder below)", overflow="fold")
    tally = BatchTally(problems=len(problems))
    for result in BatchRunner(remover, output).run(jobs):
        tally.add(result)
        if result.status != "done":
            table.add_row(result.job.source.name, "", "", "", f"[red]{result.error}")
            continue
        from PIL import Image

        with Image.open(result.job.dest) as img:
            size = f"{img.width}x{img.height} {img.mode}"
        table.add_row(
            result.job.source.name,
            size,
            f"{result.timings.inference:.0f}",
            f"{result.timings.total:.0f}",
            result.job.dest.name,
        )
    console = Console()
    console.print(table)
    console.print(f"cutouts are in {out_dir}")
    return 0 if tally.all_done else 1
