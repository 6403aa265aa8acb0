"""What this process has used: its peak resident memory and when it started."""

from __future__ import annotations

import sys

MB = 1024 * 1024


def peak_rss_mb() -> float:
    """The process's RSS high-water mark (``ru_maxrss``; ``peak_wset`` on Windows)."""
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        info = psutil.Process().memory_info()
        return getattr(info, "peak_wset", info.rss) / MB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def process_launched() -> float:
    """When this process started (epoch seconds): start-up counts from the user's command."""
    import psutil

    return psutil.Process().create_time()
