"""What runs inside Ray: the removal actor and its reader (paths -> bytes).

Neither class imports Ray: Ray Data calls the actor with batches (``dict`` of columns)
and takes back ``dict`` of columns. Only paths travel in and only small result rows
travel out: every image is read, decoded, cut out, encoded and written inside one actor.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alphacut.errors import InputError, OutputExistsError
from alphacut.pipeline.batch import error_text
from alphacut.pipeline.output import OutputOptions
from alphacut.pipeline.remover import RemoveOptions
from alphacut.resources import peak_rss_mb

# Columns of a result row, in order; the driver turns each row back into a JobResult.
RESULT_COLUMNS: tuple[str, ...] = (
    "index", "status", "error", "provider", "timings", "notes", "bytes", "confidence", "worker",
    "node", "peak_rss_mb", "started", "ended",
)


@dataclass(frozen=True)
class WorkerSettings:
    """Everything an actor needs to build its Remover and write outputs; plain and picklable."""

    model: str
    provider: str
    strict: bool
    threads: int
    precision: str
    remove: RemoveOptions
    output: OutputOptions
    source_uri: str | None = None  # None: sources are local paths
    out_uri: str | None = None  # None: outputs are local paths, written by write_atomic


def _read_local(path: str) -> bytes:
    """Read a planned input, refusing anything that is not a regular file (a FIFO would block)."""
    from alphacut.pipeline.regular_file import NotRegularFileError, open_regular

    try:
        with open_regular(Path(path)) as fh:
            return fh.read()
    except NotRegularFileError as exc:
        raise InputError(path, exc.reason) from None
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


class ReadSources:
    """The actor's reader: add each source's bytes (or why it cannot be read) to its row."""

    def __init__(self, source_uri: str | None) -> None:
        self.root = None
        if source_uri is not None:
            from alphacut.engines.locations import open_uri

            self.root = open_uri(source_uri)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        datas: list[bytes] = []
        errors: list[str] = []
        for source in batch["source"]:
            try:
                datas.append(self._read(str(source)))
                errors.append("")
            except Exception as exc:  # one unreadable file is one error row, not a failed job
                datas.append(b"")
                errors.append(error_text(exc))
        return {**batch, "data": datas, "read_error": errors}

    def _read(self, source: str) -> bytes:
        if self.root is None:
            return _read_local(source)
        from alphacut.engines.locations import read_uri_file

        return read_uri_file(self.root, source)


class RemoveActor:
    """One Remover per actor, opened once with an explicit thread count.

    Ray sets ``OMP_NUM_THREADS`` for its workers but ONNX Runtime sizes its own pool from
    the host's cores; ``threads`` is passed to the session so N actors on a host use N x
    threads cores, not N x cores.
    """

    def __init__(self, settings: WorkerSettings) -> None:
        from alphacut.pipeline.output import load_background
        from alphacut.pipeline.remover import Remover

        self.settings = settings
        self.remover = Remover.open(
            settings.model,
            provider=settings.provider,
            strict=settings.strict,
            threads=settings.threads,
            options=settings.remove,
            precision=settings.precision,  # type: ignore[arg-type]
        )
        self.background = load_background(settings.output)
        # Reading here, not in a Ray task stage: each such task started a worker process
        # that imported Ray Data and alphacut, which on a small machine delayed the first
        # image by seconds; reading one file is milliseconds beside its cutout.
        self.reader = ReadSources(settings.source_uri)
        self.out_root = None
        if settings.out_uri is not None:
            from alphacut.engines.locations import open_uri

            self.out_root = open_uri(settings.out_uri)
        self.worker = f"{platform.node()}:{os.getpid()}"
        self.node = _node_id()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows: dict[str, list[Any]] = {name: [] for name in RESULT_COLUMNS}
        batch = self.reader(batch)
        for index, source, dest, data, read_error in zip(
            batch["index"], batch["source"], batch["dest"], batch["data"], batch["read_error"],
            strict=True,
        ):
            started = time.time()
            result = self._one(str(source), str(dest), bytes(data), str(read_error))
            result.update(index=int(index), started=started, ended=time.time())
            for name in RESULT_COLUMNS:
                rows[name].append(result[name])
        return rows

    def _one(self, source: str, dest: str, data: bytes, read_error: str) -> dict[str, Any]:
        base: dict[str, Any] = {
            "status": "failed", "error": read_error, "provider": "", "timings": "{}",
            "notes": "[]", "bytes": 0, "confidence": "null", "worker": self.worker,
            "node": self.node, "peak_rss_mb": round(peak_rss_mb(), 1),
        }
        if read_error:
            return base
        try:
            from alphacut.pipeline.decode import decode

            start = time.perf_counter()
            decoded = decode(Path(source), max_pixels=self.remover.options.max_pixels, data=data)
            decode_ms = (time.perf_counter() - start) * 1000
            cutout = self.remover.remove(decoded)
            cutout.timings.decode = decode_ms
            start = time.perf_counter()
            size = self._write(cutout.rgb, cutout.alpha, dest)
            cutout.timings.encode = (time.perf_counter() - start) * 1000
        except OutputExistsError as exc:
            # The driver planned this output as missing; another run made it since.
            if self.settings.output.existing == "skip":
                return {**base, "status": "skipped", "error": "output exists"}
            return {**base, "error": error_text(exc)}
        except Exception as exc:  # one image's failure must not end the job
            return {**base, "error": error_text(exc)}
        return {
            **base, "status": "done", "error": "", "provider": cutout.provider,
            "timings": json.dumps(asdict(cutout.timings)), "notes": json.dumps(cutout.notes),
            "bytes": size, "peak_rss_mb": round(peak_rss_mb(), 1),
            "confidence": json.dumps(asdict(cutout.confidence) if cutout.confidence else None),
        }

    def _write(self, rgb: Any, alpha: Any, dest: str) -> int:
        """Write one output; an identical file already there is this image, written once."""
        from alphacut.pipeline.output import encode_output, save_output

        options = self.settings.output
        if self.out_root is None:
            try:
                return save_output(rgb, alpha, Path(dest), options, background=self.background)
            except OutputExistsError:
                # A retried task finds what its earlier attempt wrote: same bytes, same image.
                data = encode_output(rgb, alpha, options, background=self.background)
                if _same_content(dest, data):
                    return len(data)
                raise
        from alphacut.engines.locations import read_uri_file, uri_exists, write_uri_file

        data = encode_output(rgb, alpha, options, background=self.background)
        if options.existing != "overwrite" and uri_exists(self.out_root, dest):
            if read_uri_file(self.out_root, dest) == data:
                return len(data)
            raise OutputExistsError(dest, "exists (use --overwrite or --skip-existing)")
        return write_uri_file(self.out_root, dest, data)


class SecondOpinionActor:
    """``--second-opinion``: the second model in one actor, judging one flagged cutout per row.

    The local engine's own :func:`~alphacut.pipeline.second_opinion.second_opinion` does the
    work, so the choice and the atomic replacement are the same; a retried row cuts the
    same image again and writes the same bytes. Outputs are local or shared-filesystem paths.
    """

    def __init__(self, settings: WorkerSettings, model: str, below: float) -> None:
        from alphacut.pipeline.remover import Remover

        self.settings = settings
        self.model = model
        self.below = below
        self.remover = Remover.open(
            model,
            provider=settings.provider,
            strict=settings.strict,
            threads=settings.threads,
            options=settings.remove,
            precision=settings.precision,  # type: ignore[arg-type]
        )

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        from alphacut.pipeline.batch import JobResult
        from alphacut.pipeline.confidence import Confidence
        from alphacut.pipeline.jobs import Job
        from alphacut.pipeline.second_opinion import second_opinion

        rows: dict[str, list[Any]] = {"index": [], "verdict": []}
        for index, source, dest, first in zip(
            batch["index"], batch["source"], batch["dest"], batch["first"], strict=True
        ):
            result = JobResult(int(index), Job(Path(str(source)), Path(str(dest))), "done",
                               confidence=Confidence(**json.loads(str(first))))
            for verdict in second_opinion(self.remover, [result], self.settings.output,
                                          below=self.below, model=self.model):
                second = asdict(verdict.second) if verdict.second is not None else None
                rows["index"].append(int(index))
                rows["verdict"].append(json.dumps({
                    "second": second, "kept": verdict.kept, "error": verdict.error,
                    "ms": verdict.ms,
                }))
        return rows


def _same_content(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read() == data
    except OSError:
        return False


def _node_id() -> str:
    """The Ray node this actor runs on (empty outside Ray)."""
    import sys

    ray = sys.modules.get("ray")  # loaded in every Ray worker; never imported here
    if ray is None or not ray.is_initialized():
        return ""
    return str(ray.get_runtime_context().get_node_id())
