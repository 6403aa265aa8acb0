"""The adapters the picker offers, and a quick probe of each (session + one inference).

Uses only the accel API: :func:`alphacut.accel.open_runner` with ``strict=True`` so a
probe never silently lands on the CPU fallback.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alphacut.accel import open_runner
from alphacut.errors import AlphacutError

# The adapters every supported Linux/x86 install can try; the probe decides whether each
# one actually works here.
CANDIDATES: tuple[str, ...] = ("cpu", "openvino:CPU")


@dataclass(frozen=True)
class AdapterProbe:
    """Whether one adapter can run the model here."""

    label: str
    ok: bool
    detail: str
    ms: float | None = None

    def describe(self) -> str:
        return "ok" if self.ok else f"unavailable: {self.detail}"


def probe_adapter(label: str, model_path: Path, input_shape: tuple[int, ...]) -> AdapterProbe:
    """Open ``label`` strictly and run one zero image through it."""
    start = time.perf_counter()
    try:
        runner = open_runner(model_path, provider=label, strict=True)
        runner.run(np.zeros(input_shape, dtype=np.float32))
    except AlphacutError as exc:
        text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        return AdapterProbe(label, False, text)
    except Exception as exc:  # a provider's own error type; report it, never crash the UI
        return AdapterProbe(label, False, f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    return AdapterProbe(label, True, "session + test inference passed",
                        (time.perf_counter() - start) * 1000)


def probe_all(model_path: Path, input_shape: tuple[int, ...]) -> list[AdapterProbe]:
    """Probe every candidate, in order."""
    return [probe_adapter(label, model_path, input_shape) for label in CANDIDATES]
