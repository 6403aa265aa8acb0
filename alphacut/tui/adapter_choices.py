"""The adapters the picker offers, with each one's probe result, from the accel layer.

:func:`alphacut.accel.request_adapter` discovers the adapters this machine offers, probes
each with the real model (results cached under ``AppPaths.probes``; ``reprobe`` measures
again) and says which one ``auto`` would choose and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alphacut.accel.agreement import EXACT, AgreementRule
from alphacut.errors import AlphacutError


@dataclass(frozen=True)
class AdapterProbe:
    """Whether one adapter can run the model here, in words for the picker."""

    label: str  # what --provider accepts, e.g. "cpu" or "openvino:GPU"
    ok: bool
    detail: str

    def describe(self) -> str:
        return self.detail


@dataclass(frozen=True)
class ProbeReport:
    """Every adapter considered, and the sentence explaining what ``auto`` picks."""

    probes: list[AdapterProbe]
    auto_reason: str
    cpu: str = ""  # instruction sets and what int8 / bf16 buy here, for the picker's note


def _describe(adapter: object) -> AdapterProbe:
    label: str = adapter.label  # type: ignore[attr-defined]
    probe = getattr(adapter, "probe", None)
    if probe is None:
        return AdapterProbe(label, True, "not probed yet")
    if probe.usable:
        speed = f", {probe.steady_ms:.0f} ms/image" if probe.steady_ms else ""
        cached = " (cached probe)" if probe.cached else ""
        return AdapterProbe(label, True, f"{probe.status}{speed}{cached}")
    return AdapterProbe(label, False, f"{probe.status}: {probe.error}")


def probe_all(
    model_path: Path,
    *,
    reprobe: bool = False,
    disabled_optimizers: tuple[str, ...] = (),
    rule: AgreementRule = EXACT,
    inputs: list | None = None,
) -> ProbeReport:
    """Discover and probe every adapter for ``model_path`` (cached unless ``reprobe``).

    ``rule`` and ``inputs`` are the model's agreement rule and probe tensors (photos).
    """
    from alphacut.accel import request_adapter
    from alphacut.accel.selection import default_backend, default_probe_cache

    try:
        backend = default_backend(disabled_optimizers=disabled_optimizers)
        cache = default_probe_cache(backend.discover())
        selection = request_adapter(
            model_path, reprobe=reprobe, backend=backend, probe_cache=cache, rule=rule,
            inputs=inputs,
        )
    except AlphacutError as exc:
        return ProbeReport([], f"probing failed: {exc}", cpu_line())
    probes = [_describe(adapter) for adapter in selection.adapters]
    return ProbeReport(probes, f"auto → {selection.adapter.label}: {selection.reason}",
                       cpu_line(cache, selection.adapters))


def cpu_line(cache: object | None = None, adapters: Sequence[object] = ()) -> str:
    """``CPU: AVX-512 VNNI/BF16 · avx2 … · no amx`` and what int8 and bf16 buy here.

    The int8 figure comes from probes of u2netp and u2netp-int8 in ``cache``, when both exist.
    """
    from alphacut.accel.cpu_isa import advise, detect, measured_int8_speedup
    from alphacut.models.catalogue import int8_pair

    isa = detect()
    measured = None
    if cache is not None:
        fp32, int8 = int8_pair()
        measured = measured_int8_speedup(cache, adapters, fp32.sha256, int8.sha256)
    advice = advise(isa, *(measured or (None, "")))
    return f"CPU: {isa.cpu_class} · {isa.summary()}\n{advice.line()}"
