"""The inference-options bench: provider option dicts, graph rewrites, batched driving."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alphacut.bench import inference_options as io


def test_openvino_options_go_through_load_config_and_cache_dir() -> None:
    variant = io.variant_named("ov-bf16-latency")
    name, options = variant.provider_entry(Path("/tmp/cache"))
    assert name == "OpenVINOExecutionProvider"
    assert options["device_type"] == "CPU"
    assert options["cache_dir"] == "/tmp/cache"
    assert json.loads(options["load_config"]) == {
        "CPU": {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "bf16"}
    }
    assert io.variant_named(io.BASELINE).provider_entry() == ("CPUExecutionProvider", {})


def test_variant_names_are_unique_and_unknown_names_are_reported() -> None:
    names = [v.name for v in io.VARIANTS]
    assert len(names) == len(set(names))
    with pytest.raises(KeyError, match="unknown variant 'nope'"):
        io.variant_named("nope")


def test_interleaved_timing_rotates_order_and_pairs_ratios_by_round() -> None:
    calls: list[str] = []

    class Fake:
        def __init__(self, name: str) -> None:
            self.name = name

        def run(self, tensors):
            calls.append(self.name)
            return tensors

    drivers = {io.BASELINE: Fake(io.BASELINE), "b": Fake("b"), "c": Fake("c")}
    timings = io.interleaved_timing(drivers, [np.zeros(1)], rounds=3, log=lambda _: None)
    assert calls == [io.BASELINE, "b", "c", "b", "c", io.BASELINE, "c", io.BASELINE, "b"]
    assert all(len(t.ms) == 3 for t in timings.values())
    base = timings[io.BASELINE]
    base.ms = [10.0, 20.0, 10.0]
    timings["b"].ms = [5.0, 20.0, 15.0]
    summary = timings["b"].summary(base)
    assert (summary["ratio_min"], summary["ratio_median"], summary["ratio_max"]) == (0.5, 1.0, 1.5)


onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _tiny_model() -> onnx.ModelProto:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(1, 3, 3, 3)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c"], ["y"], name="sig"),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    return model


def _inputs(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.normal(size=(1, 3, 8, 8)).astype(np.float32) for _ in range(n)]


@pytest.mark.parametrize(
    "variant",
    [io.Variant("batch3", batch=3), io.Variant("nhwc", layout="nhwc"),
     io.Variant("w2", threads=1, workers=2)],
    ids=lambda v: v.name,
)
def test_rewritten_models_and_drivers_give_the_baseline_outputs(tmp_path: Path, variant) -> None:
    base_path = tmp_path / "base.onnx"
    onnx.save(_tiny_model(), str(base_path))
    tensors = _inputs(5)  # 5 is not a multiple of 3: the last batch is padded, then trimmed
    base = io.Driver(io.variant_named(io.BASELINE),
                     io.open_session(io.variant_named(io.BASELINE), base_path))
    path = io.model_for(variant, base_path, tmp_path)
    if variant.batch != 1 or variant.layout != "nchw":
        assert path != base_path
        onnx.checker.check_model(onnx.load(str(path)))
    driver = io.Driver(variant, io.open_session(variant, path))
    try:
        got, want = driver.run(tensors), base.run(tensors)
    finally:
        driver.close()
    assert len(got) == len(want) == 5
    for a, b in zip(got, want, strict=True):
        assert a.shape == (1, 1, 8, 8)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_with_batch_sets_input_and_output_batch_dims() -> None:
    model = io.with_batch(_tiny_model(), 4)
    dims = [[d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in (*model.graph.input, *model.graph.output)]
    assert dims == [[4, 3, 8, 8], [4, 1, 8, 8]]


def test_mask_difference_uses_the_recipe_mapping() -> None:
    # Min-max stretching makes a mask and its affine rescaling identical.
    a = np.linspace(0.2, 0.6, 16, dtype=np.float32).reshape(1, 1, 4, 4)
    b = a * 0.5 + 0.1
    assert io.mask_difference([a], [b]) == pytest.approx(0.0, abs=1e-6)
    assert io.mask_difference([a], [a[..., ::-1].copy()]) > 0.1
