"""Throughput against rembg: ``rembg p -m MODEL IN OUT`` vs ``alphacut remove IN -o OUT``.

Both tools run as separate processes on the same folder with the same model file, on the
same machine, taking turns run by run (the order alternates, A B then B A, so neither
always runs on a warmer cache). Wall time includes each tool's start-up, as a user sees it.

Both do the same job: rembg's plain mode against ``alphacut --refine none`` (the model's mask,
upsampled), or with ``alpha_matting`` rembg ``-a`` against ``alphacut --refine matting``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alphacut.bench.stats import Ratio, percentile, round_or_none
from alphacut.errors import InputError
from alphacut.models.catalogue import DEFAULT_MODEL

ProgressCallback = Callable[[int, int, str], None]
TOOLS: tuple[str, ...] = ("alphacut", "rembg")


def default_alphacut_command() -> list[str]:
    """This interpreter running ``alphacut remove``: the build under test, not one on PATH."""
    return [sys.executable, "-m", "alphacut", "remove"]


@dataclass(frozen=True)
class ThroughputSettings:
    images: Path
    runs: int = 3
    model: str = DEFAULT_MODEL
    rembg_bin: str | None = None
    alphacut_command: tuple[str, ...] = ()
    alphacut_args: tuple[str, ...] = ()
    alpha_matting: bool = False

    @property
    def refine(self) -> str:
        """alphacut's refine mode that does the job rembg is asked to do."""
        return "matting" if self.alpha_matting else "none"

    def as_dict(self) -> dict[str, object]:
        return {
            "images": str(self.images),
            "runs": self.runs,
            "model": self.model,
            "alpha_matting": self.alpha_matting,
            "alphacut_command": list(self.alphacut_command or default_alphacut_command()),
            "alphacut_args": list(self.alphacut_args),
        }


@dataclass
class ProcessRun:
    """One timed run of one tool."""

    seconds: float
    outputs: int
    cpu_seconds: float | None = None
    peak_rss_mb: float | None = None
    error: str = ""


@dataclass
class ToolThroughput:
    tool: str
    command: list[str]
    runs: list[ProcessRun] = field(default_factory=list)

    def images_per_s(self, images: int) -> float:
        ok = [r.seconds for r in self.runs if not r.error]
        return images / percentile(ok, 50) if ok else float("nan")

    def as_dict(self, images: int) -> dict[str, object]:
        ok = [r for r in self.runs if not r.error]
        rss = [r.peak_rss_mb for r in ok if r.peak_rss_mb is not None]
        return {
            "tool": self.tool,
            "command": self.command,
            "seconds": [round(r.seconds, 3) for r in self.runs],
            "median_s": round_or_none(percentile([r.seconds for r in ok], 50), 3),
            "images_per_s": round_or_none(self.images_per_s(images), 3),
            "cpu_s": [round_or_none(r.cpu_seconds, 2) for r in self.runs],
            "peak_rss_mb": round_or_none(max(rss), 1) if rss else None,
            "errors": [r.error for r in self.runs if r.error],
        }


@dataclass
class ThroughputReport:
    settings: ThroughputSettings
    images: int
    megapixels: float
    tools: dict[str, ToolThroughput]
    speedup: Ratio
    # CPU seconds (user + system) of rembg / of alphacut per pair: on a machine shared with
    # other work, wall time follows the scheduler's share, CPU time follows the work done.
    cpu_ratio: Ratio = field(default_factory=lambda: Ratio.of_pairs([], []))
    started: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": "vs-rembg",
            "started": self.started,
            "settings": self.settings.as_dict(),
            "images": self.images,
            "mean_megapixels": round(self.megapixels, 2),
            "tools": {name: tool.as_dict(self.images) for name, tool in self.tools.items()},
            "speedup_alphacut_vs_rembg": self.speedup.as_dict(),
            "cpu_time_ratio_rembg_over_alphacut": self.cpu_ratio.as_dict(),
        }


def _image_files(folder: Path) -> list[Path]:
    from alphacut.pipeline.decode import is_image_name

    if not folder.is_dir():
        raise InputError(folder, "not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_name(p))
    if not files:
        raise InputError(folder, "no images in folder")
    return files


def _mean_megapixels(files: Sequence[Path]) -> float:
    from PIL import Image

    total = 0.0
    for path in files:
        with Image.open(path) as img:  # header only: no pixels are decoded
            total += img.width * img.height / 1e6
    return total / len(files)


def run_process(command: Sequence[str], env: dict[str, str], out_dir: Path) -> ProcessRun:
    """Run ``command`` to completion; wall time, CPU time and peak RSS of the child."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(command), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    cpu: float | None = None
    rss: float | None = None
    if hasattr(os, "wait4"):
        # wait4 hands back the child's own rusage: exact CPU time and peak RSS, no sampling.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        rss = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    else:
        proc.wait()
        seconds = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    outputs = sum(1 for p in out_dir.rglob("*") if p.is_file()) if out_dir.exists() else 0
    error = ""
    if proc.returncode != 0:
        lines = stderr.strip().splitlines() or ["no output"]
        error = f"exit {proc.returncode}: {lines[-1]}"
    return ProcessRun(seconds, outputs, cpu, rss, error)


def run_vs_rembg(
    settings: ThroughputSettings, *, on_progress: ProgressCallback | None = None
) -> ThroughputReport:
    """Time both tools ``settings.runs`` times each, interleaved, on the same folder.

    A failed run (non-zero exit, or fewer outputs than images) is kept with its error and
    left out of the ratio; the report's ``speedup.pairs`` says how many pairs counted.
    """
    from alphacut.bench.rembg import find_rembg, rembg_environment, rembg_folder_command, rembg_home
    from alphacut.models.store import ModelStore

    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    files = _image_files(settings.images)
    executable = find_rembg(settings.rembg_bin)
    model_path = ModelStore().locate(settings.model)
    ours = [*(settings.alphacut_command or default_alphacut_command())]

    def alphacut_command(source: Path, out: Path) -> list[str]:
        # The user's extra arguments come last, so they can still override --refine.
        return [*ours, str(source), "-o", str(out), "--model", settings.model,
                "--refine", settings.refine, *settings.alphacut_args]

    def rembg_command(source: Path, out: Path) -> list[str]:
        return rembg_folder_command(executable, settings.model, source, out,
                                    alpha_matting=settings.alpha_matting)

    tools = {
        "alphacut": ToolThroughput("alphacut", alphacut_command(Path("IN"), Path("OUT"))),
        "rembg": ToolThroughput("rembg", rembg_command(Path("IN"), Path("OUT"))),
    }
    total = settings.runs * 2
    step = 0
    with tempfile.TemporaryDirectory(prefix="alphacut-vs-rembg-") as tmp, rembg_home(
        settings.model, model_path
    ) as home:
        source = Path(tmp) / "in"
        source.mkdir()
        for path in files:
            # One flat folder of exactly these images: rembg globs recursively, we do not.
            (source / path.name).symlink_to(path.resolve())
        env = rembg_environment(home)
        for run in range(settings.runs):
            order = TOOLS if run % 2 == 0 else tuple(reversed(TOOLS))
            for tool in order:
                out = Path(tmp) / f"out-{tool}-{run}"
                if tool == "alphacut":
                    command = alphacut_command(source, out)
                else:
                    command = rembg_command(source, out)
                result = run_process(command, env, out)
                if not result.error and result.outputs != len(files):
                    result.error = f"wrote {result.outputs} of {len(files)} outputs"
                tools[tool].runs.append(result)
                step += 1
                if on_progress:
                    on_progress(step, total, f"{tool}: run {run + 1}: {result.seconds:.1f} s")
                _remove_tree(out)
    both_ok = [
        (ours_run, theirs)
        for ours_run, theirs in zip(tools["alphacut"].runs, tools["rembg"].runs, strict=True)
        if not ours_run.error and not theirs.error
    ]
    pairs = [(theirs.seconds, ours_run.seconds) for ours_run, theirs in both_ok]
    cpu_pairs = [
        (theirs.cpu_seconds, ours_run.cpu_seconds)
        for ours_run, theirs in both_ok
        if theirs.cpu_seconds is not None and ours_run.cpu_seconds is not None
    ]
    return ThroughputReport(
        settings=settings,
        images=len(files),
        megapixels=_mean_megapixels(files),
        tools=tools,
        # images/s ratio = rembg seconds / alphacut seconds, per interleaved pair
        speedup=Ratio.of_pairs([p[0] for p in pairs], [p[1] for p in pairs]),
        cpu_ratio=Ratio.of_pairs([p[0] for p in cpu_pairs], [p[1] for p in cpu_pairs]),
        started=started,
    )


def _remove_tree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
