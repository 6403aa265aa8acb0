"""Options and output shared by the ``alphacut bench ...`` sub-commands (argparse only)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--json FILE``, ``--csv FILE`` and ``--no-save``."""
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the full report as JSON")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="write the table rows as CSV")
    parser.add_argument(
        "--no-save",
        action="store_true",
        help="do not keep a copy under the data folder (the TUI lists saved runs)",
    )


@contextmanager
def step_progress(label: str) -> Iterator[Callable[[int, int, str], None]]:
    """A ``progress(done, total, message)`` callback: a Rich bar on a terminal, else silent."""
    if not sys.stderr.isatty():
        yield lambda done, total, message: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=Console(file=sys.stderr),
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def update(done: int, total: int, message: str) -> None:
            bar.update(task, completed=done, total=total, description=message)

        yield update


def emit(
    args: argparse.Namespace,
    data: dict[str, object],
    table: Any,
    csv_rows: Sequence[dict[str, object]],
) -> None:
    """Print the table, write the requested files, and save a copy for the TUI."""
    from rich.console import Console

    from alphacut.bench import history
    from alphacut.bench.report import write_csv, write_json

    # Off a terminal Rich would wrap the wide tables at 80 columns; a log file can be wider.
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    if args.json:
        write_json(args.json, data)
        console.print(f"JSON: {args.json}")
    if args.csv:
        write_csv(args.csv, csv_rows)
        console.print(f"CSV: {args.csv}")
    if not args.no_save:
        console.print(f"saved: {history.save(data)}")
