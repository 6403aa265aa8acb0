"""Asks before quitting while a batch is running."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmQuit(ModalScreen[bool]):
    """``y`` quits (the current image still finishes writing), ``n`` or esc stays."""

    BINDINGS = [
        Binding("y", "answer(True)", "Quit"),
        Binding("n,escape", "answer(False)", "Stay"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(
                "A run is active. Quit anyway?\n"
                "The image being written finishes; the rest are not started.\n\n"
                "[b]y[/b] quit    [b]n[/b] stay"
            )

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)
