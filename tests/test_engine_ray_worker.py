"""The Ray engine's worker side, run in this process: same bytes as the local engine,
bad files as error rows, retried images counted once, URI inputs and outputs.

These need neither a Ray cluster nor Ray itself (URIs need pyarrow, which Ray brings)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from alphacut.cli import main
from alphacut.engines import is_uri
from alphacut.engines.ray_worker import ReadSources, RemoveActor, WorkerSettings
from alphacut.pipeline.output import TEMP_MARK, OutputOptions
from alphacut.pipeline.remover import RemoveOptions


def make_photo(path: Path, size: tuple[int, int] = (320, 240), shade: int = 0) -> Path:
    """A small photo-like image: a gradient with a bright subject in the middle."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w // 4, h // 5, 3 * w // 4, 4 * h // 5), fill=(230, 120 + shade, 40))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=92)
    return path


def _settings(output: OutputOptions, **kwargs: object) -> WorkerSettings:
    return WorkerSettings(model="u2netp", provider="cpu", strict=False, threads=1,
                          precision="fp32", remove=RemoveOptions(), output=output,
                          **kwargs)  # type: ignore[arg-type]


def _batch(rows: list[tuple[int, str, str]]) -> dict:
    """A batch as the actor gets it from the dataset: paths only (the actor reads)."""
    return {"index": [r[0] for r in rows], "source": [r[1] for r in rows],
            "dest": [r[2] for r in rows]}


def test_is_uri_tells_schemes_from_paths() -> None:
    assert is_uri("s3://bucket/photos") and is_uri("file:///tmp/x")
    assert not is_uri("photos/a.jpg") and not is_uri("C:/photos") and not is_uri("/tmp/x")


def test_remove_parses_uris_without_folding_slashes(tmp_path: Path, capsys) -> None:
    # The local engine refuses URIs with a usage error instead of treating them as paths.
    code = main(["remove", "s3://bucket/in", "-o", str(tmp_path / "out")])
    assert code == 2
    assert "need --engine ray" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_engine_ray_without_ray_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_photo(tmp_path / "in" / "a.jpg")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    code = main(["remove", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--engine", "ray"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "pip install 'alphacut[ray]'" in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.model
def test_actor_writes_the_local_engines_bytes_and_reports_bad_files(
    tmp_path: Path, home_with_model: Path
) -> None:
    src = tmp_path / "in"
    good = [make_photo(src / f"p{i}.jpg", shade=i * 40) for i in range(2)]
    (src / "bad.jpg").write_bytes(b"not an image at all")
    assert main(["remove", str(src), "-o", str(tmp_path / "local"), "--provider", "cpu",
                 "--threads", "1"]) == 1
    out = tmp_path / "ray"
    actor = RemoveActor(_settings(OutputOptions()))
    rows = [(i, str(p), str(out / (p.stem + ".png"))) for i, p in enumerate(good)]
    rows.append((2, str(src / "bad.jpg"), str(out / "bad.png")))
    rows.append((3, str(src / "missing.jpg"), str(out / "missing.png")))
    result = actor(_batch(rows))
    assert result["status"] == ["done", "done", "failed", "failed"]
    assert result["error"][2] == "not a recognised image format"
    assert result["error"][3] == "file not found"
    assert result["index"] == [0, 1, 2, 3]
    for path in good:
        name = path.stem + ".png"
        assert (out / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert not any(TEMP_MARK in p.name for p in out.iterdir())
    assert all(mb > 0 for mb in result["peak_rss_mb"])


@pytest.mark.model
def test_a_retried_image_counts_once_and_a_foreign_file_is_kept(
    tmp_path: Path, home_with_model: Path
) -> None:
    src = make_photo(tmp_path / "in" / "a.jpg")
    dest = tmp_path / "out" / "a.png"
    actor = RemoveActor(_settings(OutputOptions(existing="error")))
    first = actor(_batch([(0, str(src), str(dest))]))
    written = dest.read_bytes()
    # The same task again (its actor died after writing): same bytes, so done, once.
    again = actor(_batch([(0, str(src), str(dest))]))
    assert first["status"] == again["status"] == ["done"]
    assert dest.read_bytes() == written
    # A different file that appeared meanwhile is never replaced.
    dest.write_bytes(b"somebody else's file")
    third = actor(_batch([(0, str(src), str(dest))]))
    assert third["status"] == ["failed"] and "exists" in third["error"][0]
    assert dest.read_bytes() == b"somebody else's file"
    skip = RemoveActor(_settings(OutputOptions(existing="skip")))
    assert skip(_batch([(0, str(src), str(dest))]))["status"] == ["skipped"]


def test_non_regular_files_are_error_rows_not_hangs(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    batch = ReadSources(None)(_batch([(0, str(fifo), str(tmp_path / "o.png")),
                                      (1, str(tmp_path), str(tmp_path / "d.png"))]))
    assert batch["read_error"][0] == "is a FIFO (named pipe), not a regular file; skipped"
    assert batch["read_error"][1] == "is a directory"
    assert batch["data"] == [b"", b""]


@pytest.mark.model
def test_uri_inputs_and_outputs_plan_and_write_like_local(
    tmp_path: Path, home_with_model: Path
) -> None:
    pytest.importorskip("pyarrow")
    from alphacut.engines.locations import plan_uri_jobs

    src = tmp_path / "in"
    make_photo(src / "a.jpg")
    make_photo(src / "sub" / "b.jpg", shade=60)
    (src / "notes.txt").write_text("not an image")
    options = OutputOptions()
    plan = plan_uri_jobs([f"file://{src}"], f"file://{tmp_path / 'out'}", options,
                         recursive=True)
    assert plan.problems == []
    assert [(str(j.source), str(j.dest)) for j in plan.jobs] == [
        (f"{src}/a.jpg", f"{tmp_path}/out/a.png"),
        (f"{src}/sub/b.jpg", f"{tmp_path}/out/sub/b.png"),
    ]
    actor = RemoveActor(_settings(options, source_uri=plan.source_uri, out_uri=plan.out_uri))
    rows = [(i, str(j.source), str(j.dest)) for i, j in enumerate(plan.jobs)]
    result = actor(_batch(rows))
    assert result["status"] == ["done", "done"]
    assert main(["remove", str(src), "-r", "-o", str(tmp_path / "local"), "--provider", "cpu",
                 "--threads", "1"]) == 0
    for rel in ("a.png", "sub/b.png"):
        assert (tmp_path / "out" / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes()
    leftovers = [p for p in (tmp_path / "out").rglob("*") if TEMP_MARK in p.name]
    assert leftovers == []
    # An output folder inside the input tree is never planned over an input.
    same = plan_uri_jobs([f"file://{src}"], f"file://{src}", OutputOptions(format="jpg",
                         bg=(255, 255, 255)), recursive=True)
    assert [str(p.path) for p in same.problems] == [f"{src}/a.jpg", f"{src}/sub/b.jpg"]

@pytest.mark.model
def test_second_opinion_actor_replaces_a_flagged_cutout_like_the_local_engine(
    tmp_path: Path, home_with_model: Path
) -> None:
    import json

    from alphacut.engines.ray_worker import SecondOpinionActor

    src = make_photo(tmp_path / "in" / "a.jpg")
    # The local engine with the default model as its own second opinion, everything flagged.
    assert main(["remove", str(src.parent), "-o", str(tmp_path / "local"), "--provider", "cpu",
                 "--threads", "1", "--second-opinion", "u2netp", "--review-below", "1"]) == 0
    dest = tmp_path / "ray" / "a.png"
    # An alphacut cutout that differs (on white), so a replacement shows in the bytes.
    quick = _settings(OutputOptions(existing="overwrite", bg=(255, 255, 255)))
    assert RemoveActor(quick)(_batch([(7, str(src), str(dest))]))["status"] == ["done"]
    first_cut = dest.read_bytes()
    assert first_cut != (tmp_path / "local" / "a.png").read_bytes()
    actor = SecondOpinionActor(_settings(OutputOptions()), "u2netp", 1.0)
    # Less sure than any second cutout can be: the second one is kept, as locally.
    first = {"score": 0.0, "reason": "unsure", "signals": {}}
    rows = actor({"index": [7], "source": [str(src)], "dest": [str(dest)],
                  "first": [json.dumps(first)]})
    assert rows["index"] == [7]
    verdict = json.loads(rows["verdict"][0])
    assert verdict["kept"] == "second" and verdict["error"] == "", verdict
    assert 0.0 <= verdict["second"]["score"] <= 1.0
    assert dest.read_bytes() == (tmp_path / "local" / "a.png").read_bytes()
    # Only flagged cutouts are cut again: a sure first cutout is left as it is.
    assert RemoveActor(quick)(_batch([(7, str(src), str(dest))]))["status"] == ["done"]
    sure = {"score": 1.0, "reason": "", "signals": {}}
    again = actor({"index": [7], "source": [str(src)], "dest": [str(dest)],
                   "first": [json.dumps(sure)]})
    assert again == {"index": [], "verdict": []}
    assert dest.read_bytes() == first_cut


def test_second_opinion_on_ray_refuses_uris_and_a_missing_model_before_the_batch(
    tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray")
    make_photo(tmp_path / "in" / "a.jpg")
    out = tmp_path / "out"
    code = main(["remove", f"file://{tmp_path / 'in'}", "-o", f"file://{out}",
                 "--engine", "ray", "--second-opinion", "u2netp"])
    assert code == 2 and "not URIs" in capsys.readouterr().err
    code = main(["remove", str(tmp_path / "in"), "-o", str(out), "--engine", "ray",
                 "--second-opinion", "u2net"])
    assert code == 1 and "u2net" in capsys.readouterr().err
    assert not out.exists()


def test_ray_starts_a_private_cluster_unless_told_to_join():
    from alphacut.engines.ray_engine import PRIVATE_CLUSTER_CONFIG, init_arguments

    private = init_arguments(None, {"ALPHACUT_HOME": "/models"})
    # "local", not None: Ray would otherwise join a cluster `ray start` left on this machine.
    assert private["address"] == "local"
    assert private["_system_config"] == PRIVATE_CLUSTER_CONFIG
    assert private["runtime_env"] == {"env_vars": {"ALPHACUT_HOME": "/models"}}
    assert private["include_dashboard"] is False and private["log_to_driver"] is False
    # Joining: Ray refuses system settings for a cluster it did not start.
    for joined, environ in (("auto", {}), ("10.0.0.1:6379", {}), (None, {"RAY_ADDRESS": "h:1"})):
        arguments = init_arguments(joined, environ)
        assert arguments["address"] == (joined or "h:1")
        assert "_system_config" not in arguments
        assert arguments["runtime_env"] is None
