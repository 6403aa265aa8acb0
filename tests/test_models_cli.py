"""``alphacut models list | pull | verify | path | add`` through ``alphacut.cli.main``.

Every test runs in the empty ALPHACUT_HOME that conftest gives it; nothing here touches
the network (pull is only exercised where it must refuse before any request).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tiny_onnx import identity_onnx

import alphacut.cli as cli
from alphacut.errors import ChecksumError
from alphacut.models.store import REGISTRY_NAME, ModelStore


@pytest.fixture(autouse=True)
def models_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other commands are built by other people; these tests only need this one.
    monkeypatch.setattr(cli, "COMMANDS", ("models",))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["models", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def onnx_file(tmp_path: Path) -> Path:
    # A real (tiny) model with free height and width: models add loads what it is given.
    path = tmp_path / "my model.onnx"
    path.write_bytes(identity_onnx((1, 3, "height", "width")))
    return path


def test_add_then_path_list_and_verify(capsys, onnx_file: Path, isolated_home: Path) -> None:
    code, out, _ = run(capsys, "add", str(onnx_file), "--as", "mine", "--family", "u2net")
    assert code == 0 and "added mine" in out and "320x320" in out

    code, out, _ = run(capsys, "path", "mine")
    cached = Path(out.strip())
    assert code == 0 and cached.parent == isolated_home / "cache" / "models"
    assert cached.read_bytes() == onnx_file.read_bytes()

    registry = json.loads((cached.parent / REGISTRY_NAME).read_text())
    assert registry["models"]["mine"]["family"] == "u2net"

    code, out, _ = run(capsys, "list")
    rows = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()[1:]}
    assert code == 0
    assert rows["mine"][1:4] == ["u2net", "320x320", "0.0 MB"]
    assert rows["mine"][-1] == "verified (added)"
    assert rows["u2netp"][-1] == "not downloaded" and rows["u2netp"][4] == "Apache-2.0"
    assert "AGPL-3.0" in rows["isnet"][4] and "--accept-license" in rows["isnet"][4]

    code, out, _ = run(capsys, "verify", "mine")
    assert code == 0 and "mine: ok" in out


def test_added_model_resolves_through_the_store(onnx_file: Path, capsys) -> None:
    run(capsys, "add", str(onnx_file), "--as", "big", "--family", "isnet-imgly",
        "--input-size", "512x768")
    spec = ModelStore().spec("big")
    assert spec.family == "isnet-imgly" and spec.input_size == (512, 768)
    assert spec.normalisation == ModelStore().spec("isnet").normalisation
    assert ModelStore().locate("big").name == "big.onnx"


def test_verify_exits_1_on_a_changed_file(capsys, onnx_file: Path) -> None:
    run(capsys, "add", str(onnx_file), "--as", "mine", "--family", "u2net")
    cached = ModelStore().locate("mine")
    cached.write_bytes(b"tampered" + cached.read_bytes()[8:])

    code, out, _ = run(capsys, "verify")
    assert code == 1 and "mine: MISMATCH" in out and "u2netp: not downloaded" in out
    with pytest.raises(ChecksumError, match="no longer matches the file you added"):
        ModelStore().locate("mine")  # a changed file is never loaded
    code, _, err = run(capsys, "path", "mine")
    assert code == 1 and err.count("\n") == 1


def test_bare_models_command_lists(capsys) -> None:
    code, out, _ = run(capsys)
    assert code == 0 and out.splitlines()[0].split("\t") == [
        "name", "family", "input", "size", "licence", "state"
    ]


def test_verify_everything_when_nothing_is_cached(capsys) -> None:
    code, out, _ = run(capsys, "verify")
    assert code == 0 and "u2netp: not downloaded" in out
    code, _, _ = run(capsys, "verify", "u2netp")
    assert code == 1


def test_add_under_a_catalogue_name_needs_the_pinned_file(capsys, onnx_file: Path) -> None:
    code, _, err = run(capsys, "add", str(onnx_file), "--as", "u2netp")
    assert code == 1 and "is not the catalogue's u2netp file" in err and "refused" in err
    assert not list((Path(os.environ["ALPHACUT_HOME"]) / "cache" / "models").glob("*.onnx"))


def test_add_the_real_default_model_offline(capsys, model_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("ALPHACUT_OFFLINE", "1")
    code, out, _ = run(capsys, "add", str(model_file), "--as", "u2netp")
    assert code == 0
    code, out, _ = run(capsys, "list")
    assert "u2netp\tu2net\t320x320\t4.6 MB\tApache-2.0\tverified" in out


def test_add_rejects_bad_names_and_missing_family(capsys, onnx_file: Path) -> None:
    code, _, err = run(capsys, "add", str(onnx_file), "--as", "../escape", "--family", "u2net")
    assert code == 1 and "invalid model name" in err
    code, _, err = run(capsys, "add", str(onnx_file), "--as", "x")
    assert code == 1 and "--family is required" in err
    code, _, err = run(capsys, "add", str(onnx_file), "--as", "x", "--family", "nope")
    assert code == 1 and "unknown family 'nope'" in err
    code, _, err = run(capsys, "add", "/no/such.onnx", "--as", "x", "--family", "u2net")
    assert code == 1 and "no such file" in err


def test_path_of_a_missing_model_says_how_to_get_it(capsys) -> None:
    code, out, err = run(capsys, "path", "u2netp")
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert "models pull u2netp" in err and "models add FILE --as u2netp" in err


def test_pull_needs_licence_acceptance_then_respects_offline(capsys, monkeypatch) -> None:
    code, _, err = run(capsys, "pull", "isnet")
    assert code == 1 and "AGPL-3.0" in err and "--accept-license" in err
    monkeypatch.setenv("ALPHACUT_OFFLINE", "1")
    code, _, err = run(capsys, "pull", "isnet", "--accept-license")
    assert code == 1 and "ALPHACUT_OFFLINE" in err and err.count("\n") == 1


def test_pull_of_a_cached_model_does_nothing(capsys, home_with_model: Path, monkeypatch) -> None:
    monkeypatch.setenv("ALPHACUT_OFFLINE", "1")  # would fail if it tried the network
    code, out, _ = run(capsys, "pull", "u2netp")
    assert code == 0 and "already cached and verified" in out


def test_unknown_model_lists_known_ones(capsys) -> None:
    code, _, err = run(capsys, "path", "nope")
    assert code == 1 and "unknown model 'nope'" in err and "u2netp" in err


def test_a_broken_registry_is_one_clear_error(capsys, isolated_home: Path) -> None:
    registry = isolated_home / "cache" / "models" / REGISTRY_NAME
    registry.parent.mkdir(parents=True)
    record = {"name": "../x", "family": "u2net", "sha256": "0" * 64, "size": 1,
              "input_size": [320, 320], "source": "/tmp/x", "added": "2026-01-01"}
    registry.write_text(json.dumps({"models": {"../x": record}}))
    code, _, err = run(capsys, "list")
    assert code == 1 and str(registry) in err and "invalid model name '../x'" in err
    registry.write_text("not json")
    code, _, err = run(capsys, "path", "anything")
    assert code == 1 and "unreadable model registry" in err
