"""Hostile and unlucky inputs from a real run against ``alphacut remove`` (issue 19).

An input is never overwritten, whatever output name another input plans; only files that
alphacut wrote are ever replaced; a FIFO never blocks the batch; a second Ctrl-C always
ends the process; a concurrent ``--skip-existing`` run is a skip, not a failure.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image
from synthetic_images import synthetic_photo as _photo

from alphacut.cli import main
from alphacut.pipeline import output as output_module
from alphacut.pipeline.batch import BatchRunner
from alphacut.pipeline.jobs import plan_jobs
from alphacut.pipeline.output import OutputOptions

REPO = Path(__file__).resolve().parents[1]
FAST = ["--provider", "cpu", "--refine", "none"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _alphacut(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """A real ``python -m alphacut`` process; a hang fails the test instead of blocking it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "alphacut", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"alphacut {' '.join(args)} hung for {timeout} s")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


@pytest.fixture(autouse=True)
def _model(home_with_model: Path) -> None:
    """Every run here uses the default model from an isolated cache."""


# -- 1. no output may replace any input ------------------------------------------------------


def test_output_named_like_another_input_never_replaces_it(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    png = _photo(folder / "a.png", seed=1)
    webp = folder / "a.webp"
    Image.open(_photo(tmp_path / "other.png", seed=2)).save(webp)
    before = {p.name: _sha(p) for p in (png, webp)}
    proc = _alphacut("remove", str(folder), "-o", str(folder), "--overwrite", *FAST)
    assert proc.returncode == 1, proc.stderr
    assert {p.name: _sha(p) for p in (png, webp)} == before, "an input was overwritten"
    assert sorted(os.listdir(folder)) == ["a.png", "a.webp"]
    lines = _error_lines(proc.stderr)
    assert f"error: {png}: output would overwrite the input; skipped" in lines
    assert f"error: {webp}: output {png} would overwrite the input {png}; skipped" in lines


def test_overwrite_through_a_symlinked_output_folder_spares_user_files(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    png = _photo(folder / "a.png", seed=1)
    jpg = _photo(folder / "a.jpg", seed=2)
    alias = tmp_path / "alias"
    alias.symlink_to(folder, target_is_directory=True)
    jobs, problems = plan_jobs([jpg], alias, OutputOptions(), recursive=False)
    # a.jpg alone is the only input, so a.png is "any existing file that is not ours".
    assert [job.dest for job in jobs] == [alias / "a.png"]
    before = _sha(png)
    code = main(["remove", str(jpg), "-o", str(alias), "--overwrite", *FAST])
    assert code == 1
    assert _sha(png) == before, "a file alphacut did not write was replaced"


def test_overwrite_replaces_only_files_alphacut_wrote(tmp_path: Path, capsys) -> None:
    from alphacut.pipeline.ownership import is_our_output

    src = _photo(tmp_path / "in" / "a.jpg", seed=3)
    out = tmp_path / "out"
    assert main(["remove", str(src), "-o", str(out), *FAST]) == 0
    ours = out / "a.png"
    assert is_our_output(ours)
    ours.unlink()
    Image.new("RGB", (4, 4)).save(ours)  # the user's own file under the same name
    capsys.readouterr()
    assert main(["remove", str(src), "-o", str(out), "--overwrite", *FAST]) == 1
    err = capsys.readouterr().err
    assert f"{ours} exists and was not written by alphacut; it is never replaced" in err
    with Image.open(ours) as img:
        assert img.size == (4, 4), "the user's file was replaced"
    # An output alphacut wrote is replaced.
    ours.unlink()
    assert main(["remove", str(src), "-o", str(out), *FAST]) == 0
    first = _sha(ours)
    assert main(["remove", str(src), "-o", str(out), "--overwrite", *FAST]) == 0
    assert _sha(ours) == first and is_our_output(ours)


def test_every_output_format_carries_the_marker(remover, tmp_path: Path) -> None:
    from alphacut.pipeline.ownership import is_our_output

    src = _photo(tmp_path / "in" / "a.jpg", seed=4)
    for fmt, extra in (("png", {}), ("webp", {}), ("webp-lossy", {}), ("jpg", {"bg": (0, 0, 0)}),
                       ("png", {"mask_only": True})):
        options = OutputOptions(format=fmt, **extra)  # type: ignore[arg-type]
        out = tmp_path / f"out-{fmt}-{len(extra)}"
        jobs, _ = plan_jobs([src], out, options)
        [result] = list(BatchRunner(remover, options).run(jobs))
        assert result.status == "done", result.error
        assert is_our_output(result.job.dest), fmt
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    assert not is_our_output(plain)
    assert not is_our_output(tmp_path / "missing.png")


# -- 2. a FIFO never blocks; a second Ctrl-C always exits -------------------------------------


def test_fifo_is_skipped_before_it_is_opened(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    good = _photo(folder / "sub" / "good.png", seed=5)
    fifo = folder / "x.jpg"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    proc = _alphacut("remove", str(folder), "-r", "-o", str(out), *FAST, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = _error_lines(proc.stderr)
    assert lines == [f"error: {fifo}: is a FIFO (named pipe), not a regular file; skipped"]
    assert (out / "sub" / good.name).is_file()
    # Named directly, it is refused the same way.
    proc = _alphacut("remove", str(fifo), "-o", str(tmp_path / "out2"), *FAST, timeout=60)
    assert proc.returncode == 1
    assert _error_lines(proc.stderr)[0].endswith("is a FIFO (named pipe), not a regular file; "
                                                 "skipped")


def test_decode_refuses_special_files_without_blocking(tmp_path: Path) -> None:
    from alphacut.errors import DecodeError
    from alphacut.pipeline.decode import decode

    fifo = tmp_path / "late.png"
    os.mkfifo(fifo)  # became a FIFO after planning: decode must still not block
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            decode(fifo)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=30)
    if worker.is_alive():
        # Release the stuck open (a writer arrives and leaves) before failing.
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=30)
        pytest.fail("decode blocked on a FIFO")
    assert isinstance(outcome[0], DecodeError) and "is a FIFO" in str(outcome[0])
    with pytest.raises(DecodeError, match="is a directory"):
        decode(tmp_path)


_STUCK_READ = """
import signal, sys, threading, time
from pathlib import Path
from alphacut.pipeline import decode_ahead, remover

def stuck_decode(path, **kwargs):
    # A read that never returns, as from a hung network mount. It may begin ahead of the
    # batch (decode-ahead); the flag goes up once the batch's Ctrl-C handler is in place.
    while signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        time.sleep(0.01)
    Path(sys.argv[1]).write_text("inside the read")
    threading.Event().wait()

# The decode stage, shared by single images and batches, and the batch's decode-ahead thread.
remover.decode = decode_ahead.decode = stuck_decode
from alphacut.cli import main
raise SystemExit(main(sys.argv[2:]))
"""

_STUCK_READ_WHILE_OPENING = """
import sys, threading, time
from pathlib import Path
from alphacut.pipeline import decode_ahead, remover

read_started = threading.Event()

def stuck_decode(path, **kwargs):
    read_started.set()  # a read that never returns, begun ahead of the batch
    threading.Event().wait()

def slow_open(*args, **kwargs):
    read_started.wait()
    Path(sys.argv[1]).write_text("opening the session")
    threading.Event().wait()  # the model session is still being opened at Ctrl-C

decode_ahead.decode = stuck_decode
remover.Remover.open = slow_open
from alphacut.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


def _wait_for(predicate, proc: subprocess.Popen, what: str, limit: float = 120) -> None:  # noqa: ANN001
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"process ended before {what}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"no {what} within {limit} s")


@contextmanager
def _hanging_remove(script: str, flag: Path, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """``alphacut remove`` of one photo under ``script`` (which makes something hang and
    raises ``flag``), its stderr in ``tmp_path/stderr.txt``; killed if a test leaves it."""
    src = _photo(tmp_path / "in" / "a.png", seed=6)
    with (tmp_path / "stderr.txt").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(flag), "remove", str(src),
             "-o", str(tmp_path / "out"), *FAST],
            stdout=subprocess.DEVNULL, stderr=err, env=_env(),
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _wait_for_exit(proc: subprocess.Popen, why: str) -> None:
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(why)


def test_second_sigint_exits_even_when_a_read_never_returns(tmp_path: Path) -> None:
    err_path = tmp_path / "stderr.txt"
    with _hanging_remove(_STUCK_READ, tmp_path / "stuck", tmp_path) as proc:
        _wait_for(lambda: (tmp_path / "stuck").exists(), proc, "stuck read")
        proc.send_signal(signal.SIGINT)
        _wait_for(lambda: "stopping" in err_path.read_text(), proc, "'stopping' line", 30)
        proc.send_signal(signal.SIGINT)
        _wait_for_exit(proc, "a second Ctrl-C did not end the process")
    assert proc.returncode == 130, err_path.read_text()
    assert "alphacut: aborted" in err_path.read_text()


def test_ctrl_c_while_the_session_opens_exits_although_a_read_ahead_never_returns(
    tmp_path: Path,
) -> None:
    with _hanging_remove(_STUCK_READ_WHILE_OPENING, tmp_path / "opening", tmp_path) as proc:
        _wait_for(lambda: (tmp_path / "opening").exists(), proc, "session opening")
        proc.send_signal(signal.SIGINT)
        _wait_for_exit(proc, "Ctrl-C did not end the process: the stuck read ahead held its exit")
    assert proc.returncode == 130, (tmp_path / "stderr.txt").read_text()
    assert not (tmp_path / "out" / "a.png").exists()


# -- 3. a concurrent --skip-existing run ------------------------------------------------------


def test_output_written_by_a_concurrent_run_counts_as_skipped(
    remover, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _photo(tmp_path / "in" / "a.png", seed=7)
    out = tmp_path / "out"
    real_encode = output_module.encode_image

    def encode_while_another_run_finishes(image, fh, options, **kwargs):  # noqa: ANN001, ANN003
        # The other run publishes the same output after our existence check.
        dest = out / "a.png"
        if not dest.exists():
            with dest.open("wb") as other:
                real_encode(image, other, options, **kwargs)
        real_encode(image, fh, options, **kwargs)

    monkeypatch.setattr(output_module, "encode_image", encode_while_another_run_finishes)
    options = OutputOptions(existing="skip")
    jobs, _ = plan_jobs([src], out, options)
    [result] = list(BatchRunner(remover, options).run(jobs))
    assert result.status == "skipped", result.error
    assert [p.name for p in out.iterdir()] == ["a.png"], "no temp file may be left"
    # Without --skip-existing the same race is still reported.
    (out / "a.png").unlink()
    strict = OutputOptions()
    [result] = list(BatchRunner(remover, strict).run(plan_jobs([src], out, strict)[0]))
    assert result.status == "failed" and "exists" in result.error


def test_two_concurrent_skip_existing_runs_never_fail(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    for i in range(4):
        _photo(folder / f"img{i}.png", seed=10 + i)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "alphacut", "remove", str(folder), "-o", str(out),
            "--skip-existing", *FAST]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env()) for _ in range(2)]
    results = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "failed 0" in err
    assert sorted(p.name for p in out.iterdir()) == [f"img{i}.png" for i in range(4)]
