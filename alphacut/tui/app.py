"""The Textual application: session state (settings, model) and the entry point ``run_app``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen

from alphacut.config import Settings, save_settings
from alphacut.errors import AlphacutError, ConfigError
from alphacut.models.store import ModelStore, ResolvedModel
from alphacut.paths import AppPaths
from alphacut.pipeline.output import OutputOptions, parse_color
from alphacut.pipeline.remover import RemoveOptions, Remover

# Imported before the app starts: textual-image asks the terminal what it supports at import.
from alphacut.tui import graphics as _graphics  # noqa: F401
from alphacut.tui import messages as msg
from alphacut.tui.screens.main import MainScreen

DEFAULT_OUTPUT_NAME = "alphacut-out"


def _bench_screen_factory() -> Callable[[], Screen] | None:
    """The benchmark screen's class when that feature is installed, else None (``b`` hidden)."""
    try:
        from alphacut.tui.bench_screen import BenchScreen  # type: ignore[import-not-found]
    except ImportError:
        return None
    return BenchScreen


class AlphacutApp(App[int]):
    """Browse a folder, preview masks, run batches. Settings persist in ``settings_path``."""

    CSS_PATH = "app.tcss"
    TITLE = "alphacut"

    def __init__(
        self,
        directory: Path,
        *,
        settings: Settings | None = None,
        settings_path: Path | None = None,
        saved_settings: Settings | None = None,
        output_dir: Path | None = None,
        paths: AppPaths | None = None,
        remover: Remover | None = None,
        live_stats: bool = True,
        exit_when_idle: bool = False,
    ) -> None:
        super().__init__()
        self.directory = directory.resolve()
        # ``settings`` is what this session uses (command-line options included);
        # ``saved_settings`` is the file's content, which only the UI's own changes touch.
        self.settings = settings or Settings()
        self.saved_settings = saved_settings or self.settings
        self.settings_path = settings_path
        self.cli_output_dir = output_dir.resolve() if output_dir else None
        self.paths = paths or AppPaths.from_env()
        self.remover: Remover | None = remover
        self.model_error = ""
        self.live_stats = live_stats
        self.exit_when_idle = exit_when_idle
        self.bench_screen = _bench_screen_factory()
        self.main_screen = MainScreen(self.directory)

    def on_mount(self) -> None:
        # A dropped SSH connection hangs the session up. Dying of SIGHUP would cut the
        # image being written in half; instead the batch stops after it and the app quits.
        with contextlib.suppress(AttributeError, NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.hang_up)

    def hang_up(self) -> None:
        """The terminal went away: finish the current image, write nothing more, quit."""
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.stop_batch()
        self.exit()

    def get_default_screen(self) -> Screen:
        return self.main_screen

    # -- settings ---------------------------------------------------------------------------
    def update_settings(self, **changes: object) -> None:
        """Apply ``changes`` now and save them; a write failure is shown, never fatal."""
        self.settings = self.settings.with_changes(**changes)
        self.saved_settings = self.saved_settings.with_changes(**changes)
        if self.settings_path is None:
            return
        try:
            save_settings(self.saved_settings, self.settings_path)
        except ConfigError as exc:
            self.notify(str(exc), severity="error", markup=False)

    def output_dir(self, ignore_cli: bool = False) -> Path:
        """Where outputs go: ``-o`` beats the settings file, which beats ``DIR/alphacut-out``."""
        if self.cli_output_dir is not None and not ignore_cli:
            return self.cli_output_dir
        if self.settings.output_dir:
            return Path(self.settings.output_dir).expanduser().resolve()
        return self.directory / DEFAULT_OUTPUT_NAME

    def background_rgb(self) -> tuple[int, int, int] | None:
        return parse_color(self.settings.background) if self.settings.background else None

    def output_options(self) -> OutputOptions:
        s = self.settings
        options = OutputOptions(
            format=s.format,  # type: ignore[arg-type]
            bg=self.background_rgb(),
            crop_margin=None if s.crop_margin < 0 else s.crop_margin,
            existing=s.existing,  # type: ignore[arg-type]
        )
        options.validate()
        return options

    def resolved_model(self) -> ResolvedModel | None:
        """The chosen model's spec and verified file, or None when it is not available."""
        try:
            return ModelStore(self.paths).resolve(self.settings.model)
        except AlphacutError:
            return None

    def cached_models(self) -> list[str]:
        """Models whose files are in the cache (checked by size; opening verifies sha256)."""
        store = ModelStore(self.paths)
        present = []
        for name in store.names():
            spec = store.spec(name)
            path = store.path_for(spec)
            if path.is_file() and path.stat().st_size == spec.size:
                present.append(name)
        return present

    def open_remover(self, model: str, options: RemoveOptions) -> Remover:
        """Another verified model on the chosen provider (for re-runs); raises AlphacutError."""
        return Remover.open(model, provider=self.settings.provider, options=options,
                            paths=self.paths)

    # -- model --------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="model")
    def load_model(self) -> None:
        """Open the model on the preferred provider, once; previews and runs reuse it."""
        try:
            remover = Remover.open(
                self.settings.model, provider=self.settings.provider, paths=self.paths
            )
        except AlphacutError as exc:
            self.post_message(msg.ModelFailed(str(exc)))
            return
        self.post_message(msg.ModelReady(remover))

    def on_model_ready(self, event: msg.ModelReady) -> None:
        self.remover = event.remover
        self.model_error = ""
        self.main_screen.post_message(msg.ModelChanged())

    def on_model_failed(self, event: msg.ModelFailed) -> None:
        self.model_error = event.error
        self.main_screen.post_message(msg.ModelChanged())

    # -- command palette ----------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if screen is self.main_screen:
            yield from self.main_screen.palette_commands()


def run_app(
    directory: Path,
    *,
    output_dir: Path | None = None,
    model: str = "",
    provider: str = "",
    graphics: str | None = None,
) -> int:
    """Open the UI on ``directory``; returns the exit status.

    Settings come from the config file. ``model`` and ``provider`` apply to this session
    only; ``graphics`` is also saved, like the ``g`` key. The adapter picker and the
    output settings screen save what the user picks there.
    """
    from alphacut.config import load_settings

    paths = AppPaths.from_env()
    saved = load_settings(paths.config_file)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: not a folder")
    if model:
        ModelStore(paths).spec(model)  # unknown names fail here, listing the known ones
    if graphics and graphics != saved.graphics:
        saved = saved.with_changes(graphics=graphics)
        saved.validate("--graphics")
        save_settings(saved, paths.config_file)
    session = saved.with_changes(
        **{k: v for k, v in (("model", model), ("provider", provider)) if v}
    )
    app = AlphacutApp(
        directory,
        settings=session,
        saved_settings=saved,
        settings_path=paths.config_file,
        output_dir=output_dir,
        paths=paths,
    )
    result = app.run()
    return int(result or 0)
