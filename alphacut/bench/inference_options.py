"""Side-by-side measurement of inference options: providers, session settings, model layouts.

Each variant opens its own ONNX Runtime session on a (possibly rewritten) copy of the model.
Timing rounds are interleaved (A B C ... A B C ...) so that load from other processes on a
shared machine hits every variant alike; each variant's time is reported as a ratio to the
baseline measured in the same round, with the min-max over rounds. Quality is the mean
absolute difference of the model-resolution mask against fp32 CPU, and optionally the
ecssd-style MAE of the full alpha against ground-truth masks.

Sessions come from ``alphacut.accel.tuned_session``, which takes every ONNX Runtime option
a variant can set; the product's own sessions are opened by ``alphacut.accel.runner``.
Run ``python -m alphacut.bench.inference_options --help``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from alphacut.accel.tuned_session import GraphLevel
from alphacut.bench.mask_samples import alpha_mae, load_samples, mask_difference

ProviderKind = Literal["cpu", "openvino"]
ModelLayout = Literal["nchw", "nhwc", "fixed"]

BASELINE = "cpu-t2"


@dataclass(frozen=True)
class Variant:
    """One way of running the model, everything needed to open and drive its session."""

    name: str
    provider: ProviderKind = "cpu"
    threads: int = 2  # CPU EP intra-op threads
    graph_level: GraphLevel = "all"
    session_config: tuple[tuple[str, str], ...] = ()
    ov_config: tuple[tuple[str, str], ...] = ()  # OpenVINO CPU properties, sent via load_config
    ov_cache: bool = False
    workers: int = 1  # threads calling run() concurrently on the one session
    batch: int = 1  # images per run() call; rewrites the graph's batch dimension
    layout: ModelLayout = "nchw"
    model_path: Path | None = None  # another model file (e.g. a quantized one)
    note: str = ""

    def provider_entry(self, cache_dir: Path | None = None) -> tuple[str, dict[str, str]]:
        """The ``(name, options)`` pair ONNX Runtime takes for this variant."""
        if self.provider == "cpu":
            return "CPUExecutionProvider", {}
        options = {"device_type": "CPU"}
        if self.ov_config:
            options["load_config"] = json.dumps({"CPU": dict(self.ov_config)})
        if cache_dir is not None:
            options["cache_dir"] = str(cache_dir)
        return "OpenVINOExecutionProvider", options


def _ov(name: str, note: str = "", workers: int = 1, **props: str) -> Variant:
    return Variant(name, "openvino", ov_config=tuple(props.items()), workers=workers, note=note)


VARIANTS: tuple[Variant, ...] = (
    Variant(BASELINE, note="CPU EP, intra_op=2 (baseline)"),
    Variant("cpu-t1x2", threads=1, workers=2, note="CPU EP, intra_op=1, 2 concurrent runs"),
    Variant("cpu-nospin", session_config=(("session.intra_op.allow_spinning", "0"),)),
    Variant("cpu-opt-basic", graph_level="basic"),
    Variant("cpu-opt-extended", graph_level="extended"),
    Variant("cpu-nhwc-input", layout="nhwc", note="NHWC input + Transpose in graph"),
    Variant("cpu-fixed-shapes", layout="fixed", note="shape chains folded offline"),
    Variant("cpu-batch2", batch=2),
    Variant("cpu-batch4", batch=4),
    _ov("ov-default"),
    _ov("ov-latency", PERFORMANCE_HINT="LATENCY"),
    _ov("ov-threads2", INFERENCE_NUM_THREADS="2"),
    _ov("ov-throughput-w2", workers=2, PERFORMANCE_HINT="THROUGHPUT"),
    _ov("ov-streams2-w2", workers=2, NUM_STREAMS="2", INFERENCE_NUM_THREADS="2"),
    # What alphacut's own OpenVINO sessions set (ort_backend.provider_entries), alone and
    # with two streams driven by two concurrent runs.
    _ov("ov-product", INFERENCE_PRECISION_HINT="f32", ENABLE_CPU_PINNING="NO"),
    _ov("ov-product-s2w2", workers=2, INFERENCE_PRECISION_HINT="f32", ENABLE_CPU_PINNING="NO",
        NUM_STREAMS="2"),
    _ov("ov-bf16", INFERENCE_PRECISION_HINT="bf16"),
    _ov("ov-bf16-latency", PERFORMANCE_HINT="LATENCY", INFERENCE_PRECISION_HINT="bf16"),
    _ov("ov-bf16-streams2-w2", workers=2, NUM_STREAMS="2", INFERENCE_PRECISION_HINT="bf16"),
)


def variant_named(name: str) -> Variant:
    """Look a variant up by name; unknown names raise ``KeyError`` listing the known ones."""
    for variant in VARIANTS:
        if variant.name == name:
            return variant
    raise KeyError(f"unknown variant {name!r}; known: {', '.join(v.name for v in VARIANTS)}")


# --- model rewrites (need the optional ``onnx`` package) -------------------------------------


def with_batch(model: Any, batch: int) -> Any:
    """A copy of ``model`` whose first input and all outputs have batch dimension ``batch``.

    u2netp's graph computes every Resize target from ``Shape`` of live tensors, so only the
    declared dims need changing; the side outputs already carry symbolic dims.
    """
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    for value in (out.graph.input[0], *out.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = batch
    for info in list(out.graph.value_info):
        out.graph.value_info.remove(info)
    return out


def with_nhwc_input(model: Any) -> Any:
    """A copy of ``model`` that takes ``(n, h, w, c)`` input and transposes it in-graph."""
    import onnx
    from onnx import helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    first = graph.input[0]
    n, c, h, w = (d.dim_value for d in first.type.tensor_type.shape.dim)
    inner = first.name + "_nchw"
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == first.name:
                node.input[i] = inner
    graph.node.insert(0, helper.make_node("Transpose", [first.name], [inner], perm=[0, 3, 1, 2]))
    first.type.tensor_type.shape.dim[1].dim_value = h
    first.type.tensor_type.shape.dim[2].dim_value = w
    first.type.tensor_type.shape.dim[3].dim_value = c
    del n
    return out


def model_for(variant: Variant, base: Path, workdir: Path) -> Path:
    """The model file ``variant`` runs, written into ``workdir`` when it needs a rewrite."""
    source = variant.model_path or base
    if variant.batch == 1 and variant.layout == "nchw":
        return source
    import onnx

    dst = workdir / f"{variant.name}.onnx"
    if variant.layout == "fixed":
        from alphacut.accel.tuned_session import write_basic_optimized

        return write_basic_optimized(source, dst)
    model = onnx.load(str(source))
    if variant.batch != 1:
        model = with_batch(model, variant.batch)
    if variant.layout == "nhwc":
        model = with_nhwc_input(model)
    onnx.save(model, str(dst))
    return dst


# --- sessions ---------------------------------------------------------------------------------

def open_session(variant: Variant, model_path: Path, cache_dir: Path | None = None) -> Any:
    """An ORT session for ``variant``; raises if ORT silently fell back to another provider."""
    from alphacut.accel.tuned_session import open_tuned_session

    return open_tuned_session(
        model_path, variant.provider_entry(cache_dir), threads=variant.threads,
        graph_level=variant.graph_level, session_config=variant.session_config,
        name=variant.name,
    )


@dataclass
class Driver:
    """Runs a list of NCHW tensors through one variant's session; returns output 0 per image."""

    variant: Variant
    session: Any
    input_name: str = field(init=False)

    def __post_init__(self) -> None:
        self.input_name = self.session.get_inputs()[0].name
        self._pool = ThreadPoolExecutor(self.variant.workers) if self.variant.workers > 1 else None

    def _call(self, chunk: Sequence[np.ndarray]) -> list[np.ndarray]:
        x = np.concatenate(chunk) if len(chunk) > 1 else chunk[0]
        if self.variant.layout == "nhwc":
            x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        pred = self.session.run([self.session.get_outputs()[0].name], {self.input_name: x})[0]
        return [pred[i : i + 1] for i in range(pred.shape[0])]

    def run(self, tensors: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Output 0 for each tensor, in order; a short last batch is padded by repetition."""
        n = self.variant.batch
        chunks = []
        for i in range(0, len(tensors), n):
            chunk = list(tensors[i : i + n])
            chunks.append(chunk + [chunk[-1]] * (n - len(chunk)))
        results = self._pool.map(self._call, chunks) if self._pool else map(self._call, chunks)
        outputs = [o for part in results for o in part]
        return outputs[: len(tensors)]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


# --- timing ---------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Per-round milliseconds (per image, or per session create) for one variant."""

    name: str
    ms: list[float] = field(default_factory=list)

    def summary(self, baseline: Timing) -> dict[str, Any]:
        """Median ms and the paired ratio to ``baseline`` (same round), median and min-max."""
        from alphacut.bench.stats import Ratio

        ratio = Ratio.of_pairs(self.ms, baseline.ms).as_dict()
        return {"ms_median": round(statistics.median(self.ms), 1), "ratio_median": ratio["median"],
                "ratio_min": ratio["min"], "ratio_max": ratio["max"]}


def interleaved_timing(drivers: dict[str, Driver], tensors: Sequence[np.ndarray], rounds: int,
                       log: Callable[[str], None] = print) -> dict[str, Timing]:
    """Time every driver on ``tensors`` once per round, in rotating order within each round."""
    timings = {name: Timing(name) for name in drivers}
    names = list(drivers)
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            start = time.perf_counter()
            drivers[name].run(tensors)
            timings[name].ms.append((time.perf_counter() - start) * 1000 / len(tensors))
        log(f"round {r + 1}/{rounds}: " + ", ".join(
            f"{n}={timings[n].ms[-1]:.0f}" for n in names))
    return timings


def create_times(model: Path, rounds: int, log: Callable[[str], None] = print
                 ) -> dict[str, Timing]:
    """Session-create seconds: CPU EP, OpenVINO without cache, cold cache, warm cache."""
    ov = variant_named("ov-default")
    warm_dir = Path(tempfile.mkdtemp(prefix="alphacut-ovcache-warm-"))
    open_session(ov, model, warm_dir)  # populate the warm cache
    cases: dict[str, Callable[[], Any]] = {
        "create:cpu": lambda: open_session(variant_named(BASELINE), model),
        "create:ov-nocache": lambda: open_session(ov, model),
        "create:ov-cache-cold": lambda: open_session(
            ov, model, Path(tempfile.mkdtemp(prefix="alphacut-ovcache-cold-"))),
        "create:ov-cache-warm": lambda: open_session(ov, model, warm_dir),
    }
    timings = {name: Timing(name) for name in cases}
    for r in range(rounds):
        for name, make in cases.items():
            start = time.perf_counter()
            make()
            timings[name].ms.append((time.perf_counter() - start) * 1000)
        log(f"create round {r + 1}/{rounds}")
    return timings


# --- command line ---------------------------------------------------------------------------------


def default_model() -> Path:
    from alphacut.models.catalogue import DEFAULT_MODEL
    from alphacut.models.store import ModelStore

    return ModelStore().locate(DEFAULT_MODEL)


def measure(variants: Sequence[Variant], model: Path, data_dir: Path, *, images: int, rounds: int,
            mae_for: Sequence[str], log: Callable[[str], None] = print) -> dict[str, Any]:
    """Open every variant, check its masks against the baseline, then time them interleaved."""
    if variants[0].name != BASELINE:
        variants = [variant_named(BASELINE), *[v for v in variants if v.name != BASELINE]]
    workdir = Path(tempfile.mkdtemp(prefix="alphacut-bench-models-"))
    timing_set = load_samples(data_dir, limit=images, with_truth=False)
    tensors = [s.tensor for s in timing_set]
    drivers: dict[str, Driver] = {}
    results: dict[str, dict[str, Any]] = {}
    for v in variants:
        try:
            drivers[v.name] = Driver(v, open_session(v, model_for(v, model, workdir)))
        except Exception as exc:  # a variant this build cannot run is a result, not a crash
            results[v.name] = {"error": str(exc).splitlines()[0][:200]}
            log(f"{v.name}: cannot open: {results[v.name]['error']}")
    reference = drivers[BASELINE].run(tensors)
    for name, driver in drivers.items():
        results[name] = {"mask_mad": round(mask_difference(driver.run(tensors), reference), 5),
                         "note": driver.variant.note}
    if mae_for:
        eval_set = load_samples(data_dir)
        ref_eval = drivers[BASELINE].run([s.tensor for s in eval_set])
        for name in dict.fromkeys([BASELINE, *mae_for]):
            if name not in drivers:
                continue
            outs = ref_eval if name == BASELINE else drivers[name].run(
                [s.tensor for s in eval_set])
            results[name]["ecssd_mae"] = round(alpha_mae(eval_set, outs), 5)
            results[name]["eval_mad"] = round(mask_difference(outs, ref_eval), 5)
            log(f"{name}: MAE {results[name]['ecssd_mae']}")
    timings = interleaved_timing(drivers, tensors, rounds, log=log)
    for name, timing in timings.items():
        results[name].update(timing.summary(timings[BASELINE]))
    for driver in drivers.values():
        driver.close()
    return results


def render(results: dict[str, dict[str, Any]], title: str) -> None:
    """Print a Rich table of the results."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("variant", "ms/img", "ratio (med)", "min-max", "mask MAD", "ecssd MAE", "note"):
        table.add_column(col)
    for name, r in results.items():
        if "error" in r:
            table.add_row(name, "-", "-", "-", "-", "-", r["error"][:60])
            continue
        table.add_row(name, str(r.get("ms_median", "-")), str(r.get("ratio_median", "-")),
                      f"{r.get('ratio_min', '-')}-{r.get('ratio_max', '-')}",
                      str(r.get("mask_mad", "-")), str(r.get("ecssd_mae", "-")),
                      r.get("note", ""))
    Console(width=140).print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alphacut.bench.inference_options",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(v.name for v in VARIANTS),
                        help="comma-separated variant names (baseline always included)")
    parser.add_argument("--model", type=Path, help="fp32 model (default: cached u2netp)")
    parser.add_argument("--data", type=Path, required=True,
                        help="data set folder with images/ (and masks/ for --mae), e.g. ecssd-dev")
    parser.add_argument("--images", type=int, default=8, help="photos per timing round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mae", default="", help="variants to score on the whole data set")
    parser.add_argument("--create-rounds", type=int, default=0,
                        help="also time session creation (OpenVINO cache_dir) this many rounds")
    parser.add_argument("--other-model", action="append", default=[], metavar="NAME=PATH",
                        help="also time another model file (e.g. int8) as NAME on the CPU EP "
                             "and NAME-ov on OpenVINO; repeatable")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    model = args.model or default_model()
    variants = [variant_named(n) for n in args.variants.split(",") if n]
    for item in args.other_model:
        name, _, path = item.partition("=")
        variants += [Variant(name, model_path=Path(path), note=path),
                     Variant(f"{name}-ov", "openvino", model_path=Path(path), note=path),
                     # ORT's graph transforms corrupt mixed fp32/int8 QDQ models (quantize.py)
                     Variant(f"{name}-ov-noopt", "openvino", model_path=Path(path),
                             graph_level="disable", note=path),
                     Variant(f"{name}-ov-noopt-s2w2", "openvino", model_path=Path(path),
                             graph_level="disable", ov_config=(("NUM_STREAMS", "2"),), workers=2,
                             note=path),
                     Variant(f"{name}-noopt", model_path=Path(path), graph_level="disable",
                             note=path)]
    mae_for = [n for n in args.mae.split(",") if n]
    results = measure(variants, model, args.data, images=args.images, rounds=args.rounds,
                      mae_for=mae_for)
    from alphacut.accel.cpu_isa import detect

    isa = detect()  # the kernels' code paths, hence every ratio, depend on it
    render(results, f"{args.images} images x {args.rounds} rounds, ratio = time / {BASELINE}; "
                    f"CPU {isa.cpu_class}: {isa.summary()}")
    if args.create_rounds:
        times = create_times(model, args.create_rounds)
        creates = {n: t.summary(times["create:cpu"]) for n, t in times.items()}
        render(creates, "session create ms, ratio = time / CPU EP create")
        results.update(creates)
    if args.json:
        args.json.write_text(json.dumps({**results, "cpu": isa.as_record()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
