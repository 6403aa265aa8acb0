"""alphacut: private, local AI background removal.

The public API is re-exported lazily so that ``alphacut --help`` stays fast and
never imports ONNX Runtime, NumPy or Textual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "AlphacutError",
    "Cutout",
    "Remover",
    "RemoveOptions",
    "OutputOptions",
    "__version__",
]

if TYPE_CHECKING:  # pragma: no cover
    from alphacut.errors import AlphacutError
    from alphacut.pipeline.output import OutputOptions
    from alphacut.pipeline.remover import Cutout, RemoveOptions, Remover

_LAZY = {
    "AlphacutError": "alphacut.errors",
    "Cutout": "alphacut.pipeline.remover",
    "Remover": "alphacut.pipeline.remover",
    "RemoveOptions": "alphacut.pipeline.remover",
    "OutputOptions": "alphacut.pipeline.output",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alphacut' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
