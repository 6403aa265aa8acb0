"""The preview drawn by a real sixel terminal: xterm in VT340 mode on Xvfb, read back by screenshot.

The UI runs in xterm exactly as a user starts it (``alphacut DIR``, graphics ``auto``).
What it should show comes from the same app driven by Pilot in this process with the
xterm's cell size: the preview's cell rectangle and the picture handed to the image
widget. The screenshot must match that picture at that rectangle (mean colour error,
edge positions), resolve 12 px stripes, and leave nothing of earlier pictures behind.
Skips where Xvfb, xterm, xwd, ImageMagick or xdotool are missing (.ci/run installs them).
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from known_pictures import disc, stripes, transitions
from PIL import Image, ImageDraw
from terminal_harness import X_TOOLS, app_env, missing, start_xterm, x_display

pytestmark = [
    pytest.mark.slow,
    pytest.mark.model,
    pytest.mark.skipif(bool(missing(X_TOOLS)), reason=f"needs {', '.join(missing(X_TOOLS))}"),
]

COLS, ROWS = 120, 36
MAX_COLOUR_ERROR = 0.10


def write_photos(folder: Path) -> None:
    folder.mkdir(parents=True)
    disc().save(folder / "a_disc.png")
    stripes().save(folder / "b_stripes.png")
    quads = Image.new("RGB", (400, 300), (0, 160, 0))
    ImageDraw.Draw(quads).rectangle((200, 0, 400, 150), fill=(250, 220, 0))
    quads.save(folder / "c_quads.png")
    split = Image.new("RGB", (300, 420), (255, 255, 255))
    ImageDraw.Draw(split).polygon([(0, 0), (300, 420), (0, 420)], fill=(200, 0, 200))
    split.save(folder / "d_split.png")


@dataclass
class Expected:
    """Where the preview image sits (cells) and what it holds, from the Pilot run."""

    image: Image.Image
    cell_rect: tuple[int, int, int, int]  # x, y, width, height in cells
    frame_rect: tuple[int, int, int, int]


async def _expected_views(folder: Path, remover, cell_px: tuple[int, int], tmp: Path,
                          steps: list[tuple[str, ...]]) -> list[Expected]:
    """For each key sequence in ``steps``: the settled preview after pressing it."""
    from alphacut.config import Settings
    from alphacut.tui import graphics
    from alphacut.tui.app import AlphacutApp
    from alphacut.tui.terminal_probe import TerminalReport
    from alphacut.tui.widgets.preview_pane import PreviewPane

    saved = graphics.TERMINAL
    graphics.TERMINAL = graphics.TerminalGraphics(
        TerminalReport(answered=True, da1=(63, 4), color_registers=256), cell_px, "test")
    graphics.install_cell_size(graphics.TERMINAL)
    app = AlphacutApp(folder, settings=Settings(graphics="auto"), settings_path=tmp / "c.toml",
                      output_dir=tmp / "out", remover=remover, live_stats=False)
    found: list[Expected] = []
    try:
        async with app.run_test(size=(COLS, ROWS)) as pilot:
            for keys in steps:
                for key in keys:
                    await pilot.press(key)
                pane = app.screen.query_one(PreviewPane)
                deadline = time.monotonic() + 60
                while True:
                    await pilot.pause(0.1)
                    title = str(pane.query_one("#preview-title").render())
                    if pane._image is not None and "…" not in title:
                        break
                    assert time.monotonic() < deadline, "Pilot preview never settled"
                # The new picture's size reaches the layout a refresh later: wait until the
                # image widget's region holds still.
                region = None
                while region != pane.query_one("#preview-image").region:
                    region = pane.query_one("#preview-image").region
                    await pilot.pause(0.2)
                frame = pane.query_one("#preview-frame").region
                found.append(Expected(pane._image.copy(), tuple(region), tuple(frame)))
    finally:
        graphics.TERMINAL = saved
        graphics.install_cell_size(saved)
    return found


def crop_cells(shot: np.ndarray, rect: tuple[int, int, int, int],
               cell: tuple[int, int]) -> np.ndarray:
    x, y, w, h = rect
    return shot[y * cell[1]:(y + h) * cell[1], x * cell[0]:(x + w) * cell[0]].astype(float)


def row_errors(shot: np.ndarray, expected: Expected, cell: tuple[int, int]) -> np.ndarray:
    """Mean absolute colour difference (0..1), drawn vs expected, for each pixel row."""
    drawn = crop_cells(shot, expected.cell_rect, cell)
    want = np.asarray(expected.image.convert("RGB").resize(
        (drawn.shape[1], drawn.shape[0]), Image.Resampling.BILINEAR), dtype=float)
    return np.abs(drawn - want).mean(axis=(1, 2)) / 255


def colour_error(shot: np.ndarray, expected: Expected, cell: tuple[int, int]) -> float:
    """Mean colour error over the picture, and over its worst sixel band (6 rows) halved.

    A band drawn in wrong colours (xterm with the palette defined mid-image) stays under
    the mean's tolerance, so the worst band counts too, with twice the tolerance.
    """
    errors = row_errors(shot, expected, cell)
    bands = [errors[i:i + 6].mean() for i in range(0, len(errors), 6)]
    return float(max(errors.mean(), max(bands) / 2))


def red_edges(row: np.ndarray) -> tuple[int, int]:
    """First and last column where red clearly beats blue."""
    red = np.flatnonzero(row[:, 0] > row[:, 2] + 80)
    return (int(red[0]), int(red[-1])) if red.size else (-1, -1)


def debris(shot: np.ndarray, expected: Expected, cell: tuple[int, int]) -> float:
    """Share of the preview frame, outside the picture, that differs from the background."""
    frame = crop_cells(shot, expected.frame_rect, cell)
    fx, fy = expected.frame_rect[:2]
    x, y, w, h = expected.cell_rect
    outside = np.ones(frame.shape[:2], bool)
    top, left = (y - fy) * cell[1], (x - fx) * cell[0]
    outside[top:top + h * cell[1], left:left + w * cell[0]] = False
    pixels = frame[outside]
    background = np.median(pixels, axis=0)
    return float((np.abs(pixels - background).max(axis=1) > 40).mean())


def matches(expected: Expected, cell: tuple[int, int]):
    return lambda shot: colour_error(shot, expected, cell) <= MAX_COLOUR_ERROR \
        and debris(shot, expected, cell) < 0.005


def explain(expected: Expected, cell: tuple[int, int]):
    def text(shot: np.ndarray) -> str:
        errors = row_errors(shot, expected, cell)
        bands = [round(float(errors[i:i + 6].mean()), 3) for i in range(0, len(errors), 6)]
        return (f"cells {expected.cell_rect} in frame {expected.frame_rect}, "
                f"mean error {errors.mean():.3f}, bands {bands}, "
                f"debris {debris(shot, expected, cell):.4f}")
    return text


def settle(term, expected: Expected, cell: tuple[int, int], timeout: float,
           what: str) -> np.ndarray:
    """The first screenshot that shows ``expected`` (fails after ``timeout`` seconds)."""
    return term.wait_for(matches(expected, cell), timeout, what, explain(expected, cell))


def test_auto_detection_in_xterm(tmp_path: Path, module_home_with_model: Path) -> None:
    """xterm -ti vt340 is detected as sixel by itself; plain xterm (VT420 id) is not."""
    script = tmp_path / "detect.py"
    script.write_text(
        "import sys\nfrom alphacut.tui import graphics\n"
        "open(sys.argv[1], 'w').write(graphics.describe('auto', graphics.TERMINAL))\n")
    with x_display() as display:
        for vt340, want in ((True, "sixel (auto)"), (False, "halfcell (auto)")):
            out = tmp_path / f"detect-{vt340}.txt"
            term = start_xterm(display, [sys.executable, str(script), str(out)],
                               app_env(module_home_with_model), tmp_path, vt340=vt340)
            term.process.wait(timeout=60)
            text = out.read_text()
            assert text.startswith(want), text
            if vt340:
                assert "DA1 4" in text and "cells 6×13 px (window size)" in text, text
                assert "256 colours" in text, text


def test_sixel_preview_in_xterm(tmp_path: Path, module_home_with_model: Path, remover) -> None:
    photos = tmp_path / "photos"
    write_photos(photos)
    with x_display() as display:
        term = start_xterm(
            display,
            [sys.executable, "-m", "alphacut", str(photos), "-o", str(tmp_path / "out"),
             "--provider", "cpu"],
            app_env(module_home_with_model), tmp_path)
        try:
            cell = term.cell_px
            assert cell == (6, 13)
            navigation = ("down", "down", "up", "down", "down", "up", "up", "up", "down", "down",
                          "down", "up", "up", "up", "down", "up", "down", "down", "up", "up")
            disc_side, disc_mask, stripes_mask, stripes_side, disc_again = asyncio.run(
                _expected_views(photos, remover, cell, tmp_path, [
                    (), ("m",), ("down",), ("m", "m", "m"), ("up", *navigation)]))
            run_xterm_checks(term, cell, disc_side, disc_mask, stripes_mask, stripes_side,
                             disc_again)
        finally:
            term.stop()


def run_xterm_checks(term, cell, disc_side, disc_mask, stripes_mask, stripes_side,
                     disc_again) -> None:
    # The photo and its cutout, side by side, at the expected cells and colours.
    shot = settle(term, disc_side, cell, 90, "the disc, side by side")
    drawn = crop_cells(shot, disc_side.cell_rect, cell)
    want = np.asarray(disc_side.image.resize((drawn.shape[1], drawn.shape[0])), dtype=float)
    middle = drawn.shape[0] // 2
    half = drawn.shape[1] // 2
    for got_edge, want_edge in zip(red_edges(drawn[middle, :half]),
                                   red_edges(want[middle, :half]), strict=True):
        assert abs(got_edge - want_edge) <= cell[0], (got_edge, want_edge)

    # The mask view shows the mask: white disc on black, edges within one cell.
    term.keys("m")
    shot = settle(term, disc_mask, cell, 30, "the mask view")
    drawn = crop_cells(shot, disc_mask.cell_rect, cell)
    want = np.asarray(disc_mask.image.resize((drawn.shape[1], drawn.shape[0])), dtype=float)
    row = drawn.shape[0] // 2
    got_white = np.flatnonzero(drawn[row, :, 0] > 128)
    want_white = np.flatnonzero(want[row, :, 0] > 128)
    assert abs(got_white[0] - want_white[0]) <= cell[0]
    assert abs(got_white[-1] - want_white[-1]) <= cell[0]

    # Another file: the disc is gone, the stripes' mask is there.
    term.keys("Down")
    settle(term, stripes_mask, cell, 30, "the stripes' mask, disc gone")

    # The stripes photo resolves: at least 20 of its transitions across a row.
    term.keys("m", "m", "m")
    shot = settle(term, stripes_side, cell, 30, "the stripes, side by side")
    drawn = crop_cells(shot, stripes_side.cell_rect, cell)
    original = drawn[:, : drawn.shape[1] // 2]
    counted = transitions(original[original.shape[0] // 2])
    assert counted >= 20, f"only {counted} of 39 stripe transitions visible"

    # Twenty moves later, the disc again and nothing of the others left around it.
    term.keys("Up", *(k.capitalize() for k in (
        "down", "down", "up", "down", "down", "up", "up", "up", "down", "down",
        "down", "up", "up", "up", "down", "up", "down", "down", "up", "up")))
    shot = settle(term, disc_again, cell, 60, "the disc after 20 moves")
    assert debris(shot, disc_again, cell) < 0.005

