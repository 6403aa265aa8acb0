"""Process-wide allocator settings, applied once by the CLI entry point."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_ARENA_MAX = -8  # glibc <malloc.h>
_M_MMAP_THRESHOLD = -3
_M_TRIM_THRESHOLD = -1
# Buffers at least this large get their own mapping: every full-size image plane of a
# camera photo (a 12 MP alpha is 12 MB; Pillow holds RGB in 16 MB blocks), few scratch arrays.
LARGE_BUFFER_BYTES = 8 * 1024 * 1024


def _mallopt(param: int, value: int) -> bool:
    """glibc's ``mallopt``; False when it is not there or refuses."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        return bool(ctypes.CDLL(name).mallopt(param, value))
    except (OSError, AttributeError):
        return False


def map_large_buffers(threshold: int = LARGE_BUFFER_BYTES) -> bool:
    """Give every allocation of ``threshold`` bytes or more its own mapping (returns True
    when the setting took effect).

    glibc starts by mapping large blocks, but after the first such block is freed it raises
    its threshold to that size (up to 32 MB), so later image-size buffers land on the heap;
    one freed between two live ones stays resident, and over a batch with several photos
    in flight those holes add up. A fixed threshold returns each full-size buffer to the
    system when it is freed: ``bench memory`` on 100 x 13 MP photos peaked at 558 MB instead
    of 654 MB (issue 13), for a few per cent more system time mapping fresh pages.
    Must run before worker threads start; a no-op off glibc.
    """
    return _mallopt(_M_MMAP_THRESHOLD, threshold)


def keep_heap_top(limit: int = LARGE_BUFFER_BYTES) -> bool:
    """Let up to ``limit`` bytes of free memory stay at the top of each malloc heap (returns
    True when the setting took effect).

    Setting the mmap threshold also freezes glibc's trim threshold at 128 KB, so a few-MB
    buffer that is made and freed over and over (the PNG encoder packs each band of rows
    into a new one) shrank the heap each time and faulted fresh pages in the next time:
    on the 12 lomiri photos 78 000 of 456 000 page faults. Buffers this size never come from
    the heap (:func:`map_large_buffers`), so at most ``limit`` per arena stays resident.
    Measured on that batch: page faults 440-490k -> 360k, system time -0.2 to -0.3 s, same
    peak RSS. A no-op off glibc.
    """
    return _mallopt(_M_TRIM_THRESHOLD, limit)


def limit_malloc_arenas(count: int = 2) -> bool:
    """Cap glibc's malloc arenas; returns True when the setting took effect.

    glibc gives each thread that allocates its own arena; the decode/encode pool and ONNX
    Runtime's threads then each keep freed 10-40 MB image buffers in separate arenas. On a
    100 x 13 MP batch this took peak RSS from 601 MB to 561 MB at the same speed (measured
    with ``python -m alphacut.bench.memory``). Must run before worker threads start;
    a no-op off glibc.
    """
    return _mallopt(_M_ARENA_MAX, count)


def apply_process_settings() -> None:
    """Every setting above, as the CLI applies them at start-up (``bench memory`` too, so its
    figures are the CLI's): one place, so the two cannot drift apart."""
    limit_malloc_arenas()
    map_large_buffers()
    keep_heap_top()
