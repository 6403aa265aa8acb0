"""Mixed-precision int8 u2netp: static per-channel QDQ with sensitive convolutions kept fp32.

Steps, all deterministic for one set of library versions:

1. Convert the opset 11 model to opset 13 (per-channel QuantizeLinear needs ``axis``, which
   opset 11 lacks: without the conversion the written model fails to load).
2. Calibrate activation ranges once on a fixed, name-sorted subset of the data set.
3. Quantize with a chosen set of convolution groups left in fp32 and score the result on the
   held-out photos: mask difference against fp32 and ecssd-style MAE against ground truth.

``--sweep`` measures which groups matter (one group kept fp32 at a time, then greedy
accumulation); ``--exclude`` writes one model. Needs the optional ``onnx`` package.

Findings (ecssd-dev, photos 0001-0030 calibrate, 0031-0100 evaluate): keeping only conv 97
(the last conv of decoder stage 2) fp32 gives MAE 0.0306 against fp32's 0.0304. The model
must run without ONNX Runtime's ``WeightBiasQuantization`` transform, which corrupts QDQ graphs
that keep a conv fp32 (mask difference 0.64; found by disabling ORT's level-1 transforms one at
a time). With only that one off, the CPU EP still fuses the graph into int8 kernels (109 ms
per run against 248 ms for fp32) and OpenVINO compiles it itself (68 ms). The catalogue's
``u2netp-int8`` entry carries this as ``disabled_optimizers``.
Run ``python -m alphacut.bench.quantize --help``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alphacut.bench.inference_options import (
    BASELINE,
    DATA_DIR,
    Driver,
    Sample,
    Variant,
    alpha_mae,
    default_model,
    load_samples,
    mask_difference,
    open_session,
    variant_named,
)
from alphacut.models.catalogue import INT8_GATE_MAE

TARGET_OPSET = 13
MAE_MARGIN = INT8_GATE_MAE  # the gate: int8 MAE may exceed fp32 MAE by at most this
CALIBRATION_CHUNK = 3
# Measured (--sweep and single-conv trials): the last conv of decoder stage 2 (conv 97, whose
# ReLU output loses ~all SNR at 8 bits) is the one layer that must stay fp32.
DEFAULT_EXCLUDE: tuple[str, ...] = ("conv:97",)
# Ops whose outputs carry image data. The shape-computing ops (Shape/Gather/Slice/Cast...)
# stay unquantized, and their empty float tensors crash the histogram calibrators.
IMAGE_OPS: tuple[str, ...] = ("Add", "Concat", "Conv", "MaxPool", "Relu", "Resize", "Sigmoid")

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


# --- calibration and quantization ------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Which photos calibrate and which evaluate: the first ``calibrate`` names, sorted."""

    calibration: list[str]
    evaluation: list[str]

    @classmethod
    def of(cls, data_dir: Path, calibrate: int) -> Split:
        names = sorted(p.stem for p in (data_dir / "images").glob("*.jpg"))
        return cls(names[:calibrate], names[calibrate:])


class TensorReader:
    """ORT calibration data reader over fixed tensors, always in the same order."""

    def __init__(self, input_name: str, tensors: Sequence[np.ndarray]) -> None:
        self.input_name = input_name
        self.tensors = list(tensors)
        self._iter: Iterator[np.ndarray] = iter(self.tensors)

    def get_next(self) -> dict[str, np.ndarray] | None:
        tensor = next(self._iter, None)
        return None if tensor is None else {self.input_name: tensor}

    def rewind(self) -> None:
        self._iter = iter(self.tensors)


def calibrate(model_path: Path, tensors: Sequence[np.ndarray], method: str = "MinMax",
              percentile: float = 99.999) -> Any:
    """Activation ranges of every quantizable tensor over ``tensors`` (ORT's calibrator)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, create_calibrator

    input_name = onnx.load(str(model_path)).graph.input[0].name
    options = {"percentile": percentile} if method == "Percentile" else {}
    with tempfile.TemporaryDirectory(prefix="alphacut-calib-") as tmp:
        calibrator = create_calibrator(
            model_path,
            list(IMAGE_OPS),
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=getattr(CalibrationMethod, method),
            extra_options=options,
        )
        # A few photos per pass: the augmented model returns every intermediate tensor
        # (about 1 GB per 320x320 photo); ranges and histograms merge across passes.
        for start in range(0, len(tensors), CALIBRATION_CHUNK):
            chunk = tensors[start : start + CALIBRATION_CHUNK]
            calibrator.collect_data(TensorReader(input_name, chunk))
        return calibrator.compute_data()


def save_ranges(ranges: Any, path: Path) -> None:
    """Write calibration ranges as JSON (lossless: float32 values printed with repr)."""
    data = {name: [np.asarray(td.range_value[0]).tolist(), np.asarray(td.range_value[1]).tolist()]
            for name, td in sorted(ranges.data.items())}
    path.write_text(json.dumps({"method": ranges.calibration_method.name, "ranges": data}))


def load_ranges(path: Path) -> Any:
    """Calibration ranges written by :func:`save_ranges`."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import TensorData, TensorsData

    raw = json.loads(path.read_text())
    data = {name: TensorData(lowest=np.asarray(lo, dtype=np.float32),
                             highest=np.asarray(hi, dtype=np.float32))
            for name, (lo, hi) in raw["ranges"].items()}
    return TensorsData(getattr(CalibrationMethod, raw["method"]), data)


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
    import onnx
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
    from onnxruntime.quantization.quant_utils import save_and_reload_model_with_shape_infer
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    model = save_and_reload_model_with_shape_infer(model13)
    op_types = list(recipe.op_types) or sorted(set(QLinearOpsRegistry) | set(QDQRegistry))
    quantizer = QDQQuantizer(
        model,
        recipe.per_channel,
        False,  # reduce_range: only for pre-VNNI CPUs; this one has VNNI
        getattr(QuantType, recipe.weight),
        getattr(QuantType, recipe.activation),
        ranges,
        [],
        select_excluded(model, recipe.exclude, stages),
        op_types,
        {},
    )
    quantizer.quantize_model()
    out = onnx.ModelProto()
    out.CopyFrom(quantizer.model.model)
    return out


def build_from_ranges(fp32: Path, ranges_file: Path, out: Path,
                      recipe: QuantRecipe = QuantRecipe(exclude=DEFAULT_EXCLUDE),
                      stages: Sequence[tuple[str, int]] = U2NETP_STAGES) -> str:
    """Write the int8 model from the fp32 model and saved ranges alone; returns its sha256.

    No photos are decoded, so the bytes depend only on the two inputs and library versions:
    this is the reproducible way to make a pinned ``u2netp-int8``.
    """
    import onnx
    import onnxruntime  # noqa: F401  (fail early with a clear ImportError if missing)

    model13 = omit_empty_resize_inputs(to_opset(onnx.load(str(fp32))))
    onnx.save(quantize(model13, load_ranges(ranges_file), recipe, stages), str(out))
    return sha256_of(out)


# --- evaluation -------------------------------------------------------------------------------


@dataclass
class Score:
    """Quality of one model on the evaluation photos."""

    mask_mad: float
    mae: float | None


# ORT's level-1 graph transforms corrupt QDQ models that keep some convs fp32 (mask MAD 0.6
# against 0.001 with them off, on both the CPU EP and OpenVINO), so int8 runs unoptimised by
# ORT; OpenVINO still applies its own int8 fusions.
RUNTIME = Variant("int8-openvino", "openvino", graph_level="disable")


def score(model_path: Path, samples: Sequence[Sample], reference: Sequence[np.ndarray],
          *, with_mae: bool, runtime: Variant = RUNTIME) -> Score:
    """Run ``model_path`` on ``runtime`` and compare with the fp32 reference outputs."""
    driver = Driver(runtime, open_session(runtime, model_path))
    outputs = driver.run([s.tensor for s in samples])
    mae = alpha_mae(samples, outputs) if with_mae else None
    return Score(mask_difference(outputs, reference), mae)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Workbench:
    """The fp32 model, its opset-13 copy, calibration ranges and the evaluation reference."""

    fp32: Path
    model13: Any
    model13_path: Path
    ranges: Any
    samples: list[Sample]
    reference: list[np.ndarray]
    fp32_mae: float
    workdir: Path

    @classmethod
    def prepare(cls, fp32: Path, data_dir: Path, split: Split, method: str,
                eval_limit: int | None = None, ranges_file: Path | None = None,
                percentile: float = 99.999) -> Workbench:
        import onnx

        workdir = Path(tempfile.mkdtemp(prefix="alphacut-quant-"))
        model13 = omit_empty_resize_inputs(to_opset(onnx.load(str(fp32))))
        model13_path = workdir / "opset13.onnx"
        onnx.save(model13, str(model13_path))
        if ranges_file is not None and ranges_file.exists():
            ranges = load_ranges(ranges_file)
        else:
            calib = load_samples(data_dir, split.calibration, with_truth=False)
            ranges = calibrate(model13_path, [s.tensor for s in calib], method, percentile)
            if ranges_file is not None:
                save_ranges(ranges, ranges_file)
        names = split.evaluation[:eval_limit] if eval_limit else split.evaluation
        samples = load_samples(data_dir, names)
        base = variant_named(BASELINE)
        reference = Driver(base, open_session(base, fp32)).run([s.tensor for s in samples])
        return cls(fp32, model13, model13_path, ranges, samples, reference,
                   alpha_mae(samples, reference), workdir)

    def try_recipe(self, recipe: QuantRecipe, *, with_mae: bool = True,
                   out: Path | None = None, runtime: Variant = RUNTIME) -> tuple[Path, Score]:
        import onnx

        tag = hashlib.sha1(repr(recipe).encode()).hexdigest()[:12]
        path = out or self.workdir / f"q-{tag}.onnx"
        onnx.save(quantize(self.model13, self.ranges, recipe), str(path))
        return path, score(path, self.samples, self.reference, with_mae=with_mae,
                           runtime=runtime)


def sweep(bench: Workbench, log=print) -> list[dict[str, Any]]:
    """Keep each group fp32 alone, then add groups greedily by benefit; report every step."""
    groups = [g for g in conv_groups(bench.model13) if g != "first"] + ["first"]
    rows: list[dict[str, Any]] = []
    _, full = bench.try_recipe(QuantRecipe(exclude=()), with_mae=False)
    rows.append({"exclude": [], "mask_mad": full.mask_mad})
    log(f"all int8: MAD {full.mask_mad:.4f}")
    single: dict[str, float] = {}
    for group in groups:
        _, s = bench.try_recipe(QuantRecipe(exclude=(group,)), with_mae=False)
        single[group] = s.mask_mad
        rows.append({"exclude": [group], "mask_mad": s.mask_mad})
        log(f"fp32 {group}: MAD {s.mask_mad:.4f}")
    chosen: list[str] = []
    for group in sorted(single, key=single.__getitem__):
        chosen.append(group)
        _, s = bench.try_recipe(QuantRecipe(exclude=tuple(chosen)))
        rows.append({"exclude": list(chosen), "mask_mad": s.mask_mad, "mae": s.mae})
        log(f"fp32 {'+'.join(chosen)}: MAD {s.mask_mad:.4f} MAE {s.mae:.4f} "
            f"(fp32 {bench.fp32_mae:.4f})")
        if s.mae is not None and s.mae <= bench.fp32_mae + MAE_MARGIN:
            break
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alphacut.bench.quantize",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="fp32 u2netp (default: the cached one)")
    parser.add_argument("--data", type=Path, default=DATA_DIR / "ecssd-dev")
    parser.add_argument("--calibrate", type=int, default=30,
                        help="the first N photos (sorted by name) calibrate; the rest evaluate")
    parser.add_argument("--method", default="MinMax",
                        choices=("MinMax", "Entropy", "Percentile"))
    parser.add_argument("--percentile", type=float, default=99.999)
    parser.add_argument("--exclude", default=",".join(DEFAULT_EXCLUDE),
                        help="groups kept fp32: stage names, first, side, outconv, "
                             "sigmoid-inputs, conv:N")
    parser.add_argument("--activation", default="QUInt8", choices=("QUInt8", "QInt8"))
    parser.add_argument("--op-types", default="", help="only quantize these op types (e.g. Conv)")
    parser.add_argument("--sweep", action="store_true", help="measure which groups matter")
    parser.add_argument("--eval-limit", type=int, help="score on only this many held-out photos")
    parser.add_argument("--ranges", type=Path,
                        help="calibration ranges JSON: read if present, else computed and written")
    parser.add_argument("--runtime", default="openvino", choices=("openvino", "cpu"),
                        help="provider that scores the model (ORT graph optimisation off)")
    parser.add_argument("--out", type=Path, help="write the quantized model here")
    parser.add_argument("--no-eval", action="store_true",
                        help="with an existing --ranges and --out: only build, print sha256")
    parser.add_argument("--json", type=Path, help="write the scores here")
    args = parser.parse_args(argv)
    if args.no_eval:
        if not (args.ranges and args.ranges.exists() and args.out):
            parser.error("--no-eval needs an existing --ranges file and --out")
        recipe = QuantRecipe(exclude=tuple(x for x in args.exclude.split(",") if x),
                             activation=args.activation,
                             op_types=tuple(x for x in args.op_types.split(",") if x))
        digest = build_from_ranges(args.model or default_model(), args.ranges, args.out, recipe)
        print(f"{digest}  {args.out}")
        return 0

    split = Split.of(args.data, args.calibrate)
    bench = Workbench.prepare(args.model or default_model(), args.data, split, args.method,
                              args.eval_limit, args.ranges, args.percentile)
    report: dict[str, Any] = {
        "calibration": f"{split.calibration[0]}..{split.calibration[-1]}",
        "evaluation": f"{len(bench.samples)} held-out photos",
        "method": args.method if args.method != "Percentile" else f"Percentile {args.percentile}",
        "fp32_mae": round(bench.fp32_mae, 5),
    }
    print(f"fp32 MAE on {len(bench.samples)} held-out photos: {bench.fp32_mae:.4f}")
    if args.sweep:
        report["sweep"] = sweep(bench)
    else:
        recipe = QuantRecipe(exclude=tuple(x for x in args.exclude.split(",") if x),
                             activation=args.activation,
                             op_types=tuple(x for x in args.op_types.split(",") if x))
        runtime = Variant(f"int8-{args.runtime}", args.runtime, graph_level="disable")
        path, s = bench.try_recipe(recipe, out=args.out, runtime=runtime)
        passed = s.mae is not None and s.mae <= bench.fp32_mae + MAE_MARGIN
        report.update({"recipe": recipe.__dict__, "runtime": runtime.provider_entry(),
                       "ort_graph_optimization": runtime.graph_level,
                       "mask_mad": round(s.mask_mad, 5),
                       "mae": round(s.mae or 0.0, 5), "passes_gate": passed,
                       "model": str(path), "sha256": sha256_of(path)})
        verdict = "PASSES" if passed else "FAILS"
        report["fp32_runtime_mae_same_photos"] = round(bench.fp32_mae, 5)
        print(f"int8 {'+'.join(recipe.exclude) or '(all)'}: MAD {s.mask_mad:.4f}, MAE {s.mae:.4f} "
              f"vs fp32 {bench.fp32_mae:.4f}: {verdict} the +{MAE_MARGIN} gate; {path}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
