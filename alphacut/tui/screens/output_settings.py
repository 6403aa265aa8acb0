"""Output settings: folder, format, background colour, crop margin, overwrite policy."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from alphacut.config import EXISTING_POLICIES, OUTPUT_FORMATS, Settings
from alphacut.errors import ConfigError


class OutputSettingsScreen(ModalScreen[Settings | None]):
    """Edits the output part of :class:`Settings`; returns the new settings or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, settings: Settings, default_folder: str) -> None:
        super().__init__()
        self.settings = settings
        self.default_folder = default_folder

    def compose(self) -> ComposeResult:
        s = self.settings
        with Vertical(id="settings-box"):
            yield Static("[b]Output settings[/b]   enter/ctrl+s: save   esc: cancel")
            yield Label("Folder (empty: default)")
            yield Input(s.output_dir, placeholder=self.default_folder, id="set-folder")
            yield Label("Format")
            yield Select([(f, f) for f in OUTPUT_FORMATS], value=s.format, allow_blank=False,
                         id="set-format")
            yield Label("Background colour (empty: transparent)")
            yield Input(s.background, placeholder="#ffffff or white", id="set-background")
            yield Label("Crop to subject, margin in pixels (empty: no crop)")
            yield Input("" if s.crop_margin < 0 else str(s.crop_margin), placeholder="none",
                        id="set-crop", restrict=r"[0-9]*")
            yield Label("Existing outputs")
            yield Select([(p, p) for p in EXISTING_POLICIES], value=s.existing,
                         allow_blank=False, id="set-existing")
            yield Static("", id="settings-error")
            with Horizontal(id="settings-buttons"):
                yield Button("Save", variant="primary", id="settings-save")
                yield Button("Cancel", id="settings-cancel")

    def _collected(self) -> Settings:
        crop = self.query_one("#set-crop", Input).value.strip()
        return self.settings.with_changes(
            output_dir=self.query_one("#set-folder", Input).value.strip(),
            format=str(self.query_one("#set-format", Select).value),
            background=self.query_one("#set-background", Input).value.strip(),
            crop_margin=int(crop) if crop else -1,
            existing=str(self.query_one("#set-existing", Select).value),
        )

    def action_save(self) -> None:
        try:
            settings = self._collected()
            settings.validate("output settings")
        except ConfigError as exc:
            self.query_one("#settings-error", Static).update(f"[red]{exc}[/red]")
            return
        self.dismiss(settings)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "settings-save":
            self.action_save()
        else:
            self.action_cancel()
