"""The TOML settings file: defaults, round trip, and clear errors for bad content."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphacut.config import Settings, load_settings, save_settings
from alphacut.errors import ConfigError
from alphacut.paths import AppPaths


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "nope.toml") == Settings()


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    settings = Settings(
        model="u2netp", provider="openvino:CPU", output_dir="/tmp/out", format="jpg",
        background="#ffffff", crop_margin=12, existing="overwrite", graphics="sixel",
    )
    save_settings(settings, path)
    assert load_settings(path) == settings
    assert 'graphics = "sixel"' in path.read_text()


def test_config_file_lives_under_app_config_dir(isolated_home: Path) -> None:
    paths = AppPaths.from_env()
    save_settings(Settings(graphics="unicode"), paths.config_file)
    assert paths.config_file.is_relative_to(isolated_home)
    assert load_settings(paths.config_file).graphics == "unicode"


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('model = "u2netp"\ngrapics = "sixel"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = str(info.value)
    assert "'grapics'" in text and str(path) in text


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('graphics = "retina"', "graphics"),
        ('format = "gif"', "format"),
        ('existing = "maybe"', "existing"),
        ("crop_margin = -5", "crop_margin"),
        ('crop_margin = "12"', "crop_margin must be a TOML integer"),
        ("crop_margin = true", "crop_margin"),
        ('background = "not-a-colour"', "background"),
        ('format = "jpg"', "jpg"),  # JPEG without a background cannot hold a cutout
        ("model = [1, 2]", "model must be a TOML string"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_values_raise_config_error(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(content + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert needle in str(info.value)
    assert str(path) in str(info.value)


def test_save_refuses_invalid_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        save_settings(Settings(graphics="retina"), tmp_path / "c.toml")
    assert not (tmp_path / "c.toml").exists()
