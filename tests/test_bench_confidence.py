"""``bench quality --confidence / --second-opinion``: the confidence judged against the truth."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from alphacut.bench.confidence_scores import auroc, caught_share, score_confidence
from alphacut.bench.quality import SECOND_TOOL, QualitySettings, run_quality_bench


def _pairs_auroc(risk: np.ndarray, failed: np.ndarray) -> float:
    wins = 0.0
    pos, neg = risk[failed], risk[~failed]
    for p, n in itertools.product(pos, neg):
        wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(pos) * len(neg))


def test_auroc_counts_ordered_pairs_and_half_ties() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        risk = rng.integers(0, 6, 30).astype(float)  # many ties
        failed = rng.random(30) < 0.4
        assert auroc(risk, failed) == pytest.approx(_pairs_auroc(risk, failed))
    assert auroc(np.array([0.1, 0.2]), np.array([False, False])) is None


def test_caught_share_takes_the_riskiest_images_first() -> None:
    risk = np.array([0.9, 0.8, 0.1, 0.7, 0.2, 0.3, 0.0, 0.05, 0.6, 0.4])
    failed = np.array([1, 0, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    assert caught_share(risk, failed, 0.1) == pytest.approx(1 / 3)  # image 0
    assert caught_share(risk, failed, 0.3) == pytest.approx(2 / 3)  # images 0, 1 and 3
    assert caught_share(risk, failed, 0.4) == pytest.approx(2 / 3)
    assert caught_share(risk, failed, 1.0) == 1.0


def test_score_confidence_summary() -> None:
    confidence = {"a": 0.9, "b": 0.2, "c": 0.6, "d": 0.4}
    iou = {"a": 0.95, "b": 0.3, "c": 0.7, "d": 0.9}
    scores = score_confidence(confidence, iou, review_below=0.5)
    assert scores.images == 4 and scores.failures == 2
    assert scores.auroc == pytest.approx(0.75)  # b below everything, c above d
    assert scores.flagged == 2 and scores.flagged_failures == 1
    assert json.loads(json.dumps(scores.as_dict()))["caught"]["20%"] == 0.5


@pytest.fixture
def disc_dataset(tmp_path: Path) -> Path:
    """Two photos whose truth is the same disc: a clean one, and noise where it is missed."""
    root = tmp_path / "discs"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    truth = Image.new("L", (400, 300), 0)
    ImageDraw.Draw(truth).ellipse((120, 60, 280, 240), fill=255)
    clean = Image.new("RGB", (400, 300), (245, 245, 245))
    ImageDraw.Draw(clean).ellipse((120, 60, 280, 240), fill=(200, 30, 30))
    clean.save(root / "images" / "clean.png")
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((300, 400, 3)) * 255).astype(np.uint8)).save(
        root / "images" / "noise.png")
    for name in ("clean", "noise"):
        truth.save(root / "masks" / f"{name}.png")
    return root


@pytest.mark.model
def test_quality_bench_judges_the_confidence_and_the_second_opinion(
    disc_dataset: Path, home_with_model: Path, tmp_path: Path
) -> None:
    masks = tmp_path / "masks"
    settings = QualitySettings(dataset=disc_dataset, provider="cpu", refine="none",
                               masks_dir=masks, confidence=True, second_opinion="u2netp")
    report = run_quality_bench(settings)
    scores = report.confidence
    assert scores is not None and scores.images == 2 and scores.failures == 1
    assert scores.auroc == 1.0 and scores.caught[0.1] == 1.0
    assert scores.flagged == 1 and scores.flagged_failures == 1
    second = report.tools[SECOND_TOOL]
    assert "on 1 below 0.5" in second.detail and second.errors == []
    # The same model as a second opinion: the same scores, the clean mask copied untouched.
    assert second.summary["mae"] == pytest.approx(report.tools["alphacut"].summary["mae"])
    assert (masks / SECOND_TOOL / "clean.png").read_bytes() == (
        masks / "alphacut" / "clean.png").read_bytes()
    data = json.loads(json.dumps(report.as_dict()))
    assert data["confidence"]["failures"] == 1 and data["second_opinion"]["mae_change"] == 0.0
    rows = {row["image"]: row for row in report.csv_rows()}
    assert rows["noise"]["alphacut_confidence"] < 0.5 < rows["clean"]["alphacut_confidence"]
