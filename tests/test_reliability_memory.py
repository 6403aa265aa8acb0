"""The memory benchmark: its arithmetic, a real (short) batch, and its pass/fail gates.

The long run (300 images) is a benchmark, not a test: ``python -m alphacut.bench.memory``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphacut.bench.memory import main, run_benchmark, slope_per_100, summarise


def test_slope_and_growth_flag_a_leak_but_not_noise() -> None:
    rng = np.random.default_rng(0)
    noisy = list(300 + rng.normal(0, 3, 300))  # allocator jitter around a flat line
    leaky = [300 + 0.5 * i + rng.normal(0, 3) for i in range(300)]  # 0.5 MB per image
    flat = summarise(noisy, warmup=30, start_mb=250, peak_mb=310)
    leak = summarise(leaky, warmup=30, start_mb=250, peak_mb=450)
    assert abs(flat.slope_mb_per_100) < 2 and flat.flat(25)
    assert leak.slope_mb_per_100 == pytest.approx(50, abs=3) and not leak.flat(25)
    assert leak.rss_after_warmup_mb == pytest.approx(leaky[29], abs=0.1)
    assert leak.rss_end_mb == pytest.approx(leaky[-1], abs=0.1)
    assert leak.peak_rss_mb >= max(leaky) - 0.1  # a sample above ru_maxrss still counts
    assert slope_per_100([5.0]) == 0.0
    with pytest.raises(ValueError):
        summarise([1.0, 2.0], warmup=2, start_mb=0, peak_mb=0)


def _images(folder: Path, count: int = 3) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_short_real_batch_is_measured(remover, tmp_path: Path) -> None:
    folder = _images(tmp_path / "in")
    out = tmp_path / "out"
    images = sorted(folder.iterdir())
    report = run_benchmark(remover, images, out, count=5, warmup=2)
    assert report.images == 5 and report.failed == 0 and report.distinct_inputs == 3
    assert report.provider == "cpu"
    assert 0 < report.rss_start_mb <= report.peak_rss_mb
    assert report.rss_max_sampled_mb <= report.peak_rss_mb
    assert report.mean_megapixels == pytest.approx(0.0048, abs=1e-3)
    assert sorted(p.name for p in out.iterdir()) == ["0000.png", "0001.png", "0002.png"]


def test_command_reports_json_and_enforces_its_gates(
    tmp_path: Path, home_with_model: Path, capsys
) -> None:
    folder = _images(tmp_path / "in", count=2)
    # ONNX Runtime's arena grows over a new session's first runs, so a 4-image run is not
    # a flatness measurement; the gates are what is checked here.
    args = ["--images", str(folder), "--count", "4", "--warmup", "2", "--json"]
    assert main([*args, "--max-growth-mb", "100000"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["images"] == 4 and record["warmup"] == 2 and record["flat"] is True
    assert record["peak_rss_mb"] >= record["rss_end_mb"] > 0
    assert main([*args, "--max-growth-mb", "100000", "--max-peak-mb", "1"]) == 1
    assert "above --max-peak-mb 1" in capsys.readouterr().err
    assert main(["--images", str(tmp_path / "missing")]) == 2


def test_same_benchmark_through_alphacut_bench_memory(
    tmp_path: Path, home_with_model: Path, capsys
) -> None:
    from alphacut.cli import main as cli_main

    folder = _images(tmp_path / "in", count=2)
    args = ["bench", "memory", "--images", str(folder), "--count", "3", "--warmup", "1"]
    assert cli_main([*args, "--json", "--max-growth-mb", "100000"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["images"] == 3 and record["warmup"] == 1
    # By default it measures the adapter 'alphacut remove' would use.
    from alphacut.pipeline.remover import Remover

    assert record["provider"] == Remover.open("u2netp").provider
    assert record["refine"] == "matting"
    assert cli_main([*args, "--json", "--max-growth-mb", "100000", "--refine", "none"]) == 0
    assert json.loads(capsys.readouterr().out)["refine"] == "none"
