"""NVIDIA GPUs through NVML (the optional ``nvidia-ml-py`` package, module ``pynvml``).

Used by discovery (how many CUDA devices, their names) and by telemetry (temperature,
utilisation, memory). Without the package or without a driver every function says
so instead of guessing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

GIB = 1024**3


@dataclass(frozen=True)
class NvidiaGpu:
    """One GPU as NVML reports it; ``None`` where NVML could not say."""

    index: int
    name: str
    temperature_c: float | None = None
    utilisation_percent: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line, e.g. ``GPU 0 NVIDIA H200: 139.8 GiB (0.5 GiB used), 31 °C, 0% busy``."""
        parts = []
        if self.memory_total_bytes is not None:
            used = (f" ({self.memory_used_bytes / GIB:.1f} GiB used)"
                    if self.memory_used_bytes is not None else "")
            parts.append(f"{self.memory_total_bytes / GIB:.1f} GiB{used}")
        if self.temperature_c is not None:
            parts.append(f"{self.temperature_c:.0f} °C")
        if self.utilisation_percent is not None:
            parts.append(f"{self.utilisation_percent:.0f}% busy")
        return f"GPU {self.index} {self.name}" + (f": {', '.join(parts)}" if parts else "")

    def short(self) -> str:
        """Status-bar text: ``GPU0 87% 3.2/139.8 GiB 61 °C``, "n/a" for what NVML did not say."""
        busy = f"{self.utilisation_percent:.0f}%" if self.utilisation_percent is not None else "n/a"
        if self.memory_used_bytes is not None and self.memory_total_bytes is not None:
            memory = f"{self.memory_used_bytes / GIB:.1f}/{self.memory_total_bytes / GIB:.0f} GiB"
        else:
            memory = "mem n/a"
        temp = f"{self.temperature_c:.0f} °C" if self.temperature_c is not None else "n/a °C"
        return f"GPU{self.index} {busy} {memory} {temp}"


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


def gpus_from_driver(root: Path = Path("/proc/driver/nvidia/gpus")) -> list[str]:
    """GPU models the Linux NVIDIA driver lists, without NVML (e.g. ``["NVIDIA H200"]``)."""
    models = []
    for info in sorted(root.glob("*/information")) if root.is_dir() else []:
        try:
            text = info.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model" and value.strip():
                models.append(value.strip())
    return models


def missing_cuda_hint(providers: tuple[str, ...], distribution: str,
                      models: list[str]) -> str:
    """A note when an NVIDIA GPU is present but this ONNX Runtime cannot use it ("" otherwise)."""
    if not models or "CUDAExecutionProvider" in providers:
        return ""
    return (f"{models[0]} found, but {distribution or 'this ONNX Runtime'} has no CUDA "
            "provider: install the CUDA build (ALPHACUT_ORT=cuda pip install alphacut; "
            "see the README)")
