"""The real ONNX Runtime providers on this machine (CPU and OpenVINO on device CPU) with u2netp."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from alphacut.accel.adapter import Adapter
from alphacut.errors import ProviderError

ort = pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.model

DATA = Path(os.environ.get("ALPHACUT_TEST_DATA")
            or Path(__file__).resolve().parents[2] / "shared" / "data")
HAS_OPENVINO = "OpenVINOExecutionProvider" in ort.get_available_providers()
needs_openvino = pytest.mark.skipif(not HAS_OPENVINO, reason="no OpenVINO provider installed")


@pytest.fixture(scope="module")
def model_path(model_file: Path) -> Path:
    """The verified u2netp from the shared conftest fixture."""
    return model_file


@pytest.fixture(scope="module")
def photo():
    from PIL import Image

    images = sorted((DATA / "ecssd-dev" / "images").glob("*.jpg"))
    if images:
        return Image.open(images[0]).convert("RGB")
    # Without the data set: a synthetic subject on a plain background.
    yy, xx = np.mgrid[0:240, 0:320]
    rgb = np.full((240, 320, 3), (200, 210, 220), np.uint8)
    rgb[((yy - 120) ** 2 + (xx - 160) ** 2) < 70**2] = (180, 40, 30)
    return Image.fromarray(rgb)


def test_session_memory_settings_per_provider(model_path):
    """The CPU provider keeps its arena (1.35x faster); the others do not hold one."""
    from alphacut.accel.adapter import CPU_ADAPTER
    from alphacut.accel.ort_backend import OrtBackend

    backend = OrtBackend()
    cpu = backend.create_session(model_path, CPU_ADAPTER, threads=1)._inner.get_session_options()
    assert cpu.enable_cpu_mem_arena and not cpu.enable_mem_pattern
    assert cpu.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert cpu.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if HAS_OPENVINO:
        ov_cpu = Adapter(provider="OpenVINOExecutionProvider", device="CPU")
        ov = backend.create_session(model_path, ov_cpu, threads=1)._inner.get_session_options()
        assert not ov.enable_cpu_mem_arena


@needs_openvino
def test_cpu_and_openvino_cpu_agree_end_to_end(model_path, photo):
    from alphacut.pipeline.remover import Remover

    cpu = Remover.open(model_path=model_path, provider="cpu", strict=True)
    ov = Remover.open(model_path=model_path, provider="openvino:CPU", strict=True)
    assert cpu.provider == "cpu" and ov.provider == "openvino:CPU"
    assert ov.runner.adapter.device_type == "cpu"
    a, b = cpu.remove(photo), ov.remove(photo)
    assert a.alpha.size == b.alpha.size == photo.size
    diff = float(np.abs(a.mask - b.mask).max())
    assert diff <= 1e-3, f"masks differ by {diff}"
    assert a.mask.std() > 0.05  # a real mask, not a constant
    assert not ov.runner.fallback_events and not cpu.runner.fallback_events


@needs_openvino
def test_ort_silently_landing_on_cpu_is_caught(model_path):
    from alphacut.accel.ort_backend import OrtBackend, missing_device_node
    from alphacut.accel.probe import NotOnRequestedProvider, create_verified

    if not missing_device_node("GPU"):
        pytest.skip("this machine may have an OpenVINO GPU")
    gpu = Adapter("OpenVINOExecutionProvider", "GPU", "gpu")
    # ONNX Runtime itself raises nothing here: it quietly builds a CPU session.
    with pytest.raises(NotOnRequestedProvider, match="silently used CPUExecutionProvider"):
        create_verified(OrtBackend(), model_path, gpu, threads=1)


@pytest.fixture(scope="module")
def providers_json(model_path, tmp_path_factory):
    """``alphacut providers --json`` run twice in a fresh home: a real probe, then the cache."""
    from alphacut.commands import providers

    home = tmp_path_factory.mktemp("home")
    (home / "cache" / "models").mkdir(parents=True)
    (home / "cache" / "models" / "u2netp.onnx").symlink_to(model_path)
    parser = argparse.ArgumentParser()
    providers.register(parser.add_subparsers())
    args = parser.parse_args(["providers", "--json"])
    mp = pytest.MonkeyPatch()
    mp.setenv("ALPHACUT_HOME", str(home))
    runs = []
    try:
        for _ in range(2):
            import contextlib
            import io

            out = io.StringIO()
            start = time.perf_counter()
            with contextlib.redirect_stdout(out):
                assert providers.run(args) == 0
            runs.append((json.loads(out.getvalue()), time.perf_counter() - start))
    finally:
        mp.undo()
    return home, runs


def test_providers_probe_cpu_and_openvino_for_real(providers_json):
    home, runs = providers_json
    first, _ = runs[0]
    rows = {row["label"]: row for row in first["adapters"]}
    cpu = rows["cpu"]["probe"]
    assert cpu["status"] == "ok" and cpu["steady_ms"] > 0 and cpu["create_ms"] > 0
    assert rows["cpu"]["speed_vs_cpu"] == 1.0
    if HAS_OPENVINO:
        ov = rows["openvino:CPU"]["probe"]
        assert ov["status"] == "ok", ov
        assert ov["max_abs_diff"] <= 1e-3
        assert rows["openvino:CPU"]["speed_vs_cpu"] > 0
    assert first["chosen"] in rows and rows[first["chosen"]]["chosen"]
    assert first["reason"]
    from alphacut.accel.cpu_isa import ISA_FLAGS, detect

    assert set(first["cpu"]["flags"]) == set(ISA_FLAGS)
    assert first["cpu"]["class"] == detect().cpu_class
    assert first["cpu"]["int8"].startswith("int8: ") and first["cpu"]["bf16"].startswith("bf16: ")
    assert first["onnxruntime"]["version"] == ort.__version__
    assert list((home / "cache" / "probes").glob("*.json"))


def test_providers_second_run_is_cached_and_fast(providers_json):
    _, runs = providers_json
    (first, first_s), (second, second_s) = runs
    assert all(row["probe"]["cached"] for row in second["adapters"]
               if row["probe"]["status"] in ("ok", "failed"))
    assert second["chosen"] == first["chosen"]
    assert second_s < min(2.0, first_s / 3), (first_s, second_s)


@needs_openvino
def test_auto_reuses_the_probe_cache_and_verifies(providers_json, model_path, monkeypatch):
    from alphacut.accel import open_runner

    home, runs = providers_json
    monkeypatch.setenv("ALPHACUT_HOME", str(home))
    runner = open_runner(model_path, threads=1)
    assert runner.adapter.label == runs[0][0]["chosen"]
    assert runner.adapter.probe is not None and runner.adapter.probe.cached
    with pytest.raises(ProviderError, match="is not available"):
        open_runner(model_path, provider="directml", strict=True)


def _providers_args(*argv: str) -> argparse.Namespace:
    from alphacut.commands import providers

    parser = argparse.ArgumentParser()
    providers.register(parser.add_subparsers())
    return parser.parse_args(["providers", *argv])


def test_providers_table_from_the_cache(providers_json, monkeypatch, capsys):
    home, runs = providers_json
    monkeypatch.setenv("ALPHACUT_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "120")
    args = _providers_args()
    assert args.func(args) == 0
    out = capsys.readouterr().out
    chosen = runs[0][0]["chosen"]
    assert f"auto (high-performance) picks {chosen}:" in out
    assert "cached result; --reprobe measures again" in out
    assert any(line.split()[:2] == ["cpu", "ok"] for line in out.splitlines() if line.strip())


def test_providers_without_the_model_still_lists_adapters(capsys):
    args = _providers_args("--json")  # the isolated home has no model
    assert args.func(args) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert "not downloaded" in captured.err
    assert [row["label"] for row in payload["adapters"]][-1] == "cpu"
    assert all(row["probe"] is None or row["probe"]["status"] == "skipped"
               for row in payload["adapters"])
