"""Benchmark photos as model inputs, and how far two sets of model outputs are apart.

A :class:`Sample` is one photo decoded exactly as the Remover decodes it, with its model
input tensor and (optionally) its ground-truth mask; the quality measures compare raw model
outputs as the pipeline's soft masks and full-resolution alphas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Sample:
    """One evaluation photo: its model input tensor and what is needed to score its alpha."""

    name: str
    tensor: np.ndarray
    rgb: Any  # PIL RGB at full size
    truth: np.ndarray | None  # uint8 ground-truth mask, same size as rgb


def load_samples(data_dir: Path, names: Sequence[str] | None = None, limit: int | None = None,
                 *, with_truth: bool = True) -> list[Sample]:
    """Decode photos from ``data_dir/images`` exactly as the Remover does (sorted by name)."""
    from PIL import Image

    from alphacut.models.catalogue import DEFAULT_MODEL, get_model
    from alphacut.models.recipes import recipe_for
    from alphacut.pipeline.decode import decode, model_input_rgb

    spec = get_model(DEFAULT_MODEL)
    recipe = recipe_for(spec)
    paths = sorted((data_dir / "images").glob("*.jpg"))
    if names is not None:
        wanted = set(names)
        paths = [p for p in paths if p.stem in wanted]
    if limit is not None:
        paths = paths[:limit]
    samples = []
    for path in paths:
        rgb = decode(path).rgb
        tensor = recipe.preprocess(spec, model_input_rgb(rgb, spec.input_size))
        truth = None
        mask_path = data_dir / "masks" / f"{path.stem}.png"
        if with_truth and mask_path.exists():
            truth = np.asarray(Image.open(mask_path).convert("L"))
        samples.append(Sample(path.stem, tensor, rgb, truth))
    return samples


def soft_mask(output: np.ndarray) -> np.ndarray:
    """Model output 0 -> the pipeline's soft mask (u2net recipe: min-max stretched)."""
    from alphacut.models.catalogue import DEFAULT_MODEL, get_model
    from alphacut.models.recipes import recipe_for

    return recipe_for(get_model(DEFAULT_MODEL)).postprocess([output])


def mask_difference(outputs: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> float:
    """Mean absolute difference of soft masks, averaged over images."""
    diffs = [float(np.abs(soft_mask(a) - soft_mask(b)).mean()) for a, b in zip(outputs, reference,
                                                                               strict=True)]
    return float(np.mean(diffs))


def alpha_mae(samples: Sequence[Sample], outputs: Sequence[np.ndarray]) -> float:
    """ecssd-style MAE (pysodmetrics) of the full-resolution alpha against the truth masks."""
    from py_sod_metrics import MAE

    from alphacut.pipeline.matte import make_alpha

    metric = MAE()
    for sample, output in zip(samples, outputs, strict=True):
        if sample.truth is None:
            continue
        alpha = np.asarray(make_alpha(soft_mask(output), sample.rgb))
        metric.step(alpha, sample.truth)
    return float(metric.get_results()["mae"])
