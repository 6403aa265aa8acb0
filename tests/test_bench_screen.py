"""Pilot tests of the benchmark screen and the latency chart it draws."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from textual.app import App
from textual.widgets import DataTable, Input, OptionList, SelectionList, Static

from alphacut.bench import history
from alphacut.bench.chart import latency_chart, series_from_result
from alphacut.paths import AppPaths
from alphacut.tui.bench_screen import BenchScreen

SIZE = (140, 50)


class Host(App[None]):
    """The smallest app that can show the screen: it only provides ``paths``."""

    def __init__(self, screen: BenchScreen) -> None:
        super().__init__()
        self.paths = AppPaths.from_env()
        self._bench = screen

    def on_mount(self) -> None:
        self.push_screen(self._bench)


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.1)


@pytest.fixture
def one_image(tmp_path: Path) -> tuple[Path, ...]:
    path = tmp_path / "one.jpg"
    Image.new("RGB", (320, 240), (90, 120, 200)).save(path)
    return (path,)


@pytest.mark.model
def test_run_fills_table_chart_verdict_and_saves(one_image, model_file: Path) -> None:
    async def scenario() -> None:
        screen = BenchScreen(images=one_image, providers=("cpu",), model_path=model_file)
        app = Host(screen)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            runs = screen.query_one("#bench-runs", Input)
            runs.value = "1"
            await pilot.press("s")
            await wait_for(pilot, lambda: screen.last_result is not None)
            table = screen.query_one("#bench-table", DataTable)
            assert table.row_count == 1
            assert table.get_row_at(0)[0] == "cpu"
            verdict = str(screen.query_one("#bench-verdict", Static).render())
            assert "Verdict:" in verdict and "nothing to compare" in verdict
            chart = str(screen.query_one("#bench-chart", Static).render())
            assert "inference ms per call" in chart
            assert screen.saved_path is not None and screen.saved_path.is_file()
            past = screen.query_one("#bench-history", OptionList)
            assert past.option_count == 1
            # Opening the saved run shows the same table.
            screen.query_one("#bench-table", DataTable).clear()
            past.highlighted = 0
            past.action_select()
            await pilot.pause()
            assert screen.query_one("#bench-table", DataTable).row_count == 1

    asyncio.run(scenario())


@pytest.mark.model
def test_cancel_stops_a_long_run_early(one_image, model_file: Path) -> None:
    async def scenario() -> None:
        screen = BenchScreen(images=one_image, providers=("cpu",), model_path=model_file)
        async with Host(screen).run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen.query_one("#bench-runs", Input).value = "500"
            await pilot.press("s")
            # Any "run N/500" message: the timed runs have begun.
            await wait_for(pilot, lambda: "/500" in str(
                screen.query_one("#bench-status", Static).render()))
            await pilot.press("c")
            await wait_for(pilot, lambda: not screen.running)
            assert screen.last_result is not None and screen.last_result["cancelled"] is True
            assert "cancelled" in str(screen.query_one("#bench-notes", Static).render())

    asyncio.run(scenario())


def test_start_refuses_zero_runs_and_lists_skipped_adapters(isolated_home: Path) -> None:
    async def scenario() -> None:
        screen = BenchScreen(providers=("cpu",))
        async with Host(screen).run_test(size=SIZE) as pilot:
            await pilot.pause()
            screen._fill_adapters(("cpu",), {"openvino:GPU": "no GPU render node"})
            adapters = screen.query_one("#bench-adapters", SelectionList)
            assert adapters.option_count == 2
            assert adapters.get_option_at_index(1).disabled
            assert "no GPU render node" in str(adapters.get_option_at_index(1).prompt)
            assert adapters.selected == ["cpu"]
            screen.query_one("#bench-runs", Input).value = "0"
            await pilot.press("s")
            assert not screen.running
            assert "at least 1" in str(screen.query_one("#bench-status", Static).render())

    asyncio.run(scenario())


def test_past_runs_from_the_cli_appear_in_the_list(isolated_home: Path) -> None:
    history.save({"kind": "hardware", "started": "2026-01-01T00:00:00", "adapters": [
        {"adapter": "cpu", "images_per_s": 3.5, "inference_ms": [10.0, 12.0]}]})

    async def scenario() -> None:
        screen = BenchScreen(providers=("cpu",))
        async with Host(screen).run_test(size=SIZE) as pilot:
            await pilot.pause()
            past = screen.query_one("#bench-history", OptionList)
            assert past.option_count == 1
            assert "cpu 3.5 img/s" in str(past.get_option_at_index(0).prompt)

    asyncio.run(scenario())


def test_latency_chart_draws_one_labelled_line_per_adapter() -> None:
    text = latency_chart({"cpu": [210.0, 220.0, 205.0], "openvino:CPU": [150.0, 160.0]},
                         width=60, height=12, color=False)
    assert "cpu" in text and "openvino:CPU" in text
    assert "inference ms per call" in text
    assert "\x1b[" not in text
    assert latency_chart({"cpu": []}) == "no latency samples yet"
    saved = {"adapters": [{"adapter": "cpu", "inference_ms": [1, 2]}]}
    assert series_from_result(saved) == {"cpu": [1.0, 2.0]}


def test_the_app_finds_the_bench_screen_for_its_b_key() -> None:
    from alphacut.tui.app import _bench_screen_factory

    assert _bench_screen_factory() is BenchScreen
