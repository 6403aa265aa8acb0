"""``alphacut bench quality``: masks against ground truth, optionally beside rembg's."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alphacut.bench.command_options import add_output_options
from alphacut.models.catalogue import DEFAULT_MODEL

REFINE_CHOICES: tuple[str, ...] = ("none", "guided", "matting")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "quality",
        help="mask quality against a labelled dataset (and against rembg)",
        description=(
            "DIR holds images/NAME.* and masks/NAME.png. Scores: MAE, max F-measure "
            "(beta^2 = 0.3), S-measure, E-measure, weighted F, IoU at 0.5 (pysodmetrics), "
            "and SAD/1000, MSE and gradient error for alpha mattes. Needs the bench extra: "
            "pip install 'alphacut[bench]'."
        ),
    )
    p.add_argument("--dataset", type=Path, required=True, metavar="DIR")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--provider", default="auto", metavar="NAME[:DEVICE]")
    p.add_argument("--refine", choices=REFINE_CHOICES, default=None,
                   help="refine mode to score (default: the one 'alphacut remove' uses)")
    p.add_argument("--vs", choices=("rembg",), default=None, dest="vs",
                   help="also run rembg with the same model file on the same images")
    p.add_argument("--rembg-bin", default=None, metavar="PATH",
                   help="rembg executable (default: $ALPHACUT_REMBG, then rembg on PATH)")
    p.add_argument("--masks-dir", type=Path, default=None, metavar="DIR",
                   help="keep every tool's masks here (default: a temporary folder)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="first N images only")
    p.add_argument("--confidence", action="store_true",
                   help="judge the per-image confidence: AUROC for failures (IoU@0.5 < 0.8) "
                        "and the share of failures caught when 10/20/30 %% are flagged")
    p.add_argument("--second-opinion", default=None, metavar="MODEL",
                   help="also score 'remove --second-opinion MODEL' (implies --confidence): "
                        "MAE/SAD against the plain run and the wall-time ratio")
    p.add_argument("--review-below", type=float, default=None, metavar="X",
                   help="confidence threshold for flagging (default: as 'alphacut remove')")
    add_output_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from alphacut.bench.command_options import emit, step_progress
    from alphacut.bench.metrics import MissingMetricsLibrary
    from alphacut.bench.quality import QualitySettings, run_quality_bench
    from alphacut.bench.report import quality_table
    from alphacut.errors import ConfigError
    from alphacut.pipeline.confidence import DEFAULT_REVIEW_BELOW
    from alphacut.pipeline.matte import DEFAULT_REFINE

    settings = QualitySettings(
        dataset=args.dataset,
        model=args.model,
        provider=args.provider,
        refine=args.refine or DEFAULT_REFINE,
        vs_rembg=args.vs == "rembg",
        rembg_bin=args.rembg_bin,
        masks_dir=args.masks_dir,
        limit=args.limit,
        confidence=args.confidence,
        second_opinion=args.second_opinion,
        review_below=DEFAULT_REVIEW_BELOW if args.review_below is None else args.review_below,
    )
    try:
        with step_progress("bench quality") as progress:
            report = run_quality_bench(settings, on_progress=progress)
    except MissingMetricsLibrary as exc:
        raise ConfigError(str(exc)) from None
    emit(args, report.as_dict(), quality_table(report), report.csv_rows())
    return 0
