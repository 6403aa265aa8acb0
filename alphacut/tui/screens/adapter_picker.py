"""The adapter picker: which execution provider runs the model, with each one's probe result."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from alphacut.tui.adapter_choices import ProbeReport


class AdapterPicker(ModalScreen[str | None]):
    """Lists ``auto`` plus every probed adapter; enter picks one, ``R`` asks for a reprobe."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("R", "reprobe", "Reprobe"),
    ]

    def __init__(
        self,
        current: str,
        probes: ProbeReport | None,
        reprobe: Callable[[], None],
    ) -> None:
        super().__init__()
        self.current = current
        self.probes = probes
        # The app owns the probe worker; it calls set_probes() when results arrive.
        self._reprobe = reprobe

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static("[b]Adapter[/b]   enter: use   R: reprobe   esc: close", id="picker-title")
            yield OptionList(id="picker-list")
            yield Static("", id="picker-note")

    def on_mount(self) -> None:
        self._fill()

    def set_probes(self, probes: ProbeReport | None) -> None:
        self.probes = probes
        if self.is_mounted:
            self._fill()

    def _fill(self) -> None:
        options = [Option(self._row("auto", "best available, CPU fallback"), id="auto")]
        for probe in self.probes.probes if self.probes else []:
            style = "green" if probe.ok else "red"
            options.append(
                Option(self._row(probe.label, probe.describe(), style), id=probe.label,
                       disabled=not probe.ok)
            )
        listing = self.query_one("#picker-list", OptionList)
        listing.set_options(options)
        ids = [o.id for o in options]
        listing.highlighted = ids.index(self.current) if self.current in ids else 0
        if self.probes is None:
            note = "probing adapters with the model (cached results are reused)…"
        else:
            note = f"preference now: {self.current}\n{self.probes.auto_reason}"
            if self.probes.cpu:
                note += f"\n{self.probes.cpu}"
        self.query_one("#picker-note", Static).update(Text(note))

    def _row(self, label: str, detail: str, style: str = "dim") -> Text:
        mark = "● " if label == self.current else "  "
        return Text.assemble((mark, "bold magenta"), (f"{label:<16}", "bold"), (detail, style))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_reprobe(self) -> None:
        self.set_probes(None)
        self._reprobe()

    def action_close(self) -> None:
        self.dismiss(None)
