"""Inference precision: fp32 is pinned explicitly for OpenVINO on a CPU, bf16 only on request."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from alphacut.accel.adapter import CPU_ADAPTER, Adapter
from alphacut.accel.ort_backend import provider_entries
from alphacut.pipeline.remover import Remover


def _hint(entries: list[tuple[str, dict[str, str]]]) -> str | None:
    _, options = entries[0]
    if "load_config" not in options:
        return None
    return json.loads(options["load_config"])["CPU"]["INFERENCE_PRECISION_HINT"]


def test_openvino_cpu_gets_an_explicit_precision_hint() -> None:
    ov_cpu = Adapter(provider="OpenVINOExecutionProvider", device="CPU")
    assert _hint(provider_entries(ov_cpu)) == "f32"
    assert _hint(provider_entries(ov_cpu, "bf16")) == "bf16"
    ov_gpu = Adapter(provider="OpenVINOExecutionProvider", device="GPU", device_type="gpu")
    assert _hint(provider_entries(ov_gpu, "bf16")) is None
    assert _hint(provider_entries(CPU_ADAPTER, "bf16")) is None


def test_openvino_cpu_threads_are_not_pinned() -> None:
    # Pinned inference threads cannot leave a core that is busy decoding or encoding.
    ov_cpu = Adapter(provider="OpenVINOExecutionProvider", device="CPU")
    _, options = provider_entries(ov_cpu)[0]
    assert json.loads(options["load_config"])["CPU"]["ENABLE_CPU_PINNING"] == "NO"


def test_bf16_on_the_cpu_provider_is_noted_and_runs_fp32(model_file: Path) -> None:
    remover = Remover.open("u2netp", provider="cpu", model_path=model_file, precision="bf16")
    assert remover.provider == "cpu" and remover.precision == "fp32"
    assert any("bf16 applies to OpenVINO" in note for note in remover.runner.notes)


def test_bf16_on_openvino_stays_close_to_fp32(model_file: Path, photo: Path) -> None:
    exact = Remover.open("u2netp", provider="openvino:CPU", model_path=model_file, strict=True)
    fast = Remover.open(
        "u2netp", provider="openvino:CPU", model_path=model_file, strict=True, precision="bf16"
    )
    assert fast.provider == "openvino:CPU+bf16" and exact.provider == "openvino:CPU"
    a, b = exact.remove(photo).mask, fast.remove(photo).mask
    diff = float(np.abs(a - b).mean())
    # Measured 0.007 mean difference over ecssd-dev; bf16 must change numbers, but not much.
    assert diff < 0.03
