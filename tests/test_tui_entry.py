"""``alphacut [DIR]`` / ``alphacut tui`` / ``run_app``: options reach the app, prefs persist."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphacut.cli import parse_args
from alphacut.config import Settings, load_settings, save_settings
from alphacut.errors import ConfigError, ModelError
from alphacut.paths import AppPaths
from alphacut.tui import app as app_module


def test_bare_command_opens_the_tui(tmp_path: Path) -> None:
    args = parse_args([str(tmp_path), "-o", "out", "--graphics", "halfcell", "--provider", "cpu"])
    assert args.command == "tui"
    assert (args.directory, args.output, args.graphics, args.provider) == (
        tmp_path, Path("out"), "halfcell", "cpu"
    )
    assert parse_args([]).directory == Path(".")
    with pytest.raises(SystemExit):
        parse_args(["tui", "--graphics", "retina"])


def test_run_app_session_options_and_saved_graphics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = AppPaths.from_env().config_file
    save_settings(Settings(provider="openvino:CPU", format="webp"), config)
    seen: dict[str, object] = {}

    def fake_run(self: app_module.AlphacutApp) -> int:
        seen.update(settings=self.settings, saved=self.saved_settings, out=self.output_dir())
        return 0

    monkeypatch.setattr(app_module.AlphacutApp, "run", fake_run)
    code = app_module.run_app(tmp_path, output_dir=tmp_path / "o", model="u2netp",
                              provider="cpu", graphics="unicode")
    assert code == 0
    session, saved = seen["settings"], seen["saved"]
    assert (session.provider, session.format, session.graphics) == ("cpu", "webp", "unicode")
    assert saved.provider == "openvino:CPU"  # a command-line provider is for this session only
    assert seen["out"] == (tmp_path / "o").resolve()
    on_disk = load_settings(config)
    assert (on_disk.graphics, on_disk.provider) == ("unicode", "openvino:CPU")


def test_run_app_rejects_bad_folder_and_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a folder"):
        app_module.run_app(tmp_path / "missing")
    with pytest.raises(ModelError, match="unknown model"):
        app_module.run_app(tmp_path, model="nope")


def test_broken_config_file_is_a_clear_error(tmp_path: Path) -> None:
    config = AppPaths.from_env().config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('colour = "blue"\n')
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        app_module.run_app(tmp_path)
