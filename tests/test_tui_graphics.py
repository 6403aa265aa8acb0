"""Graphics auto-detection and the sixel palette, against scripted terminals on a real pty."""

from __future__ import annotations

import os
import pty
import re
import threading
import time

import pytest
from PIL import Image

from alphacut.tui import graphics
from alphacut.tui.graphics import TerminalGraphics, choose, describe
from alphacut.tui.sixel_palette import palette_first
from alphacut.tui.terminal_probe import (
    DA1_QUERY,
    KITTY_QUERY,
    TerminalReport,
    parse_replies,
    probe_terminal,
)

XTERM_VT340 = "\x1b[?1;0;256S\x1b[?1;0;256S\x1bP>|XTerm(379)\x1b\\\x1b[?63;1;2;4;6;9;15;16;22;28c"
KITTY_026 = "\x1b_Gi=31;OK\x1b\\\x1b[6;17;8t\x1bP>|kitty(0.26.5)\x1b\\\x1b[?62;c"
TMUX_33 = "\x1bP>|tmux 3.3a\x1b\\\x1b[?1;2c"


class ScriptedTerminal:
    """The far side of a pty: waits for DA1, then answers ``reply`` after ``delay`` seconds."""

    def __init__(self, reply: str | None, delay: float) -> None:
        self.master, slave = pty.openpty()
        self.tty_in = os.fdopen(slave, "r")
        self.tty_out = os.fdopen(os.dup(slave), "w")
        self.reply, self.delay, self.asked = reply, delay, ""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while DA1_QUERY not in self.asked:
            self.asked += os.read(self.master, 4096).decode("latin-1")
        if self.reply is not None:
            time.sleep(self.delay)
            os.write(self.master, self.reply.encode("latin-1"))

    def close(self) -> None:
        self.tty_in.close()
        self.tty_out.close()
        os.close(self.master)


@pytest.mark.parametrize("delay", [0.0, 0.4])
def test_probe_waits_for_the_da1_reply(delay: float) -> None:
    """A terminal that answers late (a loaded machine, SSH) is still recognised as sixel.

    textual-image gives each answer 0.1 s; 0.4 s is what a busy 2-core host can take.
    """
    terminal = ScriptedTerminal(XTERM_VT340, delay)
    try:
        report = probe_terminal(terminal.tty_in, terminal.tty_out, timeout=5)
    finally:
        terminal.close()
    assert report.sixel and report.answered
    assert report.color_registers == 256
    assert report.program() == ("xterm", (379,))
    assert KITTY_QUERY in terminal.asked and terminal.asked.endswith(DA1_QUERY)


def test_probe_gives_up_on_a_silent_terminal() -> None:
    terminal = ScriptedTerminal(None, 0)
    try:
        started = time.monotonic()
        report = probe_terminal(terminal.tty_in, terminal.tty_out, timeout=0.3)
        took = time.monotonic() - started
    finally:
        terminal.close()
    assert not report.answered and "no answer" in report.note
    assert took < 5
    assert choose("auto", TerminalGraphics(report, (10, 20), "assumed")).mode == "halfcell"


def test_probe_asks_nothing_without_a_terminal(tmp_path) -> None:
    with open(tmp_path / "out", "w+") as not_a_tty:
        report = probe_terminal(not_a_tty, not_a_tty)
    assert report == TerminalReport(note="stdin/stdout is not a terminal")


def test_parse_replies() -> None:
    kitty = parse_replies(KITTY_026)
    assert kitty.kitty and not kitty.sixel
    assert kitty.cell_px == (8, 17)
    assert kitty.program() == ("kitty", (0, 26, 5))
    tmux = parse_replies(TMUX_33)
    assert tmux.answered and not tmux.sixel and not tmux.kitty
    assert tmux.program() == ("tmux", (3, 3))
    assert parse_replies("\x1b[?1;2c").program() == ("", ())
    assert not parse_replies("garbage").answered


def _terminal(replies: str, mux: str = "") -> TerminalGraphics:
    return TerminalGraphics(parse_replies(replies), (6, 13), "window size", mux)


def test_auto_picks_sixel_before_kitty_and_explains() -> None:
    both = _terminal("\x1b_Gi=31;OK\x1b\\\x1bP>|WezTerm 20240203\x1b\\\x1b[?65;4;6c")
    assert choose("auto", both).mode == "sixel"
    assert "DA1 4" in choose("auto", both).reason
    assert describe("auto", both).startswith("sixel (auto): ")
    assert "cells 6×13 px (window size), 256 colours" in describe("auto", both)


def test_kitty_only_where_unicode_placeholders_work() -> None:
    old = choose("auto", _terminal(KITTY_026))
    assert old.mode == "halfcell" and "kitty 0.26.5" in old.reason
    assert "placeholders" in old.reason
    new = _terminal("\x1b_Gi=31;OK\x1b\\\x1bP>|kitty(0.35.2)\x1b\\\x1b[?62;c")
    assert choose("auto", new).mode == "kitty"
    unnamed = choose("auto", _terminal("\x1b_Gi=31;OK\x1b\\\x1b[?62;c"))
    assert unnamed.mode == "halfcell" and unnamed.reason.startswith("the terminal speaks")
    inside = _terminal("\x1b[?1;2c", "tmux")  # tmux that does not answer XTVERSION
    assert choose("auto", inside).reason.startswith("the terminal through tmux reports")


def test_tmux_gets_halfcell_or_sixel_when_it_passes_sixel() -> None:
    plain = choose("auto", _terminal(TMUX_33, "tmux"))
    assert plain.mode == "halfcell" and plain.reason.startswith("tmux 3.3 reports neither")
    assert "3.4" in plain.reason
    sixel_tmux = _terminal("\x1bP>|tmux 3.4\x1b\\\x1b[?1;2;4c", "tmux")
    assert choose("auto", sixel_tmux).mode == "sixel"


def test_explicit_setting_overrides_detection() -> None:
    xterm = _terminal(XTERM_VT340)
    for mode in ("kitty", "sixel", "halfcell", "unicode"):
        choice = choose(mode, xterm)
        assert choice.mode == mode and "--graphics" in choice.reason
    assert describe("halfcell", xterm) == (
        "halfcell (halfcell): halfcell was chosen (--graphics or the g key)")


def test_cell_size_reaches_textual_image(monkeypatch: pytest.MonkeyPatch) -> None:
    from textual_image._terminal import get_cell_size

    saved = graphics.TERMINAL
    try:
        graphics.install_cell_size(_terminal(XTERM_VT340))
        assert tuple(get_cell_size()) == (6, 13)
    finally:
        graphics.install_cell_size(saved)
    assert tuple(get_cell_size()) == saved.cell_px


def test_image_widget_uses_the_terminal_palette(monkeypatch: pytest.MonkeyPatch) -> None:
    from alphacut.tui.widgets.image_widgets import PreviewSixelImage, image_widget

    small = TerminalGraphics(TerminalReport(answered=True, da1=(63, 4), color_registers=16),
                             (6, 13), "test")
    monkeypatch.setattr(graphics, "TERMINAL", small)
    widget = image_widget("auto")
    assert isinstance(widget, PreviewSixelImage)
    assert widget._sixel_options.colors == 16
    assert type(image_widget("halfcell")).__name__ == "HalfcellImage"
    assert type(image_widget("kitty")).__name__ == "TGPImage"


def test_palette_comes_before_any_pixel() -> None:
    from textual_image._sixel import image_to_sixels

    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (10, 0, 20, 20))
    image.paste((0, 0, 0), (0, 12, 40, 20))  # a colour first used in the third band
    original = image_to_sixels(image)
    fixed = palette_first(original)
    header = re.match(r'\x1bP[\d;]*q"[\d;]*', fixed).group(0)
    rest = fixed[len(header):]
    palette = re.match(r"(#\d+;2;\d+;\d+;\d+)*", rest).group(0)
    definition = re.compile(r"(#\d+);2;\d+;\d+;\d+")
    assert sorted(definition.findall(palette)) == ["#0", "#1", "#2"]
    assert set(re.findall(r"#\d+;2;[\d;]+", original)) == set(re.findall(r"#\d+;2;[\d;]+", palette))
    assert ";2;" not in rest[len(palette):]
    # The same drawing: with definitions turned into plain selections both streams agree.
    assert definition.sub(r"\1", original) == header + rest[len(palette):]
