"""``alphacut remove --engine ray`` on a real two-node Ray cluster on this machine.

One module-wide cluster: a head and a second node, one CPU each, so two one-thread
actors must land one on each node. The jobs run as real CLI processes joining it with
``--ray-address``. Checked: the local engine's bytes, error rows, a killed actor (the job
still completes, nothing lost or counted twice), and an interrupted driver (only whole
files, then ``--skip-existing`` finishes).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from PIL import Image

from alphacut.pipeline.output import TEMP_MARK

pytest.importorskip("ray.data")
from ray_cluster import LocalCluster  # noqa: E402
from test_engine_ray_worker import make_photo  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.model, pytest.mark.slow]
PHOTOS = 10


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("photos")
    for i in range(PHOTOS):
        make_photo(src / f"p{i:02d}.jpg", size=(800, 600), shade=i * 12)
    return src


@pytest.fixture(scope="module")
def job_env(module_home_with_model: Path) -> dict[str, str]:
    import os

    return {**os.environ, "ALPHACUT_HOME": str(module_home_with_model),
            "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


@pytest.fixture(scope="module")
def local_run(photos: Path, job_env: dict[str, str],
              tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """The local engine's run over the same photos, started before the cluster (overlaps)."""
    out = tmp_path_factory.mktemp("local")
    job = subprocess.Popen(_cli(photos, out), env=job_env, text=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield job, out
    if job.poll() is None:  # the module failed before it needed the reference
        job.kill()
        job.communicate()


@pytest.fixture(scope="module")
def cluster(job_env: dict[str, str],
            local_run: tuple[subprocess.Popen[str], Path]) -> Iterator[LocalCluster]:
    cluster = LocalCluster.start(head_cpus=1, env=job_env)
    try:
        cluster.add_node(cpus=1, resources='{"second_node": 1}')
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def reference(local_run: tuple[subprocess.Popen[str], Path], cluster: LocalCluster) -> Path:
    """The local engine's outputs for the same photos and options."""
    job, out = local_run
    _, stderr = job.communicate(timeout=600)
    assert job.returncode == 0, stderr
    return out


def _cli(src: Path, out: Path, *extra: str) -> list[str]:
    # --refine none keeps CI short; test_engine_ray_worker checks the default (matting) path.
    return [sys.executable, "-m", "alphacut", "remove", str(src), "-o", str(out),
            "--refine", "none", *extra]


def _ray(cluster: LocalCluster, src: Path, out: Path, *extra: str) -> list[str]:
    return _cli(src, out, "--engine", "ray", "--ray-address", cluster.address, "--workers", "2",
                "--json", *extra)


def _records(stdout: str) -> tuple[list[dict], dict]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    images = [r for r in lines if r["type"] == "image"]
    summary = [r for r in lines if r["type"] == "summary"]
    assert len(summary) == 1, stdout
    return images, summary[0]


def _assert_whole_and_identical(out: Path, reference: Path) -> list[str]:
    names = sorted(p.name for p in out.iterdir() if TEMP_MARK not in p.name)
    for name in names:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
        with Image.open(out / name) as image:
            image.load()
    return names


def _first_photos(photos: Path, count: int, folder: Path) -> Path:
    """A folder holding copies of the first ``count`` module photos."""
    folder.mkdir()
    for photo in sorted(photos.iterdir())[:count]:
        (folder / photo.name).write_bytes(photo.read_bytes())
    return folder


def _cmdline(proc: psutil.Process) -> str:
    """The process's command line; "" for one that ended (or is a zombie) while we looked."""
    # Ray reaps its short-lived helper processes on its own schedule: a zombie's command
    # line cannot be read, and it is not the actor we are looking for anyway.
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _start_and_wait_for_an_output(
    cluster: LocalCluster, src: Path, out: Path
) -> tuple[subprocess.Popen[str], int]:
    """Start a Ray job; return once its first output exists, with how many do."""
    job = subprocess.Popen(_ray(cluster, src, out), env=cluster.env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and job.poll() is None:
        done = [p for p in out.glob("*.png") if TEMP_MARK not in p.name] if out.exists() else []
        if done:
            return job, len(done)
        time.sleep(0.1)
    raise AssertionError(f"no output appeared; job exited {job.returncode}")


def test_two_nodes_give_the_local_bytes_and_error_rows(
    cluster: LocalCluster, photos: Path, reference: Path, tmp_path: Path
) -> None:
    src = _first_photos(photos, 4, tmp_path / "in")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 64)
    out = tmp_path / "out"
    job = subprocess.run(_ray(cluster, src, out), env=cluster.env, capture_output=True,
                         text=True, timeout=600)
    images, summary = _records(job.stdout)
    assert job.returncode == 1, job.stderr  # one bad file: exit 1, the rest done
    status = {Path(r["input"]).name: r["status"] for r in images}
    assert status == {**{f"p{i:02d}.jpg": "done" for i in range(4)}, "broken.jpg": "failed"}
    broken = next(r for r in images if r["status"] == "failed")
    assert broken["error"] == "damaged JPEG header"  # as the local engine says it
    assert _assert_whole_and_identical(out, reference) == [f"p{i:02d}.png" for i in range(4)]
    engine = summary["engine"]
    assert engine["engine"] == "ray" and engine["workers"] == 2 and engine["threads"] == 1
    assert engine["nodes"] == 2  # one CPU per node: the two actors had to use both
    assert len(engine["worker_peak_rss_mb"]) == 2
    assert (summary["done"], summary["failed"]) == (4, 1)


def test_a_killed_actor_loses_and_repeats_nothing(
    cluster: LocalCluster, photos: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    job, written = _start_and_wait_for_an_output(cluster, photos, out)
    assert written < PHOTOS, "the job ended before an actor could be killed"
    actors = [
        proc for node in cluster.nodes
        for proc in psutil.Process(node.pid).children(recursive=True)
        if "RemoveActor" in _cmdline(proc)
    ]
    assert actors, "no RemoveActor process found"
    actors[0].send_signal(signal.SIGKILL)
    stdout, stderr = job.communicate(timeout=600)
    assert job.returncode == 0, stderr
    images, summary = _records(stdout)
    counted = Counter(Path(r["input"]).name for r in images)
    assert counted == Counter({f"p{i:02d}.jpg": 1 for i in range(PHOTOS)})
    assert all(r["status"] == "done" for r in images)
    assert summary["done"] == PHOTOS
    assert _assert_whole_and_identical(out, reference) == [f"p{i:02d}.png" for i in range(PHOTOS)]


def test_an_interrupted_driver_leaves_whole_files_and_skip_existing_finishes(
    cluster: LocalCluster, photos: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    job, _ = _start_and_wait_for_an_output(cluster, photos, out)
    job.send_signal(signal.SIGINT)
    _, stderr = job.communicate(timeout=300)
    assert job.returncode == 128 + signal.SIGINT, stderr
    assert "--skip-existing" in stderr
    first = _assert_whole_and_identical(out, reference)
    rerun = subprocess.run(_ray(cluster, photos, out, "--skip-existing"), env=cluster.env,
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    images, summary = _records(rerun.stdout)
    skipped = sorted(Path(r["output"] or r["input"]).stem for r in images
                     if r["status"] == "skipped")
    assert skipped == sorted(Path(name).stem for name in first)
    assert summary["done"] + summary["skipped"] == PHOTOS
    assert _assert_whole_and_identical(out, reference) == [f"p{i:02d}.png" for i in range(PHOTOS)]
    assert not [p for p in out.iterdir() if TEMP_MARK in p.name]


def test_a_second_opinion_runs_on_the_cluster_like_the_local_engine(
    cluster: LocalCluster, photos: Path, tmp_path: Path
) -> None:
    from test_review import _noise

    src = _first_photos(photos, 2, tmp_path / "in")
    _noise(src / "noise.png")  # the one cutout the model is unsure of
    # The default model stands in for a stronger one: what matters is what re-runs.
    options = ("--second-opinion", "u2netp", "--review-below", "0.5")
    local = subprocess.run([*_cli(src, tmp_path / "local", *options), "--json"],
                           env=cluster.env, capture_output=True, text=True, timeout=600)
    job = subprocess.run(_ray(cluster, src, tmp_path / "out", *options), env=cluster.env,
                         capture_output=True, text=True, timeout=600)
    assert local.returncode == 0 and job.returncode == 0, job.stderr

    def verdicts(stdout: str) -> list[tuple[str, str, str | None]]:
        lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        return [(Path(r["input"]).name, r["kept"], r["error"]) for r in lines
                if r["type"] == "second_opinion"]

    assert verdicts(job.stdout) == verdicts(local.stdout) == [("noise.png", "second", None)]
    assert _assert_whole_and_identical(tmp_path / "out", tmp_path / "local") == [
        "noise.png", "p00.png", "p01.png"]
