"""The one-at-a-time batch bounds the pixels of the photos it holds at once (issue 13): a photo
starts decoding only while those started and not yet written leave room for it. Correctness
only, never timing."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphacut.accel.fake import FakeBackend, FakeDevice
from alphacut.pipeline.batch import PIXELS_IN_FLIGHT, BatchRunner
from alphacut.pipeline.jobs import Job, header_pixels
from alphacut.pipeline.output import OutputOptions

MODEL = Path("fake-model.onnx")  # the fake backend never reads it


def _remover():
    from alphacut.models.catalogue import get_model
    from alphacut.pipeline.remover import RemoveOptions, Remover

    spec = get_model("u2netp")
    size = spec.input_size if isinstance(spec.input_size, int) else spec.input_size[0]
    device = FakeDevice("OpenVINOExecutionProvider", device="CPU", device_type="cpu",
                        vendor="Intel", run_ms=5)
    backend = FakeBackend(devices=[device], input_shape=(1, 3, size, size))
    return Remover.open("u2netp", model_path=MODEL, backend=backend, threads=2,
                        options=RemoveOptions(refine="none"), streams=1)


def _photos(folder: Path, sizes: list[tuple[int, int]]) -> list[Path]:
    rng = np.random.default_rng(3)
    folder.mkdir()
    paths = []
    for i, (width, height) in enumerate(sizes):
        path = folder / f"p{i:02d}.png"
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def _run(sources: list[Path], out: Path, pixels_in_flight: int, monkeypatch):
    """The batch's results, and the most pixels it held at once (decode start to write end)."""
    runner = BatchRunner(_remover(), OutputOptions(), pixels_in_flight=pixels_in_flight)
    assert runner.remover.runner.concurrency == 1
    lock = threading.Lock()
    held = [0, 0]  # now, most seen
    prepare, finish = runner._prepare, runner._finish

    def counted_prepare(job):
        with lock:
            held[0] += header_pixels(job.source)
            held[1] = max(held)
        return prepare(job)

    def counted_finish(index, job, *args):
        try:
            return finish(index, job, *args)
        finally:
            with lock:
                held[0] -= header_pixels(job.source)

    monkeypatch.setattr(runner, "_prepare", counted_prepare)
    monkeypatch.setattr(runner, "_finish", counted_finish)
    results = list(runner.run([Job(s, out / s.name) for s in sources]))
    return results, held[1]


def test_photos_held_at_once_stay_within_the_pixel_bound_with_the_same_outputs(
    tmp_path, monkeypatch
):
    sizes = [(100, 100), (120, 90), (80, 150), (100, 100), (140, 70), (90, 90), (100, 110)]
    sources = _photos(tmp_path / "in", sizes)
    bound = 25_000  # two of these photos, never three
    results, most = _run(sources, tmp_path / "bounded", bound, monkeypatch)
    assert [r.index for r in results] == list(range(len(sources)))
    assert [r.status for r in results] == ["done"] * len(sources)
    assert most <= bound
    one, most_one = _run(sources, tmp_path / "one", 15_000, monkeypatch)  # any two exceed it
    assert [r.status for r in one] == ["done"] * len(sources)
    assert most_one <= 15_000
    free, most_free = _run(sources, tmp_path / "free", 10**9, monkeypatch)
    # Unbounded, the first two photos start decoding together and stay open until written.
    assert most_free >= sum(w * h for w, h in sizes[:2])
    for source in sources:
        written = (tmp_path / "free" / source.name).read_bytes()
        assert (tmp_path / "bounded" / source.name).read_bytes() == written
        assert (tmp_path / "one" / source.name).read_bytes() == written
    assert [r.status for r in free] == ["done"] * len(sources)


def test_a_photo_larger_than_the_bound_runs_alone(tmp_path, monkeypatch):
    sources = _photos(tmp_path / "in", [(100, 100)] * 4)
    results, most = _run(sources, tmp_path / "out", 5_000, monkeypatch)
    assert [r.status for r in results] == ["done"] * 4
    assert most == 10_000


def test_the_default_bound_holds_three_12_megapixel_photos():
    assert PIXELS_IN_FLIGHT >= 3 * 12_000_000


def test_header_pixels_reads_the_size_and_says_0_when_it_cannot(tmp_path):
    photo = tmp_path / "a.png"
    Image.new("RGB", (64, 48)).save(photo)
    assert header_pixels(photo) == 64 * 48
    broken = tmp_path / "b.jpg"
    broken.write_bytes(b"not an image at all")
    assert header_pixels(broken) == 0
    assert header_pixels(tmp_path / "missing.png") == 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_header_pixels_refuses_a_fifo_at_once(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert header_pixels(fifo) == 0  # returns instead of waiting for a writer
