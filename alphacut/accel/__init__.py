"""The accelerator layer: every line of ONNX Runtime glue in alphacut lives in this package.

The pipeline sees only :func:`open_runner` and the :class:`Runner` it returns; the
``providers`` command and the UI use :func:`request_adapter` and the telemetry sampler.
Names are re-exported lazily, so ``alphacut.accel.flavours`` (checked at CLI start-up)
costs neither NumPy nor ONNX Runtime; the real backend loads ONNX Runtime only when a
discovery or a session is first needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from alphacut.accel.adapter import CPU_ADAPTER, Adapter, FallbackEvent, ProbeResult
    from alphacut.accel.backend import Backend, Discovery, RuntimeInfo, Session
    from alphacut.accel.flavours import FlavourReport, check_flavours
    from alphacut.accel.probe import ProbeCache
    from alphacut.accel.runner import Runner, open_runner
    from alphacut.accel.selection import Selection, request_adapter
    from alphacut.accel.telemetry import TelemetrySampler, TelemetrySnapshot

_LAZY: dict[str, str] = {
    "CPU_ADAPTER": "alphacut.accel.adapter",
    "Adapter": "alphacut.accel.adapter",
    "FallbackEvent": "alphacut.accel.adapter",
    "ProbeResult": "alphacut.accel.adapter",
    "Backend": "alphacut.accel.backend",
    "Discovery": "alphacut.accel.backend",
    "RuntimeInfo": "alphacut.accel.backend",
    "Session": "alphacut.accel.backend",
    "FlavourReport": "alphacut.accel.flavours",
    "check_flavours": "alphacut.accel.flavours",
    "ProbeCache": "alphacut.accel.probe",
    "Runner": "alphacut.accel.runner",
    "open_runner": "alphacut.accel.runner",
    "Selection": "alphacut.accel.selection",
    "request_adapter": "alphacut.accel.selection",
    "TelemetrySampler": "alphacut.accel.telemetry",
    "TelemetrySnapshot": "alphacut.accel.telemetry",
}

__all__ = [
    "CPU_ADAPTER",
    "Adapter",
    "Backend",
    "Discovery",
    "FallbackEvent",
    "FlavourReport",
    "ProbeCache",
    "ProbeResult",
    "Runner",
    "RuntimeInfo",
    "Selection",
    "Session",
    "TelemetrySampler",
    "TelemetrySnapshot",
    "check_flavours",
    "open_runner",
    "request_adapter",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alphacut.accel' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
