"""Plain ONNX Runtime sessions with every option spelled out, for side-by-side benchmarks.

The product opens sessions through :mod:`alphacut.accel.runner` (probing, verification,
fallback); the benchmarks that compare session options need the raw knobs instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

GraphLevel = Literal["disable", "basic", "extended", "all"]

_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
           "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


def open_tuned_session(
    model_path: Path,
    provider: tuple[str, dict[str, str]],
    *,
    threads: int,
    graph_level: GraphLevel = "all",
    session_config: Sequence[tuple[str, str]] = (),
    name: str = "",
) -> Any:
    """An ORT session on exactly ``provider``; raises if ORT silently fell back to another."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _LEVELS[graph_level])
    for key, value in session_config:
        opts.add_session_config_entry(key, value)
    session = ort.InferenceSession(str(model_path), opts, providers=[provider])
    if session.get_providers()[0] != provider[0]:
        raise RuntimeError(f"{name or model_path.name}: ORT fell back to "
                           f"{session.get_providers()[0]}")
    return session


def write_basic_optimized(src: Path, dst: Path) -> Path:
    """Write ``src`` after ORT's basic (portable) optimisations, which fold the shape chains."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = str(dst)
    opts.log_severity_level = 3
    ort.InferenceSession(str(src), opts, providers=["CPUExecutionProvider"])
    return dst
