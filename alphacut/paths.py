"""Where alphacut keeps its cache, config and data (platformdirs, ALPHACUT_HOME overrides)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "alphacut"


@dataclass(frozen=True)
class AppPaths:
    """The three folders alphacut writes to. Nothing else is written outside the output folder."""

    cache: Path
    config: Path
    data: Path

    @property
    def models(self) -> Path:
        """Verified model files, one per catalogue name."""
        return self.cache / "models"

    @property
    def samples(self) -> Path:
        """Sample photos used by ``alphacut demo``."""
        return self.cache / "samples"

    @property
    def probes(self) -> Path:
        """Cached provider probe results."""
        return self.cache / "probes"

    @property
    def config_file(self) -> Path:
        return self.config / "config.toml"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> AppPaths:
        """Resolve folders: ``ALPHACUT_HOME`` puts all three under one root, else platformdirs."""
        env = os.environ if environ is None else environ
        home = env.get("ALPHACUT_HOME")
        if home:
            # Absolute, so a relative value still means the same folder after a chdir.
            root = Path(home).expanduser().absolute()
            return cls(cache=root / "cache", config=root / "config", data=root / "data")
        import platformdirs

        return cls(
            cache=Path(platformdirs.user_cache_dir(APP_NAME)),
            config=Path(platformdirs.user_config_dir(APP_NAME)),
            data=Path(platformdirs.user_data_dir(APP_NAME)),
        )


def offline_requested(environ: dict[str, str] | None = None) -> bool:
    """True when ``ALPHACUT_OFFLINE`` forbids every network fetch."""
    env = os.environ if environ is None else environ
    return env.get("ALPHACUT_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")
