"""A reusable inference session with verification and runtime CPU fallback.

:func:`open_runner` chooses an adapter (forced, or ``auto`` from cached probes and a
quick verified start), and the :class:`Runner` it returns runs every image of a
batch. If an accelerated run raises or returns NaN, the adapter is marked lost, one
CPU session is made, the same image is retried on it, and the batch goes on; the
:class:`FallbackEvent` says how many images ran on CPU and why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from alphacut.accel.adapter import CPU_ADAPTER, Adapter, FallbackEvent, Precision, ProbeResult
from alphacut.accel.backend import Backend, Session
from alphacut.accel.probe import ProbeCache, create_verified, error_text
from alphacut.accel.selection import (
    Preference,
    default_backend,
    default_probe_cache,
    explain,
    forced_adapter,
    order,
    parse_provider,
)
from alphacut.accel.threads import default_threads
from alphacut.checksum import sha256_file
from alphacut.errors import ProviderError


class Runner:
    """Runs one model on one adapter; falls back to CPU once if the adapter fails at run time."""

    def __init__(
        self,
        backend: Backend,
        model_path: Path,
        adapter: Adapter,
        session: Session,
        *,
        threads: int,
        strict: bool = False,
        reason: str = "",
        notes: Iterable[str] = (),
        on_lost: Callable[[Adapter, str], None] | None = None,
    ) -> None:
        self.backend = backend
        self.model_path = Path(model_path)
        self.threads = threads
        self.strict = strict
        self.requested = adapter  # what was chosen at start; ``adapter`` is what runs now
        self.adapter = adapter
        self.reason = reason  # why this adapter was chosen
        self.notes: list[str] = list(notes)  # e.g. a forced provider that could not start
        self.fallback_events: list[FallbackEvent] = []
        self.lost: list[Adapter] = []
        self.images = 0
        self._on_lost = on_lost
        self._session = session
        self._lock = threading.Lock()
        self.input_name: str = session.input_name
        self.input_shape = tuple(session.input_shape)

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run the model on one input tensor; returns all outputs."""
        with self._lock:
            index = self.images
            self.images += 1
            try:
                outputs = self._run_checked(tensor)
            except Exception as exc:
                if self.adapter.kind == "cpu":
                    raise ProviderError(f"CPU inference failed: {error_text(exc)}") from exc
                if self.strict:
                    raise ProviderError(
                        f"{self.adapter.display} failed (--strict, no fallback): "
                        f"{error_text(exc)}"
                    ) from exc
                self._fall_back(exc, index)
                try:
                    outputs = self._run_checked(tensor)
                except Exception as again:
                    raise ProviderError(
                        f"CPU inference failed: {error_text(again)}"
                    ) from again
            if self.fallback_events:
                self.fallback_events[-1].images_on_fallback += 1
            return outputs

    def _run_checked(self, tensor: np.ndarray) -> list[np.ndarray]:
        outputs = self._session.run({self.input_name: tensor})
        if not all(np.isfinite(o).all() for o in outputs):
            raise FloatingPointError("output contains NaN or infinity")
        return outputs

    def _fall_back(self, exc: BaseException, index: int) -> None:
        """Mark the adapter lost and move to a CPU session, made once."""
        failed = self.adapter
        self.lost.append(failed)
        if self._on_lost is not None:
            self._on_lost(failed, error_text(exc))
        try:
            session = create_verified(
                self.backend, self.model_path, CPU_ADAPTER, threads=self.threads
            )
        except Exception as cpu_exc:
            raise ProviderError(
                f"{failed.display} failed ({error_text(exc)}) and the CPU fallback could not "
                f"start: {error_text(cpu_exc)}"
            ) from cpu_exc
        self._session = session
        self.adapter = CPU_ADAPTER
        self.fallback_events.append(FallbackEvent(failed, CPU_ADAPTER, error_text(exc), index))

    def fallback_summary(self, total: int | None = None) -> list[str]:
        """One line per fallback event, for the CLI summary and the UI."""
        return [event.describe(total) for event in self.fallback_events]


def open_runner(
    model_path: Path,
    *,
    provider: str = "auto",
    strict: bool = False,
    threads: int | None = None,
    preference: Preference = "high-performance",
    allow: Iterable[str] | None = None,
    deny: Iterable[str] | None = None,
    reprobe: bool = False,
    probe_cache: ProbeCache | None = None,
    backend: Backend | None = None,
    model_sha: str | None = None,
    precision: Precision = "fp32",
    disabled_optimizers: tuple[str, ...] = (),
) -> Runner:
    """Open a runner for ``model_path``.

    ``precision``: ``fp32`` (exact), or ``bf16`` for OpenVINO on CPUs with bf16 units;
    it has no effect on other adapters (the runner notes that). ``disabled_optimizers``:
    ONNX Runtime graph transforms that would break the model (``ModelSpec`` says which).

    ``provider``: ``auto`` (the best adapter for ``preference``), ``high-performance``,
    ``low-power``, ``cpu`` or ``KIND[:DEVICE]`` (``openvino:GPU``, ``cuda:1``, ``dml:0``).
    A forced provider that is missing or fails falls back to CPU with a note, or with
    ``strict`` raises :class:`ProviderError`. ``auto`` uses cached probe results and,
    for adapters never probed, creates and verifies a session in preference order, so
    a first run costs one session creation per candidate rather than a full probe.
    """
    model_path = Path(model_path)
    request = parse_provider(provider, preference)
    threads = threads or default_threads()
    backend = backend or default_backend(precision, disabled_optimizers=disabled_optimizers)

    if request.kind == "cpu":
        session = _cpu_session(backend, model_path, threads)
        return Runner(backend, model_path, CPU_ADAPTER, session, threads=threads,
                      strict=strict, reason="requested with --provider cpu")

    discovery = backend.discover()
    if request.forced:
        return _open_forced(backend, model_path, request, discovery, threads=threads,
                            strict=strict)

    cache = probe_cache if probe_cache is not None else default_probe_cache(discovery)
    sha = model_sha or sha256_file(model_path)
    adapters = [
        a if (a.probe is not None or reprobe) else a.with_probe(cache.get(a, sha))
        for a in discovery.adapters
    ]
    tried: dict[tuple[str, str], Adapter] = {}
    for candidate in order(adapters, request.preference, allow=allow, deny=deny):
        if candidate.kind == "cpu":
            session = _cpu_session(backend, model_path, threads)
            chosen = candidate
        else:
            start = time.perf_counter()
            try:
                session = create_verified(backend, model_path, candidate, threads=threads)
            except Exception as exc:
                failed = ProbeResult(status="failed", error=error_text(exc), threads=threads,
                                     measured_at=time.time())
                cache.put(candidate, sha, failed)
                tried[candidate.key] = candidate.with_probe(failed)
                continue
            chosen = candidate
            if candidate.probe is None:
                verified = ProbeResult(status="verified", threads=threads,
                                       create_ms=(time.perf_counter() - start) * 1000,
                                       measured_at=time.time())
                cache.put(candidate, sha, verified)
                chosen = candidate.with_probe(verified)
        considered = [tried.get(a.key, a) for a in adapters]
        cpu = next((a for a in considered if a.kind == "cpu"), None)
        reason = explain(chosen, considered, request.preference, cpu)

        def remember_loss(adapter: Adapter, error: str) -> None:
            # The next 'auto' start should not pick an adapter that failed mid-batch;
            # --reprobe (or 'alphacut providers --reprobe') gives it another chance.
            cache.put(adapter, sha, ProbeResult(status="failed", threads=threads,
                                                error=f"failed at run time: {error}",
                                                measured_at=time.time()))

        return Runner(backend, model_path, chosen, session, threads=threads, strict=strict,
                      reason=reason, on_lost=remember_loss)
    raise ProviderError("no adapter could be opened")  # order() always includes the CPU


def _open_forced(
    backend: Backend,
    model_path: Path,
    request,
    discovery,
    *,
    threads: int,
    strict: bool,
) -> Runner:
    try:
        adapter = forced_adapter(request, discovery)
        if adapter.probe is not None and adapter.probe.status == "skipped":
            raise ProviderError(f"{adapter.display} is not available: {adapter.probe.error}")
        try:
            session = create_verified(backend, model_path, adapter, threads=threads)
        except Exception as exc:
            raise ProviderError(f"{adapter.display} failed to start: {error_text(exc)}") from exc
    except ProviderError as exc:
        if strict:
            raise
        session = _cpu_session(backend, model_path, threads)
        note = f"{exc}; using CPU instead (add --strict to make this an error)"
        return Runner(backend, model_path, CPU_ADAPTER, session, threads=threads,
                      reason="forced provider unavailable", notes=[note])
    return Runner(backend, model_path, adapter, session, threads=threads, strict=strict,
                  reason="requested with --provider")


def _cpu_session(backend: Backend, model_path: Path, threads: int) -> Session:
    try:
        return create_verified(backend, model_path, CPU_ADAPTER, threads=threads)
    except Exception as exc:
        raise ProviderError(f"cannot create a CPU session for {model_path.name}: "
                            f"{error_text(exc)}") from exc
