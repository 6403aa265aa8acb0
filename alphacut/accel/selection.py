"""Choosing an adapter: ``request_adapter(preference=…, allow=…, deny=…)``.

Modelled on WebGPU's ``requestAdapter({powerPreference})``: the caller states a
preference and gets an adapter with its info, or the CPU fallback adapter. Order:

- high-performance: TensorRT > CUDA > DirectML (discrete GPU) > OpenVINO GPU >
  DirectML (integrated) > CoreML > WebGPU > OpenVINO NPU > OpenVINO CPU > CPU;
- low-power: NPU and integrated GPUs first, discrete GPUs last;
- cpu: the CPU adapter only.

An adapter whose probe failed or was skipped is never chosen, and one whose probe was
slower than the CPU's loses to the CPU (a software WebGPU adapter, for example).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from alphacut.accel.adapter import CPU_ADAPTER, KIND_ALIASES, KINDS, Adapter, Precision
from alphacut.accel.agreement import EXACT, AgreementRule
from alphacut.accel.backend import Backend, Discovery
from alphacut.accel.probe import ProbeCache, probe, reference_outputs
from alphacut.checksum import sha256_file
from alphacut.errors import ProviderError

# An adapter must be clearly slower than the CPU to lose to it: steady times of equally
# fast providers differ by a few percent from run to run.
SLOWER_THAN_CPU = 0.9

Preference = Literal["high-performance", "low-power", "cpu"]
PREFERENCES: tuple[str, ...] = ("high-performance", "low-power", "cpu")

HIGH_PERFORMANCE: tuple[str, ...] = (
    "tensorrt", "cuda", "directml-discrete", "directml", "openvino-gpu",
    "directml-integrated", "coreml", "webgpu", "npu", "openvino-cpu", "cpu",
)
LOW_POWER: tuple[str, ...] = (
    "npu", "openvino-gpu", "directml-integrated", "coreml", "webgpu", "openvino-cpu",
    "cpu", "directml", "directml-discrete", "cuda", "tensorrt",
)


def adapter_class(adapter: Adapter) -> str:
    """The ranking class of an adapter (see the module docstring)."""
    kind = adapter.kind
    if adapter.device_type == "npu":
        return "npu"
    if kind == "directml":
        if adapter.discrete is None:
            return "directml"
        return "directml-discrete" if adapter.discrete else "directml-integrated"
    if kind == "openvino":
        return "openvino-gpu" if adapter.device_type == "gpu" else "openvino-cpu"
    return kind


def rank(adapter: Adapter, preference: Preference) -> int:
    """Position of ``adapter`` in the preference order (lower is better)."""
    if preference == "cpu":
        return 0 if adapter.kind == "cpu" else 99
    order = HIGH_PERFORMANCE if preference == "high-performance" else LOW_POWER
    klass = adapter_class(adapter)
    return order.index(klass) if klass in order else len(order)


def speedup(adapter: Adapter, cpu: Adapter | None) -> float | None:
    """CPU steady ms / adapter steady ms (2.0 means twice as fast as CPU), when both are known."""
    if cpu is None or adapter.probe is None or cpu.probe is None:
        return None
    mine, base = adapter.probe.steady_ms, cpu.probe.steady_ms
    if not mine or not base:
        return None
    return base / mine


def matches(adapter: Adapter, pattern: str) -> bool:
    """Whether ``pattern`` (``cuda``, ``openvino:GPU``, ``dml:1``, …) names this adapter."""
    kind, _, device = pattern.strip().partition(":")
    kind = KIND_ALIASES.get(kind.lower(), kind.lower())
    if kind != adapter.kind:
        return False
    return not device or device.upper() == adapter.device.upper()


@dataclass(frozen=True)
class ProviderRequest:
    """A parsed ``--provider`` value: ``auto``, a preference, or ``KIND[:DEVICE]``."""

    kind: str  # "auto" or a key of KINDS
    device: str = ""
    preference: Preference = "high-performance"

    @property
    def forced(self) -> bool:
        return self.kind != "auto"


def parse_provider(text: str, preference: Preference = "high-performance") -> ProviderRequest:
    """Parse ``auto``, ``high-performance``, ``low-power``, ``cpu`` or ``KIND[:DEVICE]``."""
    value = text.strip()
    lowered = value.lower()
    if lowered in ("", "auto"):
        return ProviderRequest("auto", preference=preference)
    if lowered in ("high-performance", "low-power"):
        return ProviderRequest("auto", preference=lowered)  # type: ignore[arg-type]
    kind, _, device = value.partition(":")
    kind = KIND_ALIASES.get(kind.lower(), kind.lower())
    if kind not in KINDS:
        names = ", ".join(["auto", "high-performance", "low-power", *KINDS])
        raise ProviderError(f"unknown provider {text!r}; use one of: {names} (KIND[:DEVICE])")
    return ProviderRequest(kind, device.strip())


def forced_adapter(request: ProviderRequest, discovery: Discovery) -> Adapter:
    """The adapter a forced ``--provider KIND[:DEVICE]`` names; raises when it cannot exist."""
    if request.kind == "cpu":
        return CPU_ADAPTER
    provider = KINDS[request.kind][0]
    listed = [a for a in discovery.adapters if a.kind == request.kind]
    if request.device:
        for adapter in listed:
            if adapter.device.upper() == request.device.upper():
                return adapter
    elif listed:
        usable = [a for a in listed if a.probe is None or a.probe.status != "skipped"]
        return (usable or listed)[0]
    if provider not in discovery.runtime.providers and not listed:
        have = ", ".join(discovery.runtime.providers) or "none"
        raise ProviderError(
            f"{KINDS[request.kind][1]} is not available in this ONNX Runtime "
            f"({discovery.runtime.distribution or 'unknown build'} {discovery.runtime.version}; "
            f"providers: {have})"
        )
    # The provider exists but discovery did not list this device (e.g. openvino:GPU.1):
    # let session creation decide.
    device = request.device or ("CPU" if request.kind == "openvino" else "0")
    family = device.split(".")[0].upper()
    if family == "NPU":
        device_type = "npu"
    elif family == "GPU" or device.isdigit() or request.kind != "openvino":
        device_type = "gpu"
    else:
        device_type = "cpu"
    if request.kind == "openvino":
        device = device.upper()
    return Adapter(provider=provider, device=device, device_type=device_type)  # type: ignore[arg-type]


@dataclass
class Selection:
    """The chosen adapter, why, and every adapter considered (with probes, CPU included)."""

    adapter: Adapter
    reason: str
    preference: Preference
    adapters: list[Adapter] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        cpu = next((a for a in self.adapters if a.kind == "cpu"), None)
        rows = []
        for adapter in self.adapters:
            info = adapter.info()
            ratio = speedup(adapter, cpu)
            info["speed_vs_cpu"] = round(ratio, 3) if ratio else None
            info["chosen"] = adapter.key == self.adapter.key
            rows.append(info)
        return {"preference": self.preference, "chosen": self.adapter.label,
                "reason": self.reason, "adapters": rows}


def order(
    adapters: Sequence[Adapter],
    preference: Preference = "high-performance",
    *,
    allow: Iterable[str] | None = None,
    deny: Iterable[str] | None = None,
) -> list[Adapter]:
    """Eligible adapters best first: allowed, not denied, not failed/skipped, CPU-speed rule."""
    allow_list = [a for a in (allow or []) if a]
    deny_list = [d for d in (deny or []) if d]
    cpu = next((a for a in adapters if a.kind == "cpu"), None)

    def eligible(adapter: Adapter) -> bool:
        if adapter.kind == "cpu":
            return True  # the fallback is always allowed
        if preference == "cpu":
            return False
        if allow_list and not any(matches(adapter, p) for p in allow_list):
            return False
        if any(matches(adapter, p) for p in deny_list):
            return False
        return adapter.probe is None or adapter.probe.usable

    def sort_key(adapter: Adapter) -> tuple[int, int]:
        ratio = speedup(adapter, cpu)
        slower = ratio is not None and ratio < SLOWER_THAN_CPU and adapter.kind != "cpu"
        # A slower adapter sorts just after the CPU: the CPU wins, the order stays stable.
        return (rank(cpu, preference) if (slower and cpu) else rank(adapter, preference),
                1 if slower else 0)

    return sorted((a for a in adapters if eligible(a)), key=sort_key)


def choose(
    adapters: Sequence[Adapter],
    preference: Preference = "high-performance",
    *,
    allow: Iterable[str] | None = None,
    deny: Iterable[str] | None = None,
) -> Selection:
    """Pick the best eligible adapter and say why in one sentence."""
    ranked = order(adapters, preference, allow=allow, deny=deny)
    chosen = ranked[0] if ranked else CPU_ADAPTER
    cpu = next((a for a in adapters if a.kind == "cpu"), None)
    return Selection(chosen, explain(chosen, adapters, preference, cpu), preference,
                     list(adapters))


def explain(
    chosen: Adapter, adapters: Sequence[Adapter], preference: Preference, cpu: Adapter | None
) -> str:
    """Why ``chosen`` won, naming the better-ranked adapters that lost and how."""
    if preference == "cpu":
        return "preference 'cpu'"
    losers = []
    for adapter in adapters:
        if adapter.kind == "cpu" or adapter.key == chosen.key:
            continue
        if rank(adapter, preference) >= rank(chosen, preference) and chosen.kind != "cpu":
            continue
        ratio = speedup(adapter, cpu)
        if adapter.probe is not None and not adapter.probe.usable:
            losers.append(f"{adapter.label} {adapter.probe.status}")
        elif ratio is not None and ratio < SLOWER_THAN_CPU:
            losers.append(f"{adapter.label} slower than CPU ({ratio:.2f}x)")
        else:
            losers.append(f"{adapter.label} not allowed")
    ratio = speedup(chosen, cpu)
    if chosen.kind == "cpu":
        head = "no accelerated adapter works here" if losers else "only adapter available"
    else:
        head = f"first working adapter in {preference} order"
        if chosen.probe is None:
            head = f"first adapter in {preference} order (not probed yet)"
        elif ratio is not None:
            head += f", {ratio:.2f}x CPU speed"
        elif chosen.probe is not None and chosen.probe.status == "verified":
            head += " (verified, not yet timed: run 'alphacut providers')"
    return head + (f" ({'; '.join(losers)})" if losers else "")


def probe_adapters(
    backend: Backend,
    model_path: Path,
    adapters: Sequence[Adapter],
    *,
    threads: int,
    cache: ProbeCache | None = None,
    reprobe: bool = False,
    model_sha: str | None = None,
    steady_runs: int = 2,
    on_probe: Callable[[str], None] | None = None,
    rule: AgreementRule = EXACT,
    inputs: list[np.ndarray] | None = None,
) -> list[Adapter]:
    """Probe every adapter (CPU first, as the reference), using cached full probes when present.

    Adapters discovery already skipped keep their ``skipped`` probe. Only full probes
    (status ``ok`` or ``failed``) are taken from the cache: a ``verified`` entry
    written by a quick start is measured properly here. ``rule`` is how close to the CPU's
    outputs an adapter must stay (the model's own, see ``ModelSpec.agreement``); ``inputs``
    are the probe tensors (photos, needed by mask-level rules), a fixed random one if None.
    """
    sha = model_sha or (sha256_file(model_path) if cache is not None else "")
    cpu_first = sorted(adapters, key=lambda a: a.kind != "cpu")
    reference = None
    done: dict[tuple[str, str], Adapter] = {}
    for adapter in cpu_first:
        if adapter.probe is not None and adapter.probe.status == "skipped":
            done[adapter.key] = adapter
            continue
        cached = cache.get(adapter, sha) if (cache is not None and not reprobe) else None
        if cached is not None and cached.status in ("ok", "failed"):
            done[adapter.key] = adapter.with_probe(cached)
            continue
        if adapter.kind != "cpu" and reference is None:
            # The CPU result came from the cache; accelerated probes still need its outputs.
            reference = reference_outputs(backend, model_path, threads=threads, inputs=inputs)
        if on_probe is not None:
            on_probe(adapter.label)
        run = probe(backend, model_path, adapter, threads=threads, reference=reference,
                    steady_runs=steady_runs, rule=rule, inputs=inputs)
        if adapter.kind == "cpu":
            reference = run.outputs
        if cache is not None:
            cache.put(adapter, sha, run.result)
        done[adapter.key] = adapter.with_probe(run.result)
    return [done[a.key] for a in adapters]


def request_adapter(
    model_path: Path,
    *,
    preference: Preference = "high-performance",
    allow: Iterable[str] | None = None,
    deny: Iterable[str] | None = None,
    backend: Backend | None = None,
    probe_cache: ProbeCache | None = None,
    reprobe: bool = False,
    threads: int | None = None,
    model_sha: str | None = None,
    disabled_optimizers: tuple[str, ...] = (),
    rule: AgreementRule = EXACT,
    inputs: list[np.ndarray] | None = None,
) -> Selection:
    """Discover, probe (cached) and choose: the adapter to use for ``model_path``.

    ``disabled_optimizers`` names ONNX Runtime graph transforms that would break the model
    (the catalogue says which); it only applies when no ``backend`` is given.
    """
    from alphacut.accel.threads import default_threads

    backend = backend or default_backend(disabled_optimizers=disabled_optimizers)
    discovery = backend.discover()
    cache = probe_cache if probe_cache is not None else default_probe_cache(discovery)
    adapters = probe_adapters(
        backend, model_path, discovery.adapters, threads=threads or default_threads(),
        cache=cache, reprobe=reprobe, model_sha=model_sha, rule=rule, inputs=inputs,
    )
    return choose(adapters, preference, allow=allow, deny=deny)


def default_backend(
    precision: Precision = "fp32", *, disabled_optimizers: tuple[str, ...] = ()
) -> Backend:
    """The real ONNX Runtime backend (``precision`` applies to OpenVINO on a CPU)."""
    from alphacut.accel.ort_backend import OrtBackend

    return OrtBackend(precision=precision, disabled_optimizers=disabled_optimizers)


def default_probe_cache(discovery: Discovery) -> ProbeCache:
    """The probe cache under ``AppPaths.probes`` for this ONNX Runtime version."""
    from alphacut.paths import AppPaths

    return ProbeCache(AppPaths.from_env().probes, discovery.runtime.version)
