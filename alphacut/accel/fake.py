"""A fake backend for tests: scripted devices and faults, no ONNX Runtime needed.

Like httpx's ``MockTransport``, it stands in for the real backend behind the same
contract, so probe, selection, verification and runtime fallback are exercised
exactly as in production. Each :class:`FakeDevice` scripts one accelerator:

- ``create_error``: session creation raises;
- ``lands_on_cpu``: creation "succeeds" but the session silently runs on CPU;
- ``fail_on_run``: the N-th run (1-based, counted per device) raises ``run_error``,
  and every later run too when ``lost_after_failure`` (a lost device stays lost);
- ``nan_on_run``: the N-th run returns NaN;
- ``offset``: outputs differ from CPU by this much (a numerically wrong provider);
- ``speckle``: a few single values differ by this much (int8 kernels on another ISA);
- ``run_ms``: how long a run takes, to make an adapter faster or slower than CPU.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alphacut.accel.adapter import KINDS, Adapter, DeviceType, ProbeResult
from alphacut.accel.backend import Backend, RuntimeInfo

CPU_PROVIDER = KINDS["cpu"][0]


@dataclass
class FakeDevice:
    """One scripted accelerator."""

    provider: str
    device: str = "0"
    device_type: DeviceType = "gpu"
    vendor: str = "Fake"
    name: str = ""
    discrete: bool | None = None
    create_error: str = ""
    lands_on_cpu: bool = False
    fail_on_run: int | None = None
    run_error: str = "device lost"
    lost_after_failure: bool = True
    nan_on_run: int | None = None
    offset: float = 0.0
    speckle: float = 0.0  # every 97th output value is off by this much, as int8 kernels are
    run_ms: float = 0.0
    skip_reason: str = ""  # discovery already knows it cannot work
    plugin: bool = False
    runs: int = 0  # runs attempted on this device so far

    @property
    def adapter(self) -> Adapter:
        adapter = Adapter(
            provider=self.provider,
            device=self.device,
            device_type=self.device_type,
            vendor=self.vendor,
            name=self.name,
            discrete=self.discrete,
            plugin=self.plugin,
        )
        if self.skip_reason:
            adapter = adapter.with_probe(ProbeResult(status="skipped", error=self.skip_reason))
        return adapter


def fake_model_output(tensor: np.ndarray) -> list[np.ndarray]:
    """A deterministic stand-in for a saliency model: one (1, 1, H, W) map in 0..1."""
    mean = tensor.astype(np.float32).mean(axis=1, keepdims=True)
    return [(1.0 / (1.0 + np.exp(-mean))).astype(np.float32)]


class FakeSession:
    """A session on a fake device (or the fake CPU when ``device`` is None)."""

    def __init__(
        self, backend: FakeBackend, device: FakeDevice | None, input_shape: tuple[int, ...]
    ) -> None:
        self._backend = backend
        self._device = device
        self._input_shape = input_shape
        self._failed = False

    @property
    def input_name(self) -> str:
        return "input"

    @property
    def input_shape(self) -> tuple[int | str | None, ...]:
        return self._input_shape

    def providers(self) -> list[str]:
        if self._device is None or self._device.lands_on_cpu:
            return [CPU_PROVIDER]
        return [self._device.provider, CPU_PROVIDER]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        tensor = feeds[self.input_name]
        device = self._device
        if device is None or device.lands_on_cpu:
            with self._backend.counting:
                self._backend.cpu_runs += 1
            _sleep_ms(self._backend.cpu_run_ms)
            return fake_model_output(tensor)
        with self._backend.counting:  # runs may come from several threads at once
            device.runs += 1
            run = device.runs
        _sleep_ms(device.run_ms)
        if self._failed and device.lost_after_failure:
            raise RuntimeError(device.run_error)
        if device.fail_on_run is not None and run == device.fail_on_run:
            self._failed = True
            raise RuntimeError(device.run_error)
        outputs = fake_model_output(tensor)
        if device.nan_on_run is not None and run == device.nan_on_run:
            outputs[0][...] = np.nan
        if device.offset:
            outputs = [o + np.float32(device.offset) for o in outputs]
        if device.speckle:
            outputs = [_speckled(o, device.speckle) for o in outputs]
        return outputs


def _speckled(output: np.ndarray, amount: float) -> np.ndarray:
    """A few single values moved by ``amount`` (kept in 0..1), the rest untouched."""
    flat = output.copy().reshape(-1)
    flat[::97] = np.clip(flat[::97] + np.float32(amount), 0.0, 1.0)
    return flat.reshape(output.shape)


@dataclass
class FakeBackend(Backend):
    """A backend with scripted devices; records every session it creates."""

    devices: Sequence[FakeDevice] = ()
    version: str = "1.24.1"
    distribution: str = "onnxruntime-fake"
    cpu_run_ms: float = 0.0
    cpu_create_error: str = ""
    input_shape: tuple[int, ...] = (1, 3, 32, 32)
    created: list[str] = field(default_factory=list)  # adapter labels, in creation order
    cpu_runs: int = 0
    counting: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def runtime(self) -> RuntimeInfo:
        providers = [d.provider for d in self.devices if not d.plugin]
        return RuntimeInfo(
            version=self.version,
            distribution=self.distribution,
            providers=tuple(dict.fromkeys([*providers, CPU_PROVIDER])),
        )

    def candidates(self) -> Sequence[Adapter]:
        return [device.adapter for device in self.devices]

    def device_for(self, adapter: Adapter) -> FakeDevice | None:
        for device in self.devices:
            if (device.provider, device.device) == adapter.key:
                return device
        return None

    def create_session(self, model_path: Path, adapter: Adapter, *, threads: int) -> FakeSession:
        self.created.append(adapter.label)
        if adapter.kind == "cpu":
            if self.cpu_create_error:
                raise RuntimeError(self.cpu_create_error)
            return FakeSession(self, None, self.input_shape)
        device = self.device_for(adapter)
        if device is None:
            raise RuntimeError(f"{adapter.provider} device {adapter.device} does not exist")
        if device.create_error:
            raise RuntimeError(device.create_error)
        return FakeSession(self, device, self.input_shape)


def _sleep_ms(ms: float) -> None:
    if ms > 0:
        time.sleep(ms / 1000.0)
