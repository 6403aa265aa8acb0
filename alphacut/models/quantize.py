"""Mixed-precision int8 models: graph surgery and the QDQ recipe that builds ``u2netp-int8``.

Static per-channel QDQ with sensitive convolutions kept fp32. The model is first converted
from opset 11 to opset 13 (per-channel QuantizeLinear needs ``axis``, which opset 11 lacks:
without the conversion the written model fails to load). :func:`build_from_ranges` makes the
catalogue's derived model from the verified fp32 file and calibration ranges shipped in the
package, so its bytes depend only on those inputs and the library versions. How the ranges
and the excluded convolution were found is ``alphacut.bench.quantize``'s job; the ONNX
Runtime calls are in ``alphacut.accel.quantization``. Needs the optional ``onnx`` package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphacut.checksum import sha256_file

TARGET_OPSET = 13
# Measured (--sweep and single-conv trials): the last conv of decoder stage 2 (conv 97, whose
# ReLU output loses ~all SNR at 8 bits) is the one layer that must stay fp32.
DEFAULT_EXCLUDE: tuple[str, ...] = ("conv:97",)

# u2netp's convolutions in graph order: eleven RSU stages (RSU7/6/5/4/4F encoder, mirrored
# decoder), six side heads, the fusion conv. Counts are convs per stage.
U2NETP_STAGES: tuple[tuple[str, int], ...] = (
    ("stage1", 14), ("stage2", 12), ("stage3", 10), ("stage4", 8), ("stage5", 8), ("stage6", 8),
    ("stage5d", 8), ("stage4d", 8), ("stage3d", 10), ("stage2d", 12), ("stage1d", 14),
    ("side", 6), ("outconv", 1),
)


# --- graph surgery and node selection (pure, tested on synthetic graphs) ---------------------


def to_opset(model: Any, version: int = TARGET_OPSET) -> Any:
    """``model`` converted to the default-domain opset ``version`` (no-op when already there)."""
    from onnx import version_converter

    current = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if current >= version:
        return model
    return version_converter.convert_version(model, version)


def omit_empty_resize_inputs(model: Any) -> Any:
    """Replace Resize's empty ``roi``/``scales`` constants by omitted inputs (opset >= 13).

    The exporter feeds every Resize zero-size float constants; calibrators treat them as
    activations and fail on them. Omitting optional inputs is the opset-13 way to say "none".
    """
    from onnx import numpy_helper

    empty: set[str] = {init.name for init in model.graph.initializer
                       if numpy_helper.to_array(init).size == 0}
    for node in model.graph.node:
        if node.op_type == "Constant":
            value = next((a for a in node.attribute if a.name == "value"), None)
            if value is not None and numpy_helper.to_array(value.t).size == 0:
                empty.update(node.output)
    for node in model.graph.node:
        if node.op_type == "Resize":
            for i in (1, 2):
                if i < len(node.input) and node.input[i] in empty:
                    node.input[i] = ""
    used = {name for node in model.graph.node for name in node.input}
    outputs = {o.name for o in model.graph.output}
    for node in [n for n in model.graph.node if n.op_type == "Constant"]:
        if not (set(node.output) & (used | outputs)):
            model.graph.node.remove(node)
    for init in [i for i in model.graph.initializer if i.name in empty and i.name not in used]:
        model.graph.initializer.remove(init)
    return model


def conv_names(model: Any) -> list[str]:
    """Names of the model's Conv nodes in graph (topological) order."""
    return [node.name for node in model.graph.node if node.op_type == "Conv"]


def conv_groups(model: Any, stages: Sequence[tuple[str, int]] = U2NETP_STAGES
                ) -> dict[str, list[str]]:
    """Conv node names grouped by stage, plus ``first`` (the input conv).

    Raises ``ValueError`` if the model's conv count does not match ``stages``: a different
    export would silently mislabel every group otherwise.
    """
    names = conv_names(model)
    expected = sum(count for _, count in stages)
    if len(names) != expected:
        raise ValueError(f"model has {len(names)} Conv nodes; the stage layout expects {expected}")
    groups: dict[str, list[str]] = {"first": names[:1]}
    start = 0
    for stage, count in stages:
        groups[stage] = names[start : start + count]
        start += count
    return groups


def convs_feeding(model: Any, op_type: str = "Sigmoid") -> list[str]:
    """Conv nodes whose output reaches an ``op_type`` node without passing another Conv.

    For u2netp with ``Sigmoid`` these are the six side heads and the fusion conv.
    """
    producer = {out: node for node in model.graph.node for out in node.output}
    found: dict[str, None] = {}
    stack = [name for node in model.graph.node if node.op_type == op_type for name in node.input]
    seen: set[str] = set()
    while stack:
        tensor = stack.pop()
        if tensor in seen or tensor not in producer:
            continue
        seen.add(tensor)
        node = producer[tensor]
        if node.op_type == "Conv":
            found[node.name] = None
        else:
            stack.extend(node.input)
    order = {name: i for i, name in enumerate(conv_names(model))}
    return sorted(found, key=order.__getitem__)


def select_excluded(model: Any, spec: Sequence[str],
                    stages: Sequence[tuple[str, int]] = U2NETP_STAGES) -> list[str]:
    """Node names to keep fp32 for a list of group names, ``sigmoid-inputs`` or ``conv:N``."""
    groups = conv_groups(model, stages)
    convs = conv_names(model)
    chosen: dict[str, None] = {}
    for item in spec:
        if item == "sigmoid-inputs":
            names = convs_feeding(model, "Sigmoid")
        elif item.startswith("conv:"):
            names = [convs[int(item.removeprefix("conv:"))]]
        elif item in groups:
            names = groups[item]
        else:
            known = ", ".join([*groups, "sigmoid-inputs", "conv:N"])
            raise ValueError(f"unknown exclusion {item!r}; use {known}")
        chosen.update(dict.fromkeys(names))
    return list(chosen)


# --- quantization ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QuantRecipe:
    """Everything besides calibration data that decides the quantized model's bytes."""

    exclude: tuple[str, ...] = ()
    per_channel: bool = True
    activation: str = "QUInt8"
    weight: str = "QInt8"
    op_types: tuple[str, ...] = ()  # empty: every op ORT can quantize


def quantize(model13: Any, ranges: Any, recipe: QuantRecipe,
             stages: Sequence[tuple[str, int]] = U2NETP_STAGES) -> Any:
    """The QDQ-quantized ModelProto of an opset-13 ``model13`` with ``ranges`` from calibrate()."""
    from alphacut.accel.quantization import qdq_quantize, with_inferred_shapes

    model = with_inferred_shapes(model13)
    return qdq_quantize(
        model, ranges, per_channel=recipe.per_channel, weight=recipe.weight,
        activation=recipe.activation, excluded=select_excluded(model, recipe.exclude, stages),
        op_types=recipe.op_types,
    )


def build_from_ranges(fp32: Path, ranges_file: Path, out: Path,
                      recipe: QuantRecipe = QuantRecipe(exclude=DEFAULT_EXCLUDE),
                      stages: Sequence[tuple[str, int]] = U2NETP_STAGES) -> str:
    """Write the int8 model from the fp32 model and saved ranges alone; returns its sha256.

    No photos are decoded, so the bytes depend only on the two inputs and library versions:
    this is the reproducible way to make a pinned ``u2netp-int8``.
    """
    import onnx

    from alphacut.accel.quantization import ensure_runtime, load_ranges

    ensure_runtime()
    model13 = omit_empty_resize_inputs(to_opset(onnx.load(str(fp32))))
    onnx.save(quantize(model13, load_ranges(ranges_file), recipe, stages), str(out))
    return sha256_file(out)
