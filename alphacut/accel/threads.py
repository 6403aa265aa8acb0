"""How many threads a CPU session uses, and how many inference streams a batch runs.

Intra-op threads = physical cores by default: hyper-threads share the same vector
units, and on this project's 2-core test machine one thread was 1.54x slower than
two. ``ALPHACUT_THREADS`` or an explicit ``threads=`` overrides it; ``ALPHACUT_STREAMS``
overrides the streams a batch asks for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from alphacut.errors import ConfigError


def physical_cores() -> int:
    """Physical CPU cores (logical count when psutil cannot tell)."""
    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def _count_from(env: Mapping[str, str], name: str) -> int | None:
    """A positive whole number from ``env[name]``; None when unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise ConfigError(f"{name}={raw!r} must be at least 1")
    return value


def default_threads(environ: dict[str, str] | None = None) -> int:
    """``ALPHACUT_THREADS`` when set, else the number of physical cores."""
    env = os.environ if environ is None else environ
    return _count_from(env, "ALPHACUT_THREADS") or physical_cores()


# Inputs above this (median file size) are camera-size photos: their decode and encode, not
# inference, bound a batch. A 12.9 MP JPEG is 3-8 MB, a 0.15 MP one 30-60 KB.
SMALL_PHOTO_BYTES = 1_000_000


def batch_streams(
    images: int, median_bytes: int | None = None, environ: Mapping[str, str] | None = None
) -> int:
    """Inference streams for a batch: ``ALPHACUT_STREAMS`` when set, else 2 for two or more
    small photos (median file ``median_bytes`` at most :data:`SMALL_PHOTO_BYTES`, or unknown)
    on a CPU with at least two physical cores, else 1.

    Measured on a 2-core AMD EPYC (issue 12): two OpenVINO streams, each fed by its own
    concurrent run, were the fastest way to run u2netp (4-11 % less time per image than one
    stream under load, ~1 % on an idle machine). They cost ~130 MB more memory (each stream
    has its own buffers), and on 13 MP photos, where decode and encode bound the batch, the
    batch ran 7-13 % slower and peaked ~185 MB higher: those keep one stream. One image keeps
    one stream too: it gets every core (the lowest latency).
    """
    env = os.environ if environ is None else environ
    chosen = _count_from(env, "ALPHACUT_STREAMS")
    if chosen is not None:
        return chosen
    if images < 2 or physical_cores() < 2:
        return 1
    if median_bytes is not None and median_bytes > SMALL_PHOTO_BYTES:
        return 1
    return 2
