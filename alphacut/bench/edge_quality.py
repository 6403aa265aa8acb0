"""Edge-quality benchmark: refine modes x colour decontamination, accuracy, time and memory.

    python -m alphacut.bench.edge_quality --data DIR [--photos DIR] [--json FILE]
    python -m alphacut.bench.edge_quality per-image --data DIR [--sets matting-dev,ecssd-dev]
    python -m alphacut.bench.edge_quality peak-rss IMAGE --refine matting --decontaminate
    python -m alphacut.bench.edge_quality peak-rss --synthetic-mp 24 --refine guided

The first form prints, for each refine mode, the matting metrics on ``matting-dev`` (SAD/1000,
MSE, gradient error), a composite error with and without decontamination, MAE and max F on
``ecssd-dev``, and seconds per image on an ~800 px photo and on real photos of 6 MP or more,
plus the peak RSS of a whole remove of a synthetic 24 MP photo in a fresh process, and then,
for each dev set separately, every image's SAD for ``none`` and for the default with the
images where the default is worse marked (:mod:`alphacut.bench.edge_per_image`).

Composite error: each cutout is laid over a flat colour that contrasts with the photo's own
background, and compared with the ground-truth alpha laid over the same colour with the
foreground colours pymatting estimates from that ground truth. Colour fringes from the old
background raise it; decontamination should lower it. It is summed like SAD (0..1 per
channel, averaged over channels, divided by 1000).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from alphacut.bench.edge_per_image import DEV_SETS, compare_set, format_rows, run_per_image
from alphacut.bench.peak_rss import measure_peak_rss, run_peak_rss, synthetic_photo

__all__ = ["main", "measure_peak_rss", "synthetic_photo"]

MODES: tuple[str, ...] = ("none", "guided", "matting")
BIG_PHOTO_PIXELS = 6_000_000


@dataclass
class ModeRow:
    """One refine mode's scores."""

    mode: str
    sad: float = 0.0
    mse: float = 0.0
    grad: float = 0.0
    composite: float = 0.0
    composite_decontaminated: float = 0.0
    mae: float = float("nan")
    max_f: float = float("nan")
    seconds_small: float = float("nan")
    seconds_big: float = float("nan")
    seconds_decontaminate_big: float = float("nan")
    stages_big: dict[str, float] = field(default_factory=dict)


def _remover(mode: str, model: str, provider: str):
    from alphacut.pipeline.remover import RemoveOptions, Remover

    return Remover.open(model, provider=provider, options=RemoveOptions(refine=mode))


def contrasting_background(rgb: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The complement of the photo's mean background colour (float 0..1, shape (3,))."""
    background = gt < 13
    mean = rgb[background].mean(axis=0) if background.any() else rgb.reshape(-1, 3).mean(axis=0)
    return 1.0 - mean / 255.0


def composite_error(
    colours: np.ndarray, alpha: np.ndarray, reference: np.ndarray, background: np.ndarray
) -> float:
    """Sum of absolute differences between two composites over ``background``, / 1000."""
    a = alpha.astype(np.float32)[..., None] / 255.0
    ours = a * colours.astype(np.float32) / 255.0 + (1 - a) * background
    return float(np.abs(ours - reference).mean(axis=2).sum() / 1000.0)


def _samples(dataset: Path) -> list[tuple[str, Path, Path]]:
    from alphacut.bench.quality import find_samples

    samples, _ = find_samples(dataset)
    return [(s.name, s.image, s.mask) for s in samples]


def score_matting(rows: dict[str, ModeRow], dataset: Path, model: str, provider: str) -> None:
    """SAD/MSE/gradient error and composite errors on a folder of true alpha mattes."""
    from pymatting import estimate_foreground_ml

    from alphacut.bench.metrics import matting_scores
    from alphacut.bench.quality import read_grey
    from alphacut.pipeline.refine import decontaminate

    references = {}
    for name, image, mask in _samples(dataset):
        rgb = np.asarray(Image.open(image).convert("RGB"))
        gt = read_grey(mask, (rgb.shape[1], rgb.shape[0]))
        fg = estimate_foreground_ml(rgb / 255.0, gt / 255.0)
        background = contrasting_background(rgb, gt)
        a = gt.astype(np.float32)[..., None] / 255.0
        references[name] = (gt, background, a * fg + (1 - a) * background)
    for mode, row in rows.items():
        remover = _remover(mode, model, provider)
        scores = []
        for name, image, _ in _samples(dataset):
            gt, background, reference = references[name]
            cutout = remover.remove(image)
            alpha = np.asarray(cutout.alpha)
            scores.append(matting_scores(alpha, gt))
            plain = composite_error(np.asarray(cutout.rgb), alpha, reference, background)
            clean = np.asarray(decontaminate(cutout.rgb, cutout.alpha))
            scores[-1]["composite"] = plain
            scores[-1]["composite_decontaminated"] = composite_error(
                clean, alpha, reference, background
            )
        for key in ("sad", "mse", "grad", "composite", "composite_decontaminated"):
            setattr(row, key, float(np.mean([s[key] for s in scores])))


def score_sod(rows: dict[str, ModeRow], dataset: Path, model: str, provider: str) -> None:
    """MAE and max F (pysodmetrics) on a salient-object folder."""
    from alphacut.bench.metrics import MetricSet
    from alphacut.bench.quality import read_grey

    for mode, row in rows.items():
        remover = _remover(mode, model, provider)
        metrics = MetricSet()
        for name, image, mask in _samples(dataset):
            alpha = np.asarray(remover.remove(image).alpha)
            metrics.add(name, alpha, read_grey(mask, (alpha.shape[1], alpha.shape[0])))
        summary = metrics.summary()
        row.mae, row.max_f = summary["mae"], summary["max_f"]


def _median_seconds(remover, path: Path, repeats: int) -> tuple[float, dict[str, float]]:
    remover.remove(path)  # warm-up: first call loads pymatting's compiled kernels
    runs = []
    for _ in range(repeats):
        cutout = remover.remove(path)
        runs.append(cutout.timings.as_dict())
    middle = sorted(runs, key=lambda t: t["total"])[len(runs) // 2]
    return middle["total"] / 1000.0, middle


def score_time(
    rows: dict[str, ModeRow], small: Path, big: list[Path], model: str, provider: str, repeats: int
) -> None:
    """Median seconds per image for each mode, interleaved so machine load hits all alike."""
    from alphacut.pipeline.refine import decontaminate

    removers = {mode: _remover(mode, model, provider) for mode in rows}
    big_times: dict[str, list[float]] = {mode: [] for mode in rows}
    decon_times: dict[str, list[float]] = {mode: [] for mode in rows}
    for mode, remover in removers.items():
        rows[mode].seconds_small = _median_seconds(remover, small, repeats)[0]
    for path in big:
        for mode, remover in removers.items():
            seconds, stages = _median_seconds(remover, path, max(1, repeats // 2))
            big_times[mode].append(seconds)
            rows[mode].stages_big = stages
            cutout = remover.remove(path)
            start = time.perf_counter()
            decontaminate(cutout.rgb, cutout.alpha)
            decon_times[mode].append(time.perf_counter() - start)
    for mode in rows:
        if big_times[mode]:
            rows[mode].seconds_big = statistics.median(big_times[mode])
            rows[mode].seconds_decontaminate_big = statistics.median(decon_times[mode])


def _big_photos(folder: Path | None) -> list[Path]:
    if folder is None or not folder.is_dir():
        return []
    from alphacut.pipeline.decode import is_image_name

    found = []
    for path in sorted(folder.iterdir()):
        if is_image_name(path):
            with Image.open(path) as img:
                if img.width * img.height >= BIG_PHOTO_PIXELS:
                    found.append(path)
    return found


def format_table(rows: dict[str, ModeRow], rss: list[dict[str, object]]) -> str:
    """The results as a markdown table (plus the peak-RSS lines)."""
    lines = [
        "| refine | SAD/1000 | MSE | grad | composite (plain / decontaminated) | ecssd MAE | "
        "ecssd max-F | s/img 800px | s/img >=6MP | decontaminate s >=6MP |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows.values():
        lines.append(
            f"| {row.mode} | {row.sad:.2f} | {row.mse:.4f} | {row.grad:.2f} | "
            f"{row.composite:.2f} / {row.composite_decontaminated:.2f} | {row.mae:.4f} | "
            f"{row.max_f:.4f} | {row.seconds_small:.2f} | {row.seconds_big:.2f} | "
            f"{row.seconds_decontaminate_big:.2f} |"
        )
    for record in rss:
        lines.append(
            f"peak RSS {record['size'][0]}x{record['size'][1]} refine={record['refine']} "
            f"decontaminate={record['decontaminate']}: {record['peak_rss_mb']} MB "
            f"in {record['seconds']} s, stages ms {record['stages_ms']}"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alphacut.bench.edge_quality")
    parser.add_argument(
        "--data", type=Path, required=True, help="folder holding matting-dev/ and ecssd-dev/"
    )
    parser.add_argument("--photos", type=Path, help="folder of real photos (>= 6 MP are timed)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--model", default="u2netp")
    parser.add_argument("--provider", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-big", type=int, default=3, help="time at most this many big photos")
    parser.add_argument(
        "--skip", default="", help="comma list of: matting, sod, time, rss, per-image"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["peak-rss"]:
        return run_peak_rss(argv[1:])
    if argv[:1] == ["per-image"]:
        return run_per_image(argv[1:])
    args = build_parser().parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    rows = {mode: ModeRow(mode) for mode in args.modes.split(",")}
    matting, ecssd = args.data / "matting-dev", args.data / "ecssd-dev"
    if "matting" not in skip and matting.is_dir():
        score_matting(rows, matting, args.model, args.provider)
    if "sod" not in skip and ecssd.is_dir():
        score_sod(rows, ecssd, args.model, args.provider)
    if "time" not in skip and matting.is_dir():
        small = _samples(matting)[0][1]
        big = _big_photos(args.photos)[: args.max_big]
        score_time(rows, small, big, args.model, args.provider, args.repeats)
    rss: list[dict[str, object]] = []
    if "rss" not in skip:
        with tempfile.TemporaryDirectory() as tmp:
            photo = synthetic_photo(Path(tmp) / "synthetic24.jpg", 24)
            for mode in rows:
                rss.append(measure_peak_rss(photo, mode, True, args.model, args.provider))
    print(format_table(rows, rss))
    if "per-image" not in skip:
        remover = _remover("none", args.model, args.provider)
        for name in DEV_SETS:
            if (args.data / name).is_dir():
                print(format_rows(compare_set(args.data / name, remover)), flush=True)
    if args.json:
        args.json.write_text(
            json.dumps({"rows": [asdict(r) for r in rows.values()], "peak_rss": rss}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
