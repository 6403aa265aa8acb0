"""The help screen: every key, grouped the way the README lists them."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str, str], ...] = (
    ("Move", "↑ ↓ / j k", "move the cursor"),
    ("Move", "← → / h l", "parent folder / open folder or preview file"),
    ("Move", "enter", "open a folder or preview a file"),
    ("Mark", "space", "mark / unmark the highlighted file"),
    ("Mark", "a / A", "mark all images in this folder / recursively"),
    ("Mark", "u / i", "clear marks / invert marks in this folder"),
    ("Mark", "/", "filter by glob (*.jpg) or substring; empty clears"),
    ("Mark", ".", "show / hide hidden files"),
    ("Run", "r", "run the marked files (or the highlighted one)"),
    ("Run", "esc / c", "cancel the run; the current image finishes"),
    ("Review", "n / !", "next cutout flagged ⚑ for review / list only flagged files"),
    ("Review", "e", "re-run highlighted or marked files with another model or refine"),
    ("Review", "v / K / X", "compare with the re-run / keep it / discard it"),
    ("View", "m", "preview: side by side / mask / cutout / original"),
    ("View", "g", "image rendering: auto / kitty / sixel / halfcell / unicode"),
    ("Settings", "p", "adapter picker (R in the picker reprobes)"),
    ("Settings", "o", "output settings: folder, format, background, crop, overwrite"),
    ("Other", "b", "benchmark screen (when installed)"),
    ("Other", "ctrl+p", "command palette: every action by name"),
    ("Other", "?", "this help"),
    ("Other", "q", "quit (asks first while a run is active)"),
)


def keys_table(include_bench: bool) -> Table:
    table = Table(box=None, expand=False, pad_edge=False, show_header=True)
    table.add_column("", style="bold cyan")
    table.add_column("key", style="bold")
    table.add_column("does")
    last = ""
    for group, key, text in KEYS:
        if key == "b" and not include_bench:
            continue
        table.add_row(group if group != last else "", key, text)
        last = group
    return table


class HelpScreen(ModalScreen[None]):
    """Modal list of key bindings; any of esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, *, include_bench: bool, graphics: str = "") -> None:
        super().__init__()
        self.include_bench = include_bench
        self.graphics = graphics  # the image mode in use and why (graphics.describe)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static("[b]alphacut keys[/b]   (esc closes)", id="help-title")
            # Above the keys, so the mode in use and its reason show without scrolling even
            # on a short terminal (an SSH pane of 24-30 lines).
            if self.graphics:
                yield Static(f"[b]images[/b]  {escape(self.graphics)}", id="help-graphics")
            yield Static(keys_table(self.include_bench))

    def action_close(self) -> None:
        self.dismiss(None)
