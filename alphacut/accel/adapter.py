"""Plain records describing execution-provider candidates and what happened to them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Adapter:
    """One candidate way to run a model: an ONNX Runtime provider, a device, and options."""

    provider: str  # ONNX Runtime provider name, e.g. "OpenVINOExecutionProvider"
    device: str = "CPU"  # device id as that provider names it ("CPU", "GPU.0", "0")
    device_type: str = "cpu"  # "cpu" | "gpu" | "npu"
    vendor: str = ""
    options: tuple[tuple[str, str], ...] = ()
    is_fallback: bool = False

    @property
    def label(self) -> str:
        """Short human name, e.g. ``cpu`` or ``openvino:CPU``."""
        short = self.provider.removesuffix("ExecutionProvider").lower()
        if short == "cpu":
            return "cpu"
        return f"{short}:{self.device}"


CPU_ADAPTER = Adapter(provider="CPUExecutionProvider", is_fallback=True)


@dataclass
class FallbackEvent:
    """An accelerated adapter failed at run time and later images ran on the fallback."""

    failed: Adapter
    replacement: Adapter
    error: str
    image_index: int
    images_on_fallback: int = field(default=0)

    def describe(self, total: int | None = None) -> str:
        of = f" of {total}" if total is not None else ""
        return (
            f"{self.images_on_fallback}{of} images ran on {self.replacement.label} "
            f"after {self.failed.label} failed: {self.error}"
        )
