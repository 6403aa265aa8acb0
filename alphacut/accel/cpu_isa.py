"""Which vector instruction sets this CPU has, and what that means for int8 and bf16 models.

The kernels behind every adapter on a CPU (MLAS in ONNX Runtime's CPU provider, oneDNN in
OpenVINO's CPU plugin) pick their code paths from these flags, so a speed or accuracy figure
means little without them: u2netp-int8 runs ~2.6x faster than fp32 with AVX-512 VNNI and
~1.2x with AVX2 only, and ``--precision bf16`` needs bf16 units. Read from ``/proc/cpuinfo``
(Linux); elsewhere every flag is unknown rather than guessed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# The flags reported everywhere, in the kernel's spelling (/proc/cpuinfo).
ISA_FLAGS: tuple[str, ...] = (
    "avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16",
    "avx_vnni",
)
INT8_UNITS: tuple[str, ...] = ("amx_int8", "avx512_vnni", "avx_vnni")  # dot-product int8
BF16_UNITS: tuple[str, ...] = ("amx_bf16", "avx512_bf16")
# oneDNN (inside OpenVINO's CPU plugin) uses at most this ISA when the variable is set;
# ONNX Runtime's own CPU kernels (MLAS) have no such cap.
ONEDNN_CAP = "ONEDNN_MAX_CPU_ISA"


@dataclass(frozen=True)
class CpuIsa:
    """The instruction sets of this CPU; ``flags`` is None where they cannot be read."""

    flags: frozenset[str] | None
    onednn_cap: str = ""  # ONEDNN_MAX_CPU_ISA as set in the environment, e.g. "AVX2"

    @property
    def known(self) -> bool:
        return self.flags is not None

    def has(self, flag: str) -> bool | None:
        """Whether the CPU has ``flag`` (None when unknown)."""
        return None if self.flags is None else flag in self.flags

    def as_dict(self) -> dict[str, bool | None]:
        """Every flag of :data:`ISA_FLAGS` -> True / False / None (unknown)."""
        return {flag: self.has(flag) for flag in ISA_FLAGS}

    @property
    def int8_unit(self) -> str | None:
        """The best int8 dot-product unit (``avx512_vnni``, ``amx_int8``, …), None if none."""
        return next((f for f in INT8_UNITS if self.has(f)), None)

    @property
    def bf16_unit(self) -> str | None:
        """The best bf16 unit (``amx_bf16`` or ``avx512_bf16``), None if none."""
        return next((f for f in BF16_UNITS if self.has(f)), None)

    @property
    def cpu_class(self) -> str:
        """A short class name for reports: ``AVX-512 VNNI/BF16``, ``AVX2``, ``unknown``."""
        if self.flags is None:
            return "unknown"
        if self.has("avx512f"):
            extras = [name for flag, name in (("avx512_vnni", "VNNI"), ("avx512_bf16", "BF16"),
                                              ("amx_tile", "AMX")) if self.has(flag)]
            base = "AVX-512" + (" " + "/".join(extras) if extras else "")
        elif self.has("avx2"):
            base = "AVX2" + (" AVX-VNNI" if self.has("avx_vnni") else "")
        else:
            base = "no AVX2"
        return base + (f" (oneDNN capped to {self.onednn_cap})" if self.onednn_cap else "")

    def summary(self) -> str:
        """One line: the flags present, then those absent, e.g. ``avx2 avx512f … · no amx``."""
        if self.flags is None:
            return "instruction sets unknown (no /proc/cpuinfo)"
        present = [f for f in ISA_FLAGS if self.has(f)]
        absent = [f for f in ISA_FLAGS if not self.has(f)]
        text = " ".join(present) or "none of " + " ".join(ISA_FLAGS)
        if absent:
            text += " · no " + ", ".join(_shorten(absent))
        if self.onednn_cap:
            text += f" · {ONEDNN_CAP}={self.onednn_cap}"
        return text

    def as_record(self) -> dict[str, object]:
        """JSON-friendly record for benchmarks and ``providers --json``."""
        return {"class": self.cpu_class, "flags": self.as_dict(),
                "onednn_max_cpu_isa": self.onednn_cap or None}


def _shorten(absent: list[str]) -> list[str]:
    """``amx_tile amx_int8 amx_bf16`` all absent reads better as ``amx``."""
    amx = [f for f in absent if f.startswith("amx_")]
    rest = [f for f in absent if not f.startswith("amx_")]
    return rest + (["amx"] if len(amx) == 3 else amx)


def parse_cpuinfo_flags(text: str) -> frozenset[str] | None:
    """The ``flags`` line of ``/proc/cpuinfo`` text (x86), None when there is none."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            return frozenset(value.split())
    return None


def detect(
    cpuinfo: Path = Path("/proc/cpuinfo"), environ: Mapping[str, str] | None = None
) -> CpuIsa:
    """This CPU's instruction sets (unknown off Linux or where cpuinfo has no flags)."""
    env = os.environ if environ is None else environ
    cap = env.get(ONEDNN_CAP, "").strip()
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return CpuIsa(None, cap)
    return CpuIsa(parse_cpuinfo_flags(text), cap)


@dataclass(frozen=True)
class PrecisionAdvice:
    """What int8 and bf16 buy on this CPU, in one phrase each."""

    int8: str
    bf16: str

    def line(self) -> str:
        return f"{self.int8} · {self.bf16}"


def advise(isa: CpuIsa, int8_speedup: float | None = None, where: str = "") -> PrecisionAdvice:
    """Say plainly what pays here: a measured int8 speed-up when one exists, else the units.

    ``int8_speedup`` is fp32 time / int8 time measured on this machine (probe cache);
    ``where`` names the adapter it was measured on.
    """
    unit = isa.int8_unit
    why = f"{unit.replace('_', '-').upper()}" if unit else "no VNNI"
    if not isa.known:
        why = "instruction sets unknown"
    if int8_speedup is not None:
        on = f" on {where}" if where else ""
        int8 = f"int8: {int8_speedup:.1f}\u00d7 fp32 speed here{on} ({why})"
    elif unit:
        int8 = (f"int8: {why} units present, not measured yet (run alphacut providers "
                "with --model u2netp and --model u2netp-int8)")
    elif isa.known:
        int8 = "int8: no VNNI on this CPU (expect ~1.2\u00d7 at best)"
    else:
        int8 = "int8: not measured; instruction sets unknown"
    bf16_unit = isa.bf16_unit
    if bf16_unit:
        bf16 = f"bf16: {bf16_unit.replace('_', '-').upper()} units (OpenVINO --precision bf16)"
    elif isa.known:
        bf16 = "bf16: not supported by this CPU"
    else:
        bf16 = "bf16: unknown (instruction sets unknown)"
    return PrecisionAdvice(int8, bf16)


def measured_int8_speedup(
    cache: object, adapters: Sequence[object], fp32_sha: str, int8_sha: str
) -> tuple[float, str] | None:
    """(fp32 steady ms / int8 steady ms, adapter label) from probes cached on this machine.

    ``cache`` is a :class:`~alphacut.accel.probe.ProbeCache`; the fastest int8 adapter with
    both models probed ``ok`` wins. None when no adapter has both measurements.
    """
    best: tuple[float, float, str] | None = None
    for adapter in adapters:
        fp32 = cache.get(adapter, fp32_sha)  # type: ignore[attr-defined]
        int8 = cache.get(adapter, int8_sha)  # type: ignore[attr-defined]
        if not (fp32 and int8 and fp32.status == int8.status == "ok"):
            continue
        if not (fp32.steady_ms and int8.steady_ms):
            continue
        label: str = adapter.label  # type: ignore[attr-defined]
        if best is None or int8.steady_ms < best[0]:
            best = (int8.steady_ms, fp32.steady_ms / int8.steady_ms, label)
    return None if best is None else (best[1], best[2])
