"""Preview state behind the main screen: which file is shown, the cache of downscaled copies
and their masks, per-file errors and highlight-to-screen latency. No Textual in here: the
screen turns this state into widgets and runs :func:`load_and_mask` in a thread worker."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from alphacut.errors import AlphacutError
from alphacut.tui.preview_images import PreviewSource, load_preview

if TYPE_CHECKING:
    from alphacut.pipeline.remover import Remover

CACHE_SIZE = 48
MASK_DEBOUNCE_S = 0.12

Step = Literal["failed", "cached", "load"]


@dataclass(frozen=True)
class PreviewRequest:
    """What the screen must do for a file just highlighted.

    ``failed``: show the recorded error. ``cached``: show the cached copy, then run the
    worker only if ``needs_mask``. ``load``: show "loading…" and run the worker.
    """

    step: Step
    source: PreviewSource | None = None
    needs_mask: bool = False


class PreviewController:
    """The previewed file, a bounded cache of preview copies, errors and latencies."""

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self.cache_size = cache_size
        self.sources: OrderedDict[Path, PreviewSource] = OrderedDict()
        self.errors: dict[Path, str] = {}
        self.path: Path | None = None
        # Per file, milliseconds from highlight to the photo / the mask view being on screen.
        self.latency_ms: dict[Path, dict[str, float]] = {}
        self._highlighted_at: dict[Path, float] = {}
        self._mask_model = ""

    def highlight(self, path: Path | None) -> None:
        """The cursor moved to ``path`` (None: nothing previewable)."""
        self.path = path
        if path is not None:
            self._highlighted_at[path] = time.perf_counter()

    def request(self, path: Path, *, has_model: bool) -> PreviewRequest:
        """What showing ``path`` takes now."""
        if path in self.errors:
            return PreviewRequest("failed")
        source = self.sources.get(path)
        if source is None:
            return PreviewRequest("load")
        self.sources.move_to_end(path)
        return PreviewRequest("cached", source, needs_mask=source.mask is None and has_model)

    def loaded(self, source: PreviewSource) -> bool:
        """Cache a new copy (dropping the oldest past the limit); True if it is on screen."""
        self.sources[source.path] = source
        while len(self.sources) > self.cache_size:
            self.sources.popitem(last=False)
        return source.path == self.path

    def masked(self, path: Path, mask: np.ndarray, *, only_if_missing: bool = False) -> bool:
        """Attach a mask to a cached copy; True if that file is on screen."""
        source = self.sources.get(path)
        if source is None or (only_if_missing and source.mask is not None):
            return False
        source.mask = mask
        return path == self.path

    def failed(self, path: Path, reason: str) -> bool:
        """Record why ``path`` cannot be previewed; True if it is on screen."""
        self.errors[path] = reason
        return path == self.path

    def model_changed(self, model: str) -> None:
        """Masks belong to the model that made them; another adapter gives the same ones."""
        if model != self._mask_model:
            self._mask_model = model
            for source in self.sources.values():
                source.mask = None

    def shown(self, path: Path, source: PreviewSource) -> None:
        """Note the first time ``path``'s photo, then its mask view, reached the screen."""
        started = self._highlighted_at.get(path)
        if started is None:
            return
        key = "mask" if source.mask is not None else "photo"
        self.latency_ms.setdefault(path, {}).setdefault(
            key, (time.perf_counter() - started) * 1000
        )
        if source.mask is not None:
            self._highlighted_at.pop(path, None)


def load_and_mask(
    path: Path,
    source: PreviewSource | None,
    side: int,
    remover: Remover | None,
    *,
    cancelled: Callable[[], bool],
    on_loaded: Callable[[PreviewSource], None],
    on_masked: Callable[[Path, np.ndarray], None],
    on_failed: Callable[[Path, str], None],
) -> None:
    """Load a preview copy of ``path`` unless ``source`` is given, then compute its mask.

    Runs in a worker thread; results go out through the callbacks.
    """
    if source is None:
        try:
            source = load_preview(path, side)
        except AlphacutError as exc:
            on_failed(path, getattr(exc, "reason", str(exc)))
            return
        except Exception as exc:  # never let one odd file kill the worker silently
            on_failed(path, f"{exc.__class__.__name__}: {exc}")
            return
        on_loaded(source)
    if remover is None:
        return
    # Holding a key scrolls through many files: only infer where the cursor rests.
    time.sleep(MASK_DEBOUNCE_S)
    if cancelled():
        return
    try:
        mask = remover.predict_mask(source.rgb)
    except Exception as exc:
        on_failed(path, f"mask failed: {exc}")
        return
    on_masked(path, mask)
