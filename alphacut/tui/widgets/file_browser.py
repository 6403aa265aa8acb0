"""The file browser: one folder's sub-folders and images, with marks and batch status."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from alphacut.tui.listing import Entry, FileStatus, list_entries

_STATE_STYLE = {
    "queued": "dim",
    "running": "bold yellow",
    "done": "green",
    "failed": "bold red",
    "skipped": "cyan",
    "cancelled": "dim",
}


class FileBrowser(OptionList):
    """Keyboard-driven list of folders and image files.

    Marks and statuses are owned by the app and passed in by reference, so the browser
    can redraw a row without copying state.
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("h,left,backspace", "parent", "Parent folder", show=False),
        Binding("l,right", "open", "Open", show=False),
    ]

    class FolderChanged(Message):
        """The browser now shows ``folder``."""

        def __init__(self, folder: Path) -> None:
            super().__init__()
            self.folder = folder

    class FileHighlighted(Message):
        """The cursor rests on an image file (``None``: on a folder)."""

        def __init__(self, path: Path | None) -> None:
            super().__init__()
            self.path = path

    class FileOpened(Message):
        """Enter or ``l`` on an image file."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def __init__(
        self,
        folder: Path,
        marks: set[Path],
        statuses: dict[Path, FileStatus],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.folder = folder
        self.marks = marks
        self.statuses = statuses
        self.show_hidden = False
        self.pattern = ""
        self.only_review = False  # list only the images whose cutouts are flagged
        self.entries: list[Entry] = []
        self._row_of: dict[Path, int] = {}

    def on_mount(self) -> None:
        self.load(self.folder)

    # -- contents ---------------------------------------------------------------------------
    def load(self, folder: Path, *, highlight: Path | None = None) -> None:
        """Show ``folder``; keep the cursor on ``highlight`` if it is listed."""
        self.folder = folder
        only = {p for p, s in self.statuses.items() if s.flagged} if self.only_review else None
        self.entries = list_entries(
            folder, show_hidden=self.show_hidden, pattern=self.pattern, only=only
        )
        self._row_of = {e.path: i for i, e in enumerate(self.entries) if not e.is_parent}
        self.set_options(Option(self._prompt(e)) for e in self.entries)
        target = self._row_of.get(highlight) if highlight else None
        if target is None:
            # Start on the first image, else the first sub-folder, else "..".
            first_file = next((i for i, e in enumerate(self.entries) if not e.is_dir), None)
            first_dir = next((i for i, e in enumerate(self.entries) if not e.is_parent), None)
            target = first_file if first_file is not None else (first_dir or 0)
        if self.entries:
            self.highlighted = target
        self.post_message(self.FolderChanged(folder))

    def reload(self) -> None:
        """Re-read the folder (after a filter or hidden-files change)."""
        current = self.current_entry
        self.load(self.folder, highlight=current.path if current else None)

    def image_paths(self) -> list[Path]:
        """The image files currently listed (after the filter)."""
        return [e.path for e in self.entries if not e.is_dir]

    def next_flagged(self) -> Path | None:
        """Move the cursor to the next listed image flagged for review (wrapping)."""
        start = -1 if self.highlighted is None else self.highlighted
        count = len(self.entries)
        for step in range(1, count + 1):
            row = (start + step) % count
            entry = self.entries[row]
            status = self.statuses.get(entry.path)
            if not entry.is_dir and status is not None and status.flagged:
                self.highlighted = row
                return entry.path
        return None

    @property
    def current_entry(self) -> Entry | None:
        if self.highlighted is None or not self.entries:
            return None
        return self.entries[self.highlighted]

    def refresh_paths(self, paths: set[Path] | list[Path]) -> None:
        """Redraw the rows of ``paths`` (mark or status changed)."""
        for path in paths:
            row = self._row_of.get(path)
            if row is not None:
                self.replace_option_prompt_at_index(row, self._prompt(self.entries[row]))

    def refresh_all(self) -> None:
        self.refresh_paths(list(self._row_of))

    def _prompt(self, entry: Entry) -> Text:
        # One row per file however narrow the pane: app.tcss cuts long rows with an ellipsis.
        if entry.is_dir:
            return Text.assemble(("  ▸ ", "bold blue"), (entry.label, "bold blue"))
        marked = entry.path in self.marks
        status = self.statuses.get(entry.path)
        flag = ("⚑ ", "bold yellow") if status is not None and status.flagged else "  "
        text = Text.assemble(("● " if marked else "  ", "bold magenta"), flag, entry.label)
        if status is not None:
            text.append("  ")
            style = "yellow" if status.flagged else _STATE_STYLE[status.state]
            text.append(status.describe(), style=style)
        return text

    # -- events and actions -----------------------------------------------------------------
    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        entry = self.entries[event.option_index]
        self.post_message(self.FileHighlighted(None if entry.is_dir else entry.path))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._open(self.entries[event.option_index])

    def action_open(self) -> None:
        if (entry := self.current_entry) is not None:
            self._open(entry)

    def action_parent(self) -> None:
        if self.folder.parent != self.folder:
            self.load(self.folder.parent, highlight=self.folder)

    def _open(self, entry: Entry) -> None:
        if entry.is_parent:
            self.action_parent()
        elif entry.is_dir:
            self.load(entry.path)
        else:
            self.post_message(self.FileOpened(entry.path))
