"""The Ray engine: a batch planned by ``alphacut remove``, run by Ray Data on a cluster.

The dataset holds paths only (never pixels, so image sizes may vary freely). A
class-based ``map_batches`` over a fixed actor pool does the work: each actor holds one
Remover, and reads, decodes, cuts out, encodes and writes every image it gets. Results
come back as small rows; the driver turns them into the local engine's JobResults.

Fault tolerance is Ray Data's, as pinned (2.60): actor pools are created with
``max_restarts=-1`` and ``max_task_retries=-1``, so a killed actor is restarted and its
task retried; the writer's atomic rename and the retry's same-bytes check make a retried
image count once.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from alphacut.engines.ray_worker import RemoveActor, SecondOpinionActor, WorkerSettings
from alphacut.pipeline.batch import JobResult
from alphacut.pipeline.confidence import Confidence
from alphacut.pipeline.jobs import Job
from alphacut.pipeline.remover import StageTimings
from alphacut.pipeline.second_opinion import Verdict
from alphacut.resources import peak_rss_mb

# Variables the workers must see like the driver does (model cache, offline mode).
FORWARDED_ENV: tuple[str, ...] = ("ALPHACUT_HOME", "ALPHACUT_OFFLINE", "ALPHACUT_CONFIG")
# One image per block up to this many images: each actor task is then one image, so a
# killed actor costs one image's work and images spread evenly over the actors. Beyond it
# blocks grow (a million tiny blocks would burden the driver more than a retry costs).
MAX_BLOCKS = 20_000
# Ray settings for a cluster alphacut starts for one job (Ray refuses them when joining one).
# Its metrics, task events and event-loop statistics feed a dashboard and a state API that
# such a cluster never has (no dashboard; it ends with the job). A small saving: on 2 cores
# the GCS used about half its CPU with them off (0.2-0.3 s instead of 0.3-0.4 s per 100
# ecssd-dev photos); the driver (~2 s) and each Ray Data helper actor (~0.4 s) are unchanged.
PRIVATE_CLUSTER_CONFIG: dict[str, object] = {
    "enable_metrics_collection": False,
    "task_events_report_interval_ms": 0,
    "event_stats": False,
}


@dataclass
class RayStats:
    """How the job ran: start-up, throughput once running, and memory per process."""

    workers: int = 0
    threads: int = 0
    nodes: set[str] = field(default_factory=set)
    first_start: float | None = None
    first_end: float | None = None
    last_end: float | None = None
    done: int = 0
    worker_peak_rss_mb: dict[str, float] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        if row["node"]:
            self.nodes.add(str(row["node"]))
        worker = str(row["worker"])
        self.worker_peak_rss_mb[worker] = max(
            float(row["peak_rss_mb"]), self.worker_peak_rss_mb.get(worker, 0.0)
        )
        if row["status"] == "done":
            self.done += 1
            start, end = float(row["started"]), float(row["ended"])
            self.first_start = start if self.first_start is None else min(self.first_start, start)
            self.first_end = end if self.first_end is None else min(self.first_end, end)
            self.last_end = end if self.last_end is None else max(self.last_end, end)

    def as_dict(self, launched: float) -> dict[str, object]:
        """JSON-friendly, times from the command's launch (process start).

        ``startup_s``: until the first image starts processing in an actor (Ray started or
        joined, pipeline planned, actor up with its model loaded), as the local engine's
        ``startup_s`` runs until its model is loaded; ``first_output_s``: until the first
        output is written.
        """
        span = (self.last_end - self.first_start) if self.first_start and self.last_end else 0
        return {
            "engine": "ray",
            "workers": self.workers,
            "threads": self.threads,
            "nodes": len(self.nodes),
            "startup_s": round(self.first_start - launched, 3) if self.first_start else None,
            "first_output_s": round(self.first_end - launched, 3) if self.first_end else None,
            "processing_s": round(span, 3),
            "processing_images_per_s": round(self.done / span, 3) if span > 0 else 0.0,
            "driver_peak_rss_mb": round(peak_rss_mb(), 1),
            "worker_peak_rss_mb": dict(sorted(self.worker_peak_rss_mb.items())),
        }


class RayEngine:
    """Connect to (or start) a Ray cluster and run jobs there; use as a context manager."""

    def __init__(self, settings: WorkerSettings, *, address: str | None,
                 workers: int | None) -> None:
        self.settings = settings
        self.address = address
        self.requested_workers = workers
        self.stats = RayStats(threads=settings.threads)

    def __enter__(self) -> RayEngine:
        import ray

        ray.init(**init_arguments(self.address, os.environ))
        from ray.data import DataContext

        context = DataContext.get_current()
        context.enable_progress_bars = False  # alphacut draws its own
        context.print_on_execution_start = False
        # Ray Data logs its scheduling to the console; alphacut reports per image instead,
        # and a failing job still raises its error to us.
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc: object) -> None:
        import ray

        ray.shutdown()

    def worker_count(self, jobs: int) -> int:
        """``--workers``, else as many actors as the cluster's CPUs hold at ``threads`` each."""
        if self.requested_workers:
            return max(1, min(jobs, self.requested_workers))
        import ray

        cpus = int(ray.cluster_resources().get("CPU", 1))
        return max(1, min(jobs, cpus // max(1, self.settings.threads)))

    def run(
        self, jobs: Sequence[tuple[int, Job]], *, cancel: threading.Event | None = None
    ) -> Iterator[JobResult]:
        """Yield one JobResult per job as actors finish them (completion order).

        Setting ``cancel`` stops reading results; the caller then shuts Ray down, which
        ends the actors (their writes are atomic, so only whole outputs exist).
        """
        if not jobs:
            return
        by_index = dict(jobs)
        items = [
            {"index": index, "source": str(job.source), "dest": str(job.dest)}
            for index, job in jobs
        ]
        self.stats.workers = self.worker_count(len(items))
        for row in self._rows(items, RemoveActor, (self.settings,), self.stats.workers, cancel):
            self.stats.add(row)
            yield _job_result(by_index[int(row["index"])], row)

    def second_opinion(
        self, flagged: Sequence[JobResult], model: str, *, below: float,
        cancel: threading.Event | None = None,
    ) -> Iterator[Verdict]:
        """Re-cut each flagged result with ``model`` on the cluster (completion order)."""
        by_index = {result.index: result for result in flagged}
        items = [
            {"index": r.index, "source": str(r.job.source), "dest": str(r.job.dest),
             "first": json.dumps(asdict(r.confidence) if r.confidence else None)}
            for r in flagged
        ]
        workers = self.worker_count(len(items))
        actor_args = (self.settings, model, below)
        for row in self._rows(items, SecondOpinionActor, actor_args, workers, cancel):
            first = by_index[int(row["index"])]
            judged = json.loads(str(row["verdict"]))
            assert first.confidence is not None  # flagged results are judged ones
            second = judged["second"]
            yield Verdict(first.job.source, first.job.dest, first.confidence,
                          Confidence(**second) if second else None, judged["kept"], model,
                          error=str(judged["error"]), ms=float(judged["ms"]))

    def _rows(
        self, items: list[dict[str, Any]], actor: type, actor_args: tuple[Any, ...],
        workers: int, cancel: threading.Event | None,
    ) -> Iterator[dict[str, Any]]:
        """Rows of ``items`` mapped by a pool of ``workers`` actors, one item per task."""
        import ray.data

        dataset = ray.data.from_items(
            items, override_num_blocks=min(len(items), MAX_BLOCKS)
        ).map_batches(
            actor,
            fn_constructor_args=actor_args,
            compute=ray.data.ActorPoolStrategy(size=workers),
            batch_size=1,  # one image per call; blocks of one image make one per task
            num_cpus=self.settings.threads,
        )
        for row in dataset.iter_rows():
            if cancel is not None and cancel.is_set():
                return
            yield row


def init_arguments(address: str | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """``ray.init`` keywords: join ``address`` (else ``$RAY_ADDRESS``, as Ray's own tools do),
    or start a private cluster on this machine, never silently joining one that ``ray start``
    left running (``--ray-address auto`` does that)."""
    joined = address or environ.get("RAY_ADDRESS") or None
    env = {name: environ[name] for name in FORWARDED_ENV if name in environ}
    arguments: dict[str, Any] = {
        "address": joined or "local",
        "include_dashboard": False,
        "logging_level": logging.WARNING,
        "log_to_driver": False,
        "runtime_env": {"env_vars": env} if env else None,
    }
    if joined in (None, "local"):
        arguments["_system_config"] = dict(PRIVATE_CLUSTER_CONFIG)
    return arguments


def _job_result(job: Job, row: dict[str, Any]) -> JobResult:
    timings = StageTimings(**json.loads(str(row["timings"])))
    judged = json.loads(str(row["confidence"]))
    return JobResult(
        index=int(row["index"]),
        job=job,
        status=str(row["status"]),  # type: ignore[arg-type]
        error=str(row["error"]),
        provider=str(row["provider"]),
        timings=timings,
        notes=list(json.loads(str(row["notes"]))),
        bytes_written=int(row["bytes"]),
        confidence=Confidence(**judged) if judged else None,
    )
