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

from alphacut.accel.adapter import (
    CPU_ADAPTER,
    Adapter,
    FallbackEvent,
    ProbeResult,
    runs_streams,
)
from alphacut.accel.backend import Backend, Session
from alphacut.accel.model_options import ModelOptions
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
from alphacut.errors import ProviderError
from alphacut.paths import AppPaths


class Runner:
    """Runs one model on one adapter; falls back to CPU once if the adapter fails at run time.

    :meth:`run` may be called from several threads at once (ONNX Runtime's ``Run`` is
    thread-safe): :attr:`concurrency` says how many runs keep the session busy. Only the
    bookkeeping (image count, the one fallback) is serialised.
    """

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
        streams: int = 1,
    ) -> None:
        self.backend = backend
        self.model_path = Path(model_path)
        self.threads = threads
        self.streams = max(1, streams)  # asked of the session; see ``concurrency``
        self.strict = strict
        self.requested = adapter  # what was chosen at start; ``adapter`` is what runs now
        self.adapter = adapter
        self.reason = reason  # why this adapter was chosen
        self.notes: list[str] = list(notes)  # e.g. a forced provider that could not start
        self.fallback_events: list[FallbackEvent] = []
        self.images = 0
        self._on_lost = on_lost
        self._session = session
        self._lock = threading.Lock()
        self.input_name: str = session.input_name
        self.input_shape = tuple(session.input_shape)

    @property
    def concurrency(self) -> int:
        """How many :meth:`run` calls at once keep this session busy: its streams on an
        adapter that runs them (OpenVINO CPU), else 1. The CPU fallback session has one."""
        return self.streams if runs_streams(self.adapter) else 1

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Run the model on one input tensor; returns all outputs."""
        return self.run_on_adapter(tensor)[0]

    def run_on_adapter(self, tensor: np.ndarray) -> tuple[list[np.ndarray], Adapter]:
        """The outputs and the adapter that produced them (another run may fall back
        meanwhile, so :attr:`adapter` read afterwards could name the wrong one)."""
        with self._lock:
            index = self.images
            self.images += 1
            session, adapter = self._session, self.adapter
        try:
            outputs = self._run_checked(session, tensor)
        except Exception as exc:
            if adapter.kind == "cpu":
                raise ProviderError(f"CPU inference failed: {error_text(exc)}") from exc
            if self.strict:
                raise ProviderError(
                    f"{adapter.display} failed (--strict, no fallback): {error_text(exc)}"
                ) from exc
            session, adapter = self._fall_back(exc, index, session)
            try:
                outputs = self._run_checked(session, tensor)
            except Exception as again:
                raise ProviderError(f"CPU inference failed: {error_text(again)}") from again
        if self.fallback_events and adapter is CPU_ADAPTER:
            with self._lock:
                self.fallback_events[-1].images_on_fallback += 1
        return outputs, adapter

    @staticmethod
    def _run_checked(session: Session, tensor: np.ndarray) -> list[np.ndarray]:
        outputs = session.run({session.input_name: tensor})
        if not all(np.isfinite(o).all() for o in outputs):
            raise FloatingPointError("output contains NaN or infinity")
        return outputs

    def _fall_back(
        self, exc: BaseException, index: int, failed_session: Session
    ) -> tuple[Session, Adapter]:
        """Mark the adapter lost and move to a CPU session, made once even when several
        concurrent runs fail together (later ones retry on the session the first made)."""
        with self._lock:
            if self._session is not failed_session:
                return self._session, self.adapter
            failed = self.adapter
            if self._on_lost is not None:
                self._on_lost(failed, error_text(exc))
            try:
                session = create_verified(
                    self.backend, self.model_path, CPU_ADAPTER, threads=self.threads
                )
            except Exception as cpu_exc:
                raise ProviderError(
                    f"{failed.display} failed ({error_text(exc)}) and the CPU fallback could "
                    f"not start: {error_text(cpu_exc)}"
                ) from cpu_exc
            self._session = session
            self.adapter = CPU_ADAPTER
            self.fallback_events.append(
                FallbackEvent(failed, CPU_ADAPTER, error_text(exc), index))
            return session, CPU_ADAPTER

    def fallback_summary(self, total: int | None = None) -> list[str]:
        """One line per fallback event, for the CLI summary and the UI."""
        return [event.describe(total) for event in self.fallback_events]


def open_runner(
    model: ModelOptions | Path,
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
    paths: AppPaths | None = None,
) -> Runner:
    """Open a runner for ``model`` (a :class:`ModelOptions`, or a bare path with defaults).

    The model's precision, disabled graph transforms and streams configure ``backend`` (the real
    ONNX Runtime one when none is given); its sha256 keys the probe cache, which lives
    under ``paths`` (the environment's when None) unless ``probe_cache`` is given.

    ``provider``: ``auto`` (the best adapter for ``preference``), ``high-performance``,
    ``low-power``, ``cpu`` or ``KIND[:DEVICE]`` (``openvino:GPU``, ``cuda:1``, ``dml:0``).
    A forced provider that is missing or fails falls back to CPU with a note, or with
    ``strict`` raises :class:`ProviderError`. ``auto`` uses cached probe results and,
    for adapters never probed, creates and verifies a session in preference order, so
    a first run costs one session creation per candidate rather than a full probe.
    """
    model = ModelOptions.of(model)
    model_path = model.path
    request = parse_provider(provider, preference)
    threads = threads or default_threads()
    backend = (backend or default_backend()).for_model(model)

    if request.kind == "cpu":
        session = _cpu_session(backend, model_path, threads)
        return Runner(backend, model_path, CPU_ADAPTER, session, threads=threads,
                      strict=strict, reason="requested with --provider cpu",
                      streams=model.streams)

    discovery = backend.discover()
    if request.forced:
        return _open_forced(backend, model_path, request, discovery, threads=threads,
                            strict=strict, streams=model.streams)

    cache = probe_cache if probe_cache is not None else default_probe_cache(discovery, paths)
    sha = model.key()
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
                      reason=reason, on_lost=remember_loss, streams=model.streams)
    raise ProviderError("no adapter could be opened")  # order() always includes the CPU


def _open_forced(
    backend: Backend,
    model_path: Path,
    request,
    discovery,
    *,
    threads: int,
    strict: bool,
    streams: int = 1,
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
                      reason="forced provider unavailable", notes=[note], streams=streams)
    return Runner(backend, model_path, adapter, session, threads=threads, strict=strict,
                  reason="requested with --provider", streams=streams)


def _cpu_session(backend: Backend, model_path: Path, threads: int) -> Session:
    try:
        return create_verified(backend, model_path, CPU_ADAPTER, threads=threads)
    except Exception as exc:
        raise ProviderError(f"cannot create a CPU session for {model_path.name}: "
                            f"{error_text(exc)}") from exc
