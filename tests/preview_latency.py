"""Measure keypress → drawn preview for 12 MP photos in halfcell, sixel and Kitty modes.

Not a test (timings are never asserted): run ``python tests/preview_latency.py [N]``.
The UI runs under Pilot at 120×36 with xterm's 6×13 px cells for the pixel modes; each
key press moves to a photo not seen before (cold decode). Per press it reports:
  photo: key → the photo handed to the image widget (decode, shrink, compose; wall time),
         plus the CPU time to encode what the terminal receives for it (sixel data, Kitty
         PNG/base64, or half-cell segments), measured on that same picture;
  mask:  key → the mask view's picture handed over (debounce + inference included).
The terminal's own drawing time is not included. Photos: 4000×3000 JPEGs made from the
lomiri wallpapers when /work/photos/lomiri holds them, else from noise.
"""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console

LOMIRI = Path("/work/photos/lomiri/usr/share/backgrounds")
SIZE = (4000, 3000)


def make_photos(folder: Path, count: int) -> list[Path]:
    sources = sorted(LOMIRI.glob("*.jpg")) if LOMIRI.is_dir() else []
    rng = np.random.default_rng(1)
    paths = []
    for index in range(count):
        if sources:
            with Image.open(sources[index % len(sources)]) as src:
                image = src.convert("RGB").resize(SIZE, Image.Resampling.BILINEAR)
        else:
            image = Image.fromarray(rng.integers(0, 255, (SIZE[1], SIZE[0], 3), np.uint8))
        path = folder / f"p{index:02d}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def encode_ms(mode: str, image: Image.Image, cells: tuple[int, int]) -> float:
    """CPU milliseconds to produce what the terminal receives for ``image`` in ``mode``.

    CPU time, not wall time: on a shared, loaded machine the wall time mostly measures
    the other processes.
    """
    from textual_image._pixeldata import PixelData
    from textual_image._sixel import SixelOptions, image_to_sixels
    from textual_image.renderable.halfcell import Image as Halfcell

    from alphacut.tui.sixel_palette import palette_first

    started = time.process_time()
    if mode == "sixel":
        scaled = PixelData(image).scaled(cells[0] * 6, cells[1] * 13).pil_image
        palette_first(image_to_sixels(scaled, SixelOptions(colors=256)))
    elif mode == "kitty":
        PixelData(image).scaled(cells[0] * 6, cells[1] * 13).to_base64()
    else:
        console = Console(file=io.StringIO(), width=cells[0], force_terminal=True,
                          color_system="truecolor")
        console.print(Halfcell(image, width=cells[0], height=cells[1]))
    return (time.process_time() - started) * 1000


async def measure(mode: str, folder: Path, paths: list[Path], remover) -> list[dict]:
    from alphacut.config import Settings
    from alphacut.tui import graphics
    from alphacut.tui.app import AlphacutApp
    from alphacut.tui.terminal_probe import TerminalReport
    from alphacut.tui.widgets.preview_pane import PreviewPane

    report = TerminalReport(answered=True, da1=(63, 4) if mode == "sixel" else (62,),
                            kitty=mode == "kitty", version="kitty(0.35)" if mode == "kitty"
                            else "", color_registers=256)
    graphics.TERMINAL = graphics.TerminalGraphics(report, (6, 13), "bench")
    graphics.install_cell_size(graphics.TERMINAL)
    with tempfile.TemporaryDirectory() as tmp:
        app = AlphacutApp(folder, settings=Settings(graphics="auto"),
                          settings_path=Path(tmp) / "c.toml", output_dir=Path(tmp) / "out",
                          remover=remover, live_stats=False)
        rows = []
        async with app.run_test(size=(120, 36)) as pilot:
            screen = app.screen
            pane = screen.query_one(PreviewPane)
            await pilot.pause(1.0)
            for path in paths[1:]:
                await pilot.press("down")
                deadline = time.monotonic() + 60
                while "mask" not in screen.preview_latency_ms.get(path, {}):
                    assert time.monotonic() < deadline, f"no mask for {path.name}"
                    await asyncio.sleep(0.005)
                latency = screen.preview_latency_ms[path]
                region = pane.query_one("#preview-image").region
                encode = encode_ms(mode, pane._image, (region.width, region.height))
                rows.append({"photo": latency["photo"] + encode, "mask": latency["mask"] + encode,
                             "encode": encode})
    return rows


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    from alphacut.pipeline.remover import Remover

    remover = Remover.open("u2netp", provider="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_photos(folder, count)
        print(f"{count - 1} key presses per mode, {SIZE[0]}×{SIZE[1]} JPEGs, 120×36 cells")
        print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        for mode in ("halfcell", "sixel", "kitty"):
            # textual-image sends Kitty images straight to sys.__stdout__: not to this report.
            real_stdout, sys.__stdout__ = sys.__stdout__, io.StringIO()
            try:
                rows = asyncio.run(measure(mode, folder, paths, remover))
            finally:
                sys.__stdout__ = real_stdout
            for key in ("photo", "mask", "encode"):
                values = [row[key] for row in rows]
                print(f"{mode:8s} {key:6s} median {statistics.median(values):6.0f} ms"
                      f"   max {max(values):6.0f} ms")


if __name__ == "__main__":
    main()
