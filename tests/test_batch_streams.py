"""Batch inference on several streams: option plumbing, concurrent runs, fallback, and the
same outputs as one image at a time (issue 12). Correctness only, never timing."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphacut.accel import ProbeCache, open_runner
from alphacut.accel.adapter import CPU_ADAPTER, Adapter
from alphacut.accel.fake import FakeBackend, FakeDevice, fake_model_output
from alphacut.accel.model_options import ModelOptions
from alphacut.accel.threads import SMALL_PHOTO_BYTES, batch_streams
from alphacut.errors import ConfigError
from alphacut.pipeline.batch import BatchRunner
from alphacut.pipeline.jobs import Job, median_file_bytes
from alphacut.pipeline.output import OutputOptions

MODEL = Path("fake-model.onnx")  # the fake backend never reads it
OV_CPU = "OpenVINOExecutionProvider"


def _ov_cpu(**faults) -> FakeDevice:
    return FakeDevice(OV_CPU, device="CPU", device_type="cpu", vendor="Intel", **faults)


def _runner(backend: FakeBackend, tmp_path: Path, streams: int):
    return open_runner(ModelOptions(MODEL, sha256="0" * 64, streams=streams), backend=backend,
                       probe_cache=ProbeCache(tmp_path, backend.version), threads=2)


def _tensor(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2, 2, (1, 3, 32, 32)).astype(np.float32)


# -- how many streams a batch asks for ------------------------------------------------------

def test_batch_streams_two_for_small_photos_one_for_camera_photos_and_single_images(
    monkeypatch,
):
    monkeypatch.setattr("alphacut.accel.threads.physical_cores", lambda: 2)
    assert batch_streams(100, 40_000, environ={}) == 2
    assert batch_streams(100, None, environ={}) == 2
    assert batch_streams(100, SMALL_PHOTO_BYTES + 1, environ={}) == 1
    assert batch_streams(1, 40_000, environ={}) == 1
    monkeypatch.setattr("alphacut.accel.threads.physical_cores", lambda: 1)
    assert batch_streams(100, 40_000, environ={}) == 1


def test_alphacut_streams_overrides_and_is_checked():
    assert batch_streams(1, 10**9, environ={"ALPHACUT_STREAMS": "3"}) == 3
    assert batch_streams(100, 10, environ={"ALPHACUT_STREAMS": " 1 "}) == 1
    for bad in ("0", "-2", "two"):
        with pytest.raises(ConfigError, match="ALPHACUT_STREAMS"):
            batch_streams(5, environ={"ALPHACUT_STREAMS": bad})


def test_median_file_bytes_reads_only_sizes_and_skips_missing(tmp_path):
    paths = []
    for i, size in enumerate((10, 30, 20, 50)):
        path = tmp_path / f"{i}.jpg"
        path.write_bytes(b"x" * size)
        paths.append(path)
    assert median_file_bytes(paths) == 30
    assert median_file_bytes([*paths, tmp_path / "gone.jpg"]) == 30
    assert median_file_bytes([tmp_path / "gone.jpg"]) is None
    assert median_file_bytes([]) is None


# -- the session option ---------------------------------------------------------------------

def test_streams_reach_openvino_cpu_only():
    from alphacut.accel.ort_backend import provider_entries

    def cpu_config(entries):
        options = entries[0][1]
        return json.loads(options["load_config"])["CPU"] if "load_config" in options else None

    ov_cpu = Adapter(OV_CPU, "CPU", "cpu")
    assert "NUM_STREAMS" not in cpu_config(provider_entries(ov_cpu))
    assert cpu_config(provider_entries(ov_cpu, "fp32", 2))["NUM_STREAMS"] == "2"
    assert cpu_config(provider_entries(ov_cpu, "bf16", 2))["INFERENCE_PRECISION_HINT"] == "bf16"
    assert cpu_config(provider_entries(Adapter(OV_CPU, "GPU", "gpu"), "fp32", 2)) is None
    assert provider_entries(CPU_ADAPTER, "fp32", 2) == [("CPUExecutionProvider", {})]


def test_thread_count_reaches_openvino_cpu():
    from alphacut.accel.ort_backend import provider_entries

    ov_cpu = Adapter(OV_CPU, "CPU", "cpu")
    config = json.loads(provider_entries(ov_cpu, "fp32", 2, threads=1)[0][1]["load_config"])
    assert config["CPU"]["INFERENCE_NUM_THREADS"] == "1"
    assert config["CPU"]["NUM_STREAMS"] == "2"
    untold = json.loads(provider_entries(ov_cpu)[0][1]["load_config"])
    assert "INFERENCE_NUM_THREADS" not in untold["CPU"]
    assert provider_entries(CPU_ADAPTER, threads=1) == [("CPUExecutionProvider", {})]


def test_store_and_model_options_carry_streams(tmp_path):
    from alphacut.models.catalogue import get_model
    from alphacut.models.store import ResolvedModel

    resolved = ResolvedModel(get_model("u2netp"), tmp_path / "m.onnx")
    assert resolved.session_options().streams == 1
    assert resolved.session_options("fp32", 2).streams == 2


def test_concurrency_is_the_streams_on_openvino_cpu_and_one_elsewhere(tmp_path):
    assert _runner(FakeBackend(devices=[_ov_cpu()]), tmp_path, 2).concurrency == 2
    assert _runner(FakeBackend(devices=[_ov_cpu()]), tmp_path, 1).concurrency == 1
    gpu = FakeDevice("CUDAExecutionProvider", device="0")
    assert _runner(FakeBackend(devices=[gpu]), tmp_path / "g", 2).concurrency == 1
    assert _runner(FakeBackend(devices=[]), tmp_path / "c", 2).concurrency == 1


# -- concurrent runs ------------------------------------------------------------------------

def test_two_runs_are_in_the_session_at_once(tmp_path):
    """Without a session-wide lock two runs meet inside the session; with one they never
    would and the barrier would break."""
    runner = _runner(FakeBackend(devices=[_ov_cpu()]), tmp_path, 2)
    meet = threading.Barrier(2, timeout=10)
    session = runner._session
    inner = session.run

    def run(feeds):
        meet.wait()
        return inner(feeds)

    session.run = run  # type: ignore[method-assign]
    with ThreadPoolExecutor(2) as pool:
        outputs = list(pool.map(runner.run, [_tensor(0), _tensor(1)]))
    for seed, out in enumerate(outputs):
        np.testing.assert_array_equal(out[0], fake_model_output(_tensor(seed))[0])
    assert runner.images == 2


def test_concurrent_failures_fall_back_once_and_every_image_gets_its_own_result(tmp_path):
    device = _ov_cpu(fail_on_run=3, run_error="stream lost", run_ms=5)
    backend = FakeBackend(devices=[device])
    runner = _runner(backend, tmp_path, 2)
    tensors = [_tensor(i) for i in range(12)]
    with ThreadPoolExecutor(2) as pool:
        outputs = list(pool.map(runner.run, tensors))
    for tensor, out in zip(tensors, outputs, strict=True):
        np.testing.assert_array_equal(out[0], fake_model_output(tensor)[0])
    assert backend.created == ["openvino:CPU", "cpu"]  # one CPU session, made once
    (event,) = runner.fallback_events
    assert event.error == "stream lost"
    # Every image that did not finish on OpenVINO ran on the CPU once and is counted once.
    # Of the two runs begun before the failing third, the one on the failing run's own thread
    # had finished on OpenVINO; the other may still be inside the lost device (a slow thread
    # on a loaded machine) and then falls back too; or both had finished and the other thread
    # began a fourth that finished before the third failed. Two threads: 1 to 3 on OpenVINO.
    assert event.images_on_fallback == backend.cpu_runs
    assert 9 <= backend.cpu_runs <= 11
    assert runner.adapter is CPU_ADAPTER and runner.concurrency == 1
    assert runner.images == 12


# -- the batch ------------------------------------------------------------------------------

def _photos(tmp_path: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(7)
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for i in range(count):
        rgb = rng.integers(0, 255, (30 + i, 40 + 2 * i, 3), dtype=np.uint8)
        path = folder / f"p{i:02d}.png"
        Image.fromarray(rgb).save(path)
        paths.append(path)
    return paths


def _remover(streams: int, device: FakeDevice | None = None):
    from alphacut.models.catalogue import get_model
    from alphacut.pipeline.remover import RemoveOptions, Remover

    spec = get_model("u2netp")
    size = spec.input_size if isinstance(spec.input_size, int) else spec.input_size[0]
    backend = FakeBackend(devices=[device or _ov_cpu()], input_shape=(1, 3, size, size))
    return Remover.open("u2netp", model_path=MODEL, backend=backend, threads=2,
                        options=RemoveOptions(refine="none"), streams=streams)


def _batch(remover, sources: list[Path], out: Path, **kwargs):
    jobs = [Job(src, out / src.name) for src in sources]
    return jobs, list(BatchRunner(remover, OutputOptions(), keep_masks=True).run(jobs, **kwargs))


def test_batch_on_two_streams_writes_the_same_bytes_as_one_at_a_time(tmp_path):
    sources = _photos(tmp_path, 9)
    one = _remover(1)
    two = _remover(2)
    assert (one.runner.concurrency, two.runner.concurrency) == (1, 2)
    _, first = _batch(one, sources, tmp_path / "one")
    jobs, second = _batch(two, sources, tmp_path / "two")
    assert [r.index for r in second] == list(range(9))  # input order
    assert [r.status for r in second] == ["done"] * 9
    assert all(r.provider == "openvino:CPU" for r in second)
    for a, b, job in zip(first, second, jobs, strict=True):
        np.testing.assert_array_equal(a.mask, b.mask)
        assert (tmp_path / "one" / job.source.name).read_bytes() == job.dest.read_bytes()


def test_batch_keeps_a_bounded_number_of_images_open(tmp_path, monkeypatch):
    sources = _photos(tmp_path, 12)
    remover = _remover(2, _ov_cpu(run_ms=20))
    runner = BatchRunner(remover, OutputOptions())
    lock = threading.Lock()
    open_now = [0, 0]  # current, most seen
    prepare, finish = runner._prepare, runner._finish

    def counted_prepare(job):
        with lock:
            open_now[0] += 1
            open_now[1] = max(open_now)
        return prepare(job)

    def counted_finish(*args):
        try:
            return finish(*args)
        finally:
            with lock:
                open_now[0] -= 1

    monkeypatch.setattr(runner, "_prepare", counted_prepare)
    monkeypatch.setattr(runner, "_finish", counted_finish)
    results = list(runner.run([Job(s, tmp_path / "out" / s.name) for s in sources]))
    assert [r.status for r in results] == ["done"] * 12
    assert 2 <= open_now[1] <= runner.in_flight + remover.runner.concurrency


def test_batch_on_two_streams_goes_on_through_bad_files_and_a_device_loss(tmp_path):
    sources = _photos(tmp_path, 8)
    sources[2].write_bytes(b"not an image")
    remover = _remover(2, _ov_cpu(fail_on_run=4, run_error="stream lost"))
    jobs, results = _batch(remover, sources, tmp_path / "out")
    assert [r.status for r in results] == ["done", "done", "failed"] + ["done"] * 5
    assert sources[2].name in results[2].job.source.name and results[2].error
    assert not (tmp_path / "out" / sources[2].name).exists()
    assert all(job.dest.is_file() for i, job in enumerate(jobs) if i != 2)
    (event,) = remover.runner.fallback_events
    assert event.error == "stream lost"
    assert {r.provider for r in results if r.status == "done"} <= {"openvino:CPU", "cpu"}
    assert sum(r.provider == "cpu" for r in results) == event.images_on_fallback


def test_cancel_on_two_streams_writes_nothing_half_and_reports_the_rest(tmp_path):
    sources = _photos(tmp_path, 10)
    remover = _remover(2, _ov_cpu(run_ms=30))
    cancel = threading.Event()
    started: list[int] = []

    def on_start(index: int, job: Job) -> None:
        started.append(index)
        if index == 1:
            cancel.set()

    jobs, results = _batch(remover, sources, tmp_path / "out", cancel=cancel,
                           on_start=on_start)
    assert [r.index for r in results] == list(range(10))
    statuses = [r.status for r in results]
    # What reached inference is finished and written; the rest is reported, not started.
    assert [i for i, status in enumerate(statuses) if status == "done"] == sorted(started)
    assert 1 in started and statuses.count("cancelled") == 10 - len(started) >= 1
    for result in results:
        assert result.job.dest.is_file() == (result.status == "done")
        if result.status == "done":
            with Image.open(result.job.dest) as img:
                img.load()
    assert not list((tmp_path / "out").glob("*.tmp*"))


def test_skip_existing_on_two_streams(tmp_path):
    sources = _photos(tmp_path, 4)
    out = tmp_path / "out"
    out.mkdir()
    (out / sources[1].name).write_bytes(b"mine")
    remover = _remover(2)
    jobs = [Job(src, out / src.name) for src in sources]
    results = list(BatchRunner(remover, OutputOptions(existing="skip")).run(jobs))
    assert [r.status for r in results] == ["done", "skipped", "done", "done"]
    assert (out / sources[1].name).read_bytes() == b"mine"


# -- the real runtime -------------------------------------------------------------------------

@pytest.mark.model
def test_openvino_two_streams_give_the_masks_of_one_stream(model_file, tmp_path, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    if "OpenVINOExecutionProvider" not in ort.get_available_providers():
        pytest.skip("no OpenVINO provider installed")
    from alphacut.pipeline.remover import RemoveOptions, Remover

    # ORT does not report OpenVINO's options back, so record what the session was given.
    given: list[dict[str, str]] = []
    real = ort.InferenceSession

    def recording(path, sess_options=None, providers=None, **kwargs):
        given.extend(opts for name, opts in providers or () if name == OV_CPU)
        return real(path, sess_options=sess_options, providers=providers, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", recording)
    options = RemoveOptions(refine="none")
    one = Remover.open("u2netp", provider="openvino:CPU", strict=True, model_path=model_file,
                       options=options)
    two = Remover.open("u2netp", provider="openvino:CPU", strict=True, model_path=model_file,
                       options=options, streams=2)
    assert (one.runner.concurrency, two.runner.concurrency) == (1, 2)
    streams = [json.loads(opts["load_config"])["CPU"].get("NUM_STREAMS") for opts in given]
    assert streams == [None, "2"]
    # OpenVINO gets the session's thread count (it would take every core otherwise).
    threads = {json.loads(opts["load_config"])["CPU"]["INFERENCE_NUM_THREADS"] for opts in given}
    assert threads == {str(one.runner.threads)}
    Remover.open("u2netp", provider="openvino:CPU", strict=True, model_path=model_file,
                 options=options, threads=1)
    assert json.loads(given[-1]["load_config"])["CPU"]["INFERENCE_NUM_THREADS"] == "1"
    sources = _photos(tmp_path, 4)
    _, first = _batch(one, sources, tmp_path / "one")
    _, second = _batch(two, sources, tmp_path / "two")
    assert [r.status for r in second] == ["done"] * 4
    for a, b in zip(first, second, strict=True):
        assert float(np.abs(a.mask - b.mask).max()) < 1e-4
