"""``alphacut bench scale``: configurations, and ratios taken per round."""

from __future__ import annotations

import pytest

from alphacut.bench.scale import Config, Run, summarise


def test_configs_parse_and_become_remove_arguments() -> None:
    assert Config.parse("local").arguments("auto") == []
    ray = Config.parse("ray:1x2")
    assert (ray.workers, ray.threads) == (1, 2)
    assert ray.arguments(None) == ["--engine", "ray", "--workers", "1", "--threads", "2"]
    assert ray.arguments("auto")[-2:] == ["--ray-address", "auto"]
    for bad in ("ray", "ray:2", "spark:2x1", "ray:ax1"):
        with pytest.raises(ValueError):
            Config.parse(bad)


def _run(config: str, round_no: int, rate: float, workers: list[float],
         wall_s: float = 10.0) -> Run:
    return Run(config=config, round=round_no, done=12, wall_s=wall_s, images_per_s=rate,
               startup_s=3.0 + round_no, image_ms_median=400.0, driver_peak_rss_mb=200.0,
               worker_peak_rss_mb=workers,
               first_output_s=(4.0 + round_no) if config != "local" else None)


def test_ratios_are_medians_of_same_round_ratios() -> None:
    configs = [Config.parse("local"), Config.parse("ray:2x1")]
    # Round 1 ran on a busier machine: both engines slowed; the per-round ratio holds.
    runs = [_run("local", 0, 2.0, [], wall_s=10.0),
            _run("ray:2x1", 0, 2.2, [500.0, 510.0], wall_s=12.5),
            _run("local", 1, 1.0, [], wall_s=20.0),
            _run("ray:2x1", 1, 0.9, [505.0, 520.0], wall_s=20.0)]
    local, ray = summarise(runs, configs)
    assert local["vs_local"] == 1.0
    assert (ray["vs_local_min"], ray["vs_local_max"]) == (0.9, 1.1)
    assert ray["vs_local"] == pytest.approx(1.0)
    assert ray["worker_peak_rss_mb"] == 520.0 and local["worker_peak_rss_mb"] is None
    assert ray["startup_s"] == 3.5
    assert ray["first_output_s"] == 4.5 and local["first_output_s"] is None
    # Whole runs: local's wall over Ray's, per round (0.8 and 1.0), then the median.
    assert ray["whole_run_vs_local"] == pytest.approx(0.9)
    assert local["whole_run_vs_local"] == 1.0
