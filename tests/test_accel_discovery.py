"""Discovery in the real backend: DirectML, CUDA, OpenVINO and plugin paths.

No GPU exists here, so ONNX Runtime's module is replaced by a stand-in that answers
like a Windows/DirectML or a CUDA build would; the real backend's own code runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from fake_nvml import fake_pynvml

from alphacut.accel.adapter import Adapter
from alphacut.accel.ort_backend import (
    OrtBackend,
    adapter_from_ep_device,
    missing_device_node,
    provider_entries,
)
from alphacut.accel.ort_runtime import register_plugins

pytest.importorskip("onnxruntime")


class FakeOrt:
    """Just enough of the onnxruntime module for discovery and session creation."""

    __version__ = "1.23.0"

    class ExecutionMode:
        ORT_SEQUENTIAL = "sequential"

    class SessionOptions:
        def __init__(self) -> None:
            self.added: list[tuple[list, dict]] = []

        def add_provider_for_devices(self, devices, options) -> None:
            self.added.append((devices, options))

        def add_session_config_entry(self, key, value) -> None:
            self.added.append(([key], {"value": value}))

    def __init__(self, providers: list[str], ep_devices: list) -> None:
        self._providers = providers
        self._ep_devices = ep_devices
        self.sessions: list[dict] = []

    def get_available_providers(self) -> list[str]:
        return list(self._providers)

    def get_ep_devices(self) -> list:
        return list(self._ep_devices)

    def InferenceSession(self, path, sess_options=None, providers=None, **kwargs):  # noqa: N802
        self.sessions.append({"path": path, "opts": sess_options, "providers": providers,
                              "kwargs": kwargs})
        first = SimpleNamespace(name="input", shape=[1, 3, 320, 320])
        names = [p[0] for p in providers] if providers else ["X"]
        return SimpleNamespace(get_inputs=lambda: [first], get_providers=lambda: names)


def _ep_device(ep_name, hw_type, *, ep_options=None, ep_metadata=None, metadata=None,
               vendor="Vendor"):
    return SimpleNamespace(
        ep_name=ep_name,
        ep_options=ep_options or {},
        ep_metadata=ep_metadata or {},
        device=SimpleNamespace(type=SimpleNamespace(name=hw_type), vendor=vendor,
                               metadata=metadata or {}),
    )


def _backend_with(fake: FakeOrt) -> OrtBackend:
    backend = OrtBackend()
    backend._ort = fake  # type: ignore[assignment]
    return backend


def test_directml_adapters_from_ep_devices():
    fake = FakeOrt(
        ["DmlExecutionProvider", "CPUExecutionProvider"],
        [
            _ep_device("CPUExecutionProvider", "CPU"),
            _ep_device("DmlExecutionProvider", "GPU", ep_options={"device_id": "0"}, vendor="AMD",
                       metadata={"DxgiAdapterNumber": "0", "Description": "Radeon RX 7800 XT",
                                 "Discrete": "1"}),
            _ep_device("DmlExecutionProvider", "GPU", ep_options={"device_id": "1"},
                       vendor="Intel", metadata={"DxgiAdapterNumber": "1", "Discrete": "0",
                                                 "Description": "Intel UHD 770"}),
        ],
    )
    adapters = _backend_with(fake).candidates()
    assert [(a.label, a.discrete, a.name, a.plugin) for a in adapters] == [
        ("directml:0", True, "Radeon RX 7800 XT", False),
        ("directml:1", False, "Intel UHD 770", False),
    ]


def test_directml_without_ep_devices_offers_the_default_adapter():
    fake = FakeOrt(["DmlExecutionProvider", "CPUExecutionProvider"], [])
    (adapter,) = _backend_with(fake).candidates()
    assert adapter.label == "directml:0" and adapter.discrete is None


def test_directml_session_gets_device_id_and_dml_session_options(tmp_path):
    fake = FakeOrt(["DmlExecutionProvider", "CPUExecutionProvider"], [])
    backend = _backend_with(fake)
    adapter = Adapter("DmlExecutionProvider", "1", "gpu")
    session = backend.create_session(tmp_path / "m.onnx", adapter, threads=3)
    (call,) = fake.sessions
    assert call["providers"] == [("DmlExecutionProvider", {"device_id": "1"})]
    assert call["opts"].enable_mem_pattern is False
    assert call["opts"].execution_mode == "sequential"
    assert call["opts"].intra_op_num_threads == 3
    assert session.providers()[0] == "DmlExecutionProvider"


def test_cuda_adapters_counted_by_nvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([b"NVIDIA RTX 4090", "NVIDIA A2"]))
    fake = FakeOrt(["TensorrtExecutionProvider", "CUDAExecutionProvider",
                    "CPUExecutionProvider"], [])
    adapters = _backend_with(fake).candidates()
    assert [(a.label, a.name) for a in adapters] == [
        ("tensorrt:0", "NVIDIA RTX 4090"), ("tensorrt:1", "NVIDIA A2"),
        ("cuda:0", "NVIDIA RTX 4090"), ("cuda:1", "NVIDIA A2"),
    ]


def test_cuda_without_nvml_offers_device_zero(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    fake = FakeOrt(["CUDAExecutionProvider", "CPUExecutionProvider"], [])
    (adapter,) = _backend_with(fake).candidates()
    assert adapter.label == "cuda:0" and adapter.vendor == "NVIDIA"


def test_cuda_and_tensorrt_provider_entries():
    assert provider_entries(Adapter("CUDAExecutionProvider", "1", "gpu")) == [
        ("CUDAExecutionProvider", {"device_id": "1"})
    ]
    assert provider_entries(Adapter("TensorrtExecutionProvider", "0", "gpu")) == [
        ("TensorrtExecutionProvider", {"device_id": "0"}),
        ("CUDAExecutionProvider", {"device_id": "0"}),
    ]
    assert provider_entries(Adapter("OpenVINOExecutionProvider", "GPU.1", "gpu")) == [
        ("OpenVINOExecutionProvider", {"device_type": "GPU.1"})
    ]


def test_plugin_ep_device_is_used_through_add_provider_for_devices(tmp_path):
    webgpu = _ep_device("WebGpuExecutionProvider", "GPU", vendor="NVIDIA",
                        metadata={"Description": "RTX"})
    fake = FakeOrt(["CPUExecutionProvider"], [webgpu])
    backend = _backend_with(fake)
    (adapter,) = backend.candidates()
    assert adapter.plugin and adapter.label == "webgpu:0" and adapter.device_type == "gpu"
    backend.create_session(tmp_path / "m.onnx", adapter, threads=1)
    (call,) = fake.sessions
    assert call["providers"] is None
    assert call["opts"].added == [([webgpu], {})]


def test_openvino_plugin_device_names_come_from_ep_metadata():
    adapter = adapter_from_ep_device(
        ep_name="OpenVINOExecutionProvider", ep_options={}, ep_metadata={"ov_device": "NPU"},
        hw_type="NPU", hw_vendor="Intel", hw_metadata={}, built_in=False,
    )
    assert adapter is not None
    assert (adapter.label, adapter.device_type, adapter.plugin) == ("openvino:NPU", "npu", True)


def test_openvino_without_package_probes_device_types(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "openvino", None)
    fake = FakeOrt(["OpenVINOExecutionProvider", "CPUExecutionProvider"],
                   [_ep_device("CPUExecutionProvider", "CPU")])
    adapters = {a.label: a for a in _backend_with(fake).candidates()}
    assert set(adapters) == {"openvino:GPU", "openvino:NPU", "openvino:CPU"}
    assert adapters["openvino:CPU"].probe is None
    if sys.platform.startswith("linux") and not Path("/dev/dri").exists():
        assert adapters["openvino:GPU"].probe.status == "skipped"


def test_missing_device_nodes(tmp_path):
    assert missing_device_node("GPU", tmp_path).startswith("no GPU render node")
    assert missing_device_node("NPU", tmp_path).startswith("no NPU device node")
    (tmp_path / "dri").mkdir()
    (tmp_path / "dri" / "renderD128").touch()
    (tmp_path / "accel").mkdir()
    (tmp_path / "accel" / "accel0").touch()
    assert missing_device_node("GPU.0", tmp_path) == ""
    assert missing_device_node("NPU", tmp_path) == ""
    assert missing_device_node("CPU", tmp_path) == ""


def test_installed_plugin_packages_are_registered(monkeypatch):
    import importlib.metadata as metadata

    registered: list[tuple[str, str]] = []
    fake = FakeOrt(["OpenVINOExecutionProvider", "CPUExecutionProvider"], [])
    fake.register_execution_provider_library = lambda name, path: registered.append((name, path))
    webgpu = ModuleType("onnxruntime_ep_webgpu")
    webgpu.get_ep_name = lambda: "WebGpuExecutionProvider"
    webgpu.get_library_path = lambda: "/opt/libwebgpu_ep.so"
    openvino_plugin = ModuleType("onnxruntime_ep_openvino")
    openvino_plugin.get_ep_name = lambda: "OpenVINOExecutionProvider"
    openvino_plugin.get_library_path = lambda: "/opt/libov_ep.so"
    monkeypatch.setitem(sys.modules, "onnxruntime_ep_webgpu", webgpu)
    monkeypatch.setitem(sys.modules, "onnxruntime_ep_openvino", openvino_plugin)
    installed = {"onnxruntime-ep-webgpu", "onnxruntime-ep-openvino"}
    monkeypatch.setattr(metadata, "distributions",
                        lambda name=None: [object()] if name in installed else [])
    plugins, notes = register_plugins(fake)
    assert registered == [("onnxruntime_ep_webgpu", "/opt/libwebgpu_ep.so")]
    assert plugins == ["onnxruntime-ep-webgpu"]
    # The OpenVINO plugin is not loaded next to a flavour that has OpenVINO built in.
    assert notes == ["onnxruntime-ep-openvino ignored: OpenVINOExecutionProvider "
                     "is built in"]


def test_logger_and_plugins_are_set_up_once_per_process(monkeypatch, tmp_path):
    from alphacut.accel.model_options import ModelOptions

    fake = FakeOrt(["CPUExecutionProvider"], [])
    severities: list[int] = []
    registered: list[str] = []
    fake.set_default_logger_severity = severities.append
    fake.register_execution_provider_library = lambda name, path: registered.append(name)
    monkeypatch.setitem(sys.modules, "onnxruntime", fake)
    first = OrtBackend(environ={"ALPHACUT_ORT_LOG": "3"})
    bf16 = first.for_model(ModelOptions(tmp_path / "m.onnx", precision="bf16",
                                        disabled_optimizers=("X",)))
    again = OrtBackend(environ={"ALPHACUT_ORT_LOG": "3"})
    assert severities == [3] and registered == []
    assert (bf16.precision, bf16.disabled_optimizers) == ("bf16", ("X",))
    assert first.for_model(ModelOptions(tmp_path / "m.onnx")) is first
    assert again.precision == "fp32" and again._ort is fake


def _cuda_backend(monkeypatch, fake: FakeOrt, problems: list[str]) -> OrtBackend:
    """An OrtBackend built on ``fake`` as if it were onnxruntime-gpu, with a scripted report."""
    from alphacut.accel import ort_runtime
    from alphacut.accel.cuda_libraries import CudaLibrary, CudaReport

    libraries = tuple(
        CudaLibrary(file=p.split(" ", 1)[0], requirement="nvidia-cudnn-cu12~=9.0",
                    error="cannot open shared object file")
        for p in problems
    )
    report = CudaReport(package="onnxruntime-gpu", version="1.26.0", build_cuda="12.8",
                        driver_cuda="12.4", runtime_cuda="12.9",
                        cudnn="" if problems else "9.28.0", libraries=libraries)
    fake.set_default_logger_severity = lambda level: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "onnxruntime", fake)
    monkeypatch.setattr(ort_runtime, "load_cuda_libraries", lambda ort: report)
    return OrtBackend()


def test_a_cuda_build_loads_its_libraries_and_reports_versions(monkeypatch):
    fake = FakeOrt(["CUDAExecutionProvider", "CPUExecutionProvider"], [])
    backend = _cuda_backend(monkeypatch, fake, [])
    runtime = backend.runtime()
    assert runtime.cuda is not None and runtime.cuda.cudnn == "9.28.0"
    assert runtime.notes == ()
    assert [a.label for a in backend.discover().adapters] == ["cuda:0", "cpu"]


def test_a_missing_cudnn_is_a_discovery_note_and_the_cpu_landing_reason(monkeypatch, tmp_path):
    fake = FakeOrt(["CUDAExecutionProvider", "CPUExecutionProvider"], [])
    backend = _cuda_backend(monkeypatch, fake, ["libcudnn.so.9 not found"])
    expected = "libcudnn.so.9 not found: pip install 'nvidia-cudnn-cu12~=9.0'"
    assert backend.runtime().notes == (expected,)
    # Like ORT without cuDNN: the session "works", on the CPU.
    fake.InferenceSession = lambda *a, **k: SimpleNamespace(  # type: ignore[method-assign]
        get_inputs=lambda: [SimpleNamespace(name="input", shape=[1, 3, 8, 8])],
        get_providers=lambda: ["CPUExecutionProvider"])
    with pytest.raises(RuntimeError) as caught:
        backend.create_session(tmp_path / "m.onnx", Adapter("CUDAExecutionProvider", "0", "gpu"),
                               threads=1)
    assert str(caught.value) == (
        "ONNX Runtime silently used CPUExecutionProvider instead of CUDAExecutionProvider: "
        + expected)


def test_accelerated_sessions_raise_instead_of_printing_and_retrying_on_cpu(monkeypatch,
                                                                           tmp_path):
    fake = FakeOrt(["CUDAExecutionProvider", "CPUExecutionProvider"], [])
    backend = _cuda_backend(monkeypatch, fake, [])
    backend.create_session(tmp_path / "m.onnx", Adapter("CUDAExecutionProvider", "0", "gpu"),
                           threads=1)
    backend.create_session(tmp_path / "m.onnx", Adapter("CPUExecutionProvider"), threads=1)
    assert [s["kwargs"].get("enable_fallback") for s in fake.sessions] == [0, None]

    def failing(*args, **kwargs):
        raise RuntimeError("CUDA failure 100: no CUDA-capable device is detected")

    fake.InferenceSession = failing  # type: ignore[method-assign]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    with pytest.raises(RuntimeError, match=r"no CUDA GPU is visible to this process "
                                           r"\(CUDA_VISIBLE_DEVICES='7'\)"):
        backend.create_session(tmp_path / "m.onnx", Adapter("CUDAExecutionProvider", "0", "gpu"),
                               threads=1)
