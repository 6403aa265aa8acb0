"""What ONNX Runtime keeps per process: its logger, plugin EPs and loaded CUDA libraries.

Each is set up once per process (ONNX Runtime's own state is process-global), however many
backends and sessions are made; the results are remembered with ``functools.cache``.
"""

from __future__ import annotations

import functools
from typing import Any

from alphacut.accel.cuda_libraries import CudaReport, load_cuda_libraries

# Plugin EP packages: (distribution, import name). Registered only when installed.
PLUGIN_PACKAGES: tuple[tuple[str, str], ...] = (
    ("onnxruntime-ep-webgpu", "onnxruntime_ep_webgpu"),
    ("onnxruntime-ep-openvino", "onnxruntime_ep_openvino"),
)


@functools.cache
def prepare_runtime(ort: Any, log_severity: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Set ORT's logger and register plugin EPs: once per process, as ORT keeps both globally.

    Returns the registered plugin distributions and notes about ones that were not.
    """
    # ORT prints its own errors (e.g. "Device GPU is not available") to stderr before
    # silently using CPU; alphacut reports every failure itself, and stray stderr
    # lines would corrupt the terminal UI. ALPHACUT_ORT_LOG=0..4 brings them back.
    ort.set_default_logger_severity(log_severity)
    plugins, notes = register_plugins(ort)
    return tuple(plugins), tuple(notes)


@functools.cache
def cuda_libraries(ort: Any) -> CudaReport | None:
    """Load the pip-installed CUDA/cuDNN libraries, once per process (no run path finds them
    otherwise); None when this ONNX Runtime has no CUDA provider."""
    if {"CUDAExecutionProvider", "TensorrtExecutionProvider"} & set(
        ort.get_available_providers()
    ):
        return load_cuda_libraries(ort)
    return None


def register_plugins(ort: Any) -> tuple[list[str], list[str]]:
    import importlib
    import importlib.metadata as metadata

    plugins: list[str] = []
    notes: list[str] = []
    if not hasattr(ort, "register_execution_provider_library"):
        return plugins, notes
    available = set(ort.get_available_providers())
    for dist, module_name in PLUGIN_PACKAGES:
        if not any(True for _ in metadata.distributions(name=dist)):
            continue
        try:
            module = importlib.import_module(module_name)
            if module.get_ep_name() in available:
                # The flavour already has this EP built in (onnxruntime-openvino);
                # two copies of one EP in a process fight over the same devices.
                notes.append(f"{dist} ignored: {module.get_ep_name()} is built in")
                continue
            ort.register_execution_provider_library(module_name, module.get_library_path())
        except Exception as exc:
            if "already registered" not in str(exc):
                notes.append(f"{dist}: cannot register: {first_line(exc)}")
                continue
        plugins.append(dist)
    return plugins, notes


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (ORT errors run to many lines)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__
