"""The first photos of a batch decode while the session opens (issue 12): the batch takes them
over and writes the same files, reports the same errors, and skips what it would skip."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphacut.cli import main
from alphacut.pipeline import decode_ahead
from alphacut.pipeline import remover as remover_module
from alphacut.pipeline.batch import BatchRunner
from alphacut.pipeline.decode_ahead import DecodeAhead
from alphacut.pipeline.jobs import Job
from alphacut.pipeline.output import OutputOptions


def _photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rgb = np.random.default_rng(i).integers(0, 256, (48 + i, 64, 3), dtype=np.uint8)
        rgb[10:40, 20:50] = (240, 200, 30)
        path = folder / f"p{i:02d}.jpg"
        Image.fromarray(rgb).save(path, quality=90)
        paths.append(path)
    return paths


def _jobs(sources: list[Path], out: Path) -> list[Job]:
    return [Job(src, out / (src.stem + ".png")) for src in sources]


@pytest.fixture
def decoding_threads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> list[tuple[str, str]]:
    """(file name, thread name) of every decode made ahead of this test's photos."""
    seen: list[tuple[str, str]] = []
    real = decode_ahead.decode

    def recording(path: Path, **kwargs):
        # An earlier test's reader may still be finishing a photo nobody took.
        if Path(path).is_relative_to(tmp_path):
            seen.append((path.name, threading.current_thread().name))
        return real(path, **kwargs)

    monkeypatch.setattr(decode_ahead, "decode", recording)
    return seen


def _wait_until_begun(seen: list[tuple[str, str]], name: str) -> None:
    deadline = time.monotonic() + 30
    while name not in [n for n, _ in seen] and time.monotonic() < deadline:
        time.sleep(0.005)


def test_photos_decoded_ahead_give_the_same_files(
    remover, tmp_path, decoding_threads, monkeypatch
) -> None:
    sources = _photos(tmp_path / "in", 5)
    plain = list(BatchRunner(remover, OutputOptions()).run(_jobs(sources, tmp_path / "a")))
    jobs = _jobs(sources, tmp_path / "b")
    ahead = DecodeAhead(jobs, count=2)
    # The batch takes over a photo the reader has not begun; let it begin both, so the test
    # knows which photo each side decodes (on a loaded machine the batch could ask first).
    _wait_until_begun(decoding_threads, "p01.jpg")
    by_batch: list[str] = []
    real = remover_module.decode
    monkeypatch.setattr(remover_module, "decode",
                        lambda path, **kw: by_batch.append(path.name) or real(path, **kw))
    early = list(BatchRunner(remover, OutputOptions(), ahead=ahead).run(jobs))
    assert [r.status for r in early] == [r.status for r in plain] == ["done"] * 5
    assert [name for name, _ in decoding_threads] == ["p00.jpg", "p01.jpg"]
    assert by_batch == ["p02.jpg", "p03.jpg", "p04.jpg"]  # the batch took the first two over
    assert all(thread.startswith("alphacut-ahead") for _, thread in decoding_threads)
    for job in jobs:
        assert job.dest.read_bytes() == (tmp_path / "a" / job.dest.name).read_bytes()
    assert all(r.timings.decode > 0 for r in early)  # the time spent ahead is reported


def test_a_broken_photo_decoded_ahead_fails_alone_with_its_reason(remover, tmp_path) -> None:
    sources = _photos(tmp_path / "in", 2)
    broken = tmp_path / "in" / "a-broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    jobs = _jobs([broken, *sources], tmp_path / "out")
    plain = list(BatchRunner(remover, OutputOptions()).run(_jobs([broken], tmp_path / "a")))
    results = list(BatchRunner(remover, OutputOptions(), ahead=DecodeAhead(jobs)).run(jobs))
    assert [r.status for r in results] == ["failed", "done", "done"]
    assert results[0].error == plain[0].error and "broken" in results[0].error
    assert not jobs[0].dest.exists()


def test_outputs_the_batch_would_skip_or_refuse_are_not_decoded_ahead(
    tmp_path, decoding_threads
) -> None:
    sources = _photos(tmp_path / "in", 3)
    jobs = _jobs(sources, tmp_path / "out")
    jobs[0].dest.parent.mkdir()
    jobs[0].dest.write_bytes(b"someone else's file")
    skipping = DecodeAhead(jobs, count=3, existing="skip")
    assert skipping.take(jobs[0]) is None
    refusing = DecodeAhead(jobs, count=1, existing="error")
    assert refusing.take(jobs[0]) is None
    _wait_until_begun(decoding_threads, "p01.jpg")  # else take() leaves it to the batch
    taken = skipping.take(jobs[1])
    assert taken is not None and taken.image.size == Image.open(sources[1]).size
    assert [name for name, _ in decoding_threads].count("p00.jpg") == 0


def test_a_photo_not_yet_started_is_left_to_the_batch(tmp_path, monkeypatch) -> None:
    sources = _photos(tmp_path / "in", 3)
    jobs = _jobs(sources, tmp_path / "out")
    release = threading.Event()
    real = decode_ahead.decode

    def slow(path: Path, **kwargs):
        release.wait(10)
        return real(path, **kwargs)

    monkeypatch.setattr(decode_ahead, "decode", slow)
    ahead = DecodeAhead(jobs, count=3)
    assert ahead.take(jobs[2]) is None  # queued behind the first: the batch decodes it
    assert ahead.take(jobs[2]) is None  # and it is taken only once
    release.set()
    first = ahead.take(jobs[0])
    assert first is not None and first.ms > 0
    ahead.discard()
    assert ahead.take(jobs[1]) is None


def test_the_remove_command_decodes_the_first_photos_ahead(
    home_with_model, tmp_path, decoding_threads
) -> None:
    sources = _photos(tmp_path / "in", 3)
    assert main(["remove", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                 "--provider", "cpu", "--refine", "none"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        p.stem + ".png" for p in sources]
    # The reader starts at once and the session takes ~0.5 s to open, so it has begun at
    # least the first photo; the second may be left to the batch on a loaded machine.
    names = [name for name, _ in decoding_threads]
    assert names and names == ["p00.jpg", "p01.jpg"][: len(names)]
