"""``alphacut bench``: hardware, quality and throughput benchmarks.

Each benchmark is a sub-command defined in its own light module listed in
``BENCH_MODULES``; a module exposes ``register(subparsers)`` exactly like a top-level
command module, so adding one (``alphacut bench memory``, say) is one line here.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

BENCH_MODULES: tuple[str, ...] = (
    "alphacut.bench.hardware_command",
    "alphacut.bench.quality_command",
    "alphacut.bench.throughput_command",
    "alphacut.bench.memory",
    "alphacut.bench.scale",
)


def register(sub: Any) -> None:
    """Add ``bench`` and every benchmark in ``BENCH_MODULES`` under it."""
    parser = sub.add_parser(
        "bench",
        help="measure speed (CPU vs accelerated, vs rembg) and mask quality",
        description=(
            "Benchmarks whose numbers you can reproduce: adapters run interleaved on the "
            "same images, ratios come with their spread, and every report records the "
            "machine and software it ran on."
        ),
    )
    benches = parser.add_subparsers(dest="bench_command", metavar="BENCH")
    for name in BENCH_MODULES:
        importlib.import_module(name).register(benches)
    parser.set_defaults(func=_usage(parser))


def _usage(parser: argparse.ArgumentParser):
    def run(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return run
