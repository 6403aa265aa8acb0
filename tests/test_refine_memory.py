"""A 24 MP photo goes through the whole remove, refined and decontaminated, under 1.5 GB."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphacut.bench.edge_quality import measure_peak_rss, synthetic_photo

PEAK_LIMIT_MB = 1536


@pytest.fixture(scope="module")
def photo_24mp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_photo(tmp_path_factory.mktemp("big") / "synthetic24.jpg", 24)


# The default matting gate skips this synthetic subject's plain edge (see the test below for a
# photo it solves).
@pytest.mark.parametrize("mode", ["matting"])
def test_24mp_remove_stays_under_limit(home_with_model: Path, photo_24mp: Path, mode: str) -> None:
    # A fresh interpreter, so the high-water mark is this one remove's alone.
    record = measure_peak_rss(photo_24mp, mode, True, timeout=300)
    width, height = record["size"]
    assert width * height >= 24_000_000
    assert record["refine"] == mode and record["decontaminate"] is True
    assert record["stages_ms"]["postprocess"] > 0
    assert 0 < record["peak_rss_mb"] < PEAK_LIMIT_MB, record


def test_24mp_photo_matting_solves_under_limit(
    home_with_model: Path, matting_dir: Path, tmp_path: Path
) -> None:
    # A real matte photo (troll hair) enlarged to 24 MP: the gate hands its fringe to the
    # solver, so both halves of matting run -- the band solve and the strip-wise upsampling.
    from PIL import Image

    with Image.open(matting_dir / "images" / "GT04.jpg") as small:
        scale = (24_200_000 / (small.width * small.height)) ** 0.5
        size = (round(small.width * scale), round(small.height * scale))
        small.convert("RGB").resize(size, Image.Resampling.BILINEAR).save(
            tmp_path / "hair24.jpg", quality=90
        )
    record = measure_peak_rss(tmp_path / "hair24.jpg", "matting", True, timeout=300)
    width, height = record["size"]
    assert width * height >= 24_000_000
    assert str(record["matting"]).startswith("matting "), record
    assert 0 < record["peak_rss_mb"] < PEAK_LIMIT_MB, record
