"""NVIDIA GPUs through NVML (the optional ``nvidia-ml-py`` package, module ``pynvml``).

Used by discovery (how many CUDA devices, their names) and by telemetry (temperature,
utilisation, memory). Without the package or without a driver every function says
so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NvidiaGpu:
    """One GPU as NVML reports it; ``None`` where NVML could not say."""

    index: int
    name: str
    temperature_c: float | None = None
    utilisation_percent: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None


class Nvml:
    """A lazily initialised NVML handle; ``error`` says why it is unavailable."""

    def __init__(self) -> None:
        self._module: Any = None
        self.error = ""
        try:
            import pynvml
        except ImportError:
            self.error = "nvidia-ml-py not installed"
            return
        try:
            pynvml.nvmlInit()
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, …
            self.error = f"NVML unavailable: {exc}"
            return
        self._module = pynvml

    @property
    def available(self) -> bool:
        return self._module is not None

    def gpus(self, *, readings: bool = True) -> list[NvidiaGpu]:
        """Every GPU NVML sees; with ``readings`` also temperature, utilisation and memory."""
        nv = self._module
        if nv is None:
            return []
        found: list[NvidiaGpu] = []
        for index in range(nv.nvmlDeviceGetCount()):
            handle = nv.nvmlDeviceGetHandleByIndex(index)
            name = nv.nvmlDeviceGetName(handle)
            name = name.decode() if isinstance(name, bytes) else str(name)
            if not readings:
                found.append(NvidiaGpu(index=index, name=name))
                continue
            found.append(
                NvidiaGpu(
                    index=index,
                    name=name,
                    temperature_c=_maybe(
                        lambda h=handle: float(
                            nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)
                        )
                    ),
                    utilisation_percent=_maybe(
                        lambda h=handle: float(nv.nvmlDeviceGetUtilizationRates(h).gpu)
                    ),
                    memory_used_bytes=_maybe(
                        lambda h=handle: int(nv.nvmlDeviceGetMemoryInfo(h).used)
                    ),
                    memory_total_bytes=_maybe(
                        lambda h=handle: int(nv.nvmlDeviceGetMemoryInfo(h).total)
                    ),
                )
            )
        return found


def _maybe(read: Any) -> Any:
    # A GPU may support some queries and not others (NVML_ERROR_NOT_SUPPORTED).
    try:
        return read()
    except Exception:
        return None
