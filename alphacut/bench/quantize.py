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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alphacut.accel.quantization import calibrate, load_ranges, save_ranges
from alphacut.bench.inference_options import (
    BASELINE,
    Driver,
    Variant,
    default_model,
    open_session,
    variant_named,
)
from alphacut.bench.mask_samples import Sample, alpha_mae, load_samples, mask_difference
from alphacut.checksum import sha256_file
from alphacut.models.catalogue import INT8_GATE_MAE
from alphacut.models.quantize import (
    DEFAULT_EXCLUDE,
    QuantRecipe,
    build_from_ranges,
    conv_groups,
    omit_empty_resize_inputs,
    quantize,
    to_opset,
)

MAE_MARGIN = INT8_GATE_MAE  # the gate: int8 MAE may exceed fp32 MAE by at most this


@dataclass(frozen=True)
class Split:
    """Which photos calibrate and which evaluate: the first ``calibrate`` names, sorted."""

    calibration: list[str]
    evaluation: list[str]

    @classmethod
    def of(cls, data_dir: Path, calibrate: int) -> Split:
        names = sorted(p.stem for p in (data_dir / "images").glob("*.jpg"))
        return cls(names[:calibrate], names[calibrate:])


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
    parser.add_argument("--data", type=Path,
                        help="data set folder with images/ and masks/, e.g. ecssd-dev "
                             "(needed unless --no-eval)")
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

    if args.data is None:
        parser.error("--data is needed to calibrate and score")
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
                       "model": str(path), "sha256": sha256_file(path)})
        verdict = "PASSES" if passed else "FAILS"
        report["fp32_runtime_mae_same_photos"] = round(bench.fp32_mae, 5)
        print(f"int8 {'+'.join(recipe.exclude) or '(all)'}: MAD {s.mask_mad:.4f}, MAE {s.mae:.4f} "
              f"vs fp32 {bench.fp32_mae:.4f}: {verdict} the +{MAE_MARGIN} gate; {path}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
