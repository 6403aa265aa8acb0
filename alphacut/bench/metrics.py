"""Mask quality metrics against ground truth.

Salient-object metrics come from pysodmetrics (MAE, max F-measure with beta^2 = 0.3,
S-measure, E-measure, weighted F-measure, IoU at 0.5). pysodmetrics has no alpha-matting
metrics, so SAD, MSE and the gradient error are computed here, following the reference
MATLAB code of Rhemann et al. (CVPR 2009) as used by the Deep Image Matting evaluation:
alpha in 0..1, whole image (no trimap), SAD and gradient error divided by 1000.

Predictions are evaluated exactly as written (alpha / 255, no min-max stretching);
ground truth is binarised at > 128 for the salient-object metrics, as pysodmetrics does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SOD_METRICS: tuple[str, ...] = ("mae", "max_f", "s_measure", "e_measure", "weighted_f", "iou")
MATTING_METRICS: tuple[str, ...] = ("sad", "mse", "grad")
# Higher is better for these; lower is better for the rest.
HIGHER_IS_BETTER = frozenset({"max_f", "s_measure", "e_measure", "weighted_f", "iou"})
GRADIENT_SIGMA = 1.4
# A ground truth with more than this share of pixels strictly between 0 and 255 is a matte.
MATTE_SHARE = 0.005


class MissingMetricsLibrary(ImportError):
    """pysodmetrics is not installed."""


def require_pysodmetrics():
    try:
        import py_sod_metrics
    except ImportError as exc:
        raise MissingMetricsLibrary(
            "bench quality needs pysodmetrics: pip install 'alphacut[bench]'"
        ) from exc
    return py_sod_metrics


def is_matte(gt: np.ndarray) -> bool:
    """Whether an 8-bit ground truth carries real partial opacity (a matte, not a mask)."""
    partial = np.count_nonzero((gt > 0) & (gt < 255))
    return partial > MATTE_SHARE * gt.size


def _gauss(x: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-(x**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))


def gradient_kernels(sigma: float = GRADIENT_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """The separable Gaussian-derivative filter of the reference ``gaussgradient.m``.

    Returns the 1-D smoothing and derivative taps, already scaled so that the 2-D kernel
    ``outer(smooth, deriv)`` has unit L2 norm, as the reference code normalises it.
    """
    epsilon = 1e-2
    half = math.ceil(sigma * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * sigma * epsilon)))
    x = np.arange(-half, half + 1, dtype=np.float64)
    smooth = _gauss(x, sigma)
    deriv = -x * _gauss(x, sigma) / sigma**2
    norm = math.sqrt(float(np.sum(smooth**2)) * float(np.sum(deriv**2)))
    return smooth, deriv / norm


def gradient_magnitude(alpha: np.ndarray, sigma: float = GRADIENT_SIGMA) -> np.ndarray:
    """``sqrt(gx^2 + gy^2)`` with replicate borders and true convolution, as ``imfilter``."""
    from scipy.ndimage import convolve1d

    smooth, deriv = gradient_kernels(sigma)
    # MATLAB's hx(i, j) = gauss(i) * dgauss(j): derivative along columns (x), smoothing rows.
    rows_smoothed = convolve1d(alpha, smooth, axis=0, mode="nearest")
    cols_smoothed = convolve1d(alpha, smooth, axis=1, mode="nearest")
    gx = convolve1d(rows_smoothed, deriv, axis=1, mode="nearest")
    gy = convolve1d(cols_smoothed, deriv, axis=0, mode="nearest")
    return np.sqrt(gx**2 + gy**2)


def matting_scores(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """SAD/1000, MSE and gradient error/1000 for ``uint8`` alpha mattes of the same shape."""
    p = pred.astype(np.float64) / 255.0
    g = gt.astype(np.float64) / 255.0
    diff = p - g
    grad = gradient_magnitude(p) - gradient_magnitude(g)
    return {
        "sad": float(np.abs(diff).sum() / 1000.0),
        "mse": float(np.mean(diff**2)),
        "grad": float(np.sum(grad**2) / 1000.0),
    }


@dataclass
class MetricSet:
    """Accumulates per-image scores and the dataset-level curves pysodmetrics keeps."""

    names: list[str] = field(default_factory=list)
    rows: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        sod = require_pysodmetrics()
        self._mae = sod.MAE()
        self._sm = sod.Smeasure()
        self._em = sod.Emeasure()
        self._wfm = sod.WeightedFmeasure()
        self._f = sod.FmeasureHandler(with_dynamic=True, with_adaptive=False, beta=0.3)
        # binary mode thresholds at pred > 0.5
        self._iou = sod.IOUHandler(with_dynamic=False, with_adaptive=False, with_binary=True)
        self._fm = sod.FmeasureV2(metric_handlers={"f": self._f, "iou": self._iou})

    def add(self, name: str, pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
        """Score one ``uint8`` prediction against its ``uint8`` ground truth; returns its row."""
        if pred.shape != gt.shape:
            raise ValueError(f"{name}: prediction {pred.shape} and ground truth {gt.shape} differ")
        p = pred.astype(np.float64) / 255.0
        g = gt > 128
        self._mae.step(p, g, normalize=False)
        self._sm.step(p, g, normalize=False)
        self._em.step(p, g, normalize=False)
        self._wfm.step(p, g, normalize=False)
        self._fm.step(p, g, normalize=False)
        row: dict[str, float] = {
            "mae": float(self._mae.maes[-1]),
            "max_f": float(np.max(self._f.dynamic_results[-1])),
            "s_measure": float(self._sm.sms[-1]),
            "e_measure": float(np.max(self._em.changeable_ems[-1])),
            "weighted_f": float(self._wfm.weighted_fms[-1]),
            "iou": float(self._iou.binary_results[-1]),
        }
        row.update(matting_scores(pred, gt))
        self.names.append(name)
        self.rows.append(row)
        return row

    def summary(self) -> dict[str, float]:
        """Dataset scores: max F and E from the mean curves (the usual SOD convention),
        every other metric the mean over images."""
        if not self.rows:
            return {}
        f_curve = self._fm.get_results()["f"]["dynamic"]
        e_curve = self._em.get_results()["em"]["curve"]
        out = {key: float(np.mean([row[key] for row in self.rows])) for key in self.rows[0]}
        out["max_f"] = float(np.max(f_curve))
        out["e_measure"] = float(np.max(e_curve))
        return out


def worst(names: list[str], rows: list[dict[str, float]], *, key: str = "mae", count: int = 10):
    """The ``count`` worst images by ``key`` (highest MAE, or lowest for higher-is-better)."""
    reverse = key not in HIGHER_IS_BETTER
    order = sorted(range(len(rows)), key=lambda i: rows[i][key], reverse=reverse)
    return [(names[i], rows[i]) for i in order[:count]]
