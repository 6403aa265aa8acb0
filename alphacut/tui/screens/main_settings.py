"""The main screen's settings actions: adapter picker and probes, output settings, graphics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from alphacut.tui import messages as msg
from alphacut.tui.adapter_choices import ProbeReport, probe_all
from alphacut.tui.graphics import TERMINAL, choose, next_mode
from alphacut.tui.screens.adapter_picker import AdapterPicker
from alphacut.tui.screens.output_settings import OutputSettingsScreen
from alphacut.tui.widgets.preview_pane import PreviewPane
from alphacut.tui.widgets.status_panel import StatusPanel

if TYPE_CHECKING:
    from textual.screen import Screen

    from alphacut.tui.session import AppSession

    _Base = Screen[None]
else:
    _Base = object


class SettingsActions(_Base):
    """Mixed into :class:`~alphacut.tui.screens.main.MainScreen`."""

    probes: ProbeReport | None
    running: bool
    session: AppSession
    _picker: AdapterPicker | None

    if TYPE_CHECKING:

        def _render_preview(self) -> None: ...

    async def action_cycle_graphics(self) -> None:
        mode = next_mode(self.session.settings.graphics)
        self.session.update_settings(graphics=mode)
        await self.query_one(PreviewPane).set_graphics(mode)
        choice = choose(mode, TERMINAL)
        self.notify(f"image rendering: {mode} → {choice.mode}: {choice.reason}", markup=False)
        self.call_after_refresh(self._render_preview)

    def action_adapters(self) -> None:
        picker = AdapterPicker(
            self.session.settings.provider, self.probes, lambda: self.start_probes(reprobe=True)
        )
        self._picker = picker
        if self.probes is None:
            self.start_probes()
        self.app.push_screen(picker, self._adapter_chosen)

    def start_probes(self, *, reprobe: bool = False) -> None:
        """Probe every adapter in a worker (cached results unless ``reprobe``)."""
        self.probes = None
        self._probe_worker(reprobe)

    @work(thread=True, exclusive=True, group="probe")
    def _probe_worker(self, reprobe: bool) -> None:
        model = self.session.resolved_model()
        if model is None:
            report = ProbeReport([], f"model {self.session.settings.model} is not downloaded")
        else:
            from alphacut.pipeline.probe_photos import probe_tensors

            report = probe_all(model.session_options(), reprobe=reprobe,
                               paths=self.session.paths, inputs=probe_tensors(model.spec))
        self.post_message(msg.ProbesDone(report))

    def on_probes_done(self, event: msg.ProbesDone) -> None:
        self.probes = event.report
        if self._picker is not None:
            self._picker.set_probes(event.report)

    def _adapter_chosen(self, label: str | None) -> None:
        self._picker = None
        if label is None or label == self.session.settings.provider:
            return
        if self.running:
            self.notify("cannot switch adapters during a run", severity="warning")
            return
        self.session.update_settings(provider=label)
        self.query_one(StatusPanel).set_adapter(f"adapter: opening {label}…")
        self.session.load_model()

    def action_output_settings(self) -> None:
        screen = OutputSettingsScreen(self.session.settings, str(self.session.output_dir(True)))
        self.app.push_screen(screen, self._output_chosen)

    def _output_chosen(self, settings: object) -> None:
        from alphacut.config import Settings

        if isinstance(settings, Settings):
            self.session.update_settings(**{
                k: getattr(settings, k)
                for k in ("output_dir", "format", "background", "crop_margin", "existing")
            })
            self.notify(f"output: {self.session.output_dir()} ({settings.format})", markup=False)
            self._render_preview()
