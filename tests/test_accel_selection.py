"""Probe, verify, cache and choose, with the fake backend standing in for the hardware."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alphacut.accel import CPU_ADAPTER, ProbeCache, open_runner, request_adapter
from alphacut.accel.adapter import Adapter, ProbeResult
from alphacut.accel.fake import FakeBackend, FakeDevice
from alphacut.accel.selection import choose, matches, parse_provider, rank
from alphacut.errors import ProviderError

MODEL = Path("fake-model.onnx")
SHA = "ab" * 32


def _cache(tmp_path: Path, backend: FakeBackend) -> ProbeCache:
    return ProbeCache(tmp_path / "probes", backend.version)


def _request(backend: FakeBackend, tmp_path: Path, **kwargs):
    return request_adapter(MODEL, backend=backend, probe_cache=_cache(tmp_path, backend),
                           model_sha=SHA, threads=1, **kwargs)


def _open(backend: FakeBackend, tmp_path: Path, **kwargs):
    kwargs.setdefault("threads", 1)
    return open_runner(MODEL, backend=backend, probe_cache=_cache(tmp_path, backend),
                       model_sha=SHA, **kwargs)


def _zoo() -> list[FakeDevice]:
    """One of everything the ordering knows about."""
    return [
        FakeDevice("OpenVINOExecutionProvider", device="CPU", device_type="cpu", vendor="Intel"),
        FakeDevice("OpenVINOExecutionProvider", device="NPU", device_type="npu", vendor="Intel"),
        FakeDevice("WebGpuExecutionProvider", device="0", plugin=True),
        FakeDevice("DmlExecutionProvider", device="1", discrete=False, name="Intel Arc iGPU"),
        FakeDevice("OpenVINOExecutionProvider", device="GPU", vendor="Intel"),
        FakeDevice("DmlExecutionProvider", device="0", discrete=True, name="Radeon RX 7800"),
        FakeDevice("CUDAExecutionProvider", device="0", vendor="NVIDIA", discrete=True),
    ]


def test_high_performance_order_matches_the_issue(tmp_path):
    selection = _request(FakeBackend(devices=_zoo(), cpu_run_ms=2), tmp_path)
    from alphacut.accel.selection import order

    labels = [a.label for a in order(selection.adapters, "high-performance")]
    assert labels == ["cuda:0", "directml:0", "openvino:GPU", "directml:1", "webgpu:0",
                      "openvino:NPU", "openvino:CPU", "cpu"]
    assert selection.adapter.label == "cuda:0"
    assert all(a.probe is not None and a.probe.status == "ok" for a in selection.adapters)


def test_low_power_prefers_npu_then_integrated_gpu(tmp_path):
    backend = FakeBackend(devices=_zoo(), cpu_run_ms=2)
    selection = _request(backend, tmp_path, preference="low-power")
    assert selection.adapter.label == "openvino:NPU"
    selection = _request(backend, tmp_path, preference="low-power", deny=["openvino:NPU"])
    assert selection.adapter.label == "openvino:GPU"
    selection = _request(backend, tmp_path, preference="low-power", deny=["openvino"])
    assert selection.adapter.label == "directml:1"


def test_allow_deny_and_cpu_preference(tmp_path):
    backend = FakeBackend(devices=_zoo(), cpu_run_ms=2)
    assert _request(backend, tmp_path, deny=["cuda"]).adapter.label == "directml:0"
    assert _request(backend, tmp_path, allow=["openvino"]).adapter.label == "openvino:GPU"
    assert _request(backend, tmp_path, allow=["dml:1"]).adapter.label == "directml:1"
    chosen = _request(backend, tmp_path, preference="cpu")
    assert chosen.adapter.label == "cpu" and chosen.adapter.is_fallback


def test_probe_slower_than_cpu_loses_to_cpu(tmp_path):
    # A software WebGPU adapter: works, agrees with CPU, but much slower.
    webgpu = FakeDevice("WebGpuExecutionProvider", device="0", run_ms=15, plugin=True)
    backend = FakeBackend(devices=[webgpu], cpu_run_ms=1)
    selection = _request(backend, tmp_path)
    assert selection.adapter.label == "cpu"
    assert "webgpu:0 slower than CPU" in selection.reason
    row = {r["label"]: r for r in selection.as_dict()["adapters"]}["webgpu:0"]
    assert row["speed_vs_cpu"] < 1.0 and row["probe"]["status"] == "ok"


def test_failures_found_by_probing(tmp_path):
    devices = [
        FakeDevice("CUDAExecutionProvider", device="0", create_error="CUDA driver too old"),
        FakeDevice("DmlExecutionProvider", device="0", discrete=True, lands_on_cpu=True),
        FakeDevice("OpenVINOExecutionProvider", device="GPU", offset=0.01),
        FakeDevice("OpenVINOExecutionProvider", device="NPU", device_type="npu", nan_on_run=1),
        FakeDevice("OpenVINOExecutionProvider", device="CPU", device_type="cpu"),
    ]
    # A slower fake CPU: with both at 0 ms, timer noise alone decided who was faster.
    selection = _request(FakeBackend(devices=devices, cpu_run_ms=2), tmp_path)
    probes = {a.label: a.probe for a in selection.adapters}
    assert probes["cuda:0"].status == "failed"
    assert probes["cuda:0"].error == "CUDA driver too old"
    assert probes["directml:0"].error == (
        "ONNX Runtime silently used CPUExecutionProvider instead of DmlExecutionProvider"
    )
    assert probes["openvino:GPU"].error.startswith("outputs differ from CPU by 0.01")
    assert probes["openvino:NPU"].error == "output contains NaN or infinity"
    assert probes["openvino:CPU"].status == "ok" and probes["openvino:CPU"].max_abs_diff == 0.0
    assert selection.adapter.label == "openvino:CPU"
    assert "cuda:0 failed" in selection.reason and "directml:0 failed" in selection.reason


def test_probe_cache_is_keyed_and_reprobe_refreshes(tmp_path, monkeypatch):
    # Clearly different speeds: with equal ones the choice would follow timing noise.
    gpu = FakeDevice("CUDAExecutionProvider", device="0", run_ms=1.0)
    backend = FakeBackend(devices=[gpu], cpu_run_ms=5.0)
    first = _request(backend, tmp_path)
    assert backend.created == ["cpu", "cuda:0"]
    assert not any(a.probe.cached for a in first.adapters)

    backend.created.clear()
    again = _request(backend, tmp_path)
    assert backend.created == []  # all from the cache: instant start
    assert all(a.probe.cached for a in again.adapters)
    assert again.adapter.label == "cuda:0"

    _request(backend, tmp_path, reprobe=True)
    assert backend.created == ["cpu", "cuda:0"]

    # Another ONNX Runtime version or another model is another key.
    backend.created.clear()
    upgraded = FakeBackend(devices=[gpu], version="1.25.0", cpu_run_ms=5.0)
    _request(upgraded, tmp_path)
    assert upgraded.created == ["cpu", "cuda:0"]
    cache = _cache(tmp_path, backend)
    assert cache.get(first.adapter, SHA) is not None
    assert cache.get(first.adapter, "cd" * 32) is None

    # A result measured with an older session setup is measured again.
    from alphacut.accel import probe as probe_module

    monkeypatch.setattr(probe_module, "SESSION_SETUP", probe_module.SESSION_SETUP + "-next")
    assert cache.get(first.adapter, SHA) is None


def test_cached_cpu_probe_still_gives_a_reference_for_a_new_adapter(tmp_path):
    backend = FakeBackend(devices=[])
    _request(backend, tmp_path)
    wrong = FakeDevice("CUDAExecutionProvider", device="0", offset=0.5)
    later = FakeBackend(devices=[wrong])
    selection = _request(later, tmp_path)
    probe = {a.label: a.probe for a in selection.adapters}["cuda:0"]
    assert probe.status == "failed" and "differ from CPU" in probe.error


def test_auto_without_cache_verifies_in_order_and_caches_what_it_learnt(tmp_path):
    devices = [
        FakeDevice("CUDAExecutionProvider", device="0", create_error="no CUDA-capable device"),
        FakeDevice("DmlExecutionProvider", device="0", discrete=True, lands_on_cpu=True),
        FakeDevice("OpenVINOExecutionProvider", device="GPU"),
        FakeDevice("OpenVINOExecutionProvider", device="CPU", device_type="cpu"),
    ]
    backend = FakeBackend(devices=devices)
    runner = _open(backend, tmp_path)
    # Quick start: no CPU reference, no timing runs; one session per candidate tried.
    assert backend.created == ["cuda:0", "directml:0", "openvino:GPU"]
    assert runner.adapter.label == "openvino:GPU"
    assert runner.adapter.probe.status == "verified"
    assert "cuda:0 failed" in runner.reason and "directml:0 failed" in runner.reason
    cache = _cache(tmp_path, backend)
    assert cache.get(devices[0].adapter, SHA).status == "failed"
    assert "silently used CPUExecutionProvider" in cache.get(devices[1].adapter, SHA).error
    assert cache.get(devices[2].adapter, SHA).status == "verified"

    # Next start: known failures are not retried.
    backend.created.clear()
    again = _open(backend, tmp_path)
    assert backend.created == ["openvino:GPU"] and again.adapter.label == "openvino:GPU"

    # A full probe later replaces the 'verified' entry with timings.
    selection = _request(backend, tmp_path)
    assert {a.label: a.probe.status for a in selection.adapters}["openvino:GPU"] == "ok"


def test_auto_uses_cached_timings_so_a_slow_adapter_is_not_opened(tmp_path):
    slow = FakeDevice("WebGpuExecutionProvider", device="0", run_ms=15, plugin=True)
    backend = FakeBackend(devices=[slow], cpu_run_ms=1)
    _request(backend, tmp_path)
    backend.created.clear()
    runner = _open(backend, tmp_path)
    assert runner.adapter.label == "cpu" and backend.created == ["cpu"]


def test_forced_provider_missing_or_failing(tmp_path):
    devices = [
        FakeDevice("CUDAExecutionProvider", device="0", create_error="CUDA out of memory"),
        FakeDevice("DmlExecutionProvider", device="0", lands_on_cpu=True),
        FakeDevice("OpenVINOExecutionProvider", device="GPU",
                   skip_reason="no GPU render node (/dev/dri/renderD*)"),
    ]
    backend = FakeBackend(devices=devices)
    with pytest.raises(ProviderError, match="CUDA:0 failed to start: CUDA out of memory"):
        _open(backend, tmp_path, provider="cuda", strict=True)
    with pytest.raises(ProviderError, match="silently used CPUExecutionProvider"):
        _open(backend, tmp_path, provider="dml:0", strict=True)
    with pytest.raises(ProviderError, match="OpenVINO:GPU is not available: no GPU render"):
        _open(backend, tmp_path, provider="openvino:GPU", strict=True)
    with pytest.raises(ProviderError, match="TensorRT is not available in this ONNX Runtime"):
        _open(backend, tmp_path, provider="tensorrt", strict=True)

    # Without --strict: CPU, with a note saying what happened.
    runner = _open(backend, tmp_path, provider="cuda:0")
    assert runner.adapter.label == "cpu"
    assert runner.notes == [
        "CUDA:0 failed to start: CUDA out of memory; using CPU instead "
        "(add --strict to make this an error)"
    ]
    assert _open(backend, tmp_path, provider="coreml").adapter.label == "cpu"


def test_forced_provider_device_not_listed_is_still_tried(tmp_path):
    devices = [FakeDevice("OpenVINOExecutionProvider", device="GPU.1")]
    backend = FakeBackend(devices=devices)
    runner = _open(backend, tmp_path, provider="openvino:gpu.1", strict=True)
    assert runner.adapter.label == "openvino:GPU.1"
    with pytest.raises(ProviderError, match="OpenVINO:GPU.0 failed to start"):
        _open(backend, tmp_path, provider="openvino:GPU.0", strict=True)


def test_parse_provider():
    assert parse_provider("auto").forced is False
    assert parse_provider("low-power").preference == "low-power"
    assert parse_provider("DML:1").kind == "directml"
    assert parse_provider("trt").kind == "tensorrt"
    request = parse_provider("openvino:GPU.0")
    assert (request.kind, request.device) == ("openvino", "GPU.0")
    with pytest.raises(ProviderError, match="unknown provider 'rocm'"):
        parse_provider("rocm")


def test_rank_and_matching_helpers():
    discrete = Adapter("DmlExecutionProvider", "0", "gpu", discrete=True)
    unknown = Adapter("DmlExecutionProvider", "2", "gpu")
    integrated = Adapter("DmlExecutionProvider", "1", "gpu", discrete=False)
    ov_gpu = Adapter("OpenVINOExecutionProvider", "GPU", "gpu")
    assert rank(discrete, "high-performance") < rank(unknown, "high-performance")
    assert rank(unknown, "high-performance") < rank(ov_gpu, "high-performance")
    assert rank(ov_gpu, "high-performance") < rank(integrated, "high-performance")
    assert rank(integrated, "low-power") < rank(discrete, "low-power")
    assert matches(discrete, "dml") and matches(discrete, "directml:0")
    assert not matches(discrete, "directml:1")
    assert choose([CPU_ADAPTER], "high-performance").reason == "only adapter available"
    failed = Adapter("CUDAExecutionProvider", "0", "gpu",
                     probe=ProbeResult(status="failed", error="x"))
    assert choose([failed, CPU_ADAPTER]).adapter.label == "cpu"


def test_labels_and_display_names():
    assert CPU_ADAPTER.label == "cpu" and CPU_ADAPTER.display == "CPU"
    adapter = Adapter("OpenVINOExecutionProvider", "GPU", "gpu")
    assert adapter.label == "openvino:GPU" and adapter.display == "OpenVINO:GPU"
    assert Adapter("DmlExecutionProvider", "1", "gpu").display == "DirectML:1"


def test_threads_default_to_physical_cores_and_are_configurable(tmp_path):
    import psutil

    from alphacut.accel.threads import default_threads
    from alphacut.errors import ConfigError

    expected = psutil.cpu_count(logical=False) or psutil.cpu_count()
    assert default_threads({}) == expected
    assert default_threads({"ALPHACUT_THREADS": "3"}) == 3
    for bad in ("0", "two"):
        with pytest.raises(ConfigError, match="ALPHACUT_THREADS"):
            default_threads({"ALPHACUT_THREADS": bad})
    runner = _open(FakeBackend(devices=[]), tmp_path, provider="cpu", threads=None)
    assert runner.threads == default_threads()


def test_the_agreement_rule_is_the_models(tmp_path):
    """An int8 model's kernels may differ from the CPU's on single values, not in its masks."""
    from alphacut.accel.agreement import AgreementRule
    from alphacut.models.catalogue import INT8_AGREEMENT

    # A photo-like input: the fake model's mask is ~0.88 on the top half, ~0.12 below.
    scene = np.full((1, 3, 32, 32), -2.0, np.float32)
    scene[..., :16, :] = 2.0
    int8ish = FakeDevice("OpenVINOExecutionProvider", device="CPU", device_type="cpu",
                         speckle=0.6)
    backend = FakeBackend(devices=[int8ish])

    def status(selection) -> str:
        return {a.label: a.probe for a in selection.adapters}["openvino:CPU"]

    strict = status(_request(backend, tmp_path / "a", inputs=[scene]))
    assert strict.status == "failed" and "outputs differ from CPU by 0.6" in strict.error
    loose = status(_request(backend, tmp_path / "b", rule=INT8_AGREEMENT, inputs=[scene]))
    assert loose.status == "ok", loose.error
    assert loose.max_abs_diff > 0.5 and loose.mask_mean_diff < 0.01 and loose.mask_iou > 0.95
    broken = FakeBackend(devices=[FakeDevice("OpenVINOExecutionProvider", device="CPU",
                                             device_type="cpu", offset=0.5)])
    still = status(_request(broken, tmp_path / "c", rule=INT8_AGREEMENT, inputs=[scene]))
    assert still.status == "failed" and "on average" in still.error
    # IoU is judged on its own: a tight mean limit alone would not catch a lost half.
    iou_only = AgreementRule(max_abs_diff=None, mask_min_iou=0.95)
    assert status(_request(broken, tmp_path / "d", rule=iou_only, inputs=[scene])).status == (
        "failed")
