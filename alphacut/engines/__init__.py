"""Engines that run a planned batch somewhere other than this process (Ray).

The local engine is :class:`alphacut.pipeline.batch.BatchRunner`. Modules here import
their framework lazily, so ``alphacut --help`` never loads Ray; this module stays light
because the CLI imports it to read its arguments.
"""

from __future__ import annotations

import importlib.util

RAY_MISSING = "--engine ray needs Ray Data: pip install 'alphacut[ray]'"


def is_uri(text: str) -> bool:
    """Whether ``text`` names a filesystem by scheme (``s3://bucket/x``) rather than a path."""
    scheme, sep, _ = str(text).partition("://")
    return bool(sep) and scheme.isidentifier() and len(scheme) > 1


def ray_installed() -> bool:
    """Whether Ray and Ray Data's requirements can be imported, checked without importing."""
    return all(importlib.util.find_spec(name) is not None for name in ("ray", "pyarrow"))


def peak_rss_mb() -> float:
    """This process's peak resident set in MB (Linux reports KiB, macOS bytes)."""
    import sys

    try:
        import resource
    except ImportError:  # Windows: the peak working set is the same measure
        import psutil

        return round(psutil.Process().memory_info().peak_wset / 2**20, 1)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / 2**20 if sys.platform == "darwin" else peak / 1024, 1)


def process_launched() -> float:
    """When this process started (epoch seconds): start-up counts from the user's command."""
    import psutil

    return psutil.Process().create_time()
