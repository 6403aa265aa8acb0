"""The CPU's instruction sets: read once, named in every report, and what they mean for int8."""

from __future__ import annotations

from pathlib import Path

from alphacut.accel.adapter import CPU_ADAPTER, Adapter, ProbeResult
from alphacut.accel.cpu_isa import (
    ISA_FLAGS,
    CpuIsa,
    advise,
    detect,
    measured_int8_speedup,
    parse_cpuinfo_flags,
)
from alphacut.accel.probe import ProbeCache

AVX2_ONLY = "fpu sse sse2 avx avx2 fma bmi2"  # a 2-core AMD EPYC (Zen 2) as in issue 12
AVX512 = AVX2_ONLY + " avx512f avx512dq avx512_bf16 avx512_vnni"
SAPPHIRE = AVX512 + " amx_tile amx_int8 amx_bf16 avx_vnni"


def _cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    block = f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n\n"
    path.write_text(block * 2, encoding="utf-8")
    return path


def test_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    isa = detect(_cpuinfo(tmp_path, AVX512), environ={})
    assert isa.as_dict() == {
        "avx2": True, "avx512f": True, "avx512_vnni": True, "avx512_bf16": True,
        "amx_tile": False, "amx_int8": False, "amx_bf16": False, "avx_vnni": False,
    }
    assert isa.cpu_class == "AVX-512 VNNI/BF16"
    assert isa.summary() == "avx2 avx512f avx512_vnni avx512_bf16 · no avx_vnni, amx"
    assert isa.int8_unit == "avx512_vnni" and isa.bf16_unit == "avx512_bf16"
    amx = detect(_cpuinfo(tmp_path, SAPPHIRE), environ={})
    assert amx.cpu_class == "AVX-512 VNNI/BF16/AMX" and amx.int8_unit == "amx_int8"
    assert amx.summary() == " ".join(ISA_FLAGS)


def test_an_avx2_cpu_is_told_plainly_what_does_not_pay(tmp_path: Path) -> None:
    isa = detect(_cpuinfo(tmp_path, AVX2_ONLY), environ={})
    assert isa.cpu_class == "AVX2" and isa.int8_unit is None and isa.bf16_unit is None
    advice = advise(isa)
    assert advice.bf16 == "bf16: not supported by this CPU"
    assert advice.int8.startswith("int8: no VNNI")
    measured = advise(isa, 1.24, "openvino:CPU")
    assert measured.int8 == "int8: 1.2× fp32 speed here on openvino:CPU (no VNNI)"


def test_unknown_off_linux_and_the_onednn_cap_is_recorded(tmp_path: Path) -> None:
    isa = detect(tmp_path / "missing", environ={"ONEDNN_MAX_CPU_ISA": "AVX2"})
    assert not isa.known and isa.has("avx2") is None
    assert set(isa.as_dict().values()) == {None}
    assert isa.cpu_class == "unknown" and "unknown" in isa.summary()
    assert advise(isa).bf16.startswith("bf16: unknown")
    assert isa.as_record()["onednn_max_cpu_isa"] == "AVX2"
    capped = CpuIsa(frozenset(AVX512.split()), "AVX2")
    assert capped.cpu_class.endswith("(oneDNN capped to AVX2)")
    assert parse_cpuinfo_flags("processor : 0\nFeatures : neon\n") is None


def test_int8_speedup_comes_from_this_machines_probes(tmp_path: Path) -> None:
    cache = ProbeCache(tmp_path, "1.0")
    ov = Adapter(provider="OpenVINOExecutionProvider", device="CPU")
    for adapter, fp32_ms, int8_ms in ((CPU_ADAPTER, 240.0, 110.0), (ov, 230.0, 70.0)):
        cache.put(adapter, "fp32sha", ProbeResult(status="ok", steady_ms=fp32_ms))
        cache.put(adapter, "int8sha", ProbeResult(status="ok", steady_ms=int8_ms))
    ratio, where = measured_int8_speedup(cache, [CPU_ADAPTER, ov], "fp32sha", "int8sha")
    assert where == "openvino:CPU" and abs(ratio - 230 / 70) < 1e-9
    cache.put(ov, "int8sha", ProbeResult(status="failed", error="differs"))
    ratio, where = measured_int8_speedup(cache, [CPU_ADAPTER, ov], "fp32sha", "int8sha")
    assert where == "cpu" and abs(ratio - 240 / 110) < 1e-9
    assert measured_int8_speedup(cache, [ov], "fp32sha", "int8sha") is None


def test_every_report_names_the_instruction_sets() -> None:
    from alphacut.bench.environment import collect
    from alphacut.tui.adapter_choices import cpu_line

    env = collect().as_dict()
    assert set(env["cpu_isa"]) == set(ISA_FLAGS) and env["cpu_class"]
    isa = detect()
    assert env["cpu_isa"] == isa.as_dict()
    line = cpu_line()
    assert line.startswith(f"CPU: {isa.cpu_class} · ") and "int8: " in line and "bf16: " in line
