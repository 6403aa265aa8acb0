"""Runtime fallback, reporting and --strict, proved with the fake backend's fault injection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alphacut.accel import ProbeCache, open_runner
from alphacut.accel.fake import FakeBackend, FakeDevice
from alphacut.accel.model_options import ModelOptions
from alphacut.errors import ProviderError

MODEL = Path("fake-model.onnx")  # the fake backend never reads it


def _tensor(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2, 2, (1, 3, 32, 32)).astype(np.float32)


def _open(backend: FakeBackend, tmp_path: Path, **kwargs):
    return open_runner(
        ModelOptions(MODEL, sha256="0" * 64), backend=backend,
        probe_cache=ProbeCache(tmp_path, backend.version), threads=1, **kwargs,
    )


def test_run_failing_on_third_image_falls_back_once_and_retries_that_image(tmp_path):
    gpu = FakeDevice("DmlExecutionProvider", device="1", discrete=True, fail_on_run=3,
                     run_error="device removed (DXGI_ERROR_DEVICE_REMOVED)")
    backend = FakeBackend(devices=[gpu])
    runner = _open(backend, tmp_path)
    assert runner.adapter.label == "directml:1"

    outputs = [runner.run(_tensor(i)) for i in range(5)]

    # Every image got a result, the failed one included (retried on CPU).
    assert len(outputs) == 5 and all(np.isfinite(o[0]).all() for o in outputs)
    assert runner.adapter.label == "cpu"
    assert [e.failed.label for e in runner.fallback_events] == ["directml:1"]
    # One CPU session, made once, after the accelerated session.
    assert backend.created == ["directml:1", "cpu"]
    assert gpu.runs == 3 and backend.cpu_runs == 3
    (event,) = runner.fallback_events
    assert event.image_index == 2 and event.images_on_fallback == 3
    assert event.describe(5) == (
        "3 of 5 images ran on CPU after DirectML:1 failed: "
        "device removed (DXGI_ERROR_DEVICE_REMOVED)"
    )
    assert runner.fallback_summary(5) == [event.describe(5)]
    assert event.as_dict()["failed"] == "directml:1"


def test_an_adapter_lost_mid_batch_is_not_picked_by_the_next_auto_start(tmp_path):
    gpu = FakeDevice("CUDAExecutionProvider", device="0", fail_on_run=1, run_error="Xid 79")
    backend = FakeBackend(devices=[gpu])
    runner = _open(backend, tmp_path)
    runner.run(_tensor(0))
    assert runner.adapter.label == "cpu"
    backend.created.clear()
    again = _open(backend, tmp_path)
    assert again.adapter.label == "cpu" and backend.created == ["cpu"]
    assert "cuda:0 failed" in again.reason
    cached = ProbeCache(tmp_path, backend.version).get(gpu.adapter, "0" * 64)
    assert cached is not None and cached.error == "failed at run time: Xid 79"
    # --reprobe gives it another chance.
    backend.created.clear()
    assert _open(backend, tmp_path, reprobe=True).adapter.label == "cuda:0"


def test_fallback_counts_match_the_issue_example(tmp_path):
    gpu = FakeDevice("OpenVINOExecutionProvider", device="GPU", fail_on_run=189,
                     run_error="CL_OUT_OF_RESOURCES")
    runner = _open(FakeBackend(devices=[gpu]), tmp_path)
    for i in range(200):
        runner.run(_tensor(i % 3))
    assert runner.fallback_events[0].describe(200) == (
        "12 of 200 images ran on CPU after OpenVINO:GPU failed: CL_OUT_OF_RESOURCES"
    )


def test_nan_output_counts_as_a_failure(tmp_path):
    gpu = FakeDevice("CUDAExecutionProvider", device="0", nan_on_run=2, lost_after_failure=False)
    backend = FakeBackend(devices=[gpu])
    runner = _open(backend, tmp_path)
    assert runner.adapter.label == "cuda:0"
    first = runner.run(_tensor(0))
    second = runner.run(_tensor(1))
    assert np.isfinite(second[0]).all()
    # The retried image gives what the CPU gives for it.
    from alphacut.accel.fake import fake_model_output

    np.testing.assert_array_equal(second[0], fake_model_output(_tensor(1))[0])
    assert np.isfinite(first[0]).all()
    (event,) = runner.fallback_events
    assert event.error == "output contains NaN or infinity"
    assert event.describe() == (
        "1 image ran on CPU after CUDA:0 failed: output contains NaN or infinity"
    )


def test_strict_forced_provider_raises_at_run_time_instead_of_falling_back(tmp_path):
    gpu = FakeDevice("CUDAExecutionProvider", device="0", fail_on_run=2, run_error="out of memory")
    backend = FakeBackend(devices=[gpu])
    runner = _open(backend, tmp_path, provider="cuda:0", strict=True)
    runner.run(_tensor(0))
    with pytest.raises(ProviderError, match=r"CUDA:0 failed \(--strict, no fallback\): out of mem"):
        runner.run(_tensor(1))
    assert runner.fallback_events == [] and backend.created == ["cuda:0"]


def test_cpu_failure_is_an_error_not_a_loop(tmp_path):
    backend = FakeBackend(devices=[])
    runner = _open(backend, tmp_path, provider="cpu")

    def broken(feeds):
        raise RuntimeError("bad input")

    runner._session.run = broken  # type: ignore[method-assign]
    with pytest.raises(ProviderError, match="CPU inference failed: bad input"):
        runner.run(_tensor(0))


def test_batch_goes_on_through_a_device_loss(tmp_path):
    """End to end through Remover and BatchRunner: every image is written."""
    from PIL import Image

    from alphacut.models.catalogue import get_model
    from alphacut.pipeline.batch import BatchRunner
    from alphacut.pipeline.jobs import Job
    from alphacut.pipeline.output import OutputOptions
    from alphacut.pipeline.remover import Remover

    spec = get_model("u2netp")
    size = spec.input_size if isinstance(spec.input_size, int) else spec.input_size[0]
    gpu = FakeDevice("DmlExecutionProvider", device="0", discrete=True, fail_on_run=3,
                     run_error="device hung")
    backend = FakeBackend(devices=[gpu], input_shape=(1, 3, size, size))
    remover = Remover.open("u2netp", model_path=MODEL, backend=backend, threads=1)
    runner = remover.runner
    jobs = []
    for i in range(5):
        src = tmp_path / f"in{i}.png"
        Image.new("RGB", (40 + i, 30), (40 * i, 90, 200)).save(src)
        jobs.append(Job(src, tmp_path / "out" / f"in{i}.png"))
    results = list(BatchRunner(remover, OutputOptions()).run(jobs))
    assert [r.status for r in results] == ["done"] * 5
    assert all(job.dest.is_file() for job in jobs)
    assert runner.fallback_events[0].describe(len(jobs)) == (
        "3 of 5 images ran on CPU after DirectML:0 failed: device hung"
    )
