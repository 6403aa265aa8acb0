"""A reusable inference session with verification and CPU fallback."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from alphacut.accel.adapter import CPU_ADAPTER, Adapter, FallbackEvent
from alphacut.errors import ProviderError


def _physical_cores() -> int:
    import psutil

    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def _resolve(provider: str) -> Adapter:
    import onnxruntime as ort

    name = provider.lower()
    available = ort.get_available_providers()
    if name in ("auto", "cpu"):
        return CPU_ADAPTER
    kind, _, device = name.partition(":")
    table = {
        "openvino": ("OpenVINOExecutionProvider", device.upper() or "CPU"),
        "cuda": ("CUDAExecutionProvider", device or "0"),
        "directml": ("DmlExecutionProvider", device or "0"),
    }
    if kind not in table:
        raise ProviderError(f"unknown provider {provider!r}; use auto, cpu, openvino, directml, cuda")
    ort_name, dev = table[kind]
    if ort_name not in available:
        raise ProviderError(f"{ort_name} is not available here (have: {', '.join(available)})")
    dtype = "gpu" if (dev.startswith("GPU") or kind in ("cuda", "directml")) else (
        "npu" if dev.startswith("NPU") else "cpu"
    )
    return Adapter(provider=ort_name, device=dev, device_type=dtype)


def _provider_entry(adapter: Adapter) -> tuple[str, dict[str, str]]:
    options = dict(adapter.options)
    if adapter.provider == "OpenVINOExecutionProvider":
        options.setdefault("device_type", adapter.device)
    elif adapter.provider in ("CUDAExecutionProvider", "DmlExecutionProvider"):
        options.setdefault("device_id", adapter.device)
    return adapter.provider, options


class Runner:
    """Runs one model on one adapter; falls back to CPU once if the adapter fails at run time."""

    def __init__(self, model_path: Path, adapter: Adapter, *, threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.threads = threads or _physical_cores()
        self.fallback_events: list[FallbackEvent] = []
        self._lock = threading.Lock()
        self._images = 0
        self.adapter = adapter
        self._session = self._create(adapter)
        self.input_name: str = self._session.get_inputs()[0].name
        self.input_shape = tuple(self._session.get_inputs()[0].shape)

    def _create(self, adapter: Adapter):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                str(self.model_path), sess_options=opts, providers=[_provider_entry(adapter)]
            )
        except Exception as exc:  # ORT raises its own untyped errors
            raise ProviderError(f"{adapter.label}: cannot create session: {exc}") from exc
        got = session.get_providers()[0]
        if got != adapter.provider:
            raise ProviderError(f"{adapter.label}: ONNX Runtime silently used {got} instead")
        return session

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run the model on one input tensor; returns all outputs."""
        with self._lock:
            index = self._images
            self._images += 1
            try:
                outputs = self._session.run(None, {self.input_name: tensor})
                if not all(np.isfinite(o).all() for o in outputs):
                    raise FloatingPointError("output contains NaN or infinity")
            except Exception as exc:
                if self.adapter.is_fallback:
                    raise ProviderError(f"{self.adapter.label}: inference failed: {exc}") from exc
                event = FallbackEvent(self.adapter, CPU_ADAPTER, str(exc).splitlines()[0], index)
                self.fallback_events.append(event)
                self.adapter = CPU_ADAPTER
                self._session = self._create(CPU_ADAPTER)
                outputs = self._session.run(None, {self.input_name: tensor})
            if self.fallback_events:
                self.fallback_events[-1].images_on_fallback += 1
            return outputs


def open_runner(
    model_path: Path, *, provider: str = "auto", strict: bool = False, threads: int | None = None
) -> Runner:
    """Open a runner for ``model_path`` on the requested provider (``auto`` picks the best)."""
    adapter = _resolve(provider)
    try:
        return Runner(model_path, adapter, threads=threads)
    except ProviderError:
        if strict or adapter.is_fallback:
            raise
        return Runner(model_path, CPU_ADAPTER, threads=threads)
