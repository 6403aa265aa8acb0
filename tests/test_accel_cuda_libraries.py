"""CUDA/cuDNN library probing for onnxruntime-gpu, with a scripted loader (no GPU here).

The loader stands in for ``ctypes.CDLL``: it "loads" files that exist in a fake
site-packages tree or are named as present on the loader path, and its handles answer
the version calls the real libraries have (cudaRuntimeGetVersion, cudnnGetVersion, …).
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from types import SimpleNamespace

import pytest

from alphacut.accel.cuda_libraries import (
    cpu_landing_reason,
    explain_provider_error,
    load_cuda_libraries,
    requirement_for,
)

CU12_REQUIREMENTS = [
    "nvidia-cuda-nvrtc-cu12~=12.0", "nvidia-cuda-runtime-cu12~=12.0",
    "nvidia-cufft-cu12~=11.0", "nvidia-curand-cu12~=10.0", "nvidia-cudnn-cu12~=9.0",
]
CU12_FILES = {
    "cublas": ["libcublasLt.so.12", "libcublas.so.12"], "cuda_nvrtc": ["libnvrtc.so.12"],
    "curand": ["libcurand.so.10"], "cufft": ["libcufft.so.11"],
    "cuda_runtime": ["libcudart.so.12"], "cudnn": ["libcudnn.so.9"],
}
# What onnxruntime-gpu 1.26.0's CUDA provider really printed here, with no driver installed.
ORT_DRIVER_ERROR = (
    "[ONNXRuntimeError] : 1 : FAIL : /onnxruntime_src/onnxruntime/core/providers/cuda/"
    "cuda_call.cc:122 CUDA failure 35: CUDA driver version is insufficient for CUDA runtime "
    "version ; GPU=-1 ; hostname=vm ; expr=cudaSetDevice(info_.device_id);"
)


def _set_int(pointer, value: int) -> int:
    ctypes.cast(pointer, ctypes.POINTER(ctypes.c_int))[0] = value
    return 0


class FakeLibrary:
    def __init__(self, path: str, versions: dict[str, int]) -> None:
        self.path = path
        self.cudaRuntimeGetVersion = lambda ref: _set_int(ref, versions["runtime"])
        self.cuDriverGetVersion = lambda ref: _set_int(ref, versions["driver"])
        self.cudnnGetVersion = _Callable(versions["cudnn"])


class _Callable:
    """A ctypes-like function: settable ``restype``, returns a number."""

    def __init__(self, value: int) -> None:
        self.restype = None
        self._value = value

    def __call__(self) -> int:
        return self._value


class FakeLoader:
    """Loads existing files by path, and bare names listed in ``on_path``."""

    def __init__(self, on_path=(), *, driver: int | None = 12040, runtime: int = 12090,
                 cudnn: int = 92800, broken=()) -> None:
        self.on_path = set(on_path)
        self.broken = set(broken)
        self.versions = {"driver": driver or 0, "runtime": runtime, "cudnn": cudnn}
        if driver is not None:
            self.on_path.add("libcuda.so.1")
        self.loaded: list[str] = []

    def __call__(self, name: str) -> FakeLibrary:
        file = Path(name).name
        if file in self.broken:
            raise OSError(f"{name}: invalid ELF header")
        if ("/" in name and Path(name).is_file()) or name in self.on_path:
            self.loaded.append(name)
            return FakeLibrary(name, self.versions)
        raise OSError(f"{file}: cannot open shared object file: No such file or directory")


def _site(tmp_path: Path, skip=()) -> Path:
    site = tmp_path / "site-packages"
    (site / "onnxruntime" / "capi").mkdir(parents=True)
    for folder, files in CU12_FILES.items():
        if folder in skip:
            continue
        lib = site / "nvidia" / folder / "lib"
        lib.mkdir(parents=True)
        for file in files:
            (lib / file).write_bytes(b"")
    return site


def _ort(site: Path, cuda_version: str = "12.8", own_list: bool = True):
    module = SimpleNamespace(
        __file__=str(site / "onnxruntime" / "__init__.py"), __version__="1.26.0",
        package_name="onnxruntime-gpu", cuda_version=cuda_version,
    )
    if own_list:
        # onnxruntime's own list, as its preload_dlls builds it (here: CUDA 12).
        module._get_nvidia_dll_paths = lambda is_windows, cuda, cudnn: [
            ("nvidia", folder, "lib", file) for folder, files in CU12_FILES.items()
            for file in files
        ]
    return module


def test_every_library_loads_from_the_wheels_and_versions_are_read(tmp_path):
    site = _site(tmp_path)
    loader = FakeLoader()
    report = load_cuda_libraries(_ort(site), load=loader, requirements=CU12_REQUIREMENTS)
    assert report is not None and report.problems() == []
    assert [lib.file for lib in report.libraries] == [f for fs in CU12_FILES.values() for f in fs]
    assert all(lib.path.startswith(str(site / "nvidia")) for lib in report.libraries)
    assert (report.build_cuda, report.runtime_cuda, report.driver_cuda, report.cudnn) == (
        "12.8", "12.9", "12.4", "9.28.0")
    assert report.describe() == ("onnxruntime-gpu 1.26.0 (built for CUDA 12.8): CUDA 12.9, "
                                 "cuDNN 9.28.0, driver CUDA 12.4")
    data = report.as_dict()
    assert data["cudnn"] == "9.28.0" and data["problems"] == []


def test_a_missing_library_is_named_with_the_pip_line_that_fixes_it(tmp_path):
    site = _site(tmp_path, skip={"cudnn"})
    report = load_cuda_libraries(_ort(site), load=FakeLoader(),
                                 requirements=CU12_REQUIREMENTS)
    assert report is not None
    assert report.problems() == ["libcudnn.so.9 not found: pip install 'nvidia-cudnn-cu12~=9.0'"]
    assert report.cudnn == "" and "cuDNN not loaded" in report.describe()


def test_a_system_copy_on_the_loader_path_is_used(tmp_path):
    site = _site(tmp_path, skip={"cudnn"})
    loader = FakeLoader(on_path={"libcudnn.so.9"})
    report = load_cuda_libraries(_ort(site), load=loader, requirements=CU12_REQUIREMENTS)
    assert report is not None and report.problems() == []
    assert report.cudnn == "9.28.0" and "libcudnn.so.9" in loader.loaded


def test_another_major_version_is_reported_as_a_mismatch(tmp_path):
    site = _site(tmp_path, skip={"cudnn"})
    old = site / "nvidia" / "cudnn_old" / "lib"
    old.mkdir(parents=True)
    (old / "libcudnn.so.8").write_bytes(b"")
    report = load_cuda_libraries(_ort(site), load=FakeLoader(),
                                 requirements=CU12_REQUIREMENTS)
    assert report is not None
    assert report.problems()[0] == (
        "libcudnn.so.9 not found (found libcudnn.so.8, another major version): "
        "pip install 'nvidia-cudnn-cu12~=9.0'")


def test_a_library_that_does_not_load_says_so(tmp_path):
    site = _site(tmp_path)
    loader = FakeLoader(broken={"libcufft.so.11"})
    report = load_cuda_libraries(_ort(site), load=loader, requirements=CU12_REQUIREMENTS)
    assert report is not None
    (problem,) = report.problems()
    assert problem.startswith("libcufft.so.11 does not load (")
    assert "invalid ELF header" in problem
    assert problem.endswith("pip install --force-reinstall 'nvidia-cufft-cu12~=11.0'")


def test_no_driver_and_an_old_driver_are_explained(tmp_path):
    site = _site(tmp_path)
    none = load_cuda_libraries(_ort(site), load=FakeLoader(driver=None),
                               requirements=CU12_REQUIREMENTS)
    assert none is not None and none.driver_cuda == ""
    assert none.problems() == ["libcuda.so.1 not found: no NVIDIA driver is installed or visible "
                               "here (in a container: run it with the GPU passed through)"]
    old = load_cuda_libraries(_ort(site, cuda_version="13.0"), load=FakeLoader(driver=12040),
                              requirements=CU12_REQUIREMENTS)
    assert old is not None
    (problem,) = old.problems()
    assert problem.startswith("the NVIDIA driver supports CUDA 12.4, but onnxruntime-gpu 1.26.0 "
                              "needs CUDA 13: update the driver to R580 or newer")


def test_a_build_without_cuda_reports_nothing(tmp_path):
    assert load_cuda_libraries(_ort(_site(tmp_path), cuda_version=""), load=FakeLoader()) is None


def test_own_list_is_used_and_the_fallback_list_matches_it(tmp_path):
    site = _site(tmp_path)
    ours = load_cuda_libraries(_ort(site, own_list=False), load=FakeLoader(),
                               requirements=CU12_REQUIREMENTS)
    theirs = load_cuda_libraries(_ort(site), load=FakeLoader(), requirements=CU12_REQUIREMENTS)
    assert ours is not None and theirs is not None
    assert sorted(lib.file for lib in ours.libraries) == sorted(
        lib.file for lib in theirs.libraries)


def test_requirements_come_from_onnxruntime_gpu_metadata_or_its_naming():
    assert requirement_for("cudnn", CU12_REQUIREMENTS, "12.8") == "nvidia-cudnn-cu12~=9.0"
    assert requirement_for("cuda_runtime", CU12_REQUIREMENTS, "12.8") == (
        "nvidia-cuda-runtime-cu12~=12.0")
    assert requirement_for("cublas", CU12_REQUIREMENTS, "12.8") == "nvidia-cublas-cu12"
    # onnxruntime-gpu 1.29+ (CUDA 13) names wheels without the -cuNN suffix, except cuDNN.
    cu13 = ["nvidia-cuda-runtime~=13.0", "nvidia-cufft~=12.0", "nvidia-cudnn-cu13~=9.0"]
    assert requirement_for("cublas", cu13, "13.0") == "nvidia-cublas"
    assert requirement_for("cudnn", cu13, "13.0") == "nvidia-cudnn-cu13~=9.0"
    assert requirement_for("cublas", [], "12.8") == "nvidia-cublas-cu12"


def test_onnx_runtime_errors_are_explained(tmp_path):
    site = _site(tmp_path, skip={"cublas"})
    report = load_cuda_libraries(_ort(site), load=FakeLoader(driver=None),
                                 requirements=CU12_REQUIREMENTS)
    missing = "libcublasLt.so.12: cannot open shared object file: No such file or directory"
    assert explain_provider_error(missing, report) == (
        "libcublasLt.so.12 not found: pip install 'nvidia-cublas-cu12'")
    trt = "libnvinfer.so.10: cannot open shared object file: No such file or directory"
    assert explain_provider_error(trt, report).startswith("libnvinfer.so.10 not found: TensorRT")
    assert explain_provider_error(ORT_DRIVER_ERROR, report) == (
        "CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version: "
        "libcuda.so.1 not found: no NVIDIA driver is installed or visible here (in a container: "
        "run it with the GPU passed through)")
    oom = "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : CUDA failure 2: out of memory ; GPU=0 ;"
    assert explain_provider_error(oom, report) == "CUDA failure 2: out of memory"
    assert explain_provider_error("something else", report) == "something else"


def test_no_visible_device_names_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    text = explain_provider_error("CUDA failure 100: no CUDA-capable device is detected", None)
    assert text == "no CUDA GPU is visible to this process (CUDA_VISIBLE_DEVICES='')"


@pytest.mark.parametrize("present", [True, False])
def test_cpu_landing_reason_reads_the_provider_library_load_error(tmp_path, present):
    site = _site(tmp_path, skip={"cudnn"})
    (site / "onnxruntime" / "capi" / "libonnxruntime_providers_cuda.so").write_bytes(b"")
    ort = _ort(site)
    report = load_cuda_libraries(ort, load=FakeLoader(), requirements=CU12_REQUIREMENTS)

    def loader(name: str):
        if present:
            return object()
        raise OSError("libcudnn.so.9: cannot open shared object file: No such file or directory")

    reason = cpu_landing_reason(ort, "cuda", report, load=loader)
    # Either way the missing cuDNN is named: from the loader's error, or from the report.
    assert reason == "libcudnn.so.9 not found: pip install 'nvidia-cudnn-cu12~=9.0'"
