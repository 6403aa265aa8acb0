"""Snapshot tests of the main screen, help and adapter picker (half-cell rendering pinned).

Deterministic by construction: the folder is drawn here, the model session is the CPU
one from conftest, live telemetry is off, and the picker gets fixed probe results.
Update after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the SVGs under ``tests/__snapshots__/``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from alphacut.config import Settings
from alphacut.tui.adapter_choices import AdapterProbe, ProbeReport
from alphacut.tui.app import AlphacutApp
from alphacut.tui.screens.main import MainScreen


@pytest.fixture
def drawn_folder(tmp_path: Path) -> Path:
    """Three drawn pictures and one sub-folder, identical on every machine."""
    folder = tmp_path / "photos"
    (folder / "holiday").mkdir(parents=True)
    shapes = {
        "apple.png": ((255, 255, 255), (200, 30, 30), "ellipse"),
        "box.png": ((30, 90, 160), (240, 200, 40), "rectangle"),
        "cup.png": ((20, 20, 20), (90, 200, 120), "ellipse"),
    }
    for name, (bg, fg, kind) in shapes.items():
        img = Image.new("RGB", (320, 240), bg)
        draw = ImageDraw.Draw(img)
        getattr(draw, kind)((90, 50, 230, 200), fill=fg)
        img.save(folder / name)
    return folder


def make_app(folder: Path, remover, tmp_path: Path) -> AlphacutApp:
    return AlphacutApp(
        folder,
        settings=Settings(graphics="halfcell"),
        settings_path=tmp_path / "config.toml",
        output_dir=tmp_path / "out",
        remover=remover,
        live_stats=False,
    )


async def _preview_shown(pilot) -> None:
    """Wait until the highlighted file's photo is on screen, in the 'original' view."""
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    screen.view_mode = "original"  # the photo itself: no model output in the picture
    deadline = time.monotonic() + 30
    while screen.preview_path not in screen.previews:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    screen._render_preview()
    await pilot.pause(0.1)


def test_main_screen(snap_compare, drawn_folder: Path, remover, tmp_path: Path) -> None:
    async def run_before(pilot) -> None:
        await pilot.press("space")  # mark apple.png, cursor moves to box.png
        await _preview_shown(pilot)

    app = make_app(drawn_folder, remover, tmp_path)
    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)


def test_main_screen_small_terminal(snap_compare, drawn_folder: Path, remover,
                                   tmp_path: Path) -> None:
    app = make_app(drawn_folder, remover, tmp_path)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_preview_shown)


def test_help_screen(snap_compare, drawn_folder: Path, remover, tmp_path: Path) -> None:
    async def run_before(pilot) -> None:
        await _preview_shown(pilot)
        await pilot.press("question_mark")

    app = make_app(drawn_folder, remover, tmp_path)
    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)


def test_adapter_picker(snap_compare, drawn_folder: Path, remover, tmp_path: Path) -> None:
    report = ProbeReport(
        [
            AdapterProbe("openvino:GPU", False, "skipped: no GPU render node (/dev/dri/renderD*)"),
            AdapterProbe("openvino:CPU", True, "ok, 41 ms/image"),
            AdapterProbe("cpu", True, "ok, 52 ms/image"),
        ],
        "auto → openvino:CPU: first working adapter in high-performance order, 1.27x CPU speed",
    )

    async def run_before(pilot) -> None:
        await _preview_shown(pilot)
        pilot.app.screen.probes = report
        await pilot.press("p")

    app = make_app(drawn_folder, remover, tmp_path)
    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)
