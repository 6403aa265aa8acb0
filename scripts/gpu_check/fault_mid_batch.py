"""Mid-batch GPU faults on real hardware: the batch must go on on the CPU and say so.

Two runs over the same images, each printing one JSON line:

- ``injected``: the real CUDA adapter runs the first ``--fail-after`` images; from then on
  every run raises a CUDA-style error (injected here, through the backend seam, as a lost
  device would). The runner must retry that image on the CPU and finish the batch there.
- ``oom``: another process first takes almost all free GPU memory (PyTorch, when present),
  then the batch starts with ``--provider cuda``: the CUDA session fails for real and the
  batch runs on the CPU with ONNX Runtime's own error in the note.

Run from the repository root: ``python scripts/gpu_check/fault_mid_batch.py --images DIR``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from alphacut.accel.backend import Backend, RuntimeInfo, Session
from alphacut.accel.selection import default_backend

FAULT = "CUDA failure 700: an illegal memory access was encountered (injected by fault_mid_batch)"


class FailingSession:
    """A real session that raises on every run after the first ``after`` runs."""

    def __init__(self, inner: Session, after: int) -> None:
        self._inner = inner
        self._left = after

    @property
    def input_name(self) -> str:
        return self._inner.input_name

    @property
    def input_shape(self) -> tuple[int | str | None, ...]:
        return self._inner.input_shape

    def providers(self) -> list[str]:
        return self._inner.providers()

    def run(self, feeds):  # type: ignore[no-untyped-def]
        if self._left <= 0:
            raise RuntimeError(FAULT)
        self._left -= 1
        return self._inner.run(feeds)


class FaultAfter(Backend):
    """The real backend, whose accelerated sessions fail after ``after`` runs."""

    def __init__(self, inner: Backend, after: int) -> None:
        self._inner = inner
        self._after = after

    def runtime(self) -> RuntimeInfo:
        return self._inner.runtime()

    def candidates(self) -> Sequence:
        return self._inner.candidates()

    def create_session(self, model_path: Path, adapter, *, threads: int) -> Session:
        session = self._inner.create_session(model_path, adapter, threads=threads)
        return session if adapter.kind == "cpu" else FailingSession(session, self._after)


def run_batch(images: list[Path], backend: Backend | None, provider: str) -> dict[str, object]:
    """One batch through the real pipeline; what ran where, and the fallback summary."""
    from alphacut.accel import open_runner
    from alphacut.models.catalogue import get_model
    from alphacut.models.store import ModelStore
    from alphacut.pipeline.batch import BatchRunner
    from alphacut.pipeline.jobs import plan_jobs
    from alphacut.pipeline.output import OutputOptions
    from alphacut.pipeline.remover import Remover

    spec = get_model("u2netp")
    runner = open_runner(ModelStore().locate("u2netp"), provider=provider, backend=backend,
                         disabled_optimizers=spec.disabled_optimizers)
    started_on = runner.adapter.label
    output = OutputOptions(existing="overwrite")
    with tempfile.TemporaryDirectory(prefix="alphacut-fault-") as tmp:
        jobs, _ = plan_jobs(images, Path(tmp), output)
        start = time.perf_counter()
        results = list(BatchRunner(Remover(spec, runner), output).run(jobs))
        wall = time.perf_counter() - start
    return {
        "started_on": started_on,
        "reason": runner.reason,
        "notes": runner.notes,
        "finished_on": runner.adapter.label,
        "images": len(results),
        "done": sum(r.status == "done" for r in results),
        "failed": [f"{r.job.source.name}: {r.error}" for r in results if r.status != "done"],
        "fallback": [event.describe(len(results)) for event in runner.fallback_events],
        "wall_s": round(wall, 2),
    }


HOG = """
import sys, time, torch
free, total = torch.cuda.mem_get_info()
block = torch.empty(max(0, free - 64 * 2**20), dtype=torch.uint8, device="cuda")
print(f"holding {block.numel() / 2**30:.1f} GiB of {total / 2**30:.1f} GiB", flush=True)
time.sleep(float(sys.argv[1]))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--fail-after", type=int, default=10)
    parser.add_argument("--count", type=int, default=40, help="images per batch")
    parser.add_argument("--provider", default="cuda",
                        help="the adapter to fault (openvino:CPU tries the script without a GPU)")
    args = parser.parse_args(argv)
    images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    images = images[: args.count]

    injected = run_batch(images, FaultAfter(default_backend(), args.fail_after),
                         args.provider)
    print(json.dumps({"run": "injected", "fail_after": args.fail_after, **injected}), flush=True)

    hog = subprocess.Popen([sys.executable, "-c", HOG, "120"], stdout=subprocess.PIPE,
                           text=True)
    try:
        held = hog.stdout.readline().strip() if hog.stdout else ""
        oom = (run_batch(images, None, args.provider) if held
               else {"skipped": "no GPU taken (PyTorch with CUDA is needed for the hog)"})
        print(json.dumps({"run": "oom", "hog": held, **oom}), flush=True)
    finally:
        hog.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
