"""The guided-filter fit the refine modes share: its 3x3 solve, the cropped fit matting uses,
and strip upsampling from a prepared source."""

from __future__ import annotations

import numpy as np
from PIL import Image

from alphacut.pipeline.guided import (
    StripUpsampler,
    guided_coefficients,
    solve_symmetric_3x3,
)
from alphacut.pipeline.matting import blend_upsample, coefficients_near
from alphacut.pipeline.matting_params import MattingParams


def test_symmetric_solve_matches_lapack() -> None:
    rng = np.random.default_rng(5)
    factor = rng.normal(size=(40, 30, 3, 3))
    sigma = factor @ np.swapaxes(factor, -1, -2) + 1e-3 * np.eye(3)
    rhs = rng.normal(size=(40, 30, 3))
    upper = {(i, j): sigma[..., i, j].astype(np.float32) for i in range(3) for j in range(i, 3)}
    expected = np.linalg.solve(sigma, rhs[..., None])[..., 0]
    got = solve_symmetric_3x3(upper, rhs.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=2e-3, atol=2e-3)


def test_symmetric_solve_handles_flat_colour_windows() -> None:
    # A flat window: zero covariance, only the regulariser on the diagonal.
    eps = 1e-5
    upper = {(i, j): np.full((4, 4), eps if i == j else 0.0, np.float32)
             for i in range(3) for j in range(i, 3)}
    rhs = np.full((4, 4, 3), 2e-6, np.float32)
    np.testing.assert_allclose(solve_symmetric_3x3(upper, rhs), 0.2, rtol=1e-5)


def test_cropped_fit_equals_whole_fit_wherever_the_weight_reaches() -> None:
    rng = np.random.default_rng(7)
    image = rng.random((90, 120, 3), dtype=np.float32)
    alpha = rng.random((90, 120), dtype=np.float32)
    weight = np.zeros((90, 120), np.float32)
    weight[40:52, 60:75] = 1.0
    params = MattingParams()
    whole_a, whole_b = guided_coefficients(
        image, alpha, params.upsample_radius, params.upsample_eps
    )
    near_a, near_b = coefficients_near(alpha, image, weight, params)
    # Bilinear upsampling reads one working pixel beyond the weight.
    reach = (slice(39, 53), slice(59, 76))
    np.testing.assert_allclose(near_a[reach], whole_a[reach], atol=1e-5)
    np.testing.assert_allclose(near_b[reach], whole_b[reach], atol=1e-5)
    assert not near_a[:20].any() and not near_b[:, :40].any()


def test_blend_writes_only_where_the_weight_reaches() -> None:
    rng = np.random.default_rng(11)
    photo = Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), "RGB")
    image = np.asarray(photo.resize((100, 75), Image.Resampling.BILINEAR), np.float32) / 255
    solved = np.ones((75, 100), np.float32)
    weight = np.zeros((75, 100), np.float32)
    weight[30:40, 50:60] = 1.0
    base = Image.new("L", photo.size, 0)
    out = blend_upsample(solved, image, weight, base, photo, MattingParams())
    assert out is base  # written in place: no second full-size buffer
    values = np.asarray(out)
    assert values[130:150, 210:230].min() > 200  # inside the weight: the solved alpha
    outside = np.ones(values.shape, bool)
    outside[112:168, 192:248] = False  # the weight's reach, grown by the bilinear support
    assert not values[outside].any()


def test_strip_rows_from_a_prepared_source_match_the_array() -> None:
    rng = np.random.default_rng(3)
    low = rng.random((37, 53), dtype=np.float32)
    up = StripUpsampler((53, 37), (530, 370))
    source = up.source(low)
    for y0, y1, x0, x1 in ((0, 64, 0, 530), (64, 128, 100, 300), (320, 370, 500, 530)):
        np.testing.assert_array_equal(
            up.rows(source, y0, y1, x0, x1), up.rows(low, y0, y1, x0, x1)
        )
    same = StripUpsampler((53, 37), (53, 37))
    np.testing.assert_array_equal(same.rows(same.source(low), 5, 9, 2, 7), low[5:9, 2:7])
