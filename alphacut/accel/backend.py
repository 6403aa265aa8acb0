"""The backend contract: what creates inference sessions and lists providers and devices.

Like an httpx transport, a backend is the one seam between alphacut's decisions
(probe, choose, verify, fall back) and the runtime that does the work. The real one
is :class:`alphacut.accel.ort_backend.OrtBackend`; :class:`alphacut.accel.fake.FakeBackend`
injects faults (creation fails, a run fails, NaN outputs, a silent landing on CPU) so
that every decision path is tested without the hardware.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from alphacut.accel.adapter import Adapter
from alphacut.accel.cuda_libraries import CudaReport


class Session(Protocol):
    """An inference session for one model on one adapter."""

    @property
    def input_name(self) -> str: ...

    @property
    def input_shape(self) -> tuple[int | str | None, ...]: ...

    def providers(self) -> list[str]:
        """Providers the session really uses, most preferred first (``get_providers()``)."""
        ...

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class RuntimeInfo:
    """The ONNX Runtime in use and the facts discovery found about it."""

    version: str
    distribution: str  # e.g. "onnxruntime-openvino"; "" when unknown
    providers: tuple[str, ...]
    plugins: tuple[str, ...] = ()  # registered plugin EP libraries
    notes: tuple[str, ...] = ()  # discovery notes worth showing (plugin load errors, …)
    cuda: CudaReport | None = None  # CUDA/cuDNN loaded for a CUDA build; None without one


@dataclass(frozen=True)
class Discovery:
    """Everything a backend found: the runtime and the candidate adapters, CPU last."""

    runtime: RuntimeInfo
    adapters: tuple[Adapter, ...] = field(default_factory=tuple)


class Backend(ABC):
    """Creates sessions and lists what this machine offers."""

    @abstractmethod
    def runtime(self) -> RuntimeInfo:
        """Version, distribution and available providers."""

    @abstractmethod
    def candidates(self) -> Sequence[Adapter]:
        """Accelerated adapters worth trying (not CPU), each with device info.

        An adapter that discovery already knows cannot work carries a ``skipped``
        probe saying why (e.g. no GPU device node).
        """

    @abstractmethod
    def create_session(self, model_path: Path, adapter: Adapter, *, threads: int) -> Session:
        """A session for ``model_path`` on ``adapter``; raises on failure.

        It does not check where the session landed; callers verify ``providers()[0]``.
        """

    def discover(self) -> Discovery:
        """Runtime facts plus every candidate adapter, the CPU fallback last."""
        from alphacut.accel.adapter import CPU_ADAPTER

        seen: set[tuple[str, str]] = set()
        adapters: list[Adapter] = []
        for adapter in self.candidates():
            if adapter.key in seen or adapter.kind == "cpu":
                continue
            seen.add(adapter.key)
            adapters.append(adapter)
        adapters.append(CPU_ADAPTER)
        return Discovery(runtime=self.runtime(), adapters=tuple(adapters))
