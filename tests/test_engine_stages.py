"""One stage pipeline: ``Remover.remove`` and ``BatchRunner`` run the same timed stages,
the batch result carries the small mask on request, and one tally counts results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from alphacut.pipeline.batch import BatchRunner, JobResult
from alphacut.pipeline.jobs import Job
from alphacut.pipeline.output import OutputOptions
from alphacut.pipeline.remover import StageTimings
from alphacut.pipeline.tally import BatchTally


def _picture(path: Path) -> Path:
    image = Image.new("RGB", (160, 120), (20, 90, 200))
    image.paste((250, 210, 30), (50, 30, 110, 95))
    image.save(path)
    return path


def test_single_image_and_batch_give_the_same_mask_and_alpha(remover, tmp_path: Path) -> None:
    source = _picture(tmp_path / "in.png")
    cutout = remover.remove(source)
    job = Job(source, tmp_path / "out" / "in.png")
    (result,) = BatchRunner(remover, OutputOptions(), keep_masks=True).run([job])
    assert result.status == "done"
    assert result.mask is not None and result.mask.shape == cutout.mask.shape
    np.testing.assert_array_equal(result.mask, cutout.mask)
    with Image.open(job.dest) as written:
        np.testing.assert_array_equal(np.asarray(written.getchannel("A")),
                                      np.asarray(cutout.alpha))
    for timings in (cutout.timings, result.timings):
        assert timings.decode > 0 and timings.preprocess > 0 and timings.inference > 0
        assert timings.postprocess > 0
    assert result.timings.encode > 0 and cutout.timings.encode == 0
    assert cutout.provider == result.provider == remover.provider


def test_the_mask_travels_only_when_asked(remover, tmp_path: Path) -> None:
    source = _picture(tmp_path / "in.png")
    (result,) = BatchRunner(remover, OutputOptions()).run([Job(source, tmp_path / "o.png")])
    assert result.status == "done" and result.mask is None


def test_in_memory_images_go_through_the_same_stages(remover) -> None:
    rgba = Image.new("RGBA", (64, 48), (200, 40, 40, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    prepared = remover.load(rgba)
    assert prepared.decoded.alpha is not None and prepared.tensor.size > 0
    mask = remover.run_model(prepared)
    assert prepared.tensor.size == 0  # the input is freed once inference is done
    assert prepared.provider == remover.provider
    cutout = remover.complete(prepared, mask)
    assert cutout.alpha.getpixel((0, 0)) == 0  # the input's own transparency is kept
    assert cutout.alpha.size == (64, 48)


def test_the_confidence_reads_the_models_decoder_stages(remover) -> None:
    from alphacut.pipeline.confidence import assess

    picture = Image.new("RGB", (200, 160), (240, 240, 240))
    picture.paste((30, 60, 200), (60, 40, 140, 120))
    prepared = remover.load(picture)
    mask = remover.run_model(prepared)
    stages = list(prepared.stages)
    assert len(stages) == 5 and all(s.size == mask.size for s in stages)  # u2netp: d1..d5
    cutout = remover.complete(prepared, mask)
    assert prepared.stages == []  # freed once judged
    expected = assess(mask, [remover.recipe.to_mask(s) for s in stages])
    assert cutout.confidence == expected
    assert cutout.confidence != assess(mask) or expected.signals["stray_soft"] == 0.0


def _result(status: str, total: float = 0.0) -> JobResult:
    timings = StageTimings(inference=total)
    return JobResult(index=0, job=Job(Path("a.png"), Path("b.png")), status=status,  # type: ignore[arg-type]
                     timings=timings)


def test_tally_counts_states_in_order_and_speed_of_done_images() -> None:
    tally = BatchTally(problems=1)
    assert tally.describe() == "" and tally.mean_ms() is None and tally.images_per_s() is None
    for status, ms in (("done", 100.0), ("failed", 0.0), ("done", 300.0), ("skipped", 0.0),
                       ("cancelled", 0.0)):
        tally.add(_result(status, ms))
    assert tally.describe() == "2 done, 1 failed, 1 skipped, 1 cancelled"
    assert (tally.finished, tally.done, tally.skipped, tally.cancelled) == (5, 2, 1, 1)
    assert tally.failed == 2  # one failed job and one input refused while planning
    assert tally.last_ms == 300.0 and tally.mean_ms() == 200.0
    assert tally.images_per_s() is not None and tally.images_per_s() > 0
    assert not tally.all_done


def test_tally_all_done_needs_no_problems_and_only_done_results() -> None:
    tally = BatchTally()
    tally.add(_result("done", 5.0))
    assert tally.all_done
    tally.add(_result("skipped"))
    assert not tally.all_done
    refused = BatchTally(problems=1)
    refused.add(_result("done", 5.0))
    assert not refused.all_done


def test_tally_counts_jobs_that_never_reported() -> None:
    # The Ray engine: jobs lost with the cluster fail, jobs never started are cancelled.
    tally = BatchTally()
    tally.add(_result("done", 5.0))
    tally.add_unreported("failed", 2)
    tally.add_unreported("cancelled", 0)  # nothing left over adds no state
    assert (tally.finished, tally.done, tally.failed, tally.cancelled) == (3, 1, 2, 0)
    assert tally.describe() == "1 done, 2 failed"
