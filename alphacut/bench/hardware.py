"""The hardware benchmark: each adapter on the same images, interleaved run by run.

Conventions follow ONNX Runtime's perf_test (session creation, first inference, warm-up,
latency percentiles, throughput), plus CPU %, peak RSS and temperature. Adapters take
turns run by run so that a noisy neighbour slows all of them alike, and the order flips
every run (A B, B A, A B, ...) so that neither always goes first; every speed ratio is the
median of per-run ratios, reported with its min-max over those runs.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alphacut.bench.environment import Environment, collect
from alphacut.bench.sampler import ResourceSampler, ResourceUsage, merge_usages
from alphacut.bench.stats import Ratio, percentile, round_or_none
from alphacut.errors import AlphacutError

BASELINE = "cpu"
GPU_FIGURES = ("gpu_percent_max", "gpu_percent_mean", "gpu_memory_peak_mb", "gpu_temp_max_c")

ProgressCallback = Callable[[int, int, str], None]


@dataclass(frozen=True)
class HardwareSettings:
    """What was asked for."""

    images: tuple[Path, ...]
    model: str = "u2netp"
    providers: tuple[str, ...] = ("cpu", "auto")
    runs: int = 3
    warmup: int = 1
    threads: int | None = None
    refine: str | None = None  # None: the pipeline's default edge refinement

    def as_dict(self) -> dict[str, object]:
        return {
            "refine": self.refine,
            "images": [str(p) for p in self.images],
            "model": self.model,
            "providers": list(self.providers),
            "runs": self.runs,
            "warmup": self.warmup,
            "threads": self.threads,
        }


@dataclass
class AdapterResult:
    """Everything measured for one adapter."""

    requested: str
    label: str = ""
    session_create_ms: float = float("nan")
    first_inference_ms: float = float("nan")
    inference_ms: list[float] = field(default_factory=list)
    end_to_end_ms: list[float] = field(default_factory=list)
    inference_pass_s: list[float] = field(default_factory=list)
    end_to_end_pass_s: list[float] = field(default_factory=list)
    images_done: int = 0
    usages: list[ResourceUsage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def images_per_s(self) -> float:
        wall = sum(self.end_to_end_pass_s)
        return self.images_done / wall if wall > 0 else float("nan")

    def usage(self) -> ResourceUsage | None:
        """All of this adapter's phases merged: CPU % weighted by time, peaks and extremes."""
        return merge_usages(self.usages)

    def summary(self) -> dict[str, object]:
        """The numbers shown in the table (ms, images/s, resources)."""
        usage = self.usage()
        return {
            "requested": self.requested,
            "adapter": self.label or self.requested,
            "session_create_ms": round_or_none(self.session_create_ms, 1),
            "first_inference_ms": round_or_none(self.first_inference_ms, 1),
            "inference_p50_ms": round_or_none(percentile(self.inference_ms, 50), 1),
            "inference_p90_ms": round_or_none(percentile(self.inference_ms, 90), 1),
            "inference_p99_ms": round_or_none(percentile(self.inference_ms, 99), 1),
            "end_to_end_p50_ms": round_or_none(percentile(self.end_to_end_ms, 50), 1),
            "images_per_s": round_or_none(self.images_per_s, 3),
            "cpu_percent": round_or_none(usage.cpu_percent, 1) if usage else None,
            "peak_rss_mb": round_or_none(usage.peak_rss_mb, 1) if usage else None,
            "temp_start_c": round_or_none(usage.temp_start_c, 1) if usage else None,
            "temp_max_c": round_or_none(usage.temp_max_c, 1) if usage else None,
            "temp_end_c": round_or_none(usage.temp_end_c, 1) if usage else None,
            **{key: round_or_none(getattr(usage, key), 1) if usage else None
               for key in GPU_FIGURES},
            "errors": len(self.errors),
        }

    def as_dict(self) -> dict[str, object]:
        return {
            **self.summary(),
            "error_messages": self.errors,
            "inference_ms": [round(v, 2) for v in self.inference_ms],
            "end_to_end_ms": [round(v, 2) for v in self.end_to_end_ms],
            "inference_pass_s": [round(v, 4) for v in self.inference_pass_s],
            "end_to_end_pass_s": [round(v, 4) for v in self.end_to_end_pass_s],
        }


@dataclass
class HardwareReport:
    """The whole benchmark: environment, settings, per-adapter results and paired ratios."""

    environment: Environment
    settings: HardwareSettings
    adapters: list[AdapterResult]
    unavailable: dict[str, str]
    inference_speedup: dict[str, Ratio]
    end_to_end_speedup: dict[str, Ratio]
    started: str = ""
    cancelled: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return verdict(self)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": "hardware",
            "started": self.started,
            "cancelled": self.cancelled,
            "environment": self.environment.as_dict(),
            "settings": self.settings.as_dict(),
            "adapters": [a.as_dict() for a in self.adapters],
            "unavailable": self.unavailable,
            "problems": self.problems,
            "speedup_vs_cpu": {
                label: {
                    "inference": self.inference_speedup[label].as_dict(),
                    "end_to_end": self.end_to_end_speedup[label].as_dict(),
                }
                for label in self.inference_speedup
            },
            "verdict": self.verdict,
        }


def expand_providers(text: str, discovery=None) -> tuple[tuple[str, ...], dict[str, str]]:
    """The adapters to measure for ``--providers`` and those discovery ruled out (with why).

    ``all``: every adapter discovery lists (CPU first); ``auto``: the CPU and the adapter
    ``auto`` picks (measured once if they are the same); otherwise a comma-separated list.
    """
    words = tuple(w.strip() for w in text.split(",") if w.strip()) or ("auto",)
    if words == ("auto",):
        return (BASELINE, "auto"), {}
    if words != ("all",):
        return tuple(dict.fromkeys(words)), {}  # keep order, drop repeats
    if discovery is None:
        from alphacut.accel.selection import default_backend

        discovery = default_backend().discover()
    runnable: list[str] = [BASELINE]
    skipped: dict[str, str] = {}
    for adapter in discovery.adapters:
        if adapter.probe is not None and adapter.probe.status == "skipped":
            skipped[adapter.label] = adapter.probe.error or "skipped by discovery"
        elif adapter.label not in runnable:
            runnable.append(adapter.label)
    return tuple(runnable), skipped


def verdict(report: HardwareReport) -> str:
    """One sentence: is an accelerated adapter worth it here, judged on the paired ratios."""
    others = [label for label in report.end_to_end_speedup if label != BASELINE]
    if not others:
        if report.unavailable:
            return "Only the CPU adapter runs here; nothing to compare it with."
        return "Only one adapter was measured; nothing to compare."
    lines = []
    for label in others:
        ratio = report.end_to_end_speedup[label]
        inf = report.inference_speedup[label]
        if ratio.pairs == 0:
            lines.append(f"{label}: no successful paired runs.")
        elif ratio.low > 1.0:
            lines.append(f"{label} is faster than cpu: {ratio.describe()} end to end.")
        elif ratio.high < 1.0:
            lines.append(f"{label} is slower than cpu: {ratio.describe()} end to end.")
        else:
            lines.append(
                f"{label} vs cpu: no clear difference ({ratio.describe()} end to end, "
                f"inference {inf.describe()}); the spread crosses 1.0."
            )
    return " ".join(lines)


def _pass_tensors(remover, images: Sequence[Path], problems: list[str]) -> list:
    """Model inputs for the inference-only passes; unreadable images become problems."""
    from alphacut.pipeline.decode import decode

    tensors = []
    for path in images:
        try:
            tensors.append(remover.prepare(decode(path).rgb))
        except AlphacutError as exc:
            problems.append(str(exc))
    if not tensors:
        raise AlphacutError("none of the images could be decoded: " + "; ".join(problems))
    return tensors


def run_hardware_bench(
    settings: HardwareSettings,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    model_path: Path | None = None,
    skipped: dict[str, str] | None = None,
    backend=None,
) -> HardwareReport:
    """Measure every adapter in ``settings`` and return the report (never raises per adapter).

    ``skipped`` lists adapters ruled out before the run (see :func:`expand_providers`); they
    appear in the report as unavailable. An adapter that resolves to one already measured
    (``auto`` picking the CPU, say) is measured once. ``backend`` replaces the real ONNX
    Runtime backend (the accel layer's fake one, in tests).
    """
    from alphacut.accel import open_runner
    from alphacut.accel.nvidia import Nvml
    from alphacut.models.catalogue import get_model
    from alphacut.models.store import ModelStore
    from alphacut.pipeline.batch import BatchRunner
    from alphacut.pipeline.jobs import plan_jobs
    from alphacut.pipeline.output import OutputOptions
    from alphacut.pipeline.remover import RemoveOptions, Remover

    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    spec = get_model(settings.model)
    path = model_path or ModelStore().locate(settings.model)
    images = list(settings.images)
    if not images:
        raise AlphacutError("no images to benchmark")
    total_steps = len(settings.providers) + settings.runs * len(settings.providers) * 2
    step = 0

    def progress(message: str) -> None:
        nonlocal step
        step += 1
        if on_progress:
            on_progress(step, total_steps, message)

    def cancelled() -> bool:
        return cancel is not None and cancel.is_set()

    results: list[AdapterResult] = []
    removers: dict[str, Remover] = {}
    unavailable: dict[str, str] = dict(skipped or {})
    problems: list[str] = []
    tensors: list | None = None
    threads_used: int | None = settings.threads
    gpu = Nvml()  # one NVML handle for every phase; without a GPU its figures are n/a
    for requested in settings.providers:
        result = AdapterResult(requested=requested)
        try:
            with ResourceSampler(gpu=gpu) as create_sampler:
                start = time.perf_counter()
                runner = open_runner(
                    path, provider=requested, strict=True, threads=settings.threads,
                    backend=backend, disabled_optimizers=spec.disabled_optimizers,
                )
                result.session_create_ms = (time.perf_counter() - start) * 1000
        except (AlphacutError, OSError) as exc:
            unavailable[requested] = str(exc).splitlines()[0]
            progress(f"{requested}: unavailable")
            continue
        options = RemoveOptions(refine=settings.refine) if settings.refine else None
        remover = Remover(spec, runner, options)
        if tensors is None:
            # A bad image is the images' fault, not the adapter's: it is a report problem.
            tensors = _pass_tensors(remover, images, problems)
        try:
            with ResourceSampler(gpu=gpu) as sampler:
                start = time.perf_counter()
                runner.run(tensors[0])
                result.first_inference_ms = (time.perf_counter() - start) * 1000
                for i in range(max(0, settings.warmup)):
                    runner.run(tensors[i % len(tensors)])
        except (AlphacutError, OSError) as exc:
            unavailable[requested] = f"first inference failed: {str(exc).splitlines()[0]}"
            progress(f"{requested}: unavailable")
            continue
        result.usages += [create_sampler.usage, sampler.usage]
        result.label = runner.adapter.label
        if any(r.label == result.label for r in results):
            unavailable[requested] = f"same adapter as {result.label}, measured once"
            progress(f"{requested}: same as {result.label}")
            continue
        threads_used = runner.threads
        removers[requested] = remover
        results.append(result)
        progress(f"{result.label}: session ready")
    total_steps = len(settings.providers) + settings.runs * len(results) * 2

    output = OutputOptions(existing="overwrite")
    with tempfile.TemporaryDirectory(prefix="alphacut-bench-") as tmp:
        for run in range(settings.runs):
            for result in results if run % 2 == 0 else list(reversed(results)):
                if cancelled():
                    break
                remover = removers[result.requested]
                _inference_pass(remover, tensors or [], result, gpu)
                progress(f"{result.label}: run {run + 1}/{settings.runs} inference")
                out_dir = Path(tmp) / result.requested.replace(":", "_")
                jobs, unplanned = plan_jobs(images, out_dir, output)
                result.errors.extend(str(p) for p in unplanned)
                _end_to_end_pass(BatchRunner(remover, output), jobs, result, gpu)
                progress(f"{result.label}: run {run + 1}/{settings.runs} end to end")

    baseline = next((r for r in results if r.label == BASELINE), None)
    inference_speedup: dict[str, Ratio] = {}
    end_to_end_speedup: dict[str, Ratio] = {}
    if baseline is not None:
        for result in results:
            if result is baseline:
                continue
            # speed-up = baseline time / adapter time, per interleaved run
            inference_speedup[result.label] = Ratio.of_pairs(
                baseline.inference_pass_s, result.inference_pass_s
            )
            end_to_end_speedup[result.label] = Ratio.of_pairs(
                baseline.end_to_end_pass_s, result.end_to_end_pass_s
            )
    from alphacut.accel.selection import default_backend

    environment = collect(
        model=spec.name,
        model_path=path,
        intra_op_threads=threads_used,
        providers=(backend or default_backend()).discover().runtime.providers,
    )
    return HardwareReport(
        environment=environment,
        settings=settings,
        adapters=results,
        unavailable=unavailable,
        inference_speedup=inference_speedup,
        end_to_end_speedup=end_to_end_speedup,
        started=started,
        cancelled=cancelled(),
        problems=problems,
    )


def _inference_pass(remover, tensors: list, result: AdapterResult, gpu=None) -> None:
    """Inference alone on every prepared tensor; one wall time for the pass."""
    with ResourceSampler(gpu=gpu) as sampler:
        pass_start = time.perf_counter()
        for tensor in tensors:
            start = time.perf_counter()
            try:
                remover.runner.run(tensor)
            except AlphacutError as exc:
                result.errors.append(str(exc))
                continue
            result.inference_ms.append((time.perf_counter() - start) * 1000)
        result.inference_pass_s.append(time.perf_counter() - pass_start)
    result.usages.append(sampler.usage)
    for event in remover.runner.fallback_events:
        message = f"fallback: {event.describe()}"
        if message not in result.errors:
            result.errors.append(message)


def _end_to_end_pass(batch, jobs: list, result: AdapterResult, gpu=None) -> None:
    """The real pipeline, decode -> write, into a scratch folder."""
    with ResourceSampler(gpu=gpu) as sampler:
        start = time.perf_counter()
        for job_result in batch.run(jobs):
            if job_result.status == "done":
                result.end_to_end_ms.append(job_result.timings.total)
                result.images_done += 1
            else:
                result.errors.append(f"{job_result.job.source}: {job_result.error}")
        result.end_to_end_pass_s.append(time.perf_counter() - start)
    result.usages.append(sampler.usage)
