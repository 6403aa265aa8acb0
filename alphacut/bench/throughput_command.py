"""``alphacut bench vs-rembg``: folder throughput of alphacut and rembg, interleaved."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from alphacut.bench.command_options import add_output_options
from alphacut.models.catalogue import DEFAULT_MODEL


def register(sub: Any) -> None:
    p = sub.add_parser(
        "vs-rembg",
        help="images/s of 'alphacut remove' against 'rembg p' on the same folder",
        description=(
            "Runs 'rembg p -m MODEL IN OUT' and 'alphacut remove IN -o OUT --model MODEL "
            "--refine none' (the same job: the model's mask, no matting) as separate "
            "processes, taking turns, with the same model file. With --alpha-matting, rembg "
            "-a against alphacut --refine matting. Reports images/s for both and the ratio "
            "(median of per-pair ratios, with min-max)."
        ),
    )
    p.add_argument("--images", type=Path, required=True, metavar="DIR")
    p.add_argument("--runs", type=int, default=3, metavar="N")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--rembg-bin", default=None, metavar="PATH",
                   help="rembg executable (default: $ALPHACUT_REMBG, then rembg on PATH)")
    p.add_argument("--alphacut-cmd", default=None, metavar="CMD",
                   help="command that runs 'alphacut remove' (default: this Python -m alphacut "
                        "remove)")
    p.add_argument("--alpha-matting", action="store_true",
                   help="compare rembg -a with alphacut --refine matting (the default "
                        "compares both tools without matting)")
    p.add_argument("--alphacut-args", default="", metavar="ARGS",
                   help="extra arguments for alphacut remove, written with '=' because they "
                        "start with a dash: --alphacut-args='--provider cpu'")
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from alphacut.bench.command_options import emit, step_progress
    from alphacut.bench.report import throughput_table
    from alphacut.bench.throughput import ThroughputSettings, run_vs_rembg
    from alphacut.errors import ConfigError

    if args.runs < 1:
        raise ConfigError("--runs must be at least 1")
    settings = ThroughputSettings(
        images=args.images,
        runs=args.runs,
        model=args.model,
        rembg_bin=args.rembg_bin,
        alphacut_command=tuple(shlex.split(args.alphacut_cmd)) if args.alphacut_cmd else (),
        alphacut_args=tuple(shlex.split(args.alphacut_args)),
        alpha_matting=args.alpha_matting,
    )
    with step_progress("bench vs-rembg") as progress:
        report = run_vs_rembg(settings, on_progress=progress)
    rows = [
        {"tool": name, **{k: v for k, v in tool.as_dict(report.images).items() if k != "command"}}
        for name, tool in report.tools.items()
    ]
    emit(args, report.as_dict(), throughput_table(report), rows)
    return 0 if report.speedup.pairs else 1  # no pair where both tools succeeded
