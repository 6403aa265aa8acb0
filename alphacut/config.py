"""The user's settings file (TOML under ``AppPaths.config_file``): read, validate, write.

Only the keys listed in :class:`Settings` are allowed; a typo is reported with the key and
the file rather than silently ignored, because an ignored setting looks like a bug.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from alphacut.choices import EXISTING_POLICIES, GRAPHICS_MODES, OUTPUT_FORMATS
from alphacut.errors import ConfigError
from alphacut.models.catalogue import DEFAULT_MODEL


@dataclass(frozen=True)
class Settings:
    """Everything the UI remembers between sessions. Empty strings mean "not set"."""

    model: str = DEFAULT_MODEL
    provider: str = "auto"
    output_dir: str = ""  # "" means "<input folder>/alphacut-out"
    format: str = "png"
    background: str = ""  # "" means transparent; otherwise a colour such as "#ffffff"
    crop_margin: int = -1  # -1 means no crop; otherwise pixels of margin around the subject
    existing: str = "skip"
    graphics: str = "auto"

    def validate(self, source: Path | str = "settings") -> None:
        """Raise :class:`ConfigError` naming ``source`` for any value outside its range."""
        choices = {
            "format": OUTPUT_FORMATS,
            "existing": EXISTING_POLICIES,
            "graphics": GRAPHICS_MODES,
        }
        for key, allowed in choices.items():
            value = getattr(self, key)
            if value not in allowed:
                raise ConfigError(
                    f"{source}: {key} = {value!r} is not one of {', '.join(allowed)}"
                )
        if self.crop_margin < -1:
            raise ConfigError(f"{source}: crop_margin must be -1 (no crop) or a margin >= 0")
        if self.background:
            from alphacut.pipeline.output import parse_color

            try:
                parse_color(self.background)
            except ConfigError as exc:
                raise ConfigError(f"{source}: background: {exc}") from None
        if self.format == "jpg" and not self.background:
            raise ConfigError(f"{source}: format 'jpg' has no transparency; set a background")

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (validated by the caller)."""
        return replace(self, **changes)


_DEFAULTS = Settings()
_TOML_NAMES: dict[type, str] = {str: "string", int: "integer"}
_FIELD_TYPES: dict[str, type] = {
    f.name: type(getattr(_DEFAULTS, f.name)) for f in fields(Settings)
}


def settings_from_mapping(data: dict[str, Any], source: Path | str) -> Settings:
    """Build validated :class:`Settings` from a parsed TOML table."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        expected = _FIELD_TYPES.get(key)
        if expected is None:
            known = ", ".join(_FIELD_TYPES)
            raise ConfigError(f"{source}: unknown key {key!r} (known keys: {known})")
        # bool is an int subclass in Python but never a valid margin.
        if not isinstance(value, expected) or isinstance(value, bool):
            wanted, got = _TOML_NAMES[expected], type(value).__name__
            raise ConfigError(f"{source}: {key} must be a TOML {wanted}, not {got}")
        values[key] = value
    settings = Settings(**values)
    settings.validate(source)
    return settings


def load_settings(path: Path) -> Settings:
    """Read ``path``; a missing file gives the defaults, a broken one a :class:`ConfigError`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return settings_from_mapping(data, path)


def save_settings(settings: Settings, path: Path) -> None:
    """Write ``settings`` to ``path`` atomically (temp file + rename)."""
    import os
    import tempfile

    import tomli_w

    settings.validate(path)
    text = tomli_w.dumps(asdict(settings))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
