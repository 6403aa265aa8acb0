"""A stand-in for nvidia-ml-py's ``pynvml`` module, for tests on machines without NVIDIA GPUs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType, SimpleNamespace


def fake_pynvml(
    names: Sequence[str | bytes],
    *,
    temperature_c: float = 0,
    load_percent: float = 0,
    memory: Callable[[int], object] | None = None,
) -> ModuleType:
    """A ``pynvml`` whose GPUs have ``names`` (handles are their indices) and these readings.

    ``memory`` answers ``nvmlDeviceGetMemoryInfo``; without it that call does not exist.
    """
    pynvml = ModuleType("pynvml")
    pynvml.NVML_TEMPERATURE_GPU = 0
    pynvml.nvmlInit = lambda: None
    pynvml.nvmlDeviceGetCount = lambda: len(names)
    pynvml.nvmlDeviceGetHandleByIndex = lambda i: i
    pynvml.nvmlDeviceGetName = lambda h: names[h]
    pynvml.nvmlDeviceGetTemperature = lambda h, kind: temperature_c
    pynvml.nvmlDeviceGetUtilizationRates = lambda h: SimpleNamespace(gpu=load_percent)
    if memory is not None:
        pynvml.nvmlDeviceGetMemoryInfo = memory
    return pynvml
