"""Memory and temperature readings for the status panel (psutil; cheap enough per second)."""

from __future__ import annotations

from dataclasses import dataclass, field

import psutil


@dataclass
class ProcessStats:
    """Tracks this process's resident memory, its peak, and a CPU temperature if the OS has one."""

    process: psutil.Process = field(default_factory=psutil.Process)
    peak_rss: int = 0

    def rss(self) -> int:
        value = self.process.memory_info().rss
        self.peak_rss = max(self.peak_rss, value)
        return value

    @staticmethod
    def temperature() -> float | None:
        """The hottest CPU package/core sensor in °C, or None where the OS exposes none."""
        read = getattr(psutil, "sensors_temperatures", None)
        if read is None:
            return None
        try:
            sensors = read()
        except (OSError, RuntimeError):
            return None
        values = [
            entry.current
            for name, entries in sensors.items()
            if name in ("coretemp", "k10temp", "cpu_thermal", "zenpower", "acpitz")
            for entry in entries
            if entry.current
        ]
        return max(values) if values else None
