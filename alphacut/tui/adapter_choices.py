"""The adapters the picker offers, with each one's probe result, from the accel layer.

:func:`alphacut.accel.request_adapter` discovers the adapters this machine offers, probes
each with the real model (results cached under ``AppPaths.probes``; ``reprobe`` measures
again) and says which one ``auto`` would choose and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from alphacut.errors import AlphacutError

if TYPE_CHECKING:
    from alphacut.accel.model_options import ModelOptions
    from alphacut.paths import AppPaths


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
    model: ModelOptions, *, reprobe: bool = False, paths: AppPaths | None = None
) -> ProbeReport:
    """Discover and probe every adapter for ``model`` (cached under ``paths`` unless
    ``reprobe``)."""
    from alphacut.accel import request_adapter

    try:
        selection = request_adapter(model, reprobe=reprobe, paths=paths)
    except AlphacutError as exc:
        return ProbeReport([], f"probing failed: {exc}")
    probes = [_describe(adapter) for adapter in selection.adapters]
    return ProbeReport(probes, f"auto → {selection.adapter.label}: {selection.reason}")
