"""The matting gate: refine soft detail beside a confident core, keep the model elsewhere."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from alphacut.pipeline.matte import make_alpha
from alphacut.pipeline.matting import MattingParams, matting_with_decision
from alphacut.pipeline.matting_gate import fisher_ratio

CORE = np.array([200, 160, 60], dtype=np.float32)
BACKDROP = np.array([40, 70, 180], dtype=np.float32)
MASK_SIZE = 320


def model_mask(truth: np.ndarray) -> np.ndarray:
    """What a 320x320 model makes of ``truth``: box-reduced, then a cell of blur."""
    small = Image.fromarray(truth).resize((MASK_SIZE, MASK_SIZE), Image.Resampling.BOX)
    return np.asarray(small.filter(ImageFilter.GaussianBlur(1)), dtype=np.float32) / 255.0


def hair_scene(width: int = 640, height: int = 480) -> tuple[Image.Image, np.ndarray]:
    """A golden block with thin strands reaching far into a blue backdrop, and its alpha."""
    truth = np.zeros((height, width), dtype=np.uint8)
    truth[:, : width // 3] = 255
    # Two-pixel strands every seven pixels, 50 px long: a fringe the mask can only call soft.
    for y in range(0, height, 7):
        truth[y : y + 2, width // 3 : width // 3 + 50] = 255
    a = truth[..., None].astype(np.float32) / 255.0
    photo = a * CORE + (1 - a) * BACKDROP
    return Image.fromarray(photo.astype(np.uint8), "RGB"), truth


def sad(alpha: Image.Image, truth: np.ndarray) -> float:
    return float(np.abs(np.asarray(alpha, dtype=np.float64) - truth).sum() / 255.0)


def test_hair_like_edge_beside_a_confident_core_is_refined() -> None:
    photo, truth = hair_scene()
    mask = model_mask(truth)
    alpha, decision = matting_with_decision(mask, photo)
    assert decision.solve and decision.accepted > 0
    plain = sad(make_alpha(mask, photo, refine="none"), truth)
    assert sad(alpha, truth) < 0.5 * plain
    # The default refine mode is this one.
    assert np.array_equal(np.asarray(make_alpha(mask, photo)), np.asarray(alpha))


def test_broad_unsure_region_keeps_the_model_mask() -> None:
    # Subject and backdrop share one mottled texture, so colour cannot tell them apart; the
    # model hesitates (0.5) over a broad area beside its confident core.
    rng = np.random.default_rng(7)
    height, width = 480, 640
    photo = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")
    mask = np.zeros((MASK_SIZE, MASK_SIZE), dtype=np.float32)
    mask[:, :100] = 1.0
    mask[40:280, 100:220] = 0.5
    alpha, decision = matting_with_decision(mask, photo)
    assert not decision.solve and decision.inseparable > 0
    plain = np.asarray(make_alpha(mask, photo, refine="none"))
    assert np.array_equal(np.asarray(alpha), plain)
    # Without the gate, matting would have rewritten the unsure area from colour alone.
    ungated = np.asarray(matting_with_decision(mask, photo, MattingParams(gated=False))[0])
    unsure = np.s_[100:380, 240:400]
    assert np.abs(ungated[unsure].astype(int) - plain[unsure]).mean() > 20


def test_gate_decides_per_region() -> None:
    # Left: the hair scene. Right: a mottled area where the model hesitates broadly.
    hair, truth = hair_scene(640, 480)
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    photo = Image.fromarray(np.concatenate([np.asarray(hair), noise], axis=1), "RGB")
    full_truth = np.concatenate([truth, np.zeros_like(truth)], axis=1)
    mask = model_mask(full_truth)
    unsure = np.zeros((MASK_SIZE, MASK_SIZE), dtype=np.float32)
    unsure[:, 230:] = 1.0
    unsure[60:260, 200:230] = 0.5
    unsure[60:260, 230:280] = 0.5
    mask = np.maximum(mask, unsure)
    alpha, decision = matting_with_decision(mask, photo)
    assert decision.solve and decision.inseparable > 0
    plain = np.asarray(make_alpha(mask, photo, refine="none"))
    out = np.asarray(alpha)
    # The mottled half (from a little left of its unsure band) is exactly the model's mask.
    assert np.array_equal(out[:, 760:], plain[:, 760:])
    assert sad(Image.fromarray(out[:, :560]), truth[:, :560]) < 0.5 * sad(
        Image.fromarray(plain[:, :560]), truth[:, :560]
    )


def test_hard_edged_product_skips_the_solve() -> None:
    # A crisp-edged box on a plain backdrop: the mask's only doubt is the blur of its outline.
    width, height = 1200, 900
    truth = Image.new("L", (width, height), 0)
    ImageDraw.Draw(truth).rounded_rectangle((300, 200, 900, 750), radius=60, fill=255)
    photo = Image.composite(
        Image.new("RGB", (width, height), (230, 230, 235)),
        Image.new("RGB", (width, height), (30, 90, 40)),
        truth,
    )
    mask = model_mask(np.asarray(truth))
    alpha, decision = matting_with_decision(mask, photo)
    assert not decision.solve and decision.regions > 0
    assert decision.hard_edged == decision.regions
    assert decision.summary().startswith("skipped")
    assert np.array_equal(np.asarray(alpha), np.asarray(make_alpha(mask, photo, refine="none")))


def test_fisher_ratio_measures_colour_separation() -> None:
    rng = np.random.default_rng(0)
    red = rng.normal([0.8, 0.1, 0.1], 0.05, (200, 3))
    blue = rng.normal([0.1, 0.1, 0.8], 0.05, (200, 3))
    grey = rng.uniform(0, 1, (200, 3))
    assert fisher_ratio(red, blue) > 10
    assert fisher_ratio(grey, rng.uniform(0, 1, (200, 3))) < 0.1
