"""``alphacut remove --engine ray``: plan like the local engine, run on a Ray cluster."""

from __future__ import annotations

import argparse
import sys
from itertools import chain
from pathlib import Path
from typing import Any

from alphacut.commands.batch_end import finish, stop_on_signals


def run_ray(args: argparse.Namespace, out_opts: Any, rm_opts: Any) -> int:
    """Plan (same rules and output policy as local), run on Ray, report like local."""
    from alphacut.engines import is_uri
    from alphacut.engines.ray_worker import WorkerSettings
    from alphacut.errors import AlphacutError, ConfigError, OutputExistsError
    from alphacut.pipeline.batch import JobResult, error_text
    from alphacut.pipeline.ownership import EXISTS_REASON, existing_output_action
    from alphacut.pipeline.tally import BatchTally
    from alphacut.report import BatchReporter
    from alphacut.resources import process_launched

    launched = process_launched()
    reporter = BatchReporter(json_lines=args.json, review_below=args.review_below)
    uri_mode = any(is_uri(str(p)) for p in [*args.paths, args.output])
    second_model = getattr(args, "second_opinion", None)
    if second_model and uri_mode:
        print("alphacut remove: error: --second-opinion with --engine ray needs local or "
              "shared-filesystem paths, not URIs", file=sys.stderr)
        return 2
    source_uri = out_uri = None
    try:
        if second_model:
            # As the local engine does: a second model missing here fails before the batch.
            from alphacut.models.store import ModelStore

            ModelStore().resolve(second_model)
        if uri_mode:
            from alphacut.engines.locations import open_uri, plan_uri_jobs, uri_exists

            plan = plan_uri_jobs([str(p) for p in args.paths], str(args.output), out_opts,
                                 recursive=args.recursive)
            jobs, problems = plan.jobs, plan.problems
            source_uri, out_uri = plan.source_uri, plan.out_uri
            out_root = open_uri(out_uri)

            def policy(job: Any) -> str:
                # Object stores carry no alphacut marker: --overwrite replaces what is there.
                if out_opts.existing == "overwrite" or not uri_exists(out_root, str(job.dest)):
                    return "write"
                if out_opts.existing == "skip":
                    return "skip"
                raise OutputExistsError(job.dest, EXISTS_REASON)
        else:
            jobs, problems = _plan_local(args, out_opts)

            def policy(job: Any) -> str:
                return existing_output_action(Path(job.dest), out_opts.existing)
    except AlphacutError as exc:
        print(f"alphacut remove: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
    for problem in problems:
        reporter.problem(problem.path, problem.reason)
    tally = BatchTally(problems=len(problems))
    if not jobs:
        reporter.summary_line(0, 0, len(problems), [])
        return 1 if problems else 0
    # The existing-output policy, checked once here as the local engine checks each job.
    early: list[JobResult] = []
    pending: list[tuple[int, Any]] = []
    for index, job in enumerate(jobs):
        try:
            action = policy(job)
        except AlphacutError as exc:
            early.append(JobResult(index, job, "failed", error=error_text(exc)))
            continue
        if action == "skip":
            early.append(JobResult(index, job, "skipped", error="output exists"))
        else:
            pending.append((index, job))
    settings = WorkerSettings(
        model=args.model, provider=args.provider, strict=args.strict,
        threads=args.threads or 1, precision=args.precision, remove=rm_opts, output=out_opts,
        source_uri=source_uri, out_uri=out_uri,
    )
    from alphacut.engines.ray_engine import RayEngine

    engine = RayEngine(settings, address=args.ray_address, workers=args.workers)
    reported = 0
    signum: int | None = None
    results: list[JobResult] = []
    ray_failed = False
    try:
        # ray.init installs its own SIGTERM handler: ours go in after it.
        with engine, stop_on_signals() as stop:
            workers = engine.worker_count(len(pending)) if pending else 0
            reporter.started(len(jobs), f"ray, {workers} worker(s) x {settings.threads} thread(s)")
            with reporter.progress(len(jobs)) as advance:
                for result in chain(early, engine.run(pending, cancel=stop.event)):
                    advance(result)
                    tally.add(result)
                    reported += 1
                    results.append(result)
            if second_model and stop.signum is None:
                _second_opinion(engine, second_model, results, reporter, stop.event)
            signum = stop.signum
    except Exception as exc:  # Ray's own failure (no cluster, every actor failing to start)
        print(f"alphacut remove: error: the Ray job failed: {_first_line(exc)}", file=sys.stderr)
        tally.add_unreported("failed", len(jobs) - reported)
        reported = len(jobs)
        ray_failed = True
    tally.add_unreported("cancelled", len(jobs) - reported)
    status = finish(reporter, tally, [], signum, engine.stats.as_dict(launched))
    # A failed second pass leaves every first cutout in place, but the run did not do all
    # it was asked: never exit 0 then.
    return max(status, 1) if ray_failed else status


def _second_opinion(engine: Any, model: str, results: list[Any], reporter: Any,
                    cancel: Any) -> None:
    """Re-cut the flagged cutouts with the second model on the cluster, as the local engine."""
    from alphacut.pipeline.second_opinion import flagged

    below = reporter.review_below
    chosen = flagged(sorted(results, key=lambda r: r.index), below)  # input order
    if not chosen:
        return
    with reporter.second_opinion(model, len(chosen)) as verdict:
        for outcome in engine.second_opinion(chosen, model, below=below, cancel=cancel):
            verdict(outcome)


def _plan_local(args: argparse.Namespace, out_opts: Any) -> tuple[list[Any], list[Any]]:
    """The local planner and output checks, exactly as ``alphacut remove`` runs them."""
    from alphacut.pipeline.jobs import plan_jobs
    from alphacut.pipeline.output import check_writable, clean_stray_temps

    out = Path(args.output)
    jobs, problems = plan_jobs([Path(p) for p in args.paths], out, out_opts,
                               recursive=args.recursive)
    if jobs:
        check_writable(out)
        # Once, here: on a cluster a worker cannot tell a live writer on another node
        # from a dead one by its pid, so workers never clean temp files.
        for folder in {Path(job.dest).parent for job in jobs}:
            clean_stray_temps(folder)
    return jobs, problems


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else exc.__class__.__name__
