"""Interrupting a real ``python -m alphacut remove`` mid-batch: Ctrl-C, SIGTERM, kill -9.

Whatever stops the process, every output that exists decodes fully (temp file + rename),
stray temp files are cleaned by the next run, and ``--skip-existing`` finishes the rest.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphacut.cli import main
from alphacut.pipeline.output import TEMP_MARK

COUNT = 12


@pytest.fixture
def batch(tmp_path: Path, home_with_model: Path) -> tuple[Path, Path]:
    """COUNT photo-sized PNGs (slow enough to decode and encode that we can interrupt)."""
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(7)
    base = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    base[120:360, 160:480] = (240, 230, 210)
    for i in range(COUNT):
        Image.fromarray(np.roll(base, i * 7, axis=1)).save(
            folder / f"img{i:02d}.png", compress_level=1
        )
    return folder, tmp_path / "out"


def _start(folder: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alphacut",
            "remove",
            str(folder),
            "-o",
            str(out),
            "--provider",
            "cpu",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_outputs(proc: subprocess.Popen[str], out: Path, count: int = 3) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"batch ended before it could be interrupted:\n{proc.stderr.read()}")
        if out.is_dir() and len(list(out.glob("*.png"))) >= count:
            return
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no output appeared within 120 s")


def _check_outputs(out: Path) -> list[Path]:
    """Every output decodes completely; returns them."""
    outputs = sorted(out.glob("*.png"))
    for path in outputs:
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            img.load()
            assert img.mode == "RGBA" and img.size == (640, 480), path
    return outputs


def _temps(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if p.name.endswith(TEMP_MARK)]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_polite_signal_stops_cleanly(batch, sig: signal.Signals, code: int) -> None:
    folder, out = batch
    proc = _start(folder, out)
    _wait_for_outputs(proc, out)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert f"stopped by {sig.name}" in err and "--skip-existing" in err
    assert "Traceback" not in err
    outputs = _check_outputs(out)
    assert 3 <= len(outputs) < COUNT, "the signal should have stopped the batch early"
    assert _temps(out) == [], "a polite stop finishes or abandons writes without leftovers"


def test_kill_9_then_skip_existing_finishes(batch, capsys) -> None:
    folder, out = batch
    proc = _start(folder, out)
    _wait_for_outputs(proc, out)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    before = _check_outputs(out)
    assert len(before) < COUNT
    # Whatever the kill left, plant a temp file of the dead process, and one of a live one.
    dead = out / f".img00.png.{proc.pid}.deadbeef{TEMP_MARK}"
    dead.write_bytes(b"\x89PNG half written")
    alive = out / f".img01.png.1.cafef00d{TEMP_MARK}"  # pid 1 is always running
    alive.write_bytes(b"another process is writing this")

    code = main(["remove", str(folder), "-o", str(out), "--skip-existing"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"done {COUNT - len(before)}, skipped {len(before)}, failed 0" in err
    assert len(_check_outputs(out)) == COUNT
    assert _temps(out) == [alive], "only the dead process's temp files may be removed"
