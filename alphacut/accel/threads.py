"""How many threads a CPU session uses.

Intra-op threads = physical cores by default: hyper-threads share the same vector
units, and on this project's 2-core test machine one thread was 1.54x slower than
two. ``ALPHACUT_THREADS`` or an explicit ``threads=`` overrides it.
"""

from __future__ import annotations

import os

from alphacut.errors import ConfigError


def physical_cores() -> int:
    """Physical CPU cores (logical count when psutil cannot tell)."""
    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def default_threads(environ: dict[str, str] | None = None) -> int:
    """``ALPHACUT_THREADS`` when set, else the number of physical cores."""
    env = os.environ if environ is None else environ
    raw = env.get("ALPHACUT_THREADS", "").strip()
    if not raw:
        return physical_cores()
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"ALPHACUT_THREADS={raw!r} is not a whole number") from None
    if value < 1:
        raise ConfigError(f"ALPHACUT_THREADS={raw!r} must be at least 1")
    return value
