"""``alphacut bench hardware``: every adapter on the same images, interleaved."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alphacut.bench.command_options import add_output_options


def register(sub: Any) -> None:
    p = sub.add_parser(
        "hardware",
        help="CPU vs accelerated adapters side by side (latency, throughput, memory)",
        description=(
            "Session creation, first inference, inference p50/p90/p99, end-to-end p50 "
            "(decode to write, through the real pipeline), images/s, CPU %, peak RSS and "
            "temperature for each adapter. Adapters take turns run by run on the same "
            "images; speed-ups are medians of per-run ratios with their min-max."
        ),
    )
    p.add_argument("--images", type=Path, metavar="DIR",
                   help="folder of images (default: the demo photos)")
    p.add_argument("--model", default="u2netp")
    p.add_argument("--providers", default="auto", metavar="LIST",
                   help="auto (cpu and what auto picks), all (every adapter found), or a "
                        "comma-separated list such as cpu,openvino:CPU")
    p.add_argument("--runs", type=int, default=3, metavar="N", help="timed runs per adapter")
    p.add_argument("--warmup", type=int, default=1, metavar="N",
                   help="untimed inferences after the first one")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="intra-op threads (default: physical cores)")
    p.add_argument("--refine", choices=("none", "guided", "matting"), default=None,
                   help="edge refinement in the end-to-end runs (default: the pipeline's, "
                        "matting; none shows what the model and the codecs alone cost)")
    add_output_options(p)
    p.set_defaults(func=run)


def default_images(folder: Path | None) -> tuple[Path, ...]:
    """Images in ``folder``, or the demo photos (fetched once, then cached)."""
    from alphacut.errors import AlphacutError, InputError
    from alphacut.pipeline.decode import is_image_name

    if folder is not None:
        if not folder.is_dir():
            raise InputError(folder, "not a folder")
        files = tuple(sorted(p for p in folder.iterdir() if p.is_file() and is_image_name(p)))
        if not files:
            raise InputError(folder, "no images in folder")
        return files
    from alphacut.samples import ensure_samples

    try:
        return tuple(ensure_samples())
    except AlphacutError as exc:
        raise AlphacutError(f"cannot get the demo photos ({exc}); pass --images DIR") from exc


def run(args: argparse.Namespace) -> int:
    from alphacut.bench.command_options import emit, step_progress
    from alphacut.bench.hardware import HardwareSettings, expand_providers, run_hardware_bench
    from alphacut.bench.report import hardware_csv_rows, hardware_table
    from alphacut.errors import ConfigError

    if args.runs < 1 or args.warmup < 0:
        raise ConfigError("--runs must be at least 1 and --warmup at least 0")
    providers, skipped = expand_providers(args.providers)
    settings = HardwareSettings(
        images=default_images(args.images),
        model=args.model,
        providers=providers,
        runs=args.runs,
        warmup=args.warmup,
        threads=args.threads,
        refine=args.refine,
    )
    with step_progress("bench hardware") as progress:
        report = run_hardware_bench(settings, on_progress=progress, skipped=skipped)
    emit(args, report.as_dict(), hardware_table(report), hardware_csv_rows(report))
    return 0 if report.adapters else 1
