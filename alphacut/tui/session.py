"""What screens may ask of the running app: session settings, the model, output choices.

Screens type ``self.app`` as this protocol rather than importing the app class, so the app
can import its screens without the screens importing it back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from textual.screen import Screen

    from alphacut.config import Settings
    from alphacut.models.store import ResolvedModel
    from alphacut.paths import AppPaths
    from alphacut.pipeline.output import OutputOptions
    from alphacut.pipeline.remover import RemoveOptions, Remover


class AppSession(Protocol):
    """The state and services ``AlphacutApp`` offers its screens."""

    settings: Settings
    paths: AppPaths
    remover: Remover | None
    model_error: str
    live_stats: bool
    exit_when_idle: bool
    bench_screen: Callable[[], Screen] | None

    def update_settings(self, **changes: object) -> None: ...

    def output_dir(self, ignore_cli: bool = False) -> Path: ...

    def background_rgb(self) -> tuple[int, int, int] | None: ...

    def output_options(self) -> OutputOptions: ...

    def resolved_model(self) -> ResolvedModel | None: ...

    def load_model(self) -> None: ...

    def cached_models(self) -> list[str]: ...

    def open_remover(self, model: str, options: RemoveOptions) -> Remover: ...
