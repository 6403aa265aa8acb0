"""Pilot tests of the review queue: flags in the list, next-flagged key, filter, re-run, keep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_tui_app import make_app, sync, wait_for

from alphacut.pipeline.jobs import Job
from alphacut.tui import review_queue
from alphacut.tui.listing import FileStatus, list_entries
from alphacut.tui.screens.main import MainScreen
from alphacut.tui.screens.rerun_picker import RerunPicker
from alphacut.tui.widgets.file_browser import FileBrowser

SIZE = (120, 36)



@pytest.fixture
def review_dir(tmp_path: Path) -> Path:
    """Two clean subjects and, between them, noise the model cannot make sense of."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, box in (("a_clean.png", (120, 60, 280, 240)), ("c_clean.png", (100, 50, 300, 250))):
        picture = Image.new("RGB", (400, 300), (245, 245, 245))
        ImageDraw.Draw(picture).ellipse(box, fill=(200, 30, 30))
        picture.save(folder / name)
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((300, 400, 3)) * 255).astype(np.uint8)).save(
        folder / "b_noise.png")
    return folder


@sync
async def test_flags_next_key_filter_rerun_compare_and_keep(
    review_dir: Path, remover, tmp_path: Path
) -> None:
    app = make_app(review_dir, remover, tmp_path)
    noise = review_dir / "b_noise.png"
    output = tmp_path / "out" / "b_noise.png"
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        browser = app.query_one(FileBrowser)
        await pilot.press("a", "r")
        await wait_for(pilot, lambda: not screen.running and len(screen.statuses) == 3
                       and all(s.state == "done" for s in screen.statuses.values()), 120)
        # The noise is flagged with its reason; the clean subjects are not.
        assert screen.statuses[noise].flagged and "unsure" in screen.statuses[noise].review
        assert not any(screen.statuses[p].flagged for p in review_dir.glob("*_clean.png"))
        row = str(browser.get_option_at_index(browser._row_of[noise]).prompt)
        assert "⚑" in row and "review: unsure" in row
        # n jumps to the next flagged file, wrapping round the list.
        await pilot.press("home")
        await pilot.press("n")
        assert browser.current_entry.path == noise
        await pilot.press("down", "n")
        assert browser.current_entry.path == noise
        # ! lists only the flagged files; again lists all.
        await pilot.press("exclamation_mark")
        assert browser.image_paths() == [noise]
        await pilot.press("exclamation_mark")
        assert len(browser.image_paths()) == 3
        # e re-runs the highlighted file with another refine; nothing written is touched.
        await pilot.press("u")
        browser.highlighted = browser._row_of[noise]
        await wait_for(pilot, lambda: screen.preview_path == noise, 120)
        first_bytes = output.read_bytes()
        await pilot.press("e")
        assert isinstance(app.screen, RerunPicker)
        picker = app.screen
        assert picker.choices[0] == review_queue.RerunChoice("u2netp", "none")
        await pilot.press("enter")
        await wait_for(pilot, lambda: noise in screen.candidates and not screen.running, 120)
        candidate = screen.candidates[noise]
        assert candidate.file.is_file() and review_queue.CANDIDATES_DIR in candidate.file.parts
        assert output.read_bytes() == first_bytes
        assert set(screen.candidates) == {noise}  # only the highlighted file re-ran
        # v shows the candidate in the preview, v again the first cutout.
        await pilot.press("v")
        assert screen.show_candidate
        await pilot.press("v")
        assert not screen.show_candidate
        # K keeps it: the output is now the candidate's file, the candidate is gone.
        candidate_bytes = candidate.file.read_bytes()
        await pilot.press("K")
        assert output.read_bytes() == candidate_bytes and not candidate.file.exists()
        assert noise not in screen.candidates


@sync
async def test_discard_keeps_the_first_cutout(review_dir: Path, remover, tmp_path: Path) -> None:
    app = make_app(review_dir, remover, tmp_path)
    clean = review_dir / "a_clean.png"
    output = tmp_path / "out" / "a_clean.png"
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await pilot.press("r")  # the highlighted (first) file only
        await wait_for(pilot, lambda: not screen.running and clean in screen.statuses
                       and screen.statuses[clean].state == "done", 120)
        first_bytes = output.read_bytes()
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, RerunPicker), 120)
        await pilot.press("escape")  # esc: no re-run
        assert not screen.candidates
        await pilot.press("e", "enter")
        await wait_for(pilot, lambda: clean in screen.candidates and not screen.running, 120)
        candidate = screen.candidates[clean]
        await pilot.press("X")
        assert not candidate.file.exists() and clean not in screen.candidates
        assert output.read_bytes() == first_bytes


def test_only_lists_the_given_files_and_flag_shows_in_status(tmp_path: Path) -> None:
    for name in ("a.jpg", "b.jpg", "c.png"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    entries = list_entries(tmp_path, only={tmp_path / "b.jpg"})
    assert [e.label for e in entries if not e.is_parent] == ["sub/", "b.jpg"]
    status = FileStatus("done", ms=12.0, review="no subject found", confidence=0.0)
    assert status.flagged and status.describe() == "done 12 ms, review: no subject found"
    assert not FileStatus("done", ms=12.0).flagged


def test_candidate_paths_stay_in_the_hidden_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    job = Job(tmp_path / "in" / "x.jpg", out / "sub" / "x.png")
    choice = review_queue.RerunChoice("u2net", "matting")
    candidate = review_queue.candidate_job(job, out, choice)
    assert candidate.dest == out / review_queue.CANDIDATES_DIR / "sub" / "x.u2net-matting.png"
    assert candidate.source == job.source
