"""Which ONNX Runtime distributions are installed, checked without importing onnxruntime.

Every ONNX Runtime flavour (onnxruntime, onnxruntime-gpu, onnxruntime-openvino, …)
installs the same ``onnxruntime/`` package folder. With two installed, the one pip
wrote last silently overwrites files of the other, and the providers users paid for
disappear (rembg issue #841 and friends). The CLI calls :func:`check_flavours` at
start-up: it only reads package metadata, so it costs a few milliseconds.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass

# Distributions that ship the ``onnxruntime`` import package. Plugin EPs
# (onnxruntime-ep-*) and helpers (onnxruntime-extensions, -genai) do not, so they are
# not flavours and never conflict.
FLAVOURS: tuple[str, ...] = (
    "onnxruntime",
    "onnxruntime-gpu",
    "onnxruntime-openvino",
    "onnxruntime-directml",
    "onnxruntime-qnn",
    "onnxruntime-rocm",
    "onnxruntime-migraphx",
    "onnxruntime-vitisai",
    "onnxruntime-cann",
    "onnxruntime-silicon",
    "onnxruntime-training",
    "ort-nightly",
    "ort-nightly-gpu",
    "ort-nightly-directml",
)


@dataclass(frozen=True)
class FlavourReport:
    """Installed ONNX Runtime flavours and, when there is more than one, how to fix it."""

    installed: tuple[tuple[str, str], ...]  # (distribution, version)
    keep: str  # the flavour alphacut wants on this platform

    @property
    def conflict(self) -> bool:
        return len(self.installed) > 1

    @property
    def missing(self) -> bool:
        return not self.installed

    @property
    def fix(self) -> str:
        """Shell commands that leave exactly one flavour, reinstalled over the debris."""
        names = " ".join(name for name, _ in self.installed)
        return f"pip uninstall -y {names}; pip install --force-reinstall {self.keep}"

    def warning(self) -> str | None:
        """A loud multi-line warning when flavours conflict or none is installed, else None."""
        if self.missing:
            return (
                "alphacut: warning: no ONNX Runtime is installed; "
                f"run: pip install {self.keep}"
            )
        if not self.conflict:
            return None
        listed = ", ".join(f"{name} {version}" for name, version in self.installed)
        return (
            f"alphacut: WARNING: {len(self.installed)} ONNX Runtime flavours are installed "
            f"({listed}).\n"
            "They overwrite each other's onnxruntime/ folder, so accelerated providers may be "
            "missing or broken.\n"
            f"Fix: {self.fix}"
        )


def preferred_flavour(
    installed: Iterable[str] = (),
    platform: str = sys.platform,
    machine: str | None = None,
    chosen: str | None = None,
) -> str:
    """The flavour to keep: the one alphacut was installed for (``chosen``, from
    ``ALPHACUT_ORT``), a CUDA build the user added, else this platform's default."""
    names = set(installed)
    if chosen:
        return chosen
    if "onnxruntime-gpu" in names:
        return "onnxruntime-gpu"
    if machine is None:
        import platform as platform_module

        machine = platform_module.machine()
    if platform == "win32":
        return "onnxruntime-directml"
    if platform.startswith("linux") and machine.lower() in ("x86_64", "amd64"):
        return "onnxruntime-openvino"
    return "onnxruntime"


def installed_flavours() -> tuple[tuple[str, str], ...]:
    """(name, version) of every installed ONNX Runtime flavour, via importlib.metadata."""
    import importlib.metadata as metadata

    found: dict[str, str] = {}
    for name in FLAVOURS:
        for dist in metadata.distributions(name=name):
            found.setdefault(name, dist.version)
    return tuple(sorted(found.items()))


def chosen_flavour(requires: Iterable[str] | None = None) -> str | None:
    """onnxruntime-gpu when alphacut was installed with ``ALPHACUT_ORT=cuda``, else None.

    Read from alphacut's own installed metadata (its Requires-Dist lines).
    """
    if requires is None:
        import importlib.metadata as metadata

        try:
            requires = metadata.requires("alphacut") or []
        except metadata.PackageNotFoundError:
            return None
    for line in requires:
        if line.replace(" ", "").startswith(("onnxruntime-gpu[", "onnxruntime-gpu>",
                                             "onnxruntime-gpu=", "onnxruntime-gpu;")):
            return "onnxruntime-gpu"
    return None


def check_flavours(
    installed: tuple[tuple[str, str], ...] | None = None,
    platform: str = sys.platform,
    machine: str | None = None,
    chosen: str | None = None,
) -> FlavourReport:
    """Report the installed flavours (reads metadata only; never imports onnxruntime).

    ``chosen`` is the flavour alphacut was installed for; the real check reads it.
    """
    if installed is None:
        found = installed_flavours()
        chosen = chosen or chosen_flavour()
    else:
        found = installed
    keep = preferred_flavour((name for name, _ in found), platform, machine, chosen)
    return FlavourReport(installed=found, keep=keep)
