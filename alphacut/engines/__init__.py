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

