"""Memory benchmark: does resident memory stay flat over a long batch?

Runs one real batch (decode, inference, alpha, encode, atomic write) over a folder's
images, cycled to ``--count``, in this one process, and samples RSS after every image::

    python -m alphacut.bench.memory --images DIR --count 300
    python -m alphacut.bench.memory --images PHOTOS --count 100 --max-peak-mb 600

It reports RSS after warm-up, at the end, the peak (the kernel's high-water mark, so a
short spike between samples still counts) and the slope after warm-up in MB per 100
images. A leak of even a few hundred KB per image shows as a slope; allocator noise
does not. ``--max-growth-mb`` and ``--max-peak-mb`` turn it into a pass/fail gate.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alphacut.choices import REFINE_MODES
from alphacut.models.catalogue import DEFAULT_MODEL
from alphacut.resources import MB, peak_rss_mb


@dataclass(frozen=True)
class MemoryReport:
    """RSS figures for one run, in MiB."""

    images: int
    warmup: int
    distinct_inputs: int
    mean_megapixels: float
    provider: str
    seconds: float
    rss_start_mb: float  # after the model is loaded, before the first image
    rss_after_warmup_mb: float
    rss_end_mb: float
    rss_max_sampled_mb: float
    peak_rss_mb: float  # the process high-water mark (includes spikes between samples)
    growth_after_warmup_mb: float
    slope_mb_per_100: float  # least-squares slope of RSS over the images after warm-up
    failed: int

    def flat(self, max_growth_mb: float) -> bool:
        """True when RSS after warm-up grew by at most ``max_growth_mb``."""
        return self.growth_after_warmup_mb <= max_growth_mb


def rss_mb() -> float:
    """This process's resident set size now."""
    import psutil

    return psutil.Process().memory_info().rss / MB


def slope_per_100(samples: Sequence[float]) -> float:
    """Least-squares slope of ``samples`` (one per image), in units per 100 images."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(samples) / n
    cov = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(samples))
    var = sum((i - mean_x) ** 2 for i in range(n))
    return cov / var * 100


def summarise(
    samples: Sequence[float],
    *,
    warmup: int,
    start_mb: float,
    peak_mb: float,
    provider: str = "",
    seconds: float = 0.0,
    distinct_inputs: int = 0,
    mean_megapixels: float = 0.0,
    failed: int = 0,
) -> MemoryReport:
    """Turn per-image RSS samples (MiB) into a report; ``warmup`` images are excluded."""
    if len(samples) <= warmup:
        raise ValueError(f"need more than {warmup} samples after warm-up, got {len(samples)}")
    after = list(samples[warmup - 1 :]) if warmup > 0 else list(samples)
    return MemoryReport(
        images=len(samples),
        warmup=warmup,
        distinct_inputs=distinct_inputs,
        mean_megapixels=round(mean_megapixels, 3),
        provider=provider,
        seconds=round(seconds, 2),
        rss_start_mb=round(start_mb, 1),
        rss_after_warmup_mb=round(after[0], 1),
        rss_end_mb=round(samples[-1], 1),
        rss_max_sampled_mb=round(max(samples), 1),
        peak_rss_mb=round(max(peak_mb, max(samples)), 1),
        growth_after_warmup_mb=round(samples[-1] - after[0], 1),
        slope_mb_per_100=round(slope_per_100(after), 2),
        failed=failed,
    )


def image_files(folder: Path) -> list[Path]:
    """The images directly in ``folder``, sorted by name."""
    from alphacut.pipeline.decode import is_image_name

    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_name(p))


def run_benchmark(
    remover: object,
    images: Sequence[Path],
    out_dir: Path,
    *,
    count: int,
    warmup: int,
) -> MemoryReport:
    """Process ``count`` images (cycling ``images``) in one batch and sample RSS per image.

    Outputs overwrite one file per distinct input, so disk use stays bounded.
    """
    from PIL import Image

    from alphacut.pipeline.batch import BatchRunner
    from alphacut.pipeline.jobs import Job
    from alphacut.pipeline.output import OutputOptions

    if not images:
        raise ValueError("no images to process")
    pixels = []
    for path in images:
        with Image.open(path) as img:
            pixels.append(img.width * img.height / 1e6)
    jobs = [
        Job(source=images[i % len(images)], dest=out_dir / f"{i % len(images):04d}.png")
        for i in range(count)
    ]
    runner = BatchRunner(remover, OutputOptions(existing="overwrite"))  # type: ignore[arg-type]
    start_mb = rss_mb()
    samples: list[float] = []
    failed = 0
    started = time.perf_counter()
    for result in runner.run(jobs):
        if result.status != "done":
            failed += 1
        samples.append(rss_mb())
    seconds = time.perf_counter() - started
    return summarise(
        samples,
        warmup=warmup,
        start_mb=start_mb,
        peak_mb=peak_rss_mb(),
        provider=getattr(remover, "provider", ""),
        seconds=seconds,
        distinct_inputs=len(images),
        mean_megapixels=sum(pixels) / len(pixels),
        failed=failed,
    )


def _format(report: MemoryReport, max_growth_mb: float) -> str:
    rate = report.images / report.seconds if report.seconds else 0.0
    verdict = "flat" if report.flat(max_growth_mb) else "GROWING"
    return "\n".join(
        [
            f"memory: {report.images} images ({report.distinct_inputs} distinct, "
            f"{report.mean_megapixels:.1f} MP mean) on {report.provider} in "
            f"{report.seconds:.0f} s ({rate:.2f} images/s); {report.failed} failed",
            f"  RSS before the first image  {report.rss_start_mb:8.1f} MB",
            f"  RSS after {report.warmup:3d} warm-up      {report.rss_after_warmup_mb:8.1f} MB",
            f"  RSS at the end              {report.rss_end_mb:8.1f} MB",
            f"  peak RSS (high-water mark)  {report.peak_rss_mb:8.1f} MB",
            f"  growth after warm-up        {report.growth_after_warmup_mb:+8.1f} MB  ({verdict}, "
            f"tolerance {max_growth_mb:.0f} MB)",
            f"  slope after warm-up         {report.slope_mb_per_100:+8.2f} MB per 100 images",
        ]
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options, shared by ``python -m`` and ``alphacut bench memory``."""
    parser.add_argument("--images", type=Path, required=True, metavar="DIR",
                        help="folder of images, cycled until --count")
    parser.add_argument("--count", type=int, default=300, help="images to process (default 300)")
    parser.add_argument("--warmup", type=int, default=30,
                        help="images before the baseline is taken (default 30)")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    # The adapter 'alphacut remove' would use: the bound is about what users run. The CPU
    # provider alone peaks ~100 MB higher on 13 MP photos (it keeps its memory arena).
    parser.add_argument("--provider", default="auto", metavar="NAME[:DEVICE]",
                        help="adapter to measure (default: auto, as 'alphacut remove')")
    # The bound is about the default pipeline; 'none' measures the same batch without the
    # refine step, so the two can be compared on one machine.
    parser.add_argument("--refine", choices=REFINE_MODES, default=None,
                        help="refine mode to measure (default: as 'alphacut remove')")
    parser.add_argument("--max-growth-mb", type=float, default=25.0,
                        help="fail when RSS grows more than this after warm-up (default 25)")
    parser.add_argument("--max-peak-mb", type=float, default=None,
                        help="fail when the peak RSS exceeds this (e.g. 600 for 12 MP photos)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where outputs go (default: a temp folder, deleted afterwards)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


_DESCRIPTION = "Run one long batch and check that resident memory stays flat."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m alphacut.bench.memory", description=_DESCRIPTION
    )
    add_arguments(parser)
    return parser


def register(sub: Any) -> None:
    """``alphacut bench memory``: the same benchmark as a bench sub-command."""
    parser = sub.add_parser(
        "memory", help="RSS over one long batch: flat after warm-up, peak", description=_DESCRIPTION
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 1 when a gate fails, 2 on bad arguments."""
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the benchmark for parsed arguments."""
    from alphacut.allocator import apply_process_settings
    from alphacut.errors import AlphacutError

    apply_process_settings()  # as the CLI does, so the numbers are the CLI's
    from alphacut.pipeline.remover import RemoveOptions, Remover

    if args.count < 2 or not 0 <= args.warmup < args.count:
        print("error: need --count >= 2 and 0 <= --warmup < --count", file=sys.stderr)
        return 2
    if not args.images.is_dir():
        print(f"error: {args.images}: not a folder", file=sys.stderr)
        return 2
    images = image_files(args.images)
    if not images:
        print(f"error: {args.images}: no images", file=sys.stderr)
        return 2
    try:
        # The streams 'alphacut remove' would open for this batch: they cost memory.
        from alphacut.accel.threads import batch_streams
        from alphacut.pipeline.jobs import median_file_bytes

        options = RemoveOptions() if args.refine is None else RemoveOptions(refine=args.refine)
        remover = Remover.open(args.model, provider=args.provider, options=options,
                               streams=batch_streams(args.count, median_file_bytes(images)))
    except AlphacutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="alphacut-memory-") as tmp:
        out_dir = args.out or Path(tmp)
        report = run_benchmark(remover, images, out_dir, count=args.count, warmup=args.warmup)
    if args.json:
        record = {**asdict(report), "refine": remover.options.refine,
                  "flat": report.flat(args.max_growth_mb),
                  "max_growth_mb": args.max_growth_mb, "max_peak_mb": args.max_peak_mb}
        print(json.dumps(record))
    else:
        print(_format(report, args.max_growth_mb))
    ok = report.flat(args.max_growth_mb) and report.failed == 0
    if args.max_peak_mb is not None and report.peak_rss_mb > args.max_peak_mb:
        print(f"peak RSS {report.peak_rss_mb:.0f} MB is above --max-peak-mb "
              f"{args.max_peak_mb:.0f}", file=sys.stderr)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
