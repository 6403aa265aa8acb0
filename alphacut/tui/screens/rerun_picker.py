"""Choose the model and refine setting to re-run the highlighted or marked files with."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from alphacut.choices import REFINE_MODES
from alphacut.tui.review_queue import RerunChoice


class RerunPicker(ModalScreen[RerunChoice | None]):
    """One row per model and refine setting: enter re-runs with it, esc goes back."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Back")]

    def __init__(self, models: list[str], current: RerunChoice, count: int) -> None:
        super().__init__()
        # The current setting last: the first rows are the ones worth trying.
        self.choices = [RerunChoice(m, r) for m in models for r in REFINE_MODES
                        if RerunChoice(m, r) != current] + [current]
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical(id="rerun-box"):
            yield Static(
                f"Re-run {self.count} file(s) with… The cutouts already written stay until "
                "you keep a new one ([b]c[/b] compares, [b]K[/b] keeps, [b]X[/b] discards)."
            )
            yield OptionList(*(Option(c.label) for c in self.choices), id="rerun-choices")
            yield Static("[b]enter[/b] re-run    [b]esc[/b] back")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choices[event.option_index])
