"""Our Kitty graphics output, decoded: by kitty's own parser where kitty is installed, and by
a decoder written from the protocol's specification everywhere.

No headless terminal here draws it: Debian's kitty (0.26) runs on Xvfb with Mesa but
predates the unicode placeholders (0.28) that textual-image places images with, and the
UI does not pick Kitty graphics there (see test_tui_graphics). So the test checks what a
placeholder-capable kitty receives: the transmitted picture (size, colours, detail), the
virtual placement, and the placeholder cells that point at it.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from known_pictures import disc, stripes, transitions
from PIL import Image
from rich.console import Console

from alphacut.tui import graphics
from alphacut.tui.terminal_probe import TerminalReport

CELL = (8, 17)
COLS, ROWS = 60, 20
APC = re.compile(r"\x1b_G([^;\x1b]*)(?:;([^\x1b]*))?\x1b\\")
# The first entries of kitty's rowcolumn-diacritics.txt: diacritic n encodes the number n.
SPEC_DIACRITICS = (0x0305, 0x030D, 0x030E, 0x0310, 0x0312, 0x033D, 0x033E, 0x033F)


def render_kitty(image: Image.Image, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(escape codes sent to the terminal, text drawn in the cells) for one preview image."""
    from textual_image.renderable.tgp import Image as TGPRenderable

    terminal = graphics.TerminalGraphics(TerminalReport(answered=True, kitty=True), CELL, "test")
    monkeypatch.setattr(graphics, "TERMINAL", terminal)
    graphics.install_cell_size(terminal)
    sent = io.StringIO()
    monkeypatch.setattr(sys, "__stdout__", sent)
    cells = io.StringIO()
    console = Console(file=cells, width=COLS, height=ROWS, force_terminal=True,
                      color_system="truecolor")
    try:
        console.print(TGPRenderable(image, width="auto", height="auto"))
    finally:
        graphics.install_cell_size(graphics.measure_terminal(TerminalReport()))
    return sent.getvalue(), cells.getvalue()


def decode_transmission(codes: str) -> tuple[int, Image.Image, dict[str, str]]:
    """The image id, the picture and the placement keys, read from the APC stream."""
    chunks: dict[str, list[str]] = {}
    placement: dict[str, str] = {}
    for keys, payload in APC.findall(codes):
        fields = dict(item.split("=", 1) for item in keys.split(","))
        if fields.get("a") == "p":
            placement = fields
            continue
        assert fields.get("f") == "100", "PNG payload expected"
        chunks.setdefault(fields.get("i", ""), []).append(payload)
    (image_id, parts), = chunks.items()
    picture = Image.open(io.BytesIO(base64.b64decode("".join(parts)))).convert("RGB")
    return int(image_id), picture, placement


def decode_placeholders(text: str) -> list[tuple[int, int, int]]:
    """(row, column, image id) for every placeholder cell, as kitty reads them."""
    from textual_image.renderable.tgp import _NUMBER_TO_DIACRITIC

    assert tuple(_NUMBER_TO_DIACRITIC[:len(SPEC_DIACRITICS)]) == SPEC_DIACRITICS
    lookup = {code: n for n, code in enumerate(_NUMBER_TO_DIACRITIC)}
    cells = []
    for line in text.splitlines():
        colour = re.search(r"\x1b\[38;2;(\d+);(\d+);(\d+)m", line)
        plain = re.sub(r"\x1b\[[\d;]*m", "", line)
        for match in re.finditer("\U0010eeee(.)(.)(.)", plain):
            row, col, high = (lookup[ord(c)] for c in match.groups())
            low = int(colour.group(1)) << 16 | int(colour.group(2)) << 8 | int(colour.group(3))
            cells.append((row, col, high << 24 | low))
    return cells


def test_kitty_stream_decodes_to_the_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    codes, text = render_kitty(disc(), monkeypatch)
    image_id, picture, placement = decode_transmission(codes)
    rows, cols = int(placement["r"]), int(placement["c"])
    assert placement["U"] == "1" and int(placement["i"]) == image_id
    # Drawn at the terminal's resolution: every cell gets its full 8×17 pixels.
    assert picture.size == (cols * CELL[0], rows * CELL[1])
    # A square photo in 60×20 cells of 8×17 px: full height, width by the aspect ratio.
    assert (cols, rows) == (round(ROWS * CELL[1] / CELL[0]), ROWS)
    want = np.asarray(disc().resize(picture.size, Image.Resampling.BILINEAR), dtype=float)
    assert np.abs(np.asarray(picture, dtype=float) - want).mean() / 255 <= 0.10
    # Every cell of the placement holds a placeholder for this image, in order.
    cells = decode_placeholders(text)
    assert cells == [(r, c, image_id) for r in range(rows) for c in range(cols)]


def test_kitty_stream_resolves_stripes(monkeypatch: pytest.MonkeyPatch) -> None:
    codes, _ = render_kitty(stripes(), monkeypatch)
    _, picture, _ = decode_transmission(codes)
    changes = transitions(np.asarray(picture)[picture.height // 2])
    assert changes >= 20, f"{changes} of 39 stripe transitions"


@pytest.mark.skipif(shutil.which("kitty") is None, reason="kitty is not installed")
def test_kitty_itself_decodes_our_stream(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    """kitty's C parser (kitty +runpy) reads the same bytes into the same picture."""
    codes, _ = render_kitty(disc(), monkeypatch)
    image_id, picture, _ = decode_transmission(codes)
    stream = tmp_path / "stream.bin"
    stream.write_bytes(codes.encode("ascii"))
    out = tmp_path / "decoded.bin"
    script = (
        "import sys\n"
        "from kitty.fast_data_types import Screen, parse_bytes\n"
        "class Callbacks:\n"
        "    def __getattr__(self, name): return lambda *a, **k: None\n"
        "screen = Screen(Callbacks(), 40, 100, 0, 8, 17)\n"
        f"parse_bytes(screen, open({str(stream)!r}, 'rb').read())\n"
        f"image = screen.grman.image_for_client_id({image_id})\n"
        f"open({str(out)!r}, 'wb').write(b'%d %d ' % (image['width'], image['height'])"
        " + image['data'])\n"
    )
    done = subprocess.run(["kitty", "+runpy", script], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    raw = out.read_bytes()
    width, height, data = raw.split(b" ", 2)
    assert (int(width), int(height)) == picture.size
    channels = len(data) // (picture.width * picture.height)
    decoded = np.frombuffer(data, np.uint8).reshape(picture.height, picture.width, channels)
    assert np.array_equal(decoded[..., :3], np.asarray(picture))
