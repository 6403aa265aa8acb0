"""Plain records describing execution-provider candidates and what happened to them.

An :class:`Adapter` is one way to run a model (provider + device + options), in the
sense of WebGPU's ``GPUAdapter``: it carries the information a caller needs to choose
(device type, vendor, name, whether it is the fallback) and, once probed, its
:class:`ProbeResult`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Literal

# Short kind -> (ONNX Runtime provider name, display name). The short kind is what
# users type in ``--provider KIND[:DEVICE]`` and what ``Adapter.label`` starts with.
KINDS: dict[str, tuple[str, str]] = {
    "cpu": ("CPUExecutionProvider", "CPU"),
    "tensorrt": ("TensorrtExecutionProvider", "TensorRT"),
    "cuda": ("CUDAExecutionProvider", "CUDA"),
    "directml": ("DmlExecutionProvider", "DirectML"),
    "openvino": ("OpenVINOExecutionProvider", "OpenVINO"),
    "webgpu": ("WebGpuExecutionProvider", "WebGPU"),
    "coreml": ("CoreMLExecutionProvider", "CoreML"),
}
KIND_ALIASES: dict[str, str] = {"dml": "directml", "trt": "tensorrt", "ov": "openvino"}
PROVIDER_KINDS: dict[str, str] = {provider: kind for kind, (provider, _) in KINDS.items()}

DeviceType = Literal["cpu", "gpu", "npu"]
ProbeStatus = Literal["ok", "verified", "failed", "skipped"]




def kind_of(provider: str) -> str:
    """Short kind for an ONNX Runtime provider name (unknown ones keep a lowercase stem)."""
    if provider in PROVIDER_KINDS:
        return PROVIDER_KINDS[provider]
    return provider.removesuffix("ExecutionProvider").lower()


@dataclass(frozen=True)
class ProbeResult:
    """What happened when an adapter was tried with the real model.

    ``status``: ``ok`` (created, ran, matched CPU, timed), ``verified`` (created on the
    requested provider but not timed: the quick check ``auto`` does on a first run),
    ``failed`` (``error`` says why) or ``skipped`` (not tried; ``error`` says why).
    """

    status: ProbeStatus
    error: str = ""
    create_ms: float | None = None
    first_run_ms: float | None = None
    steady_ms: float | None = None
    max_abs_diff: float | None = None  # against the CPU provider's outputs
    mask_mean_diff: float | None = None  # mean |adapter - CPU| of the mask
    mask_iou: float | None = None  # IoU@0.5 of the adapter's mask and the CPU's
    threads: int | None = None
    measured_at: float = 0.0  # Unix time
    cached: bool = False  # read back from the probe cache rather than measured now

    @property
    def usable(self) -> bool:
        return self.status in ("ok", "verified")

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        for key in ("create_ms", "first_run_ms", "steady_ms"):
            if out[key] is not None:
                out[key] = round(float(out[key]), 2)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ProbeResult:
        fields = {name for name in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in fields})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Adapter:
    """One candidate way to run a model: an ONNX Runtime provider, a device, and options."""

    provider: str  # ONNX Runtime provider name, e.g. "OpenVINOExecutionProvider"
    device: str = "CPU"  # device id as that provider names it ("CPU", "GPU.0", "0")
    device_type: DeviceType = "cpu"
    vendor: str = ""
    name: str = ""  # human device name, e.g. "NVIDIA GeForce RTX 4070"
    discrete: bool | None = None  # GPUs only: discrete (True), integrated (False), unknown
    options: tuple[tuple[str, str], ...] = ()
    is_fallback: bool = False
    plugin: bool = False  # a plugin EP library, used through add_provider_for_devices
    probe: ProbeResult | None = field(default=None, compare=False)

    @property
    def kind(self) -> str:
        """Short provider kind: ``cpu``, ``cuda``, ``directml``, ``openvino``, …"""
        return kind_of(self.provider)

    @property
    def label(self) -> str:
        """Short machine-friendly name, e.g. ``cpu`` or ``openvino:CPU``."""
        if self.kind == "cpu":
            return "cpu"
        return f"{self.kind}:{self.device}"

    @property
    def display(self) -> str:
        """Name for people, e.g. ``CPU`` or ``OpenVINO:GPU``."""
        pretty = KINDS.get(self.kind, (self.provider, self.kind))[1]
        if self.kind == "cpu":
            return pretty
        return f"{pretty}:{self.device}"

    @property
    def key(self) -> tuple[str, str]:
        """Identity used by the probe cache and for de-duplication."""
        return (self.provider, self.device)

    def with_probe(self, probe: ProbeResult | None) -> Adapter:
        return replace(self, probe=probe)

    def info(self) -> dict[str, object]:
        """JSON-friendly description, probe included."""
        return {
            "label": self.label,
            "provider": self.provider,
            "device": self.device,
            "device_type": self.device_type,
            "vendor": self.vendor or None,
            "name": self.name or None,
            "discrete": self.discrete,
            "is_fallback": self.is_fallback,
            "plugin": self.plugin,
            "probe": self.probe.as_dict() if self.probe else None,
        }


def honours_precision(adapter: Adapter) -> bool:
    """Whether ``precision`` changes how ``adapter`` computes: only OpenVINO on a CPU does."""
    return adapter.kind == "openvino" and adapter.device.upper().startswith("CPU")


def runs_streams(adapter: Adapter) -> bool:
    """Whether a session on ``adapter`` can split the CPU into streams that each run one
    inference at once: only OpenVINO on a CPU (``NUM_STREAMS``), as for precision."""
    return honours_precision(adapter)


CPU_ADAPTER = Adapter(provider="CPUExecutionProvider", is_fallback=True)


@dataclass
class FallbackEvent:
    """An accelerated adapter failed at run time and later images ran on the fallback."""

    failed: Adapter
    replacement: Adapter
    error: str
    image_index: int  # 0-based index (in run order) of the image that hit the failure
    images_on_fallback: int = field(default=0)

    def describe(self, total: int | None = None) -> str:
        """One summary line.

        E.g. ``12 of 200 images ran on CPU after OpenVINO:GPU failed: <error>``.
        """
        of = f" of {total}" if total is not None else ""
        noun = "image" if self.images_on_fallback == 1 and total is None else "images"
        return (
            f"{self.images_on_fallback}{of} {noun} ran on {self.replacement.display} "
            f"after {self.failed.display} failed: {self.error}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "failed": self.failed.label,
            "replacement": self.replacement.label,
            "error": self.error,
            "image_index": self.image_index,
            "images_on_fallback": self.images_on_fallback,
        }
