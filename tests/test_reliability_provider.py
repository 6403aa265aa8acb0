"""An accelerated provider failing mid-batch, seen through the whole CLI path.

The accelerator layer owns the fallback (tests/test_accel_fallback.py); here the fake
backend stands in for ONNX Runtime under ``alphacut remove`` to show the user-facing
result: every image is written, the exit code is 0, and the summary says what happened.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphacut.accel.fake import FakeBackend, FakeDevice
from alphacut.cli import main


@pytest.fixture
def failing_gpu(monkeypatch: pytest.MonkeyPatch) -> FakeDevice:
    gpu = FakeDevice(
        "CUDAExecutionProvider", device="0", discrete=True, fail_on_run=2, run_error="Xid 79"
    )
    backend = FakeBackend(devices=[gpu], input_shape=(1, 3, 320, 320))
    monkeypatch.setattr("alphacut.accel.runner.default_backend", lambda *_, **__: backend)
    return gpu


def _images(folder: Path, count: int) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(2)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_provider_lost_mid_batch_finishes_on_cpu_and_says_so(
    failing_gpu: FakeDevice, home_with_model: Path, tmp_path: Path, capsys
) -> None:
    folder = _images(tmp_path / "in", 4)
    out = tmp_path / "out"
    code = main(["remove", str(folder), "-o", str(out), "--provider", "cuda", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    records = [json.loads(line) for line in captured.out.splitlines()]
    images = [r for r in records if r["type"] == "image"]
    assert [r["status"] for r in images] == ["done"] * 4
    assert images[0]["provider"] == "cuda:0" and images[-1]["provider"] == "cpu"
    summary = records[-1]
    assert summary["fallback"] == ["3 of 4 images ran on CPU after CUDA:0 failed: Xid 79"]
    assert failing_gpu.runs == 2
    for path in sorted(out.glob("*.png")):
        with Image.open(path) as img:
            img.load()
            assert img.mode == "RGBA"
    assert len(list(out.glob("*.png"))) == 4


def test_strict_provider_failure_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, home_with_model: Path, tmp_path: Path, capsys
) -> None:
    gpu = FakeDevice("CUDAExecutionProvider", device="0", create_error="CUDA driver too old")
    backend = FakeBackend(devices=[gpu], input_shape=(1, 3, 320, 320))
    monkeypatch.setattr("alphacut.accel.runner.default_backend", lambda *_, **__: backend)
    folder = _images(tmp_path / "in", 1)
    code = main(
        ["remove", str(folder), "-o", str(tmp_path / "out"), "--provider", "cuda", "--strict"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "CUDA driver too old" in err[0], err
    assert not (tmp_path / "out" / "0.png").exists()
