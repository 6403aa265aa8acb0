"""Safety: model files are verified before ONNX Runtime ever sees them, downloads are
HTTPS with pinned sha256, nothing deserialises code, and config typos are refused."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest

import alphacut
from alphacut.cli import main

PACKAGE = Path(alphacut.__file__).parent
SHA256 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every model file handed to the inference layer (and refuse to load it)."""
    opened: list[Path] = []

    def spy(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        opened.append(Path(path))
        raise AssertionError(f"an unverified model reached ONNX Runtime: {path}")

    monkeypatch.setattr("alphacut.pipeline.remover.open_runner", spy)
    return opened


def _tiny_image(path: Path) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), (200, 40, 40)).save(path)
    return path


@pytest.mark.parametrize("damage", ["flip one byte", "truncate", "replace with another model"])
def test_corrupt_cached_model_is_caught_before_loading(
    damage: str, home_with_model: Path, tmp_path: Path, loads: list[Path], capsys
) -> None:
    model = home_with_model / "cache" / "models" / "u2netp.onnx"
    data = bytearray(model.read_bytes())
    if damage == "flip one byte":
        data[len(data) // 3] ^= 0x40  # same size: only the sha256 can tell
    elif damage == "truncate":
        del data[len(data) // 2 :]
    else:
        data = bytearray(b"\x08\x07" + bytes(len(data) - 2))  # right size, wrong file
    model.write_bytes(bytes(data))
    image = _tiny_image(tmp_path / "in" / "a.png")
    code = main(["remove", str(image), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1, err
    assert "cached model u2netp failed verification" in err[0]
    assert "alphacut models pull u2netp" in err[0]
    assert loads == []
    assert not (tmp_path / "out" / "a.png").exists()


def test_unregistered_file_in_the_cache_is_never_loaded(
    home_with_model: Path, tmp_path: Path, loads: list[Path], capsys
) -> None:
    models = home_with_model / "cache" / "models"
    shutil.copyfile(models / "u2netp.onnx", models / "sneaky.onnx")  # a valid model, not added
    image = _tiny_image(tmp_path / "in" / "a.png")
    assert main(["remove", str(image), "--model", "sneaky", "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "unknown model 'sneaky'" in err and "models add" in err
    assert loads == []


def test_models_add_makes_a_file_usable_and_pins_it(
    home_with_model: Path, tmp_path: Path, capsys
) -> None:
    models = home_with_model / "cache" / "models"
    mine = tmp_path / "my-model.onnx"
    shutil.copyfile(models / "u2netp.onnx", mine)
    assert main(["models", "add", str(mine), "--as", "mine", "--family", "u2net"]) == 0
    image = _tiny_image(tmp_path / "in" / "a.png")
    assert main(["remove", str(image), "--model", "mine", "-o", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "a.png").is_file()
    capsys.readouterr()
    # A later change to the added file is caught too, before loading.
    cached = models / "mine.onnx"
    data = bytearray(cached.read_bytes())
    data[100] ^= 0x01
    cached.write_bytes(bytes(data))
    assert main(["remove", str(image), "--model", "mine", "-o", str(tmp_path / "o2")]) == 1
    assert "no longer matches the file you added" in capsys.readouterr().err


def test_every_download_is_https_with_a_pinned_sha256() -> None:
    from alphacut.models.catalogue import CATALOGUE
    from alphacut.samples import SKIMAGE_0_26

    assert CATALOGUE
    for spec in CATALOGUE:
        assert SHA256.fullmatch(spec.sha256), spec.name
        assert spec.size > 0, spec.name
        assert spec.sources, spec.name
        for source in spec.sources:
            assert source.kind != "local", f"{spec.name}: the catalogue must not trust local paths"
            if source.kind == "derived":  # built here from another pinned catalogue model
                assert source.url in {other.name for other in CATALOGUE} - {spec.name}
                continue
            assert source.url.startswith("https://"), f"{spec.name}: {source.url}"
            if source.kind == "wheel-member":
                assert SHA256.fullmatch(source.archive_sha256), f"{spec.name}: {source.url}"
    assert SKIMAGE_0_26.url.startswith("https://")
    assert SHA256.fullmatch(SKIMAGE_0_26.sha256)
    for sample in SKIMAGE_0_26.samples:
        assert SHA256.fullmatch(sample.sha256) and sample.size > 0, sample.member


def test_the_production_fetcher_refuses_anything_but_https() -> None:
    from alphacut.errors import ModelError
    from alphacut.models.fetch import Fetcher

    fetcher = Fetcher()
    fetcher.check_url("https://files.pythonhosted.org/x.whl")
    for url in (
        "http://files.pythonhosted.org/x.whl",
        "ftp://example.org/x",
        "file:///etc/passwd",
        "http://127.0.0.1:8000/x",
    ):
        with pytest.raises(ModelError, match="refusing non-HTTPS"):
            fetcher.check_url(url)


_FORBIDDEN_IMPORTS = {
    "pickle",
    "cPickle",
    "_pickle",
    "marshal",
    "shelve",
    "dill",
    "joblib",
    "cloudpickle",
}
_FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}


def test_nothing_deserialises_or_evaluates_code() -> None:
    """Beyond no pickle/eval: no numpy allow_pickle, no yaml.load, no shell=True."""
    problems = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                bad = {a.name.split(".")[0] for a in node.names} & _FORBIDDEN_IMPORTS
                problems += [f"{rel}: import {name}" for name in bad]
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.module.split(".")[0] in _FORBIDDEN_IMPORTS:
                    problems.append(f"{rel}: from {node.module} import")
            elif isinstance(node, ast.Call):
                func = node.func
                name = (
                    func.id
                    if isinstance(func, ast.Name)
                    else (func.attr if isinstance(func, ast.Attribute) else "")
                )
                if isinstance(func, ast.Name) and name in _FORBIDDEN_CALLS:
                    problems.append(f"{rel}:{node.lineno}: {name}()")
                if (
                    name in ("load", "unsafe_load")
                    and isinstance(func, ast.Attribute)
                    and (isinstance(func.value, ast.Name) and func.value.id == "yaml")
                ):
                    problems.append(f"{rel}:{node.lineno}: yaml.{name}()")
                for kw in node.keywords:
                    if kw.arg in ("allow_pickle", "shell") and not (
                        isinstance(kw.value, ast.Constant) and kw.value.value is False
                    ):
                        problems.append(f"{rel}:{node.lineno}: {kw.arg}=...")
    assert problems == []


def test_config_rejects_unknown_keys_with_the_file_and_key(tmp_path: Path, capsys) -> None:
    from alphacut.config import load_settings
    from alphacut.errors import ConfigError

    config = tmp_path / "config.toml"
    config.write_text('model = "u2netp"\nouptut_dir = "/tmp/x"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    message = str(info.value)
    assert str(config) in message and "'ouptut_dir'" in message and "known keys" in message
    assert "\n" not in message
