"""File-system trouble: unreadable files, vanishing folders, symlink loops, odd names,
unwritable output, a full disk, and output paths that try to leave the output folder.

Tests run as root in CI, where permission bits do not stop reads or writes; each such
case has a real-permission variant (skipped as root, saying why) and a simulated one.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from synthetic_images import synthetic_photo as _image

from alphacut.cli import main
from alphacut.pipeline.batch import BatchRunner
from alphacut.pipeline.jobs import plan_jobs
from alphacut.pipeline.output import OutputOptions

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
ROOT_REASON = "running as root: permission bits do not stop root; the simulated test covers it"


def _decodes_fully(path: Path) -> bool:
    with Image.open(path) as img:
        img.load()
    with Image.open(path) as img:
        img.verify()
    return True


def _no_temp_files(folder: Path) -> bool:
    return not [
        p for p in folder.rglob("*") if "alphacut-tmp" in p.name or p.name.endswith(".part")
    ]


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


@pytest.fixture(autouse=True)
def _model(home_with_model: Path) -> None:
    """Every CLI run here uses the default model from an isolated cache."""


# -- unreadable input --------------------------------------------------------------------


@pytest.mark.skipif(IS_ROOT, reason=ROOT_REASON)
def test_unreadable_file_real_permissions(tmp_path: Path, capsys) -> None:
    good = _image(tmp_path / "in" / "good.png")
    locked = _image(tmp_path / "in" / "locked.png", seed=1)
    locked.chmod(0)
    try:
        code = main(["remove", str(good.parent), "-o", str(tmp_path / "out")])
    finally:
        locked.chmod(0o644)
    err = capsys.readouterr().err
    assert code == 1
    assert _error_lines(err) == [f"error: {locked}: permission denied"]
    assert (tmp_path / "out" / "good.png").is_file()
    assert not (tmp_path / "out" / "locked.png").exists()


def test_unreadable_file_simulated(tmp_path: Path, capsys, monkeypatch) -> None:
    good = _image(tmp_path / "in" / "good.png")
    locked = _image(tmp_path / "in" / "locked.png", seed=1)
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) == str(locked):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(locked))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    code = main(["remove", str(good.parent), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert _error_lines(err) == [f"error: {locked}: permission denied"]
    assert (tmp_path / "out" / "good.png").is_file()
    assert not (tmp_path / "out" / "locked.png").exists()


# -- a folder that vanishes mid-batch -----------------------------------------------------


def test_input_folder_vanishes_mid_batch(remover, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    for i in range(6):
        _image(folder / f"img{i}.png", seed=i)
    out = tmp_path / "out"
    options = OutputOptions()
    jobs, problems = plan_jobs([folder], out, options)
    assert problems == [] and len(jobs) == 6

    def vanish(index: int, job) -> None:  # noqa: ANN001
        if index == 0:
            shutil.rmtree(folder)

    results = list(BatchRunner(remover, options).run(jobs, on_start=vanish))
    assert [r.index for r in results] == list(range(6))
    failed = [r for r in results if r.status == "failed"]
    assert failed, "images listed before the folder vanished must fail, not be invented"
    for result in results:
        if result.status == "done":
            assert _decodes_fully(result.job.dest)
        else:
            assert result.status == "failed" and result.error == "file not found", result
            assert not result.job.dest.exists()
    assert _no_temp_files(out)


def test_output_folder_removed_mid_batch_is_recreated(remover, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    for i in range(4):
        _image(folder / f"img{i}.png", seed=i)
    out = tmp_path / "out"
    options = OutputOptions()
    jobs, _ = plan_jobs([folder], out, options)

    def vanish(index: int, job) -> None:  # noqa: ANN001
        if index == 2:
            shutil.rmtree(out, ignore_errors=True)

    results = list(BatchRunner(remover, options).run(jobs, on_start=vanish))
    assert all(r.status == "done" for r in results), [r.error for r in results]
    assert _decodes_fully(jobs[-1].dest)


def test_folder_removed_while_a_file_is_being_written_is_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    from alphacut.pipeline import output

    out = tmp_path / "out" / "sub"
    real = output.encode_image
    calls: list[int] = []

    def encode_while_folder_vanishes(image, fh, options, *, alpha=None):  # noqa: ANN001
        calls.append(1)
        if len(calls) == 1:
            shutil.rmtree(tmp_path / "out")  # the temp file goes with it
        real(image, fh, options, alpha=alpha)

    monkeypatch.setattr(output, "encode_image", encode_while_folder_vanishes)
    rgb = Image.new("RGB", (20, 10), (10, 200, 30))
    alpha = Image.new("L", (20, 10), 255)
    size = output.write_atomic(rgb, out / "a.png", OutputOptions(), alpha=alpha)
    assert len(calls) == 2 and size == (out / "a.png").stat().st_size
    assert _decodes_fully(out / "a.png")
    assert not list(out.glob(f"*{output.TEMP_MARK}"))


# -- symlink loops and odd names ----------------------------------------------------------


def test_symlink_loops_in_recursive_mode(tmp_path: Path, capsys) -> None:
    root = tmp_path / "in"
    good = _image(root / "a" / "good.png")
    try:
        (root / "a" / "back-to-root").symlink_to(root, target_is_directory=True)
        (root / "self.jpg").symlink_to(root / "self.jpg")
        (root / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    except OSError as exc:
        pytest.skip(f"cannot make symlinks here: {exc}")
    code = main(["remove", str(root), "-r", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    lines = _error_lines(err)
    assert (
        f"error: {root / 'a' / 'back-to-root'}: symlink loop: folder already visited, skipped"
        in lines
    )
    assert f"error: {root / 'self.jpg'}: cannot read: {os.strerror(errno.ELOOP)}" in lines
    assert f"error: {root / 'dangling.png'}: file not found" in lines
    assert len(lines) == 3, lines
    outputs = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*.png"))
    assert outputs == [Path("a") / "good.png"], "the looped tree must be processed once"
    assert good.is_file()


def _make_odd_names(folder: Path) -> list[bytes]:
    names = [b"caf\xe9 latin-1.png", b"two  spaces and tab\t.png", "日本 photo.png".encode()]
    folder.mkdir()
    made = []
    for i, name in enumerate(names):
        try:
            path = os.path.join(os.fsencode(folder), name)
            _image(Path(os.fsdecode(path)), seed=i)
            made.append(name)
        except (OSError, UnicodeError):
            continue  # this file system refuses the name (e.g. non-UTF-8 on macOS)
    return made


def test_non_utf8_and_space_names_through_a_real_process(tmp_path: Path) -> None:
    """A subprocess, so stdout/stderr have their real encodings (pytest's capture does not)."""
    folder = tmp_path / "in"
    made = _make_odd_names(folder)
    if b"caf\xe9 latin-1.png" not in made:
        pytest.skip("this file system does not accept non-UTF-8 names")
    out = tmp_path / "out"
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8:strict"}
    proc = subprocess.run(
        [sys.executable, "-m", "alphacut", "remove", str(folder), "-o", str(out), "--json"],
        capture_output=True,
        timeout=180,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert sorted(os.listdir(os.fsencode(out))) == sorted(made)
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    images = [r for r in records if r["type"] == "image"]
    assert len(images) == len(made)
    for record in images:
        # The JSON names round-trip to the exact bytes on disk.
        assert os.path.exists(os.fsencode(record["output"])), record
    assert records[-1]["type"] == "summary" and records[-1]["done"] == len(made)


# -- unwritable output ----------------------------------------------------------------------


@pytest.mark.skipif(IS_ROOT, reason=ROOT_REASON)
def test_output_folder_not_writable_real(tmp_path: Path, capsys) -> None:
    src = _image(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        code = main(["remove", str(src), "-o", str(out)])
    finally:
        out.chmod(0o755)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == [
        f"alphacut remove: error: {out}: cannot write to the output folder: "
        f"{os.strerror(errno.EACCES)}"
    ]


def _deny_writes_under(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make creating files or folders under ``folder`` fail as a read-only folder would."""
    real_open, real_mkdir = os.open, os.mkdir
    guarded = str(folder)

    def inside(path: object) -> bool:
        text = os.fsdecode(os.fspath(path))  # type: ignore[arg-type]
        return text == guarded or text.startswith(guarded + os.sep)

    def deny_open(path, flags, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        if flags & os.O_CREAT and inside(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    def deny_mkdir(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        if inside(path) and os.fspath(path) != guarded:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny_open)
    monkeypatch.setattr(os, "mkdir", deny_mkdir)


def test_output_folder_not_writable_simulated(tmp_path: Path, capsys, monkeypatch) -> None:
    src = _image(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    _deny_writes_under(monkeypatch, out)
    opened = []
    monkeypatch.setattr("alphacut.pipeline.remover.Remover.open", lambda *a, **k: opened.append(1))
    code = main(["remove", str(src), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == [
        f"alphacut remove: error: {out}: cannot write to the output folder: "
        f"{os.strerror(errno.EACCES)}"
    ]
    assert opened == [], "the model should not even load when nothing can be written"


def test_unwritable_output_subfolder_fails_only_its_files(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    root = tmp_path / "in"
    _image(root / "ok" / "a.png")
    locked = _image(root / "locked" / "b.png", seed=1)
    out = tmp_path / "out"
    _deny_writes_under(monkeypatch, out / "locked")
    code = main(["remove", str(root), "-r", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert _error_lines(err) == [
        f"error: {locked}: cannot write {out / 'locked'}: {os.strerror(errno.EACCES)}"
    ]
    assert _decodes_fully(out / "ok" / "a.png")
    assert _no_temp_files(out)


# -- disk full -------------------------------------------------------------------------------


def test_disk_full_during_write_leaves_nothing(tmp_path: Path, capsys, monkeypatch) -> None:
    sources = [_image(tmp_path / "in" / f"img{i}.png", seed=i) for i in range(3)]
    out = tmp_path / "out"
    from alphacut.pipeline import output as output_module

    real_encode = output_module.encode_image
    calls = {"n": 0}

    def full_disk(image, fh, options, **kwargs):  # noqa: ANN001, ANN003
        calls["n"] += 1
        if calls["n"] == 2:  # one image hits a full disk half way through its write
            fh.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_encode(image, fh, options, **kwargs)

    monkeypatch.setattr(output_module, "encode_image", full_disk)
    code = main(["remove", str(tmp_path / "in"), "-o", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 1
    records = [json.loads(line) for line in captured.out.splitlines()]
    failed = [r for r in records if r.get("status") == "failed"]
    assert len(failed) == 1
    assert failed[0]["error"].endswith(f": {os.strerror(errno.ENOSPC)}")
    assert failed[0]["error"].startswith(f"cannot write {out}")
    victim = Path(failed[0]["input"])
    assert not (out / victim.name).exists(), "a failed write must not leave a partial output"
    for src in sources:
        if src != victim:
            assert _decodes_fully(out / src.name)
    assert _no_temp_files(out)
    assert len(_error_lines(captured.err)) == 1


# -- output paths stay inside the output folder ----------------------------------------------


def test_output_paths_never_escape(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    inputs_root = tmp_path / "deep" / "in"
    dotdot = _image(tmp_path / "deep" / "x.png")
    absolute = _image(tmp_path / "abs.png", seed=1).resolve()
    _image(inputs_root / "inner" / "y.png", seed=2)
    _image(inputs_root / "escape" / "z.png", seed=3)
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "escape").symlink_to(elsewhere, target_is_directory=True)

    relative_dotdot = Path("deep/in/../x.png")
    assert relative_dotdot.resolve() == dotdot.resolve()
    jobs, problems = plan_jobs(
        [relative_dotdot, absolute, Path("deep/in/inner/..")], out, OutputOptions(), recursive=True
    )
    out_real = out.resolve()
    for job in jobs:
        assert job.dest.resolve().is_relative_to(out_real), job
    assert {j.dest.relative_to(out) for j in jobs} == {
        Path("x.png"),
        Path("abs.png"),
        Path("inner/y.png"),
    }
    assert [(p.path.name, p.reason) for p in problems] == [
        ("z.png", "output path would escape the output folder")
    ]
    assert list(elsewhere.iterdir()) == []
