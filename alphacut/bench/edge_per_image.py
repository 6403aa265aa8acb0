"""Per-image comparison of the default refine mode against ``--refine none``.

    python -m alphacut.bench.edge_quality per-image --data ../shared/data [--json FILE]

For each dev set (``matting-dev`` true mattes, ``ecssd-dev`` and ``pascal-dev`` masks) and each
image: SAD/1000 and MAE for ``none`` and for the default, none's IoU at 0.5, and what the
matting gate decided. The model runs once per image; both alphas come from that one mask.
An image where the default is worse than none is marked ``worse``; one beyond issue 13's
bounds (SAD more than 3 % worse, or MAE more than 0.005 worse) is marked ``WORSE!``.
A ground truth with real partial opacity (:func:`alphacut.bench.metrics.is_matte`: true
mattes, and graded PASCAL-S masks with enough grey) is compared as it is; any other is
binarised at 128. IoU always thresholds both sides at 0.5 (128).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from alphacut.models.catalogue import DEFAULT_MODEL

DEV_SETS: tuple[str, ...] = ("matting-dev", "ecssd-dev", "pascal-dev")
# Issue 13's bounds on any one image's regression against none.
SAD_SLACK = 0.03
MAE_SLACK = 0.005


@dataclass
class ImageRow:
    """One image's scores for none and for the default."""

    dataset: str
    name: str
    sad_none: float
    sad_default: float
    mae_none: float
    mae_default: float
    iou_none: float
    decision: str

    @property
    def worse(self) -> bool:
        return self.sad_default > self.sad_none or self.mae_default > self.mae_none

    @property
    def beyond_bounds(self) -> bool:
        return (
            self.sad_default > self.sad_none * (1 + SAD_SLACK)
            or self.mae_default > self.mae_none + MAE_SLACK
        )


def alpha_scores(alpha: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """SAD/1000, MAE and IoU at 0.5 of a uint8 alpha against a uint8 truth."""
    a = alpha.astype(np.float64) / 255.0
    t = truth.astype(np.float64) / 255.0
    error = np.abs(a - t)
    inside, truly = a >= 0.5, t >= 0.5
    union = np.count_nonzero(inside | truly)
    iou = np.count_nonzero(inside & truly) / union if union else 1.0
    return float(error.sum() / 1000.0), float(error.mean()), float(iou)


def compare_set(dataset: Path, remover) -> list[ImageRow]:
    """Score none and the default on every image of ``dataset`` (one inference each)."""
    from alphacut.bench.metrics import is_matte
    from alphacut.bench.quality import find_samples, read_grey
    from alphacut.pipeline.matte import DEFAULT_REFINE, make_alpha
    from alphacut.pipeline.matting import matting_with_decision

    rows = []
    for sample in find_samples(dataset)[0]:
        name, image, mask_path = sample.name, sample.image, sample.mask
        cutout = remover.remove(image)
        truth = read_grey(mask_path, cutout.rgb.size)
        if not is_matte(truth):
            truth = np.where(truth > 128, 255, 0).astype(np.uint8)
        if DEFAULT_REFINE == "matting":
            default, decision = matting_with_decision(cutout.mask, cutout.rgb)
            summary = decision.summary()
        else:
            default, summary = make_alpha(cutout.mask, cutout.rgb), DEFAULT_REFINE
        sad_none, mae_none, iou_none = alpha_scores(np.asarray(cutout.alpha), truth)
        sad_default, mae_default, _ = alpha_scores(np.asarray(default), truth)
        rows.append(
            ImageRow(
                dataset.name, name, sad_none, sad_default, mae_none, mae_default, iou_none,
                summary,
            )
        )
    return rows


def format_rows(rows: list[ImageRow]) -> str:
    """A markdown table per image and a summary line, for one dev set."""
    if not rows:
        return ""
    lines = [
        f"### {rows[0].dataset}",
        "| image | SAD none | SAD default | MAE none | MAE default | IoU none | gate | |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        mark = "WORSE!" if row.beyond_bounds else "worse" if row.worse else ""
        lines.append(
            f"| {row.name} | {row.sad_none:.3f} | {row.sad_default:.3f} | {row.mae_none:.4f} | "
            f"{row.mae_default:.4f} | {row.iou_none:.3f} | {row.decision} | {mark} |"
        )
    lines.append(summary_line(rows))
    return "\n".join(lines)


def summary_line(rows: list[ImageRow]) -> str:
    """Means, the share of images made worse, and the worst relative SAD change."""
    sad_none = float(np.mean([r.sad_none for r in rows]))
    sad_default = float(np.mean([r.sad_default for r in rows]))
    good = [r for r in rows if r.iou_none >= 0.9]
    change = [(r.sad_default - r.sad_none) / max(r.sad_none, 1e-9) for r in rows]
    worst = int(np.argmax(change))
    text = (
        f"{rows[0].dataset}: {len(rows)} images, mean SAD none {sad_none:.3f} -> default "
        f"{sad_default:.3f} ({(sad_default / sad_none - 1) * 100:+.1f} %), mean MAE none "
        f"{np.mean([r.mae_none for r in rows]):.4f} -> {np.mean([r.mae_default for r in rows]):.4f}"
        f"; worse on {sum(r.worse for r in rows)}, beyond bounds on "
        f"{sum(r.beyond_bounds for r in rows)}; largest SAD change {change[worst] * 100:+.1f} % "
        f"({rows[worst].name}), largest MAE change "
        f"{max(r.mae_default - r.mae_none for r in rows):+.4f}"
    )
    if good:
        gain = np.mean([r.sad_default for r in good]) / np.mean([r.sad_none for r in good]) - 1
        text += f"; images with IoU >= 0.9: {len(good)}, SAD {gain * 100:+.1f} %"
    return text


def run_per_image(argv: list[str]) -> int:
    """The ``per-image`` subcommand."""
    from alphacut.pipeline.remover import RemoveOptions, Remover

    parser = argparse.ArgumentParser(prog="python -m alphacut.bench.edge_quality per-image")
    parser.add_argument(
        "--data", type=Path, required=True, help="folder holding the dev sets"
    )
    parser.add_argument("--sets", default=",".join(DEV_SETS))
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--provider", default="cpu")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    remover = Remover.open(args.model, provider=args.provider, options=RemoveOptions("none"))
    found = []
    for name in args.sets.split(","):
        if (args.data / name).is_dir():
            rows = compare_set(args.data / name, remover)
            print(format_rows(rows), flush=True)
            found += rows
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in found], indent=2))
    return 0
