"""Install-time choice of the ONNX Runtime flavour; all other metadata is in pyproject.toml.

pip cannot drop a dependency through an extra, and two ONNX Runtime flavours in one
environment overwrite each other's ``onnxruntime/`` folder. So the flavour is picked when
alphacut is built: ``ALPHACUT_ORT=cuda pip install .`` installs the ``runtime-cuda`` list of
``[tool.alphacut.dependencies]`` in place of ``runtime-default``. Without the variable the
dependencies are exactly the default ones.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENV_VAR = "ALPHACUT_ORT"


def install_requires(environ: dict[str, str] | os._Environ[str] = os.environ,
                     pyproject: Path = HERE / "pyproject.toml") -> list[str]:
    """The common dependencies plus the runtime list ``ALPHACUT_ORT`` names (default: default)."""
    with open(pyproject, "rb") as handle:
        lists = tomllib.load(handle)["tool"]["alphacut"]["dependencies"]
    choice = (environ.get(ENV_VAR) or "default").strip().lower()
    runtimes = sorted(key.removeprefix("runtime-") for key in lists if key.startswith("runtime-"))
    if f"runtime-{choice}" not in lists:
        raise SystemExit(f"{ENV_VAR}={choice!r} is not a flavour alphacut knows; "
                         f"use one of: {', '.join(runtimes)}")
    return [*lists["common"], *lists[f"runtime-{choice}"]]


if __name__ == "__main__":
    from setuptools import setup

    setup(install_requires=install_requires())
