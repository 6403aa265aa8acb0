"""Benchmark metrics against values worked out by hand on tiny synthetic masks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alphacut.bench.metrics import (
    MetricSet,
    gradient_magnitude,
    is_matte,
    matting_scores,
    worst,
)
from alphacut.bench.stats import Ratio, percentile


def square_gt() -> np.ndarray:
    gt = np.zeros((8, 8), np.uint8)
    gt[2:6, 2:6] = 255  # 16 foreground pixels of 64
    return gt


def test_binary_prediction_metrics_match_hand_values() -> None:
    gt = square_gt()
    pred = gt.copy()
    pred[2, 2:6] = 0  # 4 foreground pixels missed
    pred[0, 0] = 255  # 1 false positive
    row = MetricSet().add("x", pred, gt)
    assert row["mae"] == pytest.approx(5 / 64)
    # IoU: 12 shared pixels, union 16 + 1
    assert row["iou"] == pytest.approx(12 / 17)
    # F with beta^2 = 0.3 at any threshold > 0: precision 12/13, recall 12/16
    p, r = 12 / 13, 12 / 16
    assert row["max_f"] == pytest.approx(1.3 * p * r / (0.3 * p + r))
    assert row["sad"] == pytest.approx(5 / 1000)
    assert row["mse"] == pytest.approx(5 / 64)


def test_soft_prediction_mae_and_iou_threshold() -> None:
    gt = square_gt()
    pred = np.where(gt > 0, 200, 100).astype(np.uint8)  # 0.784 inside, 0.392 outside
    row = MetricSet().add("soft", pred, gt)
    expected_mae = (16 * (1 - 200 / 255) + 48 * (100 / 255)) / 64
    assert row["mae"] == pytest.approx(expected_mae)
    assert row["iou"] == pytest.approx(1.0)  # only the inside is above 0.5
    pred[0, 0] = 130  # 0.51 > 0.5: one false positive at the IoU threshold
    row = MetricSet().add("soft2", pred, gt)
    assert row["iou"] == pytest.approx(16 / 17)


def test_perfect_prediction_scores_one_everywhere() -> None:
    gt = square_gt()
    row = MetricSet().add("same", gt.copy(), gt)
    assert row["mae"] == 0
    for key in ("max_f", "s_measure", "weighted_f", "iou"):
        assert row[key] == pytest.approx(1.0), key
    # pysodmetrics keeps the reference MATLAB code's division by (pixels - 1)
    assert row["e_measure"] == pytest.approx(64 / 63)
    assert row["grad"] == 0


def test_s_measure_on_empty_ground_truth_is_one_minus_mean() -> None:
    gt = np.zeros((4, 4), np.uint8)
    pred = np.zeros((4, 4), np.uint8)
    pred[0, :] = 255
    assert MetricSet().add("bg", pred, gt)["s_measure"] == pytest.approx(1 - 4 / 16)


def test_summary_means_rows_and_takes_max_of_mean_curves() -> None:
    gt = square_gt()
    metrics = MetricSet()
    perfect = metrics.add("a", gt.copy(), gt)
    empty = metrics.add("b", np.zeros_like(gt), gt)
    summary = metrics.summary()
    assert summary["mae"] == pytest.approx((perfect["mae"] + empty["mae"]) / 2)
    assert summary["iou"] == pytest.approx(0.5)
    assert summary["max_f"] == pytest.approx(0.5)  # mean curve: 1 and 0 at every threshold


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="differ"):
        MetricSet().add("bad", np.zeros((3, 3), np.uint8), np.zeros((4, 4), np.uint8))


def test_matting_scores_hand_values() -> None:
    gt = np.full((10, 10), 255, np.uint8)
    pred = gt.copy()
    pred[0, :] = 0  # 10 pixels off by 1.0
    pred[1, :] = 153  # 10 pixels off by 0.4
    scores = matting_scores(pred, gt)
    assert scores["sad"] == pytest.approx((10 * 1.0 + 10 * 0.4) / 1000)
    assert scores["mse"] == pytest.approx((10 * 1.0 + 10 * 0.16) / 100)


def _reference_gradient(alpha: np.ndarray, sigma: float = 1.4) -> np.ndarray:
    """A literal port of gaussgradient.m: 2-D kernel by loops, replicate pad, convolution."""
    eps = 1e-2
    half = math.ceil(sigma * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * sigma * eps)))
    size = 2 * half + 1

    def gauss(x: float) -> float:
        return math.exp(-(x**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))

    hx = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            u1, u2 = i - half, j - half
            hx[i, j] = gauss(u1) * (-u2 * gauss(u2) / sigma**2)
    hx /= math.sqrt(float(np.sum(hx**2)))
    hy = hx.T
    padded = np.pad(alpha, half, mode="edge")

    def conv(kernel: np.ndarray) -> np.ndarray:
        flipped = kernel[::-1, ::-1]
        out = np.zeros_like(alpha)
        for y in range(alpha.shape[0]):
            for x in range(alpha.shape[1]):
                out[y, x] = np.sum(padded[y : y + size, x : x + size] * flipped)
        return out

    return np.sqrt(conv(hx) ** 2 + conv(hy) ** 2)


def test_gradient_matches_a_literal_port_of_the_reference_code() -> None:
    rng = np.random.default_rng(3)
    alpha = np.clip(rng.normal(0.5, 0.3, (12, 15)), 0, 1)
    alpha[:, 7:] = 1.0  # plus a hard edge
    np.testing.assert_allclose(gradient_magnitude(alpha), _reference_gradient(alpha), atol=1e-12)


def test_gradient_error_is_zero_for_identical_and_positive_for_blur() -> None:
    gt = np.zeros((20, 20), np.uint8)
    gt[:, 10:] = 255
    blurred = gt.copy()
    blurred[:, 9] = 128
    blurred[:, 10] = 128
    assert matting_scores(gt, gt)["grad"] == 0
    assert matting_scores(blurred, gt)["grad"] > 0


def test_is_matte_tells_soft_truth_from_binary() -> None:
    binary = square_gt()
    assert not is_matte(binary)
    soft = binary.copy()
    soft[0:2, :] = 100  # 16 of 64 pixels partial
    assert is_matte(soft)


def test_worst_orders_by_direction_of_the_metric() -> None:
    rows = [{"mae": 0.1, "iou": 0.9}, {"mae": 0.3, "iou": 0.5}, {"mae": 0.2, "iou": 0.7}]
    names = ["a", "b", "c"]
    assert [n for n, _ in worst(names, rows, key="mae", count=2)] == ["b", "c"]
    assert [n for n, _ in worst(names, rows, key="iou", count=2)] == ["b", "c"]


def test_percentile_matches_numpy_and_nan_when_empty() -> None:
    values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for q in (0, 50, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert math.isnan(percentile([], 50))


def test_ratio_over_pairs_reports_median_and_spread() -> None:
    ratio = Ratio.of_pairs([2.0, 3.0, 4.0], [1.0, 2.0, 1.0])  # 2, 1.5, 4
    assert (ratio.median, ratio.low, ratio.high, ratio.pairs) == (2.0, 1.5, 4.0, 3)
    assert "2.00x (1.50-4.00 over 3 pairs)" == ratio.describe()
    assert Ratio.of_pairs([], []).describe() == "n/a"
