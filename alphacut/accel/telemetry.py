"""Process and machine telemetry for the CLI, the TUI and the benchmarks.

``TelemetrySampler().sample()`` returns a :class:`TelemetrySnapshot`: process RSS and
peak RSS, system memory available, process and system CPU utilisation since the
previous sample, CPU temperature (psutil sensors, Linux/FreeBSD) and NVIDIA GPU
readings (nvidia-ml-py). Whatever the machine does not expose is ``None`` with a
reason in ``unavailable``: never a guess. Per-image stage times live in the
pipeline's ``StageTimings``; this module covers the rest.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from alphacut.accel.nvidia import NvidiaGpu, Nvml

# psutil sensor groups that describe the CPU package, best first.
CPU_SENSOR_GROUPS: tuple[str, ...] = (
    "coretemp", "k10temp", "zenpower", "cpu_thermal", "cpu-thermal", "soc_thermal",
    "acpitz", "thinkpad",
)


@dataclass(frozen=True)
class TelemetrySnapshot:
    """One reading. ``None`` fields are unavailable; ``unavailable`` says why for each."""

    time: float  # Unix time
    rss_bytes: int
    peak_rss_bytes: int | None
    system_available_bytes: int
    system_total_bytes: int
    process_cpu_percent: float | None  # of one core, since the previous sample (may exceed 100)
    system_cpu_percent: float | None  # all cores, since the previous sample
    cpu_temperature_c: float | None
    cpu_temperature_sensor: str  # e.g. "coretemp/Package id 0"; "" when unavailable
    gpus: tuple[NvidiaGpu, ...] = ()
    unavailable: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly; unavailable values stay ``None`` and their reasons are kept."""
        out = asdict(self)
        out["gpus"] = [asdict(gpu) for gpu in self.gpus]
        return out

    def describe(self) -> list[str]:
        """Short human lines, e.g. for a status bar or a benchmark report."""
        mib = 1024 * 1024
        peak = f"{self.peak_rss_bytes / mib:.0f} MiB" if self.peak_rss_bytes else "unavailable"
        lines = [
            f"memory: {self.rss_bytes / mib:.0f} MiB (peak {peak}), "
            f"system available {self.system_available_bytes / mib:.0f} MiB",
            "cpu: " + (f"{self.process_cpu_percent:.0f}% process"
                       if self.process_cpu_percent is not None else "unavailable")
            + (f", {self.system_cpu_percent:.0f}% system"
               if self.system_cpu_percent is not None else ""),
            "cpu temperature: " + (
                f"{self.cpu_temperature_c:.0f} °C ({self.cpu_temperature_sensor})"
                if self.cpu_temperature_c is not None
                else f"unavailable ({self.unavailable.get('cpu_temperature_c', '')})"
            ),
        ]
        if self.gpus:
            lines.extend(gpu.describe() for gpu in self.gpus)
        else:
            lines.append(f"gpu: unavailable ({self.unavailable.get('gpus', '')})")
        return lines


class TelemetrySampler:
    """Samples the current process; create once and call :meth:`sample` as often as needed."""

    def __init__(self, *, nvidia: bool = True) -> None:
        import psutil

        self._psutil = psutil
        self._process = psutil.Process()
        self._peak_seen = 0
        # cpu_percent(None) measures since the previous call; prime both counters now so
        # the first sample is meaningful.
        self._process.cpu_percent(None)
        psutil.cpu_percent(None)
        self._primed_at = time.monotonic()
        self._nvml = Nvml() if nvidia else None

    def sample(self) -> TelemetrySnapshot:
        """A fresh snapshot."""
        psutil = self._psutil
        unavailable: dict[str, str] = {}
        rss = int(self._process.memory_info().rss)
        self._peak_seen = max(self._peak_seen, rss)
        peak = peak_rss_bytes(self._process)
        if peak is None:
            unavailable["peak_rss_bytes"] = "the OS does not report peak RSS"
        memory = psutil.virtual_memory()
        if time.monotonic() - self._primed_at < 0.01:
            process_cpu = system_cpu = None
            unavailable["process_cpu_percent"] = "no interval since the sampler started"
            unavailable["system_cpu_percent"] = "no interval since the sampler started"
        else:
            process_cpu = float(self._process.cpu_percent(None))
            system_cpu = float(psutil.cpu_percent(None))
        temperature, sensor, why = cpu_temperature(psutil)
        if temperature is None:
            unavailable["cpu_temperature_c"] = why
        gpus: tuple[NvidiaGpu, ...] = ()
        if self._nvml is None:
            unavailable["gpus"] = "NVIDIA sampling disabled"
        elif not self._nvml.available:
            unavailable["gpus"] = self._nvml.error
        else:
            gpus = tuple(self._nvml.gpus())
            if not gpus:
                unavailable["gpus"] = "NVML lists no GPU"
        return TelemetrySnapshot(
            time=time.time(),
            rss_bytes=rss,
            peak_rss_bytes=max(peak, self._peak_seen) if peak is not None else None,
            system_available_bytes=int(memory.available),
            system_total_bytes=int(memory.total),
            process_cpu_percent=process_cpu,
            system_cpu_percent=system_cpu,
            cpu_temperature_c=temperature,
            cpu_temperature_sensor=sensor,
            gpus=gpus,
            unavailable=unavailable,
        )


def peak_rss_bytes(process: Any) -> int | None:
    """Peak resident set size of the process, from the OS (None when it does not say)."""
    info = process.memory_info()
    if hasattr(info, "peak_wset"):  # Windows
        return int(info.peak_wset)
    try:
        import resource
    except ImportError:
        return None
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux and the BSDs report KiB, macOS bytes.
    return int(maxrss if sys.platform == "darwin" else maxrss * 1024)


def cpu_temperature(psutil: Any) -> tuple[float | None, str, str]:
    """(°C, sensor name, "") from psutil sensors, or (None, "", reason)."""
    read = getattr(psutil, "sensors_temperatures", None)
    if read is None:
        return None, "", f"psutil has no temperature sensors on {sys.platform}"
    try:
        groups = read()
    except Exception as exc:  # some kernels expose broken hwmon entries
        return None, "", f"reading sensors failed: {exc}"
    if not groups:
        return None, "", "no temperature sensor exposed (no hwmon or thermal zone)"
    names = [n for n in CPU_SENSOR_GROUPS if n in groups] or sorted(groups)
    for name in names:
        entries = [e for e in groups[name] if e.current is not None and e.current > 0]
        if not entries:
            continue
        # Prefer the package / Tctl reading; otherwise the hottest core.
        package = [e for e in entries if e.label.lower().startswith(("package", "tctl", "tdie"))]
        best = package[0] if package else max(entries, key=lambda e: e.current)
        label = f"{name}/{best.label}" if best.label else name
        return float(best.current), label, ""
    return None, "", "temperature sensors report no reading"
