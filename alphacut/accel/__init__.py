"""The accelerator layer: every line of ONNX Runtime glue in alphacut lives in this package.

The pipeline sees only :func:`open_runner` and the :class:`Runner` it returns; the
``providers`` command and the UI use :func:`request_adapter` and the telemetry sampler.
Importing this package does not import ONNX Runtime: the real backend loads it when
a session or a discovery is first needed.
"""

from __future__ import annotations

from alphacut.accel.adapter import CPU_ADAPTER, Adapter, FallbackEvent, ProbeResult
from alphacut.accel.backend import Backend, Discovery, RuntimeInfo, Session
from alphacut.accel.flavours import FlavourReport, check_flavours
from alphacut.accel.probe import ProbeCache
from alphacut.accel.runner import Runner, open_runner
from alphacut.accel.selection import Selection, request_adapter

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
    "check_flavours",
    "open_runner",
    "request_adapter",
]
