"""The accelerator layer: every line of ONNX Runtime glue in alphacut lives in this package.

The pipeline sees only :func:`open_runner` and the :class:`Runner` it returns.
"""

from __future__ import annotations

from alphacut.accel.adapter import Adapter, FallbackEvent
from alphacut.accel.runner import Runner, open_runner

__all__ = ["Adapter", "FallbackEvent", "Runner", "open_runner"]
