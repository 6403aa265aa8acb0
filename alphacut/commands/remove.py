"""``alphacut remove``: the headless batch job."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from alphacut.choices import OUTPUT_FORMATS, PRECISIONS, REFINE_MODES
from alphacut.models.catalogue import DEFAULT_MODEL

DEFAULT_OUT = "cutouts"


def register(sub: Any) -> None:
    """Add the ``remove`` sub-command."""
    p = sub.add_parser(
        "remove",
        help="remove backgrounds from images and folders",
        description=(
            "Remove the background of each image and write cutouts to OUT, keeping the input "
            "folder tree. Inputs are never overwritten; every write is a temp file then a rename."
        ),
    )
    p.add_argument("paths", nargs="+", type=path_or_uri, metavar="PATH",
                   help="image files or folders (with --engine ray also URIs, e.g. s3://b/x)")
    p.add_argument("-o", "--output", type=path_or_uri, default=Path(DEFAULT_OUT), metavar="OUT",
                   help=f"output folder (default: ./{DEFAULT_OUT})")
    p.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders")
    add_engine_options(p)
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process (default); ray: a Ray cluster, with Ray Data "
                   "(pip install 'alphacut[ray]')")
    p.add_argument("--ray-address", metavar="ADDR", default=None,
                   help="Ray cluster to join, e.g. 'auto' or 'ray://head:10001' "
                   "(default: $RAY_ADDRESS if set, else start one on this machine)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="Ray actors, each with one model session of --threads threads "
                   "(default: the cluster's CPUs / threads)")
    add_output_options(p)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per image (and a summary) on stdout")
    add_review_options(p)
    p.set_defaults(func=run)


def path_or_uri(text: str) -> Path | str:
    """A local path, or a URI kept as text (``Path`` would fold ``s3://`` into ``s3:/``)."""
    from alphacut.engines import is_uri

    return text if is_uri(text) else Path(text)


def add_review_options(p: argparse.ArgumentParser) -> None:
    """How cutouts are judged, and what is done with the doubtful ones."""
    p.add_argument("--review-below", type=_unit_interval, default=None, metavar="X",
                   help="flag cutouts whose confidence (0..1) is below X for review "
                        "(default: 0.5, more likely wrong than right)")
    p.add_argument("--second-opinion", default=None, metavar="MODEL",
                   help="re-run only the flagged images with a stronger MODEL (e.g. u2net); "
                        "its cutout replaces the first unless it is much less sure of it")


def _unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return value


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that runs the model."""
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="model name (see 'alphacut models list')")
    p.add_argument("--provider", default="auto", metavar="NAME[:DEVICE]",
                   help="auto | cpu | openvino[:CPU|GPU|NPU] | directml[:ID] | cuda[:ID]")
    p.add_argument("--strict", action="store_true",
                   help="a forced --provider that is missing or fails is an error, not a fallback")
    p.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="bf16 runs ~2x faster with OpenVINO on CPUs with bf16 units; "
                   "masks change slightly (default: fp32, exact)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU inference threads (default: physical cores)")
    p.add_argument("--refine", choices=REFINE_MODES, default=None,
                   help="edge refinement at full resolution (default: matting; none is fastest)")
    p.add_argument("--decontaminate", action=argparse.BooleanOptionalAction, default=None,
                   help="estimate true foreground colour at soft edges (changes edge RGB)")
    p.add_argument("--max-pixels", type=float, default=100.0, metavar="MP",
                   help="refuse images above this many megapixels (default: 100)")


def add_output_options(p: argparse.ArgumentParser) -> None:
    """Options that shape the written files."""
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="png")
    p.add_argument("--quality", type=int, default=90, help="quality for webp-lossy and jpg")
    p.add_argument("--mask-only", action="store_true", help="write the alpha mask (8-bit grey)")
    p.add_argument("--bg", metavar="COLOR", help="flatten onto a colour, e.g. '#ffffff'")
    p.add_argument("--bg-image", type=Path, metavar="FILE",
                   help="flatten onto an image (scaled to cover the frame)")
    p.add_argument("--crop", nargs="?", type=int, const=0, default=None, metavar="MARGIN",
                   help="crop to the subject, with MARGIN pixels around it")
    p.add_argument("--png-level", type=int, default=None, metavar="0-9",
                   help="PNG (zlib-ng) compression level (default: 2, best speed for size)")
    p.add_argument("--keep-hidden-rgb", action="store_true",
                   help="keep the photo's colours under fully transparent pixels (PNG/WebP; "
                        "about 2x larger, slower files; lets an editor re-matte later)")
    policy = p.add_mutually_exclusive_group()
    policy.add_argument("--skip-existing", action="store_true", help="skip outputs that exist")
    policy.add_argument("--overwrite", action="store_true",
                        help="replace outputs alphacut wrote before (never other files)")


def output_options(args: argparse.Namespace) -> Any:
    """Build validated OutputOptions from parsed arguments."""
    from alphacut.pipeline.output import OutputOptions, parse_color

    kwargs: dict[str, Any] = {
        "format": args.format,
        "quality": args.quality,
        "mask_only": args.mask_only,
        "bg": parse_color(args.bg) if args.bg else None,
        "bg_image": args.bg_image,
        "crop_margin": args.crop,
        "existing": "skip" if args.skip_existing else "overwrite" if args.overwrite else "error",
        "keep_hidden_rgb": args.keep_hidden_rgb,
    }
    if args.png_level is not None:
        kwargs["png_compress_level"] = args.png_level
    options = OutputOptions(**kwargs)
    options.validate()
    return options


def remove_options(args: argparse.Namespace) -> Any:
    """Build RemoveOptions from parsed arguments (unset values keep the measured defaults)."""
    from alphacut.pipeline.remover import RemoveOptions

    kwargs: dict[str, Any] = {"max_pixels": int(args.max_pixels * 1_000_000)}
    if args.refine is not None:
        kwargs["refine"] = args.refine
    if args.decontaminate is not None:
        kwargs["decontaminate"] = args.decontaminate
    return RemoveOptions(**kwargs)


def run(args: argparse.Namespace) -> int:
    """Plan, run and summarise a batch; exit 0 if all done, 1 if any failed, 2 on usage errors."""
    from alphacut.engines import RAY_MISSING, is_uri, ray_installed
    from alphacut.errors import ConfigError
    from alphacut.report import BatchReporter

    engine = getattr(args, "engine", "local")
    if engine == "ray" and not ray_installed():
        print(f"alphacut remove: {RAY_MISSING}", file=sys.stderr)
        return 2
    try:
        out_opts = output_options(args)
        rm_opts = remove_options(args)
    except ConfigError as exc:
        print(f"alphacut remove: error: {exc}", file=sys.stderr)
        return 2
    from alphacut.printable import printable_text

    not_a_folder = None if is_uri(str(args.output)) else _not_a_folder(Path(args.output))
    if not_a_folder:
        print(f"alphacut remove: error: {printable_text(not_a_folder)}", file=sys.stderr)
        return 2
    if engine == "ray":
        from alphacut.commands.remove_ray import run_ray

        return run_ray(args, out_opts, rm_opts)
    if any(is_uri(str(p)) for p in [*args.paths, args.output]):
        print("alphacut remove: error: URIs (s3://, gs://, file://…) need --engine ray",
              file=sys.stderr)
        return 2
    from alphacut.pipeline.jobs import plan_jobs
    from alphacut.resources import process_launched

    jobs, problems = plan_jobs(args.paths, Path(args.output), out_opts, recursive=args.recursive)
    reporter = BatchReporter(json_lines=args.json, review_below=args.review_below)
    for problem in problems:
        reporter.problem(problem.path, problem.reason)
    if not jobs:
        reporter.summary_line(0, 0, len(problems), [])
        return 1 if problems else 0
    from alphacut.errors import OutputError
    from alphacut.pipeline.output import check_writable

    try:
        check_writable(Path(args.output))
    except OutputError as exc:
        print(f"alphacut remove: error: {printable_text(str(exc))}", file=sys.stderr)
        return 1
    from alphacut.pipeline.decode_ahead import DecodeAhead

    # The first photos decode on the other core while ONNX Runtime is imported and the model
    # session opened (half a second or more of one core).
    ahead = DecodeAhead(jobs, max_pixels=rm_opts.max_pixels, existing=out_opts.existing)
    try:
        second_path = _second_model(args.second_opinion)  # refused before the batch starts
        from alphacut.accel.threads import batch_streams
        from alphacut.pipeline.jobs import median_file_bytes

        remover = _open_remover(
            args, rm_opts, args.model,
            streams=batch_streams(len(jobs), median_file_bytes([job.source for job in jobs])),
        )
    except BaseException:
        ahead.discard()
        raise
    from alphacut.commands.batch_end import finish, stop_on_signals
    from alphacut.pipeline.batch import BatchRunner
    from alphacut.pipeline.tally import BatchTally
    from alphacut.resources import peak_rss_mb

    reporter.started(len(jobs), remover.provider, remover.runner.reason)
    startup = time.time() - process_launched()
    for note in remover.runner.notes:
        print(f"note: {note}", file=sys.stderr)
    tally = BatchTally(problems=len(problems))
    results = []
    with stop_on_signals() as stop, reporter.progress(len(jobs)) as advance:
        for result in BatchRunner(remover, out_opts, ahead=ahead).run(
                jobs, cancel=stop.event):
            advance(result)
            results.append(result)
            tally.add(result)
    if second_path is not None and stop.signum is None:
        _run_second_opinion(args, second_path, results, out_opts, rm_opts, reporter)
    events = remover.runner.fallback_summary(len(jobs))
    engine_info = {"engine": "local", "threads": remover.runner.threads,
                   "streams": remover.runner.concurrency,
                   "startup_s": round(startup, 3), "driver_peak_rss_mb": round(peak_rss_mb(), 1)}
    return finish(reporter, tally, events, stop.signum, engine_info)


def _not_a_folder(output: Path) -> str | None:
    """Why ``-o`` cannot be a folder (it or a parent is an existing file), else None."""
    for path in (output, *output.parents):
        if path.is_dir():
            return None
        if path.exists() or path.is_symlink():
            what = "-o" if path == output else "a parent of -o"
            return f"{what} names {path}, which exists and is not a folder"
    return None


def _open_remover(
    args: argparse.Namespace,
    rm_opts: Any,
    model: str,
    *,
    streams: int = 1,
    model_path: Path | None = None,
) -> Any:
    """A Remover for ``model`` on the command's provider, threads and precision."""
    from alphacut.pipeline.remover import Remover

    return Remover.open(
        model,
        provider=args.provider,
        strict=args.strict,
        threads=args.threads,
        options=rm_opts,
        precision=args.precision,
        model_path=model_path,
        streams=streams,
    )


def _second_model(name: str | None) -> Path | None:
    """The verified file of the ``--second-opinion`` model (never downloads), or None."""
    if name is None:
        return None
    from alphacut.models.store import ModelStore

    return ModelStore().resolve(name).path


def _run_second_opinion(
    args: argparse.Namespace,
    model_path: Path,
    results: list[Any],
    out_opts: Any,
    rm_opts: Any,
    reporter: Any,
) -> None:
    """Re-run the flagged cutouts with the second model; the reporter says what changed."""
    from alphacut.pipeline.second_opinion import flagged, second_opinion

    below = reporter.review_below
    chosen = flagged(results, below)
    if not chosen:
        return
    second = _open_remover(args, rm_opts, args.second_opinion, model_path=model_path)
    with reporter.second_opinion(args.second_opinion, len(chosen)) as verdict:
        for outcome in second_opinion(
            second, chosen, out_opts, below=below, model=args.second_opinion
        ):
            verdict(outcome)
