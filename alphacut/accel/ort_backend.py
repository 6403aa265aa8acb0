"""The real backend: ONNX Runtime, its providers, and the devices behind them."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alphacut.accel.adapter import (
    KINDS,
    Adapter,
    DeviceType,
    ProbeResult,
    honours_precision,
    kind_of,
)
from alphacut.accel.backend import Backend, RuntimeInfo
from alphacut.accel.cuda_libraries import (
    CudaReport,
    cpu_landing_reason,
    explain_provider_error,
)
from alphacut.accel.flavours import installed_flavours
from alphacut.accel.model_options import ModelOptions
from alphacut.accel.ort_runtime import cuda_libraries, prepare_runtime
from alphacut.choices import Precision


class OrtSession:
    """A thin wrapper giving ``onnxruntime.InferenceSession`` the :class:`Session` shape."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        first = inner.get_inputs()[0]
        self._input_name: str = first.name
        self._input_shape = tuple(first.shape)

    @property
    def input_name(self) -> str:
        return self._input_name

    @property
    def input_shape(self) -> tuple[int | str | None, ...]:
        return self._input_shape

    def providers(self) -> list[str]:
        return list(self._inner.get_providers())

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return list(self._inner.run(None, feeds))


class OrtBackend(Backend):
    """ONNX Runtime as installed, with plugin EPs registered when their packages exist."""

    def __init__(
        self,
        *,
        environ: dict[str, str] | None = None,
        precision: Precision = "fp32",
        disabled_optimizers: tuple[str, ...] = (),
        streams: int = 1,
    ) -> None:
        import onnxruntime as ort

        self._ort = ort
        self.precision: Precision = precision
        self.disabled_optimizers = tuple(disabled_optimizers)
        self.streams = max(1, streams)
        self._env = os.environ if environ is None else environ
        self._ep_devices: dict[tuple[str, str], Any] = {}
        plugins, notes = prepare_runtime(ort, int(self._env.get("ALPHACUT_ORT_LOG", "4")))
        self._plugins: tuple[str, ...] = plugins
        self.cuda: CudaReport | None = cuda_libraries(ort)
        self._notes: tuple[str, ...] = (
            notes + tuple(self.cuda.problems()) if self.cuda is not None else notes
        )

    def for_model(self, model: ModelOptions) -> OrtBackend:
        """A backend whose sessions use ``model``'s precision, disabled transforms and streams."""
        if (model.precision, tuple(model.disabled_optimizers), max(1, model.streams)) == (
            self.precision, self.disabled_optimizers, self.streams
        ):
            return self
        return OrtBackend(environ=self._env, precision=model.precision,
                          disabled_optimizers=model.disabled_optimizers, streams=model.streams)

    def runtime(self) -> RuntimeInfo:
        flavours = installed_flavours()
        return RuntimeInfo(
            version=self._ort.__version__,
            distribution=", ".join(name for name, _ in flavours),
            providers=tuple(self._ort.get_available_providers()),
            plugins=self._plugins,
            notes=self._notes,
            cuda=self.cuda,
        )

    def candidates(self) -> Sequence[Adapter]:
        providers = self._ort.get_available_providers()
        found: list[Adapter] = []
        from_ep_devices = self._adapters_from_ep_devices(providers)
        found.extend(from_ep_devices)
        listed = {adapter.provider for adapter in from_ep_devices}
        for provider in providers:
            kind = kind_of(provider)
            if provider in listed or kind not in KINDS or kind == "cpu":
                continue
            if kind == "openvino":
                found.extend(self._openvino_adapters())
            elif kind in ("cuda", "tensorrt"):
                found.extend(self._nvidia_adapters(provider))
            elif kind == "directml":
                # Without get_ep_devices (ORT < 1.22) the default adapter is all we know.
                found.append(Adapter(provider=provider, device="0", device_type="gpu"))
            elif kind == "coreml":
                found.append(Adapter(provider=provider, device="ALL", device_type="gpu",
                                     vendor="Apple"))
        return found

    def _adapters_from_ep_devices(self, providers: Sequence[str]) -> list[Adapter]:
        """Adapters from ``get_ep_devices()`` (ORT >= 1.22), plugin EP devices included."""
        if not hasattr(self._ort, "get_ep_devices"):
            return []
        adapters: list[Adapter] = []
        for ep_device in self._ort.get_ep_devices():
            adapter = adapter_from_ep_device(
                ep_name=ep_device.ep_name,
                ep_options=dict(ep_device.ep_options),
                ep_metadata=dict(ep_device.ep_metadata),
                hw_type=ep_device.device.type.name,
                hw_vendor=ep_device.device.vendor,
                hw_metadata=dict(ep_device.device.metadata),
                built_in=ep_device.ep_name in providers,
            )
            if adapter is None:
                continue
            if adapter.plugin:
                self._ep_devices[adapter.key] = ep_device
            adapters.append(adapter)
        return adapters

    def _openvino_adapters(self) -> list[Adapter]:
        provider = KINDS["openvino"][0]
        devices = openvino_devices_from_package()
        if devices is not None:
            return [
                Adapter(provider=provider, device=dev, device_type=_openvino_type(dev),
                        vendor="Intel", name=name)
                for dev, name in devices
            ]
        # No openvino module: offer CPU / GPU / NPU and let the probe find out which
        # work; on Linux a missing device node already tells us, so skip those cheaply.
        adapters: list[Adapter] = []
        for dev in ("GPU", "NPU", "CPU"):
            adapter = Adapter(provider=provider, device=dev, device_type=_openvino_type(dev),
                              vendor="Intel")
            reason = missing_device_node(dev) if sys.platform.startswith("linux") else ""
            if reason:
                adapter = adapter.with_probe(ProbeResult(status="skipped", error=reason))
            adapters.append(adapter)
        return adapters

    def _nvidia_adapters(self, provider: str) -> list[Adapter]:
        from alphacut.accel.nvidia import Nvml

        nvml = Nvml()
        gpus = nvml.gpus(readings=False)
        if not gpus:
            # No NVML: device 0 is worth a probe; the probe says whether it exists.
            return [Adapter(provider=provider, device="0", device_type="gpu", vendor="NVIDIA",
                            discrete=True)]
        return [
            Adapter(provider=provider, device=str(gpu.index), device_type="gpu",
                    vendor="NVIDIA", name=gpu.name, discrete=True)
            for gpu in gpus
        ]

    # -- sessions -------------------------------------------------------------------------
    def create_session(self, model_path: Path, adapter: Adapter, *, threads: int) -> OrtSession:
        ort = self._ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        if adapter.kind == "cpu":
            # The CPU provider needs its arena: without it u2netp runs 1.35x slower here
            # (317 vs 233 ms). Memory patterns make the arena keep one ~465 MB block; without
            # them it holds ~300 MB at the same speed. Spinning threads would steal the core
            # a decode or encode is using (lomiri batch 5.4 s vs 5.7 s).
            opts.enable_mem_pattern = False
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        else:
            # Other providers keep their tensors to themselves; ORT's CPU arena would only
            # hold ~465 MB of host memory for nothing (a 12 MP batch peaks ~200 MB lower).
            opts.enable_cpu_mem_arena = False
        if adapter.kind == "directml":
            # DirectML does not support memory patterns or parallel execution.
            opts.enable_mem_pattern = False
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Only models that need it name transforms to skip (see ModelSpec.disabled_optimizers).
        extra: dict[str, Any] = {}
        if self.disabled_optimizers:
            extra["disabled_optimizers"] = list(self.disabled_optimizers)
        if adapter.plugin:
            ep_device = self._ep_devices.get(adapter.key)
            if ep_device is None:
                raise RuntimeError(f"{adapter.label}: plugin device is no longer listed")
            opts.add_provider_for_devices([ep_device], dict(adapter.options))
            inner = ort.InferenceSession(str(model_path), sess_options=opts, **extra)
        else:
            if adapter.kind != "cpu":
                # Without this ORT prints "EP Error" to stdout and quietly retries on the CPU;
                # alphacut wants the error itself (and runs its own, reported fallback).
                extra["enable_fallback"] = 0
            try:
                inner = ort.InferenceSession(
                    str(model_path),
                    sess_options=opts,
                    providers=provider_entries(adapter, self.precision, self.streams,
                                               threads=max(1, threads)),
                    **extra,
                )
            except Exception as exc:
                if adapter.kind not in ("cuda", "tensorrt"):
                    raise
                raise RuntimeError(explain_provider_error(str(exc), self.cuda)) from exc
            if adapter.kind in ("cuda", "tensorrt"):
                self._check_nvidia_landing(inner, adapter)
        return OrtSession(inner)

    def _check_nvidia_landing(self, inner: Any, adapter: Adapter) -> None:
        """Say why a CUDA/TensorRT session landed on the CPU (ORT only logs the reason)."""
        got = (inner.get_providers() or ["no provider"])[0]
        if got == adapter.provider:
            return
        reason = cpu_landing_reason(self._ort, adapter.kind, self.cuda)
        raise RuntimeError(
            f"ONNX Runtime silently used {got} instead of {adapter.provider}"
            + (f": {reason}" if reason else "")
        )


def provider_entries(
    adapter: Adapter, precision: Precision = "fp32", streams: int = 1, *,
    threads: int | None = None,
) -> list[tuple[str, dict[str, str]]]:
    """The ``providers=`` list for a built-in provider adapter.

    OpenVINO on a CPU gets an explicit inference precision: ``f32`` by default, because
    OpenVINO may pick bf16 by itself on CPUs with AMX and the masks would silently change;
    ``bf16`` only when asked (measured here: 0.47x the CPU provider's time, ecssd-dev MAE
    +0.0012). The ``precision`` provider option is not used: OpenVINO rejects "BF16" on CPU
    and ONNX Runtime then quietly runs on its CPU provider.

    ``streams`` > 1 splits OpenVINO's CPU into that many streams (``NUM_STREAMS``); each runs one
    inference at once, so a batch keeps them busy with as many concurrent runs. The EP makes
    infer requests on demand, so concurrent runs do not queue behind one request.

    ``threads`` caps OpenVINO's CPU threads (``INFERENCE_NUM_THREADS``, shared by its streams).
    ``intra_op_num_threads`` sizes only ONNX Runtime's own pool; without this cap OpenVINO
    takes every core: a one-thread session (one Ray actor of ``--threads 1``) ran inference on
    both cores of a 2-core host, so two such actors ran four busy threads on two cores.
    """
    options = dict(adapter.options)
    kind = adapter.kind
    if kind == "openvino":
        options.setdefault("device_type", adapter.device)
        if honours_precision(adapter) and "load_config" not in options:
            hint = "bf16" if precision == "bf16" else "f32"
            # Unpinned threads: pinned ones cannot move off a core busy decoding or encoding
            # (lomiri batch 4.5% faster measured side by side; ecssd-dev unchanged).
            cpu_config = {"INFERENCE_PRECISION_HINT": hint, "ENABLE_CPU_PINNING": "NO"}
            if streams > 1:
                cpu_config["NUM_STREAMS"] = str(streams)
            if threads is not None:
                cpu_config["INFERENCE_NUM_THREADS"] = str(threads)
            options["load_config"] = json.dumps({"CPU": cpu_config})
    elif kind in ("cuda", "tensorrt", "directml"):
        options.setdefault("device_id", adapter.device)
    elif kind == "coreml":
        options.setdefault("MLComputeUnits", adapter.device)
    entries = [(adapter.provider, options)]
    if kind == "tensorrt":
        # Subgraphs TensorRT cannot take should run on CUDA, not on the CPU.
        entries.append((KINDS["cuda"][0], {"device_id": adapter.device}))
    return entries


def adapter_from_ep_device(
    *,
    ep_name: str,
    ep_options: dict[str, str],
    ep_metadata: dict[str, str],
    hw_type: str,
    hw_vendor: str,
    hw_metadata: dict[str, str],
    built_in: bool,
) -> Adapter | None:
    """Map one ``OrtEpDevice`` to an adapter (None for the CPU provider's own device)."""
    if ep_name == KINDS["cpu"][0]:
        return None
    kind = kind_of(ep_name)
    device_type: DeviceType = {"GPU": "gpu", "NPU": "npu"}.get(hw_type.upper(), "cpu")  # type: ignore[assignment]
    discrete_flag = hw_metadata.get("Discrete")
    discrete = None if discrete_flag is None else discrete_flag == "1"
    if kind == "openvino":
        device = ep_metadata.get("ov_device") or hw_type.upper()
    elif kind == "directml":
        device = ep_options.get("device_id") or hw_metadata.get("DxgiAdapterNumber", "0")
    else:
        device = ep_options.get("device_id") or hw_metadata.get("DxgiAdapterNumber", "0")
    return Adapter(
        provider=ep_name,
        device=device,
        device_type=device_type,
        vendor=hw_vendor,
        name=hw_metadata.get("Description", ""),
        discrete=discrete if device_type == "gpu" else None,
        plugin=not built_in,
    )


def openvino_devices_from_package() -> list[tuple[str, str]] | None:
    """(device, full name) from the ``openvino`` package, or None when it is not installed."""
    try:
        import openvino
    except ImportError:
        return None
    try:
        core = openvino.Core()
        devices = []
        for dev in core.available_devices:
            try:
                name = str(core.get_property(dev, "FULL_DEVICE_NAME"))
            except Exception:
                name = ""
            devices.append((dev, name))
        return devices
    except Exception:
        return None


def missing_device_node(ov_device: str, root: Path = Path("/dev")) -> str:
    """Why an OpenVINO device cannot exist on this Linux machine, or "" when it may."""
    family = ov_device.split(".")[0].upper()
    if family == "GPU" and not any((root / "dri").glob("renderD*")):
        return "no GPU render node (/dev/dri/renderD*)"
    if family == "NPU" and not any((root / "accel").glob("accel*")):
        return "no NPU device node (/dev/accel/accel*)"
    return ""


def _openvino_type(device: str) -> DeviceType:
    family = device.split(".")[0].upper()
    if family == "GPU":
        return "gpu"
    if family == "NPU":
        return "npu"
    return "cpu"


