"""Resource use while a benchmark phase runs: CPU %, peak RSS and temperature.

A background thread samples every ``interval`` seconds; CPU % comes from the process's
CPU-time delta over the phase's wall time (100 % = one core busy), so it does not depend
on sampling luck. Temperature comes from the accel layer's sensor reader, or is None.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


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
        }


class ResourceSampler:
    """Context manager sampling one process (and, optionally, its children)."""

    def __init__(self, pid: int | None = None, *, children: bool = False, interval: float = 0.05):
        import psutil

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

    def _loop(self) -> None:
        next_temp = 0.0
        while not self._stop.wait(self._interval):
            self._peak_rss = max(self._peak_rss, self._rss())
            now = time.monotonic()
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
        temps = [t for t in (self._temp_start, *self._temps, temp_end) if t is not None]
        self.usage = ResourceUsage(
            wall_s=wall,
            cpu_percent=100.0 * cpu / wall if wall > 0 else math.nan,
            peak_rss_mb=self._peak_rss / 2**20,
            temp_start_c=self._temp_start,
            temp_max_c=max(temps) if temps else None,
            temp_end_c=temp_end,
        )
