"""Review flags in ``alphacut remove`` output, and the second opinion on flagged files only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from alphacut.cli import main
from alphacut.pipeline.batch import JobResult
from alphacut.pipeline.confidence import Confidence
from alphacut.pipeline.jobs import Job
from alphacut.pipeline.output import OutputOptions, write_atomic
from alphacut.pipeline.remover import Cutout
from alphacut.pipeline.second_opinion import GUARD, flagged, second_opinion
from alphacut.report import BatchReporter


def _clean(path: Path) -> Path:
    picture = Image.new("RGB", (400, 300), (245, 245, 245))
    ImageDraw.Draw(picture).ellipse((120, 60, 280, 240), fill=(200, 30, 30))
    picture.save(path)
    return path


def _noise(path: Path) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((300, 400, 3)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def two_photos(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    _clean(folder / "clean.png")
    _noise(folder / "noise.png")
    return folder


def _records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


# -- the CLI with the real default model ---------------------------------------------------


@pytest.mark.model
def test_json_and_summary_flag_the_doubtful_cutout(
    home_with_model: Path, two_photos: Path, tmp_path: Path, capsys
) -> None:
    args = ["remove", str(two_photos), "-o", str(tmp_path / "out"), "--refine", "none"]
    assert main([*args, "--json", "--provider", "cpu"]) == 0
    records = _records(capsys.readouterr().out)
    images = {Path(r["input"]).name: r for r in records if r["type"] == "image"}
    assert images["clean.png"]["review"] is False and images["clean.png"]["confidence"] > 0.9
    assert images["noise.png"]["review"] is True and images["noise.png"]["confidence"] < 0.5
    assert "unsure" in images["noise.png"]["reason"]
    (summary,) = [r for r in records if r["type"] == "summary"]
    assert [Path(r["input"]).name for r in summary["review"]] == ["noise.png"]

    assert main([*args, "--overwrite", "--provider", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "1 of 2 need review (confidence below 0.5):" in err
    assert f"{two_photos / 'noise.png'}: unsure" in err


@pytest.mark.model
def test_review_below_sets_the_threshold(
    home_with_model: Path, two_photos: Path, tmp_path: Path, capsys
) -> None:
    args = ["remove", str(two_photos), "-o", str(tmp_path / "out"), "--refine", "none", "--json"]
    assert main([*args, "--review-below", "0"]) == 0
    records = _records(capsys.readouterr().out)
    assert not any(r["review"] for r in records if r["type"] == "image")
    assert main([*args, "--review-below", "0.999", "--overwrite"]) == 0
    images = [r for r in _records(capsys.readouterr().out) if r["type"] == "image"]
    assert all(r["review"] == (r["confidence"] < 0.999) for r in images)
    assert any(r["review"] for r in images)


def test_review_below_outside_zero_to_one_is_a_usage_error(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["remove", str(tmp_path), "--review-below", "1.5"])
    assert exit_info.value.code == 2
    assert "must be between 0 and 1" in capsys.readouterr().err


@pytest.mark.model
def test_second_opinion_reruns_exactly_the_flagged_files(
    home_with_model: Path, two_photos: Path, tmp_path: Path, capsys
) -> None:
    # The default model stands in for a stronger one: what matters is which files re-run.
    args = ["remove", str(two_photos), "-o", str(tmp_path / "out"), "--refine", "none",
            "--json", "--second-opinion", "u2netp"]
    assert main(args) == 0
    records = _records(capsys.readouterr().out)
    reruns = [Path(r["input"]).name for r in records if r["type"] == "second_opinion"]
    assert reruns == ["noise.png"]
    (rerun,) = [r for r in records if r["type"] == "second_opinion"]
    assert rerun["kept"] == "second" and rerun["changed"] is True  # as sure: replaced
    assert main([*args, "--overwrite", "--review-below", "0"]) == 0
    assert not [r for r in _records(capsys.readouterr().out) if r["type"] == "second_opinion"]


def test_second_opinion_with_an_uncached_model_fails_before_the_batch(
    isolated_home: Path, two_photos: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    assert main(["remove", str(two_photos), "-o", str(out), "--second-opinion", "u2net"]) != 0
    assert "u2net" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


# -- the second opinion itself, with a fake second model ------------------------------------


class FakeSecondModel:
    """Cuts every image as a full-white alpha, with a scripted confidence per file name."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.calls: list[str] = []

    def remove(self, image: Path) -> Cutout:
        self.calls.append(image.name)
        if image.name not in self.scores:
            raise RuntimeError("model crashed")
        rgb = Image.new("RGB", (8, 6), (10, 20, 30))
        return Cutout(
            rgb=rgb, alpha=Image.new("L", (8, 6), 255), mask=np.ones((6, 8), np.float32),
            provider="fake", confidence=Confidence(self.scores[image.name], "scripted"),
        )


def _first_pass(tmp_path: Path, scores: dict[str, float | None]) -> list[JobResult]:
    out = tmp_path / "out"
    out.mkdir()
    results = []
    for index, (name, score) in enumerate(scores.items()):
        job = Job(tmp_path / name, out / f"{Path(name).stem}.png")
        if score is None:
            results.append(JobResult(index, job, "failed", error="broken"))
            continue
        # The first pass's cutout (all clear), written as alphacut writes it: only files
        # carrying alphacut's marker are ever replaced.
        write_atomic(Image.new("LA", (8, 6), (0, 0)), job.dest, OutputOptions())
        results.append(JobResult(index, job, "done", confidence=Confidence(score, "first")))
    return results


def _alpha(path: Path) -> int:
    with Image.open(path) as image:
        return image.getchannel("A").getextrema()[1]


def test_only_flagged_files_are_rerun_and_a_much_less_sure_second_is_refused(
    tmp_path: Path,
) -> None:
    results = _first_pass(tmp_path, {"a.jpg": 0.9, "b.jpg": 0.2, "c.jpg": 0.4, "d.jpg": None,
                                     "e.jpg": 0.1, "f.jpg": 0.3})
    model = FakeSecondModel({"b.jpg": 0.8, "c.jpg": 0.39 - GUARD, "e.jpg": 0.1 - GUARD / 2})
    verdicts = list(second_opinion(model, results, OutputOptions(), below=0.5, model="fake"))
    assert model.calls == ["b.jpg", "c.jpg", "e.jpg", "f.jpg"]
    assert [r.job.source.name for r in flagged(results, 0.5)] == model.calls
    kept = {v.source.name: v.kept for v in verdicts}
    assert kept == {"b.jpg": "second", "c.jpg": "first", "e.jpg": "second", "f.jpg": "first"}
    assert [v.source.name for v in verdicts if v.error] == ["f.jpg"]  # its crash kept the first
    out = tmp_path / "out"
    assert _alpha(out / "b.png") == 255 and _alpha(out / "e.png") == 255  # replaced
    assert all(_alpha(out / f"{n}.png") == 0 for n in "acf")  # untouched


def test_reporter_updates_the_review_list_after_a_second_opinion(tmp_path: Path) -> None:
    import io

    results = _first_pass(tmp_path, {"a.jpg": 0.9, "b.jpg": 0.2, "c.jpg": 0.3})
    err = io.StringIO()
    reporter = BatchReporter(err=err, out=io.StringIO())
    for result in results:
        reporter._plain(result)
    assert list(reporter.flagged) == [str(tmp_path / "b.jpg"), str(tmp_path / "c.jpg")]
    model = FakeSecondModel({"b.jpg": 0.95, "c.jpg": 0.3 - GUARD - 0.01})
    with reporter.second_opinion("fake", 2) as verdict:
        for outcome in second_opinion(model, results, OutputOptions(), below=0.5, model="fake"):
            verdict(outcome)
    reporter.summary_line(3, 0, 0, [])
    text = err.getvalue()
    assert "second opinion: 1 of 2 replaced by fake" in text
    assert "1 of 3 need review" in text and f"{tmp_path / 'c.jpg'}: first" in text
    assert list(reporter.flagged) == [str(tmp_path / "c.jpg")]
