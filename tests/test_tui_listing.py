"""Browser listing, filters and preview pixels: the UI's logic without a terminal."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphacut.errors import DecodeError
from alphacut.tui.listing import FileStatus, list_entries, matches, walk_images
from alphacut.tui.preview_images import checkerboard, compose_view, fit_size, load_preview


def _touch_image(path: Path, size: tuple[int, int] = (8, 6)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 10, 10)).save(path)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("b.jpg", "a.png", "C.webp", ".hidden.jpg", "notes.txt"):
        if name.endswith(".txt"):
            (tmp_path / name).write_text("x")
        else:
            _touch_image(tmp_path / name)
    _touch_image(tmp_path / "sub" / "deep.jpg")
    _touch_image(tmp_path / ".secret" / "inside.jpg")
    return tmp_path


def test_matches_glob_and_substring() -> None:
    assert matches("IMG_001.JPG", "*.jpg")
    assert not matches("IMG_001.png", "*.jpg")
    assert matches("holiday-beach.png", "BEACH")
    assert not matches("holiday.png", "beach")
    assert matches("anything", "")


def test_list_entries_folders_first_images_only(tree: Path) -> None:
    labels = [e.label for e in list_entries(tree)]
    assert labels == ["..", "sub/", "a.png", "b.jpg", "C.webp"]
    hidden = [e.label for e in list_entries(tree, show_hidden=True)]
    assert ".hidden.jpg" in hidden and ".secret/" in hidden


def test_list_entries_filter_applies_to_images_only(tree: Path) -> None:
    labels = [e.label for e in list_entries(tree, pattern="*.jpg")]
    assert labels == ["..", "sub/", "b.jpg"]


def test_walk_images_recursive_skips_hidden(tree: Path) -> None:
    names = [p.relative_to(tree).as_posix() for p in walk_images(tree)]
    assert names == ["C.webp", "a.png", "b.jpg", "sub/deep.jpg"]
    assert len(walk_images(tree, show_hidden=True)) == 6
    # The output folder is never walked: its cutouts are not inputs.
    _touch_image(tree / "alphacut-out" / "a.png")
    assert len(walk_images(tree)) == 5
    assert len(walk_images(tree, exclude=tree / "alphacut-out")) == 4


def test_file_status_text() -> None:
    assert FileStatus("done", ms=123.4).describe() == "done 123 ms"
    assert FileStatus("failed", reason="not a recognised image format").describe() == (
        "failed: not a recognised image format"
    )
    assert FileStatus("queued").describe() == "queued"


def test_fit_size_keeps_aspect() -> None:
    assert fit_size((4000, 3000), (80, 80)) == (80, 60)
    assert fit_size((300, 4000), (80, 60)) == (4, 60)


def test_load_preview_decodes_big_jpeg_small_and_fast(tmp_path: Path) -> None:
    """A 12 MP JPEG is decoded at reduced scale (JPEG draft), well under the 300 ms budget."""
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 255, (375, 500, 3), dtype=np.uint8)
    big = Image.fromarray(noise).resize((4000, 3000), Image.Resampling.BILINEAR)
    path = tmp_path / "big.jpg"
    big.save(path, quality=90)
    start = time.perf_counter()
    source = load_preview(path, 320)
    elapsed = time.perf_counter() - start
    assert source.full_size == (4000, 3000)
    assert max(source.rgb.size) <= 640 and min(source.rgb.size) >= 320
    assert elapsed < 1.0, f"preview decode took {elapsed * 1000:.0f} ms"


def test_load_preview_applies_exif_orientation(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    Image.new("RGB", (200, 100), (0, 90, 200)).save(path, exif=exif)
    source = load_preview(path, 320)
    assert source.rgb.size == (100, 200)
    assert source.full_size == (100, 200)


def test_load_preview_corrupt_file_gives_decode_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(DecodeError) as info:
        load_preview(path)
    assert info.value.path == path


def test_compose_view_modes_fit_box_and_use_mask(tmp_path: Path) -> None:
    source = load_preview(_touch_image(tmp_path / "p.png", (400, 200)), 320)
    box = (80, 60)
    plain = compose_view(source, "cutout", box)
    assert plain.size == (80, 40)
    # Without a mask every view shows the photo itself.
    assert np.asarray(plain)[0, 0].tolist() == [200, 10, 10]
    mask = np.zeros((320, 320), np.float32)
    mask[:, :160] = 1.0  # left half is subject
    source.mask = mask
    assert compose_view(source, "mask", box).getpixel((5, 20)) == (255, 255, 255)
    assert compose_view(source, "mask", box).getpixel((75, 20)) == (0, 0, 0)
    cut = compose_view(source, "cutout", box, background=(0, 255, 0))
    assert cut.getpixel((5, 20)) == (200, 10, 10)
    assert cut.getpixel((75, 20)) == (0, 255, 0)
    side = compose_view(source, "side", box)
    assert side.width <= 80 and side.height <= 60
    assert side.getpixel((side.width - 2, 5)) in {(204, 204, 204), (153, 153, 153)}


def test_checkerboard_has_two_greys() -> None:
    board = np.asarray(checkerboard((32, 16), square=8))
    assert {tuple(v) for v in board.reshape(-1, 3)} == {(204, 204, 204), (153, 153, 153)}
