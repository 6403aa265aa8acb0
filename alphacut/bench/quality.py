"""The quality benchmark: our masks (and optionally rembg's) against a labelled dataset.

A dataset folder holds ``images/NAME.*`` and ``masks/NAME.png``. Each tool writes its
masks to disk as it normally would; the metrics are computed on those files read back,
so what is scored is exactly what a user would get.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from alphacut.bench.confidence_scores import ConfidenceScores, score_confidence
from alphacut.bench.metrics import MetricSet, is_matte, worst
from alphacut.errors import AlphacutError, InputError
from alphacut.models.catalogue import DEFAULT_MODEL

if TYPE_CHECKING:
    from alphacut.pipeline.batch import JobResult

ProgressCallback = Callable[[int, int, str], None]
TOOLS: tuple[str, ...] = ("alphacut", "rembg")
SECOND_TOOL = "second-opinion"


@dataclass(frozen=True)
class Sample:
    """One labelled image."""

    name: str
    image: Path
    mask: Path


@dataclass(frozen=True)
class QualitySettings:
    dataset: Path
    model: str = DEFAULT_MODEL
    provider: str = "auto"
    refine: str = "none"
    vs_rembg: bool = False
    rembg_bin: str | None = None
    masks_dir: Path | None = None
    limit: int | None = None
    confidence: bool = False
    second_opinion: str | None = None
    review_below: float = 0.5

    def as_dict(self) -> dict[str, object]:
        return {
            "dataset": str(self.dataset),
            "model": self.model,
            "provider": self.provider,
            "refine": self.refine,
            "vs_rembg": self.vs_rembg,
            "masks_dir": str(self.masks_dir) if self.masks_dir else None,
            "limit": self.limit,
            "confidence": self.confidence,
            "second_opinion": self.second_opinion,
            "review_below": self.review_below,
        }


@dataclass
class ToolScores:
    """One tool's per-image rows and dataset summary."""

    tool: str
    names: list[str] = field(default_factory=list)
    rows: list[dict[str, float]] = field(default_factory=list)
    summary: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    detail: str = ""
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "tool": self.tool,
            "detail": self.detail,
            "seconds": round(self.seconds, 3),
            "summary": {k: round(v, 5) for k, v in self.summary.items()},
            "errors": self.errors,
        }


@dataclass
class QualityReport:
    settings: QualitySettings
    samples: list[Sample]
    tools: dict[str, ToolScores]
    matte: bool
    mask_difference: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    started: str = ""
    confidence: ConfidenceScores | None = None

    @property
    def mean_mask_difference(self) -> float | None:
        if not self.mask_difference:
            return None
        return float(np.mean(list(self.mask_difference.values())))

    def worst(self, count: int = 10) -> list[tuple[str, dict[str, float]]]:
        ours = self.tools["alphacut"]
        return worst(ours.names, ours.rows, key="mae", count=count)

    def csv_rows(self) -> list[dict[str, object]]:
        """One row per image: every tool's metrics side by side, plus the masks' difference."""
        rows: list[dict[str, object]] = []
        per_tool = {
            tool: dict(zip(scores.names, scores.rows, strict=True))
            for tool, scores in self.tools.items()
        }
        for sample in self.samples:
            row: dict[str, object] = {"image": sample.name}
            for tool, table in per_tool.items():
                for key, value in table.get(sample.name, {}).items():
                    row[f"{tool}_{key}"] = round(value, 6)
            if sample.name in self.mask_difference:
                row["mask_mean_abs_diff"] = round(self.mask_difference[sample.name], 6)
            if self.confidence and sample.name in self.confidence.per_image:
                row["alphacut_confidence"] = round(self.confidence.per_image[sample.name], 4)
            rows.append(row)
        return rows

    def as_dict(self) -> dict[str, object]:
        mad = self.mean_mask_difference
        return {
            "kind": "quality",
            "started": self.started,
            "settings": self.settings.as_dict(),
            "images": len(self.samples),
            "ground_truth": "alpha mattes" if self.matte else "binary masks",
            "tools": {tool: scores.as_dict() for tool, scores in self.tools.items()},
            "mask_mean_abs_diff": None if mad is None else round(mad, 5),
            "worst": [{"image": name, **row} for name, row in self.worst()],
            "problems": self.problems,
            "confidence": self.confidence.as_dict() if self.confidence else None,
            "second_opinion": self.second_opinion_summary(),
        }

    def second_opinion_summary(self) -> dict[str, float] | None:
        """Mean MAE and SAD with the second opinion against plain, and the wall-time ratio."""
        if SECOND_TOOL not in self.tools:
            return None
        plain, second = self.tools["alphacut"], self.tools[SECOND_TOOL]
        out: dict[str, float] = {}
        for key in ("mae", "sad"):
            before, after = plain.summary.get(key), second.summary.get(key)
            if before and after is not None:
                out[f"{key}_change"] = round(after / before - 1.0, 4)
        if plain.seconds > 0:
            out["time_ratio"] = round(second.seconds / plain.seconds, 3)
        return out


def find_samples(dataset: Path, limit: int | None = None) -> tuple[list[Sample], list[str]]:
    """Pair ``images/NAME.*`` with ``masks/NAME.png``; unpaired files become problems."""
    from alphacut.pipeline.decode import is_image_name

    images_dir, masks_dir = dataset / "images", dataset / "masks"
    if not images_dir.is_dir() or not masks_dir.is_dir():
        raise InputError(dataset, "dataset needs images/ and masks/ folders")
    samples: list[Sample] = []
    problems: list[str] = []
    for image in sorted(images_dir.iterdir()):
        if image.name.startswith(".") or not is_image_name(image):
            continue
        mask = masks_dir / f"{image.stem}.png"
        if not mask.is_file():
            problems.append(f"{image}: no ground truth at {mask}")
            continue
        samples.append(Sample(image.stem, image, mask))
    if limit is not None:
        samples = samples[:limit]
    if not samples:
        raise InputError(dataset, "no image has a matching masks/NAME.png")
    return samples, problems


def read_grey(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """An 8-bit single-channel array; RGBA files give their alpha, others their luminance."""
    with Image.open(path) as img:
        if img.mode in ("RGBA", "LA"):
            grey = img.getchannel("A")
        else:
            grey = img.convert("L")
        if size is not None and grey.size != size:
            grey = grey.resize(size, Image.Resampling.BILINEAR)
        return np.asarray(grey, dtype=np.uint8)


def _alphacut_masks(
    settings: QualitySettings,
    samples: list[Sample],
    out_dir: Path,
    on_image: Callable[[str], None],
    results: list[JobResult] | None = None,
) -> tuple[dict[str, Path], ToolScores]:
    """Write our masks with the real pipeline (mask-only PNGs) and return where they went."""
    from alphacut.pipeline.batch import BatchRunner
    from alphacut.pipeline.jobs import Job
    from alphacut.pipeline.output import OutputOptions
    from alphacut.pipeline.remover import RemoveOptions, Remover

    remover = Remover.open(
        settings.model, provider=settings.provider, options=RemoveOptions(refine=settings.refine)
    )
    output = OutputOptions(mask_only=True, existing="overwrite")
    jobs = [Job(s.image, out_dir / f"{s.name}{output.suffix()}") for s in samples]
    scores = ToolScores("alphacut", detail=f"{settings.model} on {remover.provider}, "
                        f"refine={settings.refine}")
    written: dict[str, Path] = {}
    start = time.perf_counter()
    for result in BatchRunner(remover, output).run(jobs):
        if results is not None:
            results.append(result)
        sample = samples[result.index]
        if result.status == "done":
            written[sample.name] = result.job.dest
        else:
            scores.errors.append(f"{sample.image}: {result.error or result.status}")
        on_image(sample.name)
    scores.seconds = time.perf_counter() - start
    return written, scores


def _rembg_masks(
    settings: QualitySettings, samples: list[Sample], out_dir: Path
) -> tuple[dict[str, Path], ToolScores]:
    """Run ``rembg p -m MODEL -om`` on the images (linked into one folder) with our model."""
    from alphacut.bench.rembg import find_rembg, rembg_home, run_rembg_folder
    from alphacut.models.store import ModelStore

    executable = find_rembg(settings.rembg_bin)
    model_path = ModelStore().locate(settings.model)
    scores = ToolScores("rembg", detail=f"{executable} p -m {settings.model} -om")
    with tempfile.TemporaryDirectory(prefix="alphacut-rembg-in-") as tmp, rembg_home(
        settings.model, model_path
    ) as home:
        # Only the sampled images, under their own names: rembg globs the whole folder.
        source = Path(tmp)
        for sample in samples:
            (source / sample.image.name).symlink_to(sample.image.resolve())
        start = time.perf_counter()
        run_rembg_folder(executable, settings.model, source, out_dir, home, only_mask=True)
        scores.seconds = time.perf_counter() - start
    written: dict[str, Path] = {}
    for sample in samples:
        path = out_dir / f"{sample.image.stem}.png"
        if path.is_file():
            written[sample.name] = path
        else:
            scores.errors.append(f"{sample.image}: rembg wrote no mask")
    return written, scores


def _second_opinion_masks(
    settings: QualitySettings,
    first: dict[str, Path],
    results: list[JobResult],
    plain_seconds: float,
    out_dir: Path,
) -> tuple[dict[str, Path], ToolScores]:
    """The plain masks, with the flagged ones re-run by the second model as ``remove`` does.

    Its wall time is the plain run's plus the second model's load and runs, so the ratio
    to the plain run is what ``--second-opinion`` costs.
    """
    import shutil
    from dataclasses import replace

    from alphacut.pipeline.output import OutputOptions
    from alphacut.pipeline.remover import RemoveOptions, Remover
    from alphacut.pipeline.second_opinion import second_opinion

    assert settings.second_opinion is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, path in first.items():
        written[name] = Path(shutil.copyfile(path, out_dir / path.name))
    moved = [replace(r, job=replace(r.job, dest=out_dir / r.job.dest.name)) for r in results]
    start = time.perf_counter()
    remover = Remover.open(settings.second_opinion, provider=settings.provider,
                           options=RemoveOptions(refine=settings.refine))
    verdicts = list(second_opinion(remover, moved, OutputOptions(mask_only=True),
                                   below=settings.review_below, model=settings.second_opinion))
    changed = sum(v.changed for v in verdicts)
    scores = ToolScores(
        SECOND_TOOL,
        detail=f"+ {settings.second_opinion} on {len(verdicts)} below "
        f"{settings.review_below:g}, {changed} replaced",
        seconds=plain_seconds + time.perf_counter() - start,
        errors=[f"{v.source}: {v.error}" for v in verdicts if v.error],
    )
    return written, scores


def _score(scores: ToolScores, samples: list[Sample], written: dict[str, Path]) -> None:
    metrics = MetricSet()
    for sample in samples:
        if sample.name not in written:
            continue
        gt = read_grey(sample.mask)
        pred = read_grey(written[sample.name], (gt.shape[1], gt.shape[0]))
        metrics.add(sample.name, pred, gt)
    scores.names, scores.rows, scores.summary = metrics.names, metrics.rows, metrics.summary()


def run_quality_bench(
    settings: QualitySettings, *, on_progress: ProgressCallback | None = None
) -> QualityReport:
    """Produce masks with alphacut (and rembg if asked), then score them against the truth."""
    from alphacut.bench.metrics import require_pysodmetrics

    require_pysodmetrics()  # fail before any inference when pysodmetrics is missing
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    samples, problems = find_samples(settings.dataset, settings.limit)
    total = len(samples) + sum(map(bool, (settings.vs_rembg, settings.second_opinion))) + 1
    done = 0

    def step(message: str) -> None:
        nonlocal done
        done += 1
        if on_progress:
            on_progress(done, total, message)

    tools: dict[str, ToolScores] = {}
    written: dict[str, dict[str, Path]] = {}
    results: list[JobResult] = []
    with tempfile.TemporaryDirectory(prefix="alphacut-quality-") as tmp:
        root = settings.masks_dir or Path(tmp)
        written["alphacut"], tools["alphacut"] = _alphacut_masks(
            settings, samples, root / "alphacut", lambda name: step(f"alphacut: {name}"),
            results,
        )
        if settings.second_opinion:
            written[SECOND_TOOL], tools[SECOND_TOOL] = _second_opinion_masks(
                settings, written["alphacut"], results, tools["alphacut"].seconds,
                root / SECOND_TOOL,
            )
            step(f"{SECOND_TOOL}: done")
        if settings.vs_rembg:
            written["rembg"], tools["rembg"] = _rembg_masks(settings, samples, root / "rembg")
            step("rembg: done")
        for tool, scores in tools.items():
            _score(scores, samples, written[tool])
        difference: dict[str, float] = {}
        if "rembg" in written:
            for sample in samples:
                if sample.name in written["alphacut"] and sample.name in written["rembg"]:
                    ours = read_grey(written["alphacut"][sample.name])
                    size = (ours.shape[1], ours.shape[0])
                    theirs = read_grey(written["rembg"][sample.name], size)
                    diff = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
                    difference[sample.name] = float(diff.mean() / 255.0)
        matte = any(is_matte(read_grey(s.mask)) for s in samples)
        step("scored")
    if not tools["alphacut"].rows:
        raise AlphacutError("no image could be processed; see the errors above")
    confidence = None
    if settings.confidence or settings.second_opinion:
        ours = tools["alphacut"]
        confidence = score_confidence(
            {samples[r.index].name: r.confidence.score for r in results if r.confidence},
            {name: row["iou"] for name, row in zip(ours.names, ours.rows, strict=True)},
            settings.review_below,
        )
    return QualityReport(
        confidence=confidence,
        settings=settings,
        samples=samples,
        tools=tools,
        matte=matte,
        mask_difference=difference,
        problems=problems,
        started=started,
    )
