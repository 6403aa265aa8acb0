"""A terminal line chart of per-call inference latency, one line per adapter (plotext)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

# plotext draws on one module-level figure; build charts one at a time.
_FIGURE_LOCK = threading.Lock()


def latency_chart(
    series: Mapping[str, Sequence[float]], *, width: int = 70, height: int = 14, color: bool = True
) -> str:
    """Inference ms per timed call for each adapter; ANSI-coloured unless ``color`` is False."""
    import plotext

    drawn = {label: list(values) for label, values in series.items() if values}
    if not drawn:
        return "no latency samples yet"
    with _FIGURE_LOCK:
        figure = plotext.figure
        figure.clear()
        try:
            figure.plot_size(width, height)
            figure.theme("default" if color else "clear")
            for label, values in drawn.items():
                xs = list(range(1, len(values) + 1))
                figure.draw(figure.signal(xs, values).lines().label(label))
            figure.title("inference ms per call (runs in order)")
            text = str(figure.build())
        finally:
            figure.clear()
    return text if color else plotext.uncolorize(text)


def series_from_result(data: Mapping[str, object]) -> dict[str, list[float]]:
    """The ``inference_ms`` series of each adapter in a saved hardware result."""
    adapters = data.get("adapters") or []
    return {
        str(a.get("adapter")): [float(v) for v in a.get("inference_ms") or []]  # type: ignore[union-attr]
        for a in adapters  # type: ignore[union-attr]
    }
