"""Probe adapters with the real model, and remember the results on disk.

A probe creates a session, verifies that ONNX Runtime really put it on the requested
provider, runs a fixed input, and compares the outputs with the CPU's. Results are
cached per (ONNX Runtime version, provider, device, model sha256), so starting the
UI or a batch never pays for probing twice; ``--reprobe`` refreshes them.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alphacut.accel.adapter import Adapter, ProbeResult
from alphacut.accel.agreement import EXACT, AgreementRule, measure
from alphacut.accel.backend import Backend, Session

DEFAULT_SIZE = 320  # for dynamic spatial dimensions


class NotOnRequestedProvider(RuntimeError):
    """ONNX Runtime created the session but put it on another provider."""


def verify_session(session: Session, adapter: Adapter) -> None:
    """Raise unless the session's first provider is the adapter's (ORT falls back silently)."""
    providers = session.providers()
    got = providers[0] if providers else "no provider"
    if got != adapter.provider:
        raise NotOnRequestedProvider(
            f"ONNX Runtime silently used {got} instead of {adapter.provider}"
        )


def create_verified(
    backend: Backend, model_path: Path, adapter: Adapter, *, threads: int
) -> Session:
    """Create a session on ``adapter`` and verify where it landed."""
    session = backend.create_session(model_path, adapter, threads=threads)
    verify_session(session, adapter)
    return session


def sample_input(session: Session, size: int = DEFAULT_SIZE) -> np.ndarray:
    """The fixed probe input: seeded values in the range normalised images have."""
    shape = tuple(d if isinstance(d, int) and d > 0 else size for d in session.input_shape)
    shape = (1, *shape[1:]) if shape else (1, 3, size, size)
    rng = np.random.default_rng(20240611)
    return rng.uniform(-2.0, 2.0, size=shape).astype(np.float32)


def error_text(exc: BaseException) -> str:
    """First meaningful line of an ONNX Runtime error, without its source-file prefix."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else exc.__class__.__name__
    # "/onnxruntime/…/file.cc:141 std::string …(…) [ERROR] [OpenVINO] Device GPU is not available"
    if "[ERROR]" in text:
        text = text.split("[ERROR]", 1)[1].strip()
    return text[:300]


@dataclass
class ProbeRun:
    """A probe's result plus the outputs it produced (the CPU's become the reference)."""

    result: ProbeResult
    outputs: list[list[np.ndarray]] | None = None  # one output list per probe input


def probe(
    backend: Backend,
    model_path: Path,
    adapter: Adapter,
    *,
    threads: int,
    reference: list[list[np.ndarray]] | None = None,
    steady_runs: int = 2,
    size: int = DEFAULT_SIZE,
    rule: AgreementRule = EXACT,
    inputs: list[np.ndarray] | None = None,
) -> ProbeRun:
    """Create, verify, run once (first-run ms), run ``steady_runs`` more (median steady ms).

    ``inputs``: the probe's input tensors (photos, for models judged at mask level); the
    fixed random input when None. Timings use the first input; every input is compared.
    With a CPU ``reference`` (per input) the outputs must keep the model's agreement
    ``rule`` (see :mod:`alphacut.accel.agreement`).
    """
    now = time.time()
    start = time.perf_counter()
    try:
        session = create_verified(backend, model_path, adapter, threads=threads)
    except Exception as exc:
        return ProbeRun(ProbeResult(status="failed", error=error_text(exc), threads=threads,
                                    measured_at=now))
    create_ms = (time.perf_counter() - start) * 1000
    tensors = inputs if inputs else [sample_input(session, size)]
    try:
        feeds = {session.input_name: tensors[0]}
        start = time.perf_counter()
        outputs = [session.run(feeds)]
        first_ms = (time.perf_counter() - start) * 1000
        steady: list[float] = []
        for _ in range(max(1, steady_runs)):
            start = time.perf_counter()
            session.run(feeds)
            steady.append((time.perf_counter() - start) * 1000)
        outputs += [session.run({session.input_name: t}) for t in tensors[1:]]
    except Exception as exc:
        return ProbeRun(ProbeResult(status="failed", error=f"run failed: {error_text(exc)}",
                                    create_ms=create_ms, threads=threads, measured_at=now))
    timings = {"create_ms": create_ms, "first_run_ms": first_ms,
               "steady_ms": float(np.median(steady)), "threads": threads, "measured_at": now}
    if not all(np.isfinite(o).all() for run in outputs for o in run):
        return ProbeRun(ProbeResult(status="failed", error="output contains NaN or infinity",
                                    **timings))
    if reference is None:
        return ProbeRun(ProbeResult(status="ok", **timings), outputs)
    agreement = measure(outputs, reference)
    measured = {"max_abs_diff": agreement.max_abs_diff,
                "mask_mean_diff": agreement.mask_mean_diff, "mask_iou": agreement.mask_iou}
    failure = agreement.failure(rule)
    if failure:
        return ProbeRun(ProbeResult(status="failed", error=failure, **measured, **timings))
    return ProbeRun(ProbeResult(status="ok", **measured, **timings), outputs)


def reference_outputs(
    backend: Backend,
    model_path: Path,
    *,
    threads: int,
    size: int = DEFAULT_SIZE,
    inputs: list[np.ndarray] | None = None,
) -> list[list[np.ndarray]] | None:
    """CPU outputs for each probe input (None when even the CPU cannot run the model)."""
    from alphacut.accel.adapter import CPU_ADAPTER

    try:
        session = create_verified(backend, model_path, CPU_ADAPTER, threads=threads)
        tensors = inputs if inputs else [sample_input(session, size)]
        return [session.run({session.input_name: t}) for t in tensors]
    except Exception:
        return None


# Bump when alphacut changes how it opens sessions or judges probes, so results measured the
# old way are measured again (2: the CPU provider got its memory arena back, 1.35x faster;
# 3: per-model agreement tolerance; 4: per-model disabled graph transforms; 5: quantized
# models judged at mask level on photos).
SESSION_SETUP = "5"


class ProbeCache:
    """Probe results as small JSON files under ``AppPaths.probes``.

    The file name is the cache key: ORT version, provider, device, model sha256; the stored
    key also holds :data:`SESSION_SETUP`.
    """

    def __init__(self, directory: Path, ort_version: str) -> None:
        self.directory = Path(directory)
        self.ort_version = ort_version

    def _path(self, adapter: Adapter, model_sha: str) -> Path:
        raw = f"ort{self.ort_version}_{adapter.provider}_{adapter.device}_{model_sha[:16]}"
        return self.directory / (re.sub(r"[^A-Za-z0-9._-]", "_", raw) + ".json")

    def get(self, adapter: Adapter, model_sha: str) -> ProbeResult | None:
        """The cached result, or None when absent, unreadable or for another key."""
        path = self._path(adapter, model_sha)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        key = data.get("key", {})
        if key != self._key(adapter, model_sha):
            return None
        try:
            result = ProbeResult.from_dict(data["result"])
        except (KeyError, TypeError):
            return None
        return ProbeResult(**{**result.__dict__, "cached": True})

    def put(self, adapter: Adapter, model_sha: str, result: ProbeResult) -> None:
        """Store a result atomically; a cache that cannot be written is not an error."""
        path = self._path(adapter, model_sha)
        payload = {"key": self._key(adapter, model_sha),
                   "result": {**result.as_dict(), "cached": False}}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_suffix(".tmp")
            temp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
            temp.replace(path)
        except OSError:
            pass

    def _key(self, adapter: Adapter, model_sha: str) -> dict[str, str]:
        return {"ort_version": self.ort_version, "provider": adapter.provider,
                "device": adapter.device, "model_sha256": model_sha,
                "session_setup": SESSION_SETUP}
