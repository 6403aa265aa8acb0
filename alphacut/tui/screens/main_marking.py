"""The main screen's marking actions: mark, unmark, invert, recursive marks, filter, hidden."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.widgets import Input

from alphacut.tui import messages as msg
from alphacut.tui.listing import walk_images
from alphacut.tui.widgets.file_browser import FileBrowser
from alphacut.tui.widgets.status_panel import StatusPanel

if TYPE_CHECKING:
    from textual.screen import Screen

    from alphacut.tui.session import AppSession

    _Base = Screen[None]
else:
    _Base = object


class MarkingActions(_Base):
    """Mixed into :class:`~alphacut.tui.screens.main.MainScreen`; uses its ``marks``."""

    marks: set[Path]
    running: bool
    session: AppSession

    def _browser(self) -> FileBrowser:
        return self.query_one(FileBrowser)

    def _changed(self, paths: Iterable[Path]) -> None:
        self._browser().refresh_paths(list(paths))
        if not self.running:
            count = len(self.marks)
            self.query_one(StatusPanel).set_run(f"{count} marked" if count else "")

    def action_toggle_mark(self) -> None:
        entry = self._browser().current_entry
        if entry is None or entry.is_dir:
            return
        self.marks.symmetric_difference_update({entry.path})
        self._changed([entry.path])
        self._browser().action_cursor_down()

    def action_mark_all(self) -> None:
        paths = self._browser().image_paths()
        self.marks.update(paths)
        self._changed(paths)

    def action_mark_recursive(self) -> None:
        browser = self._browser()
        self._walk_worker(browser.folder, browser.show_hidden, browser.pattern,
                          self.session.output_dir())

    @work(thread=True, exclusive=True, group="walk")
    def _walk_worker(self, folder: Path, show_hidden: bool, pattern: str, out_dir: Path) -> None:
        found = walk_images(folder, show_hidden=show_hidden, pattern=pattern, exclude=out_dir)
        self.post_message(msg.MarksFound(found))

    def on_marks_found(self, event: msg.MarksFound) -> None:
        self.marks.update(event.paths)
        self._changed(event.paths)
        self.notify(f"marked {len(event.paths)} images under {self._browser().folder.name}/",
                    markup=False)

    def action_clear_marks(self) -> None:
        cleared = list(self.marks)
        self.marks.clear()
        self._changed(cleared)

    def action_invert_marks(self) -> None:
        paths = self._browser().image_paths()
        self.marks.symmetric_difference_update(paths)
        self._changed(paths)

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = self._browser().pattern
        field.display = True
        field.focus()
        self.refresh_bindings()

    def action_toggle_hidden(self) -> None:
        browser = self._browser()
        browser.show_hidden = not browser.show_hidden
        browser.reload()
