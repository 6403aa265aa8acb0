"""``alphacut providers`` on an NVIDIA machine, scripted: versions, GPU, and what is missing.

The backend is the accel layer's fake one, answering like onnxruntime-gpu whose cuDNN wheel
is missing; NVML is a stand-in module reporting one H200.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_nvml import fake_pynvml

from alphacut.accel.backend import RuntimeInfo
from alphacut.accel.cuda_libraries import CudaLibrary, CudaReport
from alphacut.accel.fake import FakeBackend, FakeDevice
from alphacut.accel.nvidia import gpus_from_driver, missing_cuda_hint

GIB = 1024**3
REPORT = CudaReport(
    package="onnxruntime-gpu", version="1.26.0", build_cuda="12.8", driver_cuda="13.0",
    runtime_cuda="12.9", cudnn="",
    libraries=(
        CudaLibrary("libcudart.so.12", "nvidia-cuda-runtime-cu12~=12.0", path="/x/libcudart.so.12"),
        CudaLibrary("libcudnn.so.9", "nvidia-cudnn-cu12~=9.0",
                    error="libcudnn.so.9: cannot open shared object file: No such file"),
    ),
)


@dataclass
class CudaBuild(FakeBackend):
    """The fake backend, with the CUDA facts an onnxruntime-gpu backend reports."""

    cuda: CudaReport | None = None

    def runtime(self) -> RuntimeInfo:
        base = super().runtime()
        notes = tuple(self.cuda.problems()) if self.cuda else ()
        return replace(base, distribution="onnxruntime-gpu", cuda=self.cuda, notes=notes)


@pytest.fixture
def h200(monkeypatch):
    pynvml = fake_pynvml([b"NVIDIA H200"], temperature_c=33, load_percent=0,
                         memory=lambda h: SimpleNamespace(used=GIB // 2, total=141 * GIB))
    monkeypatch.setitem(sys.modules, "pynvml", pynvml)


def _run(monkeypatch, backend, *argv: str) -> int:
    from alphacut.accel import selection
    from alphacut.commands import providers

    monkeypatch.setattr(selection, "default_backend", lambda **kwargs: backend)
    parser = argparse.ArgumentParser()
    providers.register(parser.add_subparsers())
    args = parser.parse_args(["providers", *argv])
    return args.func(args)


def test_json_reports_versions_gpu_and_the_missing_library(monkeypatch, capsys, h200):
    backend = CudaBuild(devices=[FakeDevice("CUDAExecutionProvider", vendor="NVIDIA",
                                            name="NVIDIA H200")], cuda=REPORT)
    assert _run(monkeypatch, backend, "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["cuda"]["runtime_cuda"] == "12.9" and payload["cuda"]["driver_cuda"] == "13.0"
    assert payload["cuda"]["cudnn"] is None
    fix = "libcudnn.so.9 not found: pip install 'nvidia-cudnn-cu12~=9.0'"
    assert payload["cuda"]["problems"] == [fix] and payload["onnxruntime"]["notes"] == [fix]
    (gpu,) = payload["gpus"]
    assert (gpu["name"], gpu["memory_total_bytes"], gpu["memory_used_bytes"]) == (
        "NVIDIA H200", 141 * GIB, GIB // 2)
    assert payload["gpu_notes"] == []
    assert [row["label"] for row in payload["adapters"]] == ["cuda:0", "cpu"]


def test_table_prints_versions_gpu_and_fix(monkeypatch, capsys, h200):
    monkeypatch.setenv("COLUMNS", "200")
    backend = CudaBuild(devices=[FakeDevice("CUDAExecutionProvider")], cuda=REPORT)
    assert _run(monkeypatch, backend) == 0
    out = capsys.readouterr().out
    assert ("onnxruntime-gpu 1.26.0 (built for CUDA 12.8): CUDA 12.9, cuDNN not loaded, "
            "driver CUDA 13.0") in out
    assert "GPU 0 NVIDIA H200: 141.0 GiB (0.5 GiB used), 33 °C, 0% busy" in out
    assert "note: libcudnn.so.9 not found: pip install 'nvidia-cudnn-cu12~=9.0'" in out


def test_a_gpu_without_a_cuda_build_says_which_line_installs_one(monkeypatch, capsys, h200):
    assert _run(monkeypatch, FakeBackend(distribution="onnxruntime-openvino"), "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["cuda"] is None
    (note,) = payload["gpu_notes"]
    assert note.startswith("NVIDIA H200 found, but onnxruntime-openvino has no CUDA provider")
    assert "ALPHACUT_ORT=cuda" in note


def test_driver_listing_without_nvml(tmp_path: Path):
    gpu = tmp_path / "0000:18:00.0"
    gpu.mkdir()
    (gpu / "information").write_text("Model: \t\t NVIDIA H200\nIRQ:   16\n")
    assert gpus_from_driver(tmp_path) == ["NVIDIA H200"]
    assert gpus_from_driver(tmp_path / "absent") == []
    assert missing_cuda_hint(("CUDAExecutionProvider",), "onnxruntime-gpu", ["NVIDIA H200"]) == ""
    assert missing_cuda_hint(("CPUExecutionProvider",), "onnxruntime", []) == ""
