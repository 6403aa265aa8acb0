"""The int8 quantizer's pure parts, on tiny synthetic ONNX graphs (no model, no data set)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from alphacut.accel import quantization as aq  # noqa: E402
from alphacut.bench import quantize as bq  # noqa: E402
from alphacut.checksum import sha256_file  # noqa: E402
from alphacut.models import quantize as mq  # noqa: E402


def _conv(name: str, x: str, y: str, cin: int, cout: int, rng: np.random.Generator) -> tuple:
    w = numpy_helper.from_array(rng.normal(0, 0.5, (cout, cin, 3, 3)).astype(np.float32),
                                f"{name}.w")
    b = numpy_helper.from_array(rng.normal(0, 0.1, (cout,)).astype(np.float32), f"{name}.b")
    node = helper.make_node("Conv", [x, w.name, b.name], [y], name=name, pads=[1, 1, 1, 1])
    return node, [w, b]


def tiny_u2net_like(opset: int = 11) -> onnx.ModelProto:
    """in -> c0 -> relu -> c1 -> relu -> pool ; side head c2 -> resize -> sigmoid ;
    fusion c3 over (relu1, upsampled side) -> sigmoid. Four convs, two Sigmoid outputs."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    for name, x, y, cin, cout in (("c0", "x", "t0", 3, 4), ("c1", "r0", "t1", 4, 4)):
        node, params = _conv(name, x, y, cin, cout, rng)
        nodes.append(node)
        inits += params
        nodes.append(helper.make_node("Relu", [y], ["r" + y[1:]], name="relu" + y[1:]))
    nodes.append(helper.make_node("MaxPool", ["r1"], ["p1"], name="pool", kernel_shape=[2, 2],
                                  strides=[2, 2]))
    node, params = _conv("c2", "p1", "s2", 4, 1, rng)
    nodes.append(node)
    inits += params
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")
    roi = numpy_helper.from_array(np.array([], dtype=np.float32), "roi")
    inits += [scales, roi]
    nodes.append(helper.make_node("Resize", ["s2", "roi", "scales"], ["u2"], name="up",
                                  mode="linear"))
    nodes.append(helper.make_node("Sigmoid", ["u2"], ["side"], name="sig_side"))
    nodes.append(helper.make_node("Concat", ["r1", "u2"], ["cat"], name="cat", axis=1))
    node, params = _conv("c3", "cat", "f", 5, 1, rng)
    nodes.append(node)
    inits += params
    nodes.append(helper.make_node("Sigmoid", ["f"], ["fused"], name="sig_fused"))
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("fused", TensorProto.FLOAT, [1, 1, 16, 16]),
         helper.make_tensor_value_info("side", TensorProto.FLOAT, [1, 1, 16, 16])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


TINY_STAGES = (("enc", 2), ("side", 1), ("outconv", 1))


def _run(model: onnx.ModelProto, x: np.ndarray, *, fuse: bool = True) -> list[np.ndarray]:
    """Run on the CPU provider; ``fuse=False`` keeps QDQ as float ops (fake quantisation)."""
    options = ort.SessionOptions()
    if not fuse:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), sess_options=options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


def test_opset_conversion_loads_and_keeps_outputs() -> None:
    model = tiny_u2net_like(11)
    converted = mq.to_opset(model, 13)
    assert {o.version for o in converted.opset_import if o.domain in ("", "ai.onnx")} == {13}
    x = np.random.default_rng(1).normal(size=(1, 3, 16, 16)).astype(np.float32)
    for before, after in zip(_run(model, x), _run(converted, x), strict=True):
        np.testing.assert_allclose(before, after, rtol=1e-5, atol=1e-6)
    assert mq.to_opset(converted, 13) is converted


def test_empty_resize_inputs_are_omitted_without_changing_outputs() -> None:
    model13 = mq.to_opset(tiny_u2net_like(11), 13)
    x = np.random.default_rng(3).normal(size=(1, 3, 16, 16)).astype(np.float32)
    before = _run(model13, x)
    cleaned = mq.omit_empty_resize_inputs(model13)
    resize = next(n for n in cleaned.graph.node if n.op_type == "Resize")
    assert list(resize.input) == ["s2", "", "scales"]
    assert "roi" not in {i.name for i in cleaned.graph.initializer}
    for a, b in zip(before, _run(cleaned, x), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_per_channel_qdq_of_converted_model_loads_and_stays_close(tmp_path: Path) -> None:
    model13 = mq.omit_empty_resize_inputs(mq.to_opset(tiny_u2net_like(11), 13))
    path = tmp_path / "m13.onnx"
    onnx.save(model13, str(path))
    rng = np.random.default_rng(2)
    calib = [rng.normal(size=(1, 3, 16, 16)).astype(np.float32) for _ in range(4)]
    ranges = aq.calibrate(path, calib, "Percentile")
    # A JSON round trip must give the same bytes after quantization.
    aq.save_ranges(ranges, tmp_path / "ranges.json")
    reloaded = aq.load_ranges(tmp_path / "ranges.json")
    recipe = mq.QuantRecipe(exclude=("outconv",))
    a = mq.quantize(model13, ranges, recipe, TINY_STAGES)
    b = mq.quantize(model13, reloaded, recipe, TINY_STAGES)
    assert a.SerializeToString() == b.SerializeToString()
    ops = [n.op_type for n in a.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    # The excluded fusion conv keeps its float weight; the others were quantized.
    c3 = next(n for n in a.graph.node if n.name == "c3")
    weight = next(i for i in a.graph.initializer if i.name == c3.input[1])
    assert weight.data_type == TensorProto.FLOAT
    quantized = {i.name: i.data_type for i in a.graph.initializer}
    assert all(quantized[f"{c}.w_quantized"] == TensorProto.INT8 for c in ("c0", "c1", "c2"))
    # Per-channel: one scale per output channel of c0.
    scale = next(i for i in a.graph.initializer if i.name == "c0.w_scale")
    assert list(scale.dims) == [4]
    x = calib[0]
    fused_fp32 = _run(model13, x)[0]
    # The quantizer's scales and zero points are judged by running its QDQ graph as float
    # ops: the same numbers on every CPU. ORT's fused int8 kernels round differently per
    # instruction set (without VNNI, 16-bit sums saturate on these full-range random
    # weights: mean difference 0.134 on AVX2 against 0.004 with VNNI), so they are only
    # required to load and give finite outputs of the right shape.
    fake_int8 = _run(a, x, fuse=False)[0]
    assert np.abs(fused_fp32 - fake_int8).mean() < 0.05
    kernels = _run(a, x)[0]
    assert kernels.shape == fused_fp32.shape and np.isfinite(kernels).all()


def test_conv_groups_follow_graph_order_and_check_the_count() -> None:
    model = tiny_u2net_like()
    groups = mq.conv_groups(model, TINY_STAGES)
    assert groups == {"first": ["c0"], "enc": ["c0", "c1"], "side": ["c2"], "outconv": ["c3"]}
    with pytest.raises(ValueError, match="4 Conv nodes"):
        mq.conv_groups(model, (("enc", 3),))


def test_convs_feeding_sigmoid_walks_through_resize_and_concat_but_stops_at_convs() -> None:
    # c2 reaches sig_side via Resize; c3 feeds sig_fused; c1 reaches c3 only through a conv.
    assert mq.convs_feeding(tiny_u2net_like(), "Sigmoid") == ["c2", "c3"]


def test_select_excluded_resolves_groups_indices_and_rejects_unknown() -> None:
    model = tiny_u2net_like()
    assert mq.select_excluded(model, ["first", "sigmoid-inputs"], TINY_STAGES) == ["c0", "c2", "c3"]
    assert mq.select_excluded(model, ["conv:1", "enc"], TINY_STAGES) == ["c1", "c0"]
    with pytest.raises(ValueError, match="unknown exclusion 'stage9'"):
        mq.select_excluded(model, ["stage9"], TINY_STAGES)


def test_split_is_sorted_and_disjoint(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for name in ("0003", "0001", "0002", "0004"):
        (images / f"{name}.jpg").write_bytes(b"")
    split = bq.Split.of(tmp_path, 2)
    assert split.calibration == ["0001", "0002"]
    assert split.evaluation == ["0003", "0004"]


def test_build_from_ranges_is_byte_reproducible(tmp_path: Path) -> None:
    fp32 = tmp_path / "fp32.onnx"
    onnx.save(tiny_u2net_like(11), str(fp32))
    model13 = tmp_path / "m13.onnx"
    onnx.save(mq.omit_empty_resize_inputs(mq.to_opset(tiny_u2net_like(11))), str(model13))
    rng = np.random.default_rng(4)
    ranges = aq.calibrate(model13, [rng.normal(size=(1, 3, 16, 16)).astype(np.float32)])
    aq.save_ranges(ranges, tmp_path / "ranges.json")
    recipe = mq.QuantRecipe(exclude=("outconv",))
    first = mq.build_from_ranges(fp32, tmp_path / "ranges.json", tmp_path / "a.onnx", recipe,
                                TINY_STAGES)
    second = mq.build_from_ranges(fp32, tmp_path / "ranges.json", tmp_path / "b.onnx", recipe,
                                 TINY_STAGES)
    assert first == second == sha256_file(tmp_path / "a.onnx")
    other = mq.build_from_ranges(fp32, tmp_path / "ranges.json", tmp_path / "c.onnx",
                                mq.QuantRecipe(exclude=()), TINY_STAGES)
    assert other != first
