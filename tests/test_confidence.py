"""Per-image confidence: high on a clean subject, low with no subject or a broadly unsure mask."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from alphacut.pipeline.confidence import DEFAULT_REVIEW_BELOW, assess, stray_share


def disc(size: int = 320, radius: float = 90.0, edge: float = 2.0) -> np.ndarray:
    """A sharp subject with a soft, anti-aliased outline a few pixels wide."""
    yy, xx = np.mgrid[:size, :size]
    distance = np.hypot(yy - size / 2, xx - size / 2) - radius
    return (1.0 / (1.0 + np.exp(distance / edge))).astype(np.float32)


def test_clean_subject_is_trusted() -> None:
    confidence = assess(disc())
    assert confidence.score > 0.9
    assert not confidence.needs_review()
    assert confidence.reason == "clear subject"
    assert confidence.signals["stray_soft"] < 0.01


def test_blurry_but_decided_outline_is_not_penalised() -> None:
    # A wide soft edge (hair, motion blur) is normal; only soft regions far from it count.
    blurry = assess(disc(edge=2.5))
    assert blurry.score > 0.75 and not blurry.needs_review()


def test_empty_mask_means_no_subject() -> None:
    confidence = assess(np.zeros((320, 320), np.float32))
    assert confidence.score == 0.0 and confidence.needs_review()
    assert confidence.reason == "no subject found"


def test_noise_stretched_to_full_range_is_not_trusted() -> None:
    # What u2net's min-max stretch makes of a photo with no subject: faint noise blown up
    # into a mask that is soft nearly everywhere.
    rng = np.random.default_rng(0)
    noise = ndimage.gaussian_filter(rng.random((320, 320)), 12)
    mask = ((noise - noise.min()) / (noise.max() - noise.min())).astype(np.float32)
    confidence = assess(mask)
    assert confidence.score < 0.3 and confidence.needs_review()
    assert "unsure" in confidence.reason


def test_broadly_uncertain_mask_needs_review() -> None:
    mask = disc()
    mask[:, :100] = np.maximum(mask[:, :100], 0.45)  # a whole unsure region beside the subject
    confidence = assess(mask)
    assert confidence.score < DEFAULT_REVIEW_BELOW
    assert confidence.needs_review()
    assert "away from the subject's edge" in confidence.reason


def test_reason_reads_as_a_multiple_when_doubt_outgrows_the_subject() -> None:
    # A small subject in a frame the model is unsure about nearly everywhere: the stray share
    # is many times the subject's area, which a percentage made read like "6624 %".
    mask = np.full((320, 320), 0.3, np.float32)
    mask[150:170, 150:170] = 1.0
    confidence = assess(mask)
    assert confidence.needs_review()
    assert "x the subject's area" in confidence.reason
    assert "%" not in confidence.reason
    share = confidence.signals["stray_soft"]
    assert share > 10 and f"{share:.0f}x" in confidence.reason


def test_reason_keeps_a_percentage_below_the_subjects_area() -> None:
    mask = disc()
    mask[:, :40] = np.maximum(mask[:, :40], 0.45)
    confidence = assess(mask)
    assert confidence.needs_review() and confidence.signals["stray_soft"] < 1.0
    assert "% of its area" in confidence.reason


def test_more_stray_uncertainty_means_lower_confidence() -> None:
    scores = []
    for width in (0, 20, 60, 120):
        mask = disc()
        if width:
            mask[:, :width] = np.maximum(mask[:, :width], 0.3)
        scores.append(assess(mask).score)
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1] + 0.5


def test_soft_band_hugging_the_outline_does_not_count() -> None:
    mask = disc(edge=1.0)
    # A 6-pixel soft rim right outside the outline: closer than the 8-pixel reach.
    ring = (ndimage.binary_dilation(mask > 0.5, iterations=6)) & (mask <= 0.5)
    mask[ring] = 0.4
    stray, _ = stray_share(mask)
    assert stray < 0.01


def test_full_frame_subject_is_flagged() -> None:
    confidence = assess(np.ones((320, 320), np.float32))
    assert confidence.score == 0.0 and confidence.needs_review()


@pytest.mark.parametrize("side", [640, 1024])
def test_large_masks_are_judged_like_model_size_ones(side: int) -> None:
    small = disc()
    small[:, :80] = np.maximum(small[:, :80], 0.4)
    big = np.kron(small, np.ones((side // 320, side // 320), np.float32)) if side % 320 == 0 \
        else np.asarray(
            __import__("PIL.Image", fromlist=["Image"]).fromarray(small, "F").resize(
                (side, side)), np.float32)
    assert abs(assess(big).score - assess(small).score) < 0.05


def test_clean_stages_keep_a_clean_subject_trusted() -> None:
    confidence = assess(disc(), [disc(edge=1.5), disc(edge=3.0), disc(radius=88.0)])
    assert confidence.score > 0.9 and confidence.reason == "clear subject"


def test_doubt_in_the_stages_lowers_confidence_in_a_clean_fused_mask() -> None:
    # The fused output looks decided, but the decoder stages that made it disagreed about
    # a whole region beside the subject: the doubt the fusion smoothed away.
    unsure = disc()
    unsure[:, :120] = np.maximum(unsure[:, :120], 0.4)
    clean = assess(disc(), [disc()] * 5)
    doubted = assess(disc(), [unsure] * 5)
    assert doubted.score < DEFAULT_REVIEW_BELOW < clean.score
    assert doubted.signals["stray_fused"] < 0.01 < doubted.signals["stray_soft"]
    # The share is the mean over the fused mask and its stages.
    one_doubt = assess(disc(), [unsure, disc()])
    expected = (stray_share(disc())[0] + stray_share(unsure)[0] + stray_share(disc())[0]) / 3
    assert one_doubt.signals["stray_soft"] == pytest.approx(expected, abs=1e-4)
    assert doubted.score < one_doubt.score < clean.score


def test_stages_are_judged_at_model_size_too() -> None:
    unsure = disc()
    unsure[:, :120] = np.maximum(unsure[:, :120], 0.4)
    big = np.kron(unsure, np.ones((2, 2), np.float32))
    assert abs(assess(disc(), [big]).score - assess(disc(), [unsure]).score) < 0.05


def test_review_threshold_and_json_fields() -> None:
    confidence = assess(disc())
    record = confidence.as_dict(below=0.999)
    assert record["review"] is True and record["confidence"] == round(confidence.score, 3)
    assert confidence.as_dict()["review"] is False and record["reason"] == "clear subject"


def _picture(kind: str):
    from PIL import Image, ImageDraw

    if kind == "grey":
        return Image.new("RGB", (400, 300), (128, 128, 128))
    if kind == "noise":
        rng = np.random.default_rng(0)
        return Image.fromarray((rng.random((300, 400, 3)) * 255).astype(np.uint8))
    picture = Image.new("RGB", (400, 300), (245, 245, 245))
    ImageDraw.Draw(picture).ellipse((120, 60, 280, 240), fill=(200, 30, 30))
    return picture


@pytest.mark.model
def test_the_real_model_trusts_a_clean_subject_and_not_an_empty_photo(remover) -> None:
    clean = remover.remove(_picture("disc")).confidence
    grey = remover.remove(_picture("grey")).confidence
    noise = remover.remove(_picture("noise")).confidence
    assert clean is not None and grey is not None and noise is not None
    assert clean.score > 0.9 and not clean.needs_review()
    assert grey.score < 0.3 and grey.needs_review()
    assert noise.score < 0.3 and noise.needs_review()
