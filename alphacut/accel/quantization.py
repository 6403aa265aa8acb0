"""ONNX Runtime's quantization tool: calibration ranges and QDQ quantization.

The graph surgery and the choice of what stays fp32 live in ``alphacut.models.quantize``;
this module is only the ONNX Runtime side of it, so that every ONNX Runtime call stays in
``accel/``. Everything here needs the optional ``onnx`` package (``alphacut[quantize]``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_CHUNK = 3
# Ops whose outputs carry image data. The shape-computing ops (Shape/Gather/Slice/Cast...)
# stay unquantized, and their empty float tensors crash the histogram calibrators.
IMAGE_OPS: tuple[str, ...] = ("Add", "Concat", "Conv", "MaxPool", "Relu", "Resize", "Sigmoid")


class TensorReader:
    """ORT calibration data reader over fixed tensors, always in the same order."""

    def __init__(self, input_name: str, tensors: Sequence[np.ndarray]) -> None:
        self.input_name = input_name
        self.tensors = list(tensors)
        self._iter: Iterator[np.ndarray] = iter(self.tensors)

    def get_next(self) -> dict[str, np.ndarray] | None:
        tensor = next(self._iter, None)
        return None if tensor is None else {self.input_name: tensor}

    def rewind(self) -> None:
        self._iter = iter(self.tensors)


def calibrate(model_path: Path, tensors: Sequence[np.ndarray], method: str = "MinMax",
              percentile: float = 99.999) -> Any:
    """Activation ranges of every quantizable tensor over ``tensors`` (ORT's calibrator)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, create_calibrator

    input_name = onnx.load(str(model_path)).graph.input[0].name
    options = {"percentile": percentile} if method == "Percentile" else {}
    with tempfile.TemporaryDirectory(prefix="alphacut-calib-") as tmp:
        calibrator = create_calibrator(
            model_path,
            list(IMAGE_OPS),
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=getattr(CalibrationMethod, method),
            extra_options=options,
        )
        # A few photos per pass: the augmented model returns every intermediate tensor
        # (about 1 GB per 320x320 photo); ranges and histograms merge across passes.
        for start in range(0, len(tensors), CALIBRATION_CHUNK):
            chunk = tensors[start : start + CALIBRATION_CHUNK]
            calibrator.collect_data(TensorReader(input_name, chunk))
        return calibrator.compute_data()


def save_ranges(ranges: Any, path: Path) -> None:
    """Write calibration ranges as JSON (lossless: float32 values printed with repr)."""
    data = {name: [np.asarray(td.range_value[0]).tolist(), np.asarray(td.range_value[1]).tolist()]
            for name, td in sorted(ranges.data.items())}
    path.write_text(json.dumps({"method": ranges.calibration_method.name, "ranges": data}))


def load_ranges(path: Path) -> Any:
    """Calibration ranges written by :func:`save_ranges`."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import TensorData, TensorsData

    raw = json.loads(path.read_text())
    data = {name: TensorData(lowest=np.asarray(lo, dtype=np.float32),
                             highest=np.asarray(hi, dtype=np.float32))
            for name, (lo, hi) in raw["ranges"].items()}
    return TensorsData(getattr(CalibrationMethod, raw["method"]), data)


def with_inferred_shapes(model: Any) -> Any:
    """``model`` reloaded with ONNX shape inference applied, as ORT's quantizer expects."""
    from onnxruntime.quantization.quant_utils import save_and_reload_model_with_shape_infer

    return save_and_reload_model_with_shape_infer(model)


def qdq_quantize(model: Any, ranges: Any, *, per_channel: bool, weight: str, activation: str,
                 excluded: Sequence[str], op_types: Sequence[str] = ()) -> Any:
    """The QDQ-quantized copy of a shape-inferred ``model``; ``excluded`` nodes stay fp32.

    ``op_types`` empty means every op ORT can quantize.
    """
    import onnx
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    quantizer = QDQQuantizer(
        model,
        per_channel,
        False,  # reduce_range: only for pre-VNNI CPUs; this one has VNNI
        getattr(QuantType, weight),
        getattr(QuantType, activation),
        ranges,
        [],
        list(excluded),
        list(op_types) or sorted(set(QLinearOpsRegistry) | set(QDQRegistry)),
        {},
    )
    quantizer.quantize_model()
    out = onnx.ModelProto()
    out.CopyFrom(quantizer.model.model)
    return out


def ensure_runtime() -> None:
    """Fail early with a clear ``ImportError`` when ONNX Runtime is missing."""
    import onnxruntime  # noqa: F401
