"""Resource use while a benchmark phase runs: CPU %, peak RSS, temperature and the GPU's.

A background thread samples every ``interval`` seconds; CPU % comes from the process's
CPU-time delta over the phase's wall time (100 % = one core busy), so it does not depend
on sampling luck. Temperature comes from the accel layer's sensor reader, or is None.
With an NVML handle, NVIDIA GPU utilisation, memory in use and temperature are read every
:data:`GPU_INTERVAL` seconds and at both ends; the busiest GPU's figures are kept.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

GPU_INTERVAL = 0.2  # NVML's utilisation counter covers the last 1/6 s to 1 s anyway


def cpu_temperature() -> float | None:
    """Current CPU temperature in °C (the accel layer's sensor choice), or None."""
    import psutil

    from alphacut.accel.telemetry import cpu_temperature as read_sensor

    return read_sensor(psutil)[0]


@dataclass
class ResourceUsage:
    """What one phase cost."""

    wall_s: float
    cpu_percent: float
    peak_rss_mb: float
    temp_start_c: float | None
    temp_max_c: float | None
    temp_end_c: float | None
    gpu_percent_max: float | None = None  # NVML utilisation, the busiest GPU
    gpu_percent_mean: float | None = None
    gpu_memory_peak_mb: float | None = None  # device memory in use (all processes)
    gpu_temp_max_c: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 1)

        return {
            "wall_s": round(self.wall_s, 3),
            "cpu_percent": r(self.cpu_percent),
            "peak_rss_mb": r(self.peak_rss_mb),
            "temp_start_c": r(self.temp_start_c),
            "temp_max_c": r(self.temp_max_c),
            "temp_end_c": r(self.temp_end_c),
            "gpu_percent_max": r(self.gpu_percent_max),
            "gpu_percent_mean": r(self.gpu_percent_mean),
            "gpu_memory_peak_mb": r(self.gpu_memory_peak_mb),
            "gpu_temp_max_c": r(self.gpu_temp_max_c),
        }


class ResourceSampler:
    """Context manager sampling one process (and, optionally, its children)."""

    def __init__(self, pid: int | None = None, *, children: bool = False, interval: float = 0.05,
                 gpu: Any = None):
        """``gpu``: an ``alphacut.accel.nvidia.Nvml`` (or stand-in) to read GPUs from, or None."""
        import psutil

        self._gpu = gpu if gpu is not None and gpu.available else None
        self._gpu_readings: list[Any] = []
        self._process = psutil.Process(pid)
        self._children = children
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak_rss = 0
        self._temps: list[float] = []
        self.usage: ResourceUsage | None = None

    def _rss(self) -> int:
        import psutil

        rss = self._process.memory_info().rss
        if self._children:
            for child in self._process.children(recursive=True):
                try:
                    rss += child.memory_info().rss
                except psutil.Error:
                    continue
        return rss

    def _read_gpus(self) -> None:
        if self._gpu is not None:
            try:
                self._gpu_readings.extend(self._gpu.gpus())
            except Exception:  # a GPU that vanished mid-phase must not stop the benchmark
                self._gpu = None

    def _loop(self) -> None:
        next_temp = next_gpu = 0.0
        while not self._stop.wait(self._interval):
            self._peak_rss = max(self._peak_rss, self._rss())
            now = time.monotonic()
            if now >= next_gpu:
                self._read_gpus()
                next_gpu = now + GPU_INTERVAL
            if now >= next_temp:  # sensors are slow to read; once a second is plenty
                temp = cpu_temperature()
                if temp is not None:
                    self._temps.append(temp)
                next_temp = now + 1.0

    def __enter__(self) -> ResourceSampler:
        self._temp_start = cpu_temperature()
        self._cpu_start = self._own_cpu()
        self._wall_start = time.perf_counter()
        self._peak_rss = self._rss()
        self._read_gpus()
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def _own_cpu(self) -> float:
        times = self._process.cpu_times()
        total = times.user + times.system
        if self._children:
            # Children that have exited and been waited for are counted here.
            total += times.children_user + times.children_system
        return total

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        wall = time.perf_counter() - self._wall_start
        cpu = self._own_cpu() - self._cpu_start
        self._peak_rss = max(self._peak_rss, self._rss())
        temp_end = cpu_temperature()
        self._read_gpus()
        temps = [t for t in (self._temp_start, *self._temps, temp_end) if t is not None]
        self.usage = ResourceUsage(
            wall_s=wall,
            cpu_percent=100.0 * cpu / wall if wall > 0 else math.nan,
            peak_rss_mb=self._peak_rss / 2**20,
            temp_start_c=self._temp_start,
            temp_max_c=max(temps) if temps else None,
            temp_end_c=temp_end,
            **gpu_figures(self._gpu_readings),
        )


def gpu_figures(readings: list[Any]) -> dict[str, float | None]:
    """Max and mean utilisation, peak memory in use and max temperature of the busiest GPU."""
    by_index: dict[int, list[Any]] = {}
    for reading in readings:
        by_index.setdefault(reading.index, []).append(reading)

    def values(group: list[Any], name: str) -> list[float]:
        return [float(v) for r in group if (v := getattr(r, name)) is not None]

    def load(group: list[Any]) -> float:
        busy = values(group, "utilisation_percent")
        return sum(busy) / len(busy) if busy else -1.0

    group = max(by_index.values(), key=load, default=[])
    busy = values(group, "utilisation_percent")
    memory = values(group, "memory_used_bytes")
    temps = values(group, "temperature_c")
    return {
        "gpu_percent_max": max(busy) if busy else None,
        "gpu_percent_mean": sum(busy) / len(busy) if busy else None,
        "gpu_memory_peak_mb": max(memory) / 2**20 if memory else None,
        "gpu_temp_max_c": max(temps) if temps else None,
    }


def merge_usages(usages: list[ResourceUsage]) -> ResourceUsage | None:
    """Several phases as one: CPU % and mean GPU % weighted by time, peaks and extremes."""
    if not usages:
        return None
    wall = sum(u.wall_s for u in usages)

    def weighted(name: str) -> float | None:
        known = [(getattr(u, name), u.wall_s) for u in usages if getattr(u, name) is not None]
        span = sum(w for _, w in known)
        return sum(v * w for v, w in known) / span if known and span else None

    def peak(name: str) -> float | None:
        known = [getattr(u, name) for u in usages if getattr(u, name) is not None]
        return max(known) if known else None

    return ResourceUsage(
        wall_s=wall,
        cpu_percent=sum(u.cpu_percent * u.wall_s for u in usages) / wall if wall else 0,
        peak_rss_mb=max(u.peak_rss_mb for u in usages),
        temp_start_c=usages[0].temp_start_c,
        temp_max_c=peak("temp_max_c"),
        temp_end_c=usages[-1].temp_end_c,
        gpu_percent_max=peak("gpu_percent_max"),
        gpu_percent_mean=weighted("gpu_percent_mean"),
        gpu_memory_peak_mb=peak("gpu_memory_peak_mb"),
        gpu_temp_max_c=peak("gpu_temp_max_c"),
    )
