"""Colour decontamination: fringe pixels move toward the true foreground colour."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from alphacut.pipeline.refine import DECONTAMINATE_LONG_SIDE, decontaminate

FOREGROUND = np.array([230.0, 40.0, 40.0])
BACKGROUND = np.array([30.0, 200.0, 60.0])


def fringe_composite(width: int, height: int) -> tuple[Image.Image, Image.Image]:
    """Red subject on a green wall, with a wide ramp of partial opacity and hair-like streaks."""
    x = np.linspace(-1.0, 1.0, width)[None, :]
    y = np.linspace(0.0, 1.0, height)[:, None]
    streaks = 0.25 * np.sin(y * 40.0 * np.pi) ** 2
    alpha = np.clip(0.5 - x * 2.0 + streaks - 0.125, 0.0, 1.0)
    alpha = np.round(alpha * 255.0) / 255.0
    rgb = alpha[..., None] * FOREGROUND + (1.0 - alpha[..., None]) * BACKGROUND
    return (
        Image.fromarray(np.round(rgb).astype(np.uint8), "RGB"),
        Image.fromarray(np.round(alpha * 255.0).astype(np.uint8), "L"),
    )


@pytest.mark.parametrize("size", [(300, 200), (2 * DECONTAMINATE_LONG_SIDE + 100, 500)])
def test_fringe_moves_toward_foreground(size: tuple[int, int]) -> None:
    rgb, alpha = fringe_composite(*size)
    clean = decontaminate(rgb, alpha)
    assert clean.mode == "RGB" and clean.size == rgb.size
    a = np.asarray(alpha)
    before = np.asarray(rgb, dtype=np.float64)
    after = np.asarray(clean, dtype=np.float64)
    fringe = (a > 25) & (a < 230)
    distance_before = np.linalg.norm(before[fringe] - FOREGROUND, axis=1).mean()
    distance_after = np.linalg.norm(after[fringe] - FOREGROUND, axis=1).mean()
    assert distance_after < 0.25 * distance_before
    # The green of the wall leaves the fringe: the green channel falls toward the subject's.
    assert after[fringe][:, 1].mean() < before[fringe][:, 1].mean() - 40


def test_only_semi_transparent_pixels_change() -> None:
    rgb, alpha = fringe_composite(300, 200)
    clean = np.asarray(decontaminate(rgb, alpha))
    a = np.asarray(alpha)
    original = np.asarray(rgb)
    solid = (a == 0) | (a == 255)
    assert solid.any()
    assert np.array_equal(clean[solid], original[solid])


def test_hard_alpha_returns_an_equal_copy() -> None:
    rgb = Image.new("RGB", (40, 30), (10, 20, 30))
    alpha = Image.new("L", (40, 30), 255)
    clean = decontaminate(rgb, alpha)
    assert clean is not rgb and clean.tobytes() == rgb.tobytes()
