"""Choosing how images are drawn: Sixel, Kitty graphics, coloured half-cells or unicode shades.

The terminal is asked once, when this module is first imported, so it must be imported
before the app starts (Textual reads stdin from then on; app.py imports it first). The
answers also fix the cell size in pixels, which textual-image would otherwise ask for
with a 0.1 s timeout that a loaded machine misses, silently shrinking sixel previews.
"""

from __future__ import annotations

from dataclasses import dataclass

from alphacut.config import GRAPHICS_MODES
from alphacut.tui.terminal_probe import (
    TerminalReport,
    multiplexer,
    probe_terminal,
    window_cell_px,
)

# VT340 cells: what textual-image assumes too when the terminal gives no size.
DEFAULT_CELL_PX = (10, 20)
MAX_SIXEL_COLORS = 256


@dataclass(frozen=True)
class TerminalGraphics:
    """What the terminal can draw and how big its cells are, as measured at start-up."""

    report: TerminalReport
    cell_px: tuple[int, int]
    cell_px_source: str
    multiplexer: str = ""

    @property
    def sixel_colors(self) -> int:
        """Palette size for sixel images: what the terminal has, at most 256."""
        registers = self.report.color_registers or MAX_SIXEL_COLORS
        return max(2, min(MAX_SIXEL_COLORS, registers))


@dataclass(frozen=True)
class GraphicsChoice:
    """A concrete mode (never ``auto``) and why it was chosen, in words for the help screen."""

    mode: str
    reason: str


def measure_terminal(report: TerminalReport) -> TerminalGraphics:
    """Combine the probe's answers with the kernel's window size into one record."""
    from_window = window_cell_px()
    if from_window is not None:
        cell, source = from_window, "window size"
    elif report.cell_px is not None:
        cell, source = report.cell_px, "terminal reply"
    else:
        cell, source = DEFAULT_CELL_PX, "assumed"
    return TerminalGraphics(report, cell, source, multiplexer())


def choose(setting: str, terminal: TerminalGraphics) -> GraphicsChoice:
    """What ``setting`` means in ``terminal``; ``auto`` picks a pixel protocol only when reported.

    Sixel comes before Kitty, as in textual-image: terminals that answer both (Konsole,
    WezTerm) draw sixel correctly but not Kitty's unicode placeholders; Kitty has no sixel.
    Without either, coloured half-cells look far better than textual-image's greyscale
    shading and work everywhere with 24-bit colour.
    """
    if setting != "auto":
        return GraphicsChoice(setting, f"{setting} was chosen (--graphics or the g key)")
    report = terminal.report
    name, version = report.program()
    # XTVERSION names the program that answered: over SSH that is how tmux shows itself.
    who = f"{name} {_dotted(version)}".strip() if name else "the terminal"
    mux = terminal.multiplexer or ("tmux" if name == "tmux" else "")
    if mux and name != mux:
        who += f" through {mux}"
    if report.sixel:
        return GraphicsChoice("sixel", f"{who} reports sixel graphics (DA1 4)")
    if report.kitty:
        if kitty_placeholders(name, version):
            return GraphicsChoice("kitty", f"{who} answered the Kitty graphics query and "
                                  "draws unicode placeholders")
        return GraphicsChoice("halfcell", f"{who} speaks Kitty graphics but not its unicode "
                              "placeholders (kitty ≥ 0.28, Ghostty), which textual-image "
                              "draws with")
    if not report.answered:
        return GraphicsChoice("halfcell", f"no graphics protocol known: {report.note}")
    reason = f"{who} reports neither sixel nor Kitty graphics"
    if mux == "tmux":
        reason += " (tmux passes sixel from 3.4 when built with it)"
    return GraphicsChoice("halfcell", reason)


def kitty_placeholders(name: str, version: tuple[int, ...]) -> bool:
    """Whether a terminal draws Kitty graphics through unicode placeholders (U=1).

    textual-image places Kitty images only that way; kitty added it in 0.28. Konsole and
    WezTerm answer the graphics query but show the placeholder glyphs instead.
    """
    return (name == "kitty" and version >= (0, 28)) or name == "ghostty"


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def describe(setting: str, terminal: TerminalGraphics) -> str:
    """One line for the help screen: the mode in use, why, and the pixel geometry."""
    choice = choose(setting, terminal)
    text = f"{choice.mode} ({setting}): {choice.reason}"
    if choice.mode in ("sixel", "kitty"):
        width, height = terminal.cell_px
        text += f"; cells {width}×{height} px ({terminal.cell_px_source})"
    if choice.mode == "sixel":
        text += f", {terminal.sixel_colors} colours"
    return text


def install_cell_size(terminal: TerminalGraphics) -> None:
    """Hand our cell size to textual-image, so it never asks the terminal itself.

    textual-image caches its answer on the function object (``_result``); a test checks
    that this still takes effect, should a later version cache elsewhere.
    """
    from textual_image._terminal import CellSize, get_cell_size

    get_cell_size._result = CellSize(*terminal.cell_px)  # type: ignore[attr-defined]


TERMINAL: TerminalGraphics = measure_terminal(probe_terminal())
install_cell_size(TERMINAL)


def resolve_mode(mode: str) -> str:
    """A concrete mode (never ``auto``) for this terminal."""
    return choose(mode, TERMINAL).mode


def next_mode(mode: str) -> str:
    """The mode after ``mode`` in the ``g`` key's cycle."""
    index = GRAPHICS_MODES.index(mode) if mode in GRAPHICS_MODES else 0
    return GRAPHICS_MODES[(index + 1) % len(GRAPHICS_MODES)]


def is_pixel_mode(mode: str) -> bool:
    """Whether the terminal draws real pixels (so images need the full cell resolution)."""
    return resolve_mode(mode) in ("kitty", "sixel")


def cell_size() -> tuple[int, int]:
    """The terminal's cell size in pixels (width, height)."""
    return TERMINAL.cell_px
