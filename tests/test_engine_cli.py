"""``alphacut remove`` end to end through the CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from alphacut.cli import main


@pytest.fixture(autouse=True)
def _model(home_with_model: Path) -> None:
    """Every CLI test runs with the default model in an isolated cache."""


def test_remove_writes_png_and_exits_zero(photos: list[Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["remove", str(photos[0].parent), "-o", str(out), "--provider", "cpu"])
    assert code == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.stem + ".png" for p in photos)
    err = capsys.readouterr().err
    assert f"done {len(photos)}, skipped 0, failed 0" in err


def test_remove_reports_bad_file_and_exits_one(photo: Path, tmp_path: Path, capsys) -> None:
    bad = photo.parent / "zz-broken.png"
    bad.write_text("not an image")
    code = main(["remove", str(photo), str(bad), "-o", str(tmp_path / "out")])
    assert code == 1
    err = capsys.readouterr().err
    assert f"error: {bad}: not a recognised image format" in err
    assert "done 1, skipped 0, failed 1" in err
    assert not (tmp_path / "out" / "zz-broken.png").exists()


def test_remove_json_lines(photo: Path, tmp_path: Path, capsys) -> None:
    code = main(["remove", str(photo), "-o", str(tmp_path / "out"), "--json", "--provider", "cpu"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    image, summary = lines
    assert image["type"] == "image" and image["status"] == "done"
    assert image["input"] == str(photo) and Path(image["output"]).is_file()
    assert image["provider"] == "cpu"
    assert set(image["ms"]) >= {"decode", "preprocess", "inference", "postprocess", "encode"}
    assert summary == {**summary, "type": "summary", "done": 1, "failed": 0}


def test_skip_existing_and_overwrite(photo: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["remove", str(photo), "-o", str(out)]) == 0
    assert main(["remove", str(photo), "-o", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["remove", str(photo), "-o", str(out), "--skip-existing"]) == 0
    assert "skipped 1" in capsys.readouterr().err
    assert main(["remove", str(photo), "-o", str(out), "--overwrite"]) == 0


def test_mask_only_and_jpg_with_background(photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["remove", str(photo), "-o", str(out / "m"), "--mask-only"]) == 0
    with Image.open(out / "m" / f"{photo.stem}.png") as mask:
        assert mask.mode == "L"
    assert (
        main(["remove", str(photo), "-o", str(out / "j"), "--format", "jpg", "--bg", "white"]) == 0
    )
    with Image.open(out / "j" / f"{photo.stem}.jpg") as jpg:
        assert jpg.mode == "RGB"


def test_keep_hidden_rgb_flag(photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["remove", str(photo), "-o", str(out / "c")]) == 0
    assert main(["remove", str(photo), "-o", str(out / "k"), "--keep-hidden-rgb"]) == 0
    with Image.open(out / "c" / f"{photo.stem}.png") as c, Image.open(
        out / "k" / f"{photo.stem}.png"
    ) as k:
        cleared, kept = c.convert("RGBA").tobytes(), k.convert("RGBA").tobytes()
        hidden_count = c.getchannel("A").histogram()[0]
    assert hidden_count > 0
    assert cleared != kept
    assert (out / "c" / f"{photo.stem}.png").stat().st_size < (
        out / "k" / f"{photo.stem}.png"
    ).stat().st_size


def test_usage_errors_exit_two(photo: Path, tmp_path: Path, capsys) -> None:
    assert main(["remove", str(photo), "--format", "jpg", "-o", str(tmp_path)]) == 2
    assert "JPEG has no transparency" in capsys.readouterr().err
    assert main(["remove", str(photo), "--bg", "not-a-colour"]) == 2
    with pytest.raises(SystemExit) as info:
        main(["remove", str(photo), "--format", "gif"])
    assert info.value.code == 2


def test_missing_model_is_one_clear_line(
    photo: Path, tmp_path: Path, capsys, isolated_home
) -> None:
    (isolated_home / "cache" / "models" / "u2netp.onnx").unlink()
    assert main(["remove", str(photo), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "alphacut models pull u2netp" in err[0]


def test_console_script_runs_as_subprocess(photo: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "alphacut", "remove", str(photo), "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / f"{photo.stem}.png").is_file()


def test_refine_defaults_to_matting_and_none_is_the_fast_path() -> None:
    from alphacut.cli import parse_args
    from alphacut.commands.remove import remove_options

    assert remove_options(parse_args(["remove", "in"])).refine == "matting"
    assert remove_options(parse_args(["remove", "in", "--refine", "none"])).refine == "none"
