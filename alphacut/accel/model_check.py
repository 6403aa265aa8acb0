"""Loading a model file once on the CPU to read its signature (``models add`` uses it).

A file that ONNX Runtime cannot parse (text, empty, truncated) fails here, when it is
added, with ONNX Runtime's own first line, instead of later at its first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alphacut.errors import ModelError


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output: its name, element type and shape (None/str: free)."""

    name: str
    type: str  # e.g. "tensor(float)"
    shape: tuple[int | str | None, ...]


@dataclass(frozen=True)
class ModelSignature:
    """What a model takes and gives."""

    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]


def read_signature(path: Path) -> ModelSignature:
    """Load ``path`` in ONNX Runtime on the CPU and return its inputs and outputs.

    Raises :class:`ModelError` naming the file when it does not load.
    """
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: empty file, not an ONNX model")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # the failure is reported below, in one line
    opts.intra_op_num_threads = 1
    # Only the graph's signature is needed: skip optimising it.
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # ORT raises its own types (InvalidProtobuf, Fail, ...)
        lines = str(exc).strip().splitlines()
        detail = lines[0] if lines else exc.__class__.__name__
        # "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from F failed:Protobuf ..."
        detail = detail.split(" failed:", 1)[-1].strip()
        raise ModelError(f"{path}: not a loadable ONNX model ({detail})") from None

    def info(args: list) -> tuple[TensorInfo, ...]:  # type: ignore[type-arg]
        return tuple(TensorInfo(a.name, a.type, tuple(a.shape)) for a in args)

    return ModelSignature(info(session.get_inputs()), info(session.get_outputs()))
