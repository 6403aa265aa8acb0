"""More hostile inputs (issue 19): PNG data that stops early, names that forge log lines,
model files that cannot work, ``-o`` into the input folder twice, and ``-o`` mistakes."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile
from synthetic_images import synthetic_photo as _photo
from tiny_onnx import INT64, identity_onnx

from alphacut.cli import main
from alphacut.errors import DecodeError
from alphacut.pipeline.decode import decode

REPO = Path(__file__).resolve().parents[1]
FAST = ["--provider", "cpu", "--refine", "none"]


# -- 4. PNG image data that stops early -------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png(width: int, height: int, raw: bytes, *, interlace: int = 0, cut: int = 0) -> bytes:
    """An RGB PNG whose IDAT holds ``raw`` (filtered scanlines), compressed, less ``cut``."""
    data = zlib.compress(raw)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, interlace))
        + _chunk(b"IDAT", data[: len(data) - cut])
        + _chunk(b"IEND", b"")
    )


def _rows(width: int, count: int) -> bytes:
    return b"".join(b"\x00" + bytes([90, 160, 220]) * width for _ in range(count))


def test_png_whose_data_stops_after_one_row_is_refused(tmp_path: Path, home_with_model: Path,
                                                       capsys) -> None:
    bad = tmp_path / "in" / "short.png"
    bad.parent.mkdir()
    bad.write_bytes(_png(10_000, 10_000, _rows(10_000, 1)))
    assert len(bad.read_bytes()) < 200
    with pytest.raises(DecodeError, match="truncated image data"):
        decode(bad)
    code = main(["remove", str(bad), "-o", str(tmp_path / "out"), *FAST])
    err = capsys.readouterr().err
    assert code == 1
    assert f"error: {bad}: truncated image data" in err
    assert not (tmp_path / "out" / "short.png").exists()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("complete", _png(37, 23, _rows(37, 23)), None),
        ("one row short", _png(37, 23, _rows(37, 22)), "truncated image data"),
        ("zlib stream cut", _png(37, 23, _rows(37, 23), cut=6), "truncated image data"),
    ],
)
def test_png_rows_are_counted(tmp_path: Path, name: str, data: bytes, problem: str | None) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(data)
    if problem is None:
        assert decode(path).size == (37, 23)
    else:
        with pytest.raises(DecodeError, match=problem):
            decode(path)


def test_interlaced_png_sizes_are_counted_per_pass(tmp_path: Path) -> None:
    from alphacut.pipeline.png_data import expected_bytes, png_data_problem

    width, height = 37, 23
    full = expected_bytes(width, height, 8, 2, True)
    assert full > expected_bytes(width, height, 8, 2, False)  # seven passes, more filter bytes
    good = _png(width, height, bytes(full), interlace=1)
    assert png_data_problem(io.BytesIO(good)) is None
    with Image.open(io.BytesIO(good)) as img:
        img.load()  # Pillow agrees this is a whole image
    short = _png(width, height, bytes(full - 1), interlace=1)
    assert "truncated image data" in (png_data_problem(io.BytesIO(short)) or "")
    for mode in ("1", "L", "LA", "P", "RGBA", "I;16"):
        buf = io.BytesIO()
        Image.new(mode, (13, 7)).save(buf, "PNG")
        assert png_data_problem(io.BytesIO(buf.getvalue())) is None, mode


@pytest.mark.parametrize(("fmt", "kwargs"), [("GIF", {}), ("BMP", {}), ("TIFF", {}),
                                             ("WEBP", {}), ("WEBP", {"lossless": True}),
                                             ("JPEG", {})])
def test_other_formats_cut_short_are_refused(tmp_path: Path, fmt: str, kwargs: dict) -> None:
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(buf, fmt, **kwargs)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) * 6 // 10])
    with pytest.raises(DecodeError):
        decode(path)


# -- 5. names that would forge log lines ------------------------------------------------------


def test_control_characters_in_names_are_escaped(tmp_path: Path, home_with_model: Path) -> None:
    folder = tmp_path / "in"
    forged = "bad\nerror: forged.jpg: you have been hacked.jpg"
    broken = folder / forged
    folder.mkdir()
    broken.write_bytes(b"not an image")
    good = _photo(folder / "tab\there\x1b[31m.png", seed=1)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "alphacut", "remove", str(folder), "-o", str(tmp_path / "out"),
         *FAST],
        capture_output=True, text=True, timeout=180, env=env,
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert not any(line.startswith("error: forged") for line in lines), proc.stderr
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == [f"error: {folder}/bad\\nerror: forged.jpg: you have been hacked.jpg: "
                      "not a recognised image format"]
    assert f"{folder}/tab\\there\\x1b[31m.png -> " in proc.stderr
    assert "\x1b" not in proc.stderr
    # JSON keeps the exact names: its encoder escapes them already.
    proc = subprocess.run(
        [sys.executable, "-m", "alphacut", "remove", str(folder), "-o", str(tmp_path / "out2"),
         "--json", *FAST],
        capture_output=True, text=True, timeout=180, env=env,
    )
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {r["input"] for r in records if r["type"] == "image"} == {str(broken), str(good)}


def test_printable_escapes_like_ls_b() -> None:
    from alphacut.printable import printable_path, printable_text

    assert printable_path("a\nb") == "a\\nb"
    assert printable_path("a\\nb") == "a\\\\nb", "a real backslash must not look like an escape"
    assert printable_path(os.fsdecode(b"caf\xe9.png")) == "caf\\xe9.png"
    assert printable_path("日本 photo.png") == "日本 photo.png"
    assert printable_path("evil\u202egnp.exe") == "evil\\u202egnp.exe"
    assert printable_text("one\rtwo") == "one\\rtwo"


# -- 6. models add parses the model ------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file, not an ONNX model"),
        (b"this is a text file, not a model\n" * 8, "not a loadable ONNX model"),
        (identity_onnx((1, 1, 320, 320)), "a u2net model takes (1, 3, H, W)"),
        (identity_onnx((1, 3, 512, 512)), "add it with --input-size 512x512"),
        (identity_onnx((1, 3, "h", "w"), INT64), "a u2net model takes a float tensor"),
    ],
)
def test_models_add_refuses_files_that_cannot_work(
    tmp_path: Path, capsys, content: bytes, message: str
) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    extra = ["--input-size", "320"] if b"Identity" in content else []
    code = main(["models", "add", str(bad), "--as", "mine", "--family", "u2net", *extra])
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and str(bad) in err and message in err, err
    assert main(["models", "list"]) == 0
    assert "mine" not in capsys.readouterr().out, "a refused model must not be registered"


def test_models_add_takes_a_fixed_input_size_from_the_model(tmp_path: Path, capsys) -> None:
    good = tmp_path / "big.onnx"
    good.write_bytes(identity_onnx((1, 3, 512, 512)))
    assert main(["models", "add", str(good), "--as", "big", "--family", "u2net"]) == 0
    assert "input 512x512" in capsys.readouterr().out


def test_models_add_names_a_directory(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "model.onnx"
    folder.mkdir()
    assert main(["models", "add", str(folder), "--as", "mine", "--family", "u2net"]) == 1
    assert f"{folder}: is a directory" in capsys.readouterr().err


# -- 7. -o into the input folder, twice ----------------------------------------------------


def test_second_run_into_the_input_folder_skips_its_own_outputs(
    tmp_path: Path, home_with_model: Path, capsys
) -> None:
    folder = tmp_path / "photos"
    for i in range(2):
        _photo(folder / f"p{i}.jpg", seed=i)
    assert main(["remove", str(folder), "-o", str(folder), *FAST]) == 0
    assert sorted(os.listdir(folder)) == ["p0.jpg", "p0.png", "p1.jpg", "p1.png"]
    capsys.readouterr()
    assert main(["remove", str(folder), "-o", str(folder), "--skip-existing", *FAST]) == 0
    err = capsys.readouterr().err
    assert "done 0, skipped 2, failed 0" in err and "error:" not in err


# -- 8. nothing made on a failed start; -o naming a file ---------------------------------------


@pytest.mark.parametrize("model_state", ["missing", "corrupt"])
def test_no_output_folder_when_the_model_cannot_load(
    tmp_path: Path, isolated_home: Path, model_file: Path, model_state: str
) -> None:
    if model_state == "corrupt":
        models = isolated_home / "cache" / "models"
        models.mkdir(parents=True)
        shutil.copyfile(model_file, models / "u2netp.onnx")
        with (models / "u2netp.onnx").open("r+b") as fh:
            fh.seek(1000)
            fh.write(b"\x00" * 16)
    src = _photo(tmp_path / "in" / "a.jpg", seed=3)
    out = tmp_path / "out"
    assert main(["remove", str(src), "-o", str(out), *FAST]) == 1
    assert not out.exists()


def test_output_naming_an_existing_file_is_a_usage_error(tmp_path: Path, capsys) -> None:
    src = _photo(tmp_path / "in" / "a.jpg", seed=3)
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    assert main(["remove", str(src), "-o", str(taken)]) == 2
    err = capsys.readouterr().err
    assert f"-o names {taken}, which exists and is not a folder" in err
    assert main(["remove", str(src), "-o", str(taken / "sub")]) == 2
    assert "a parent of -o" in capsys.readouterr().err
    assert taken.read_text() == "mine"
