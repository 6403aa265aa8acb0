"""Driving rembg as a subprocess (it lives in its own environment) with our model file.

rembg looks for ``<U2NET_HOME>/u2netp.onnx`` and, when it is there, neither checks it
against the network nor downloads anything; we make a temporary U2NET_HOME holding a
copy of our verified file, after checking that it is byte-for-byte the file rembg pins.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from alphacut.errors import AlphacutError

REMBG_ENV = "ALPHACUT_REMBG"
# rembg 2.0.86 pins its model files by md5; ours are pinned by sha256 in the catalogue.
REMBG_MODEL_MD5: dict[str, str] = {"u2netp": "8e83ca70e441ab06c318d82300c84806"}


class RembgUnavailable(AlphacutError):
    """rembg cannot be found or cannot use our model file."""


def find_rembg(explicit: str | None = None, environ: dict[str, str] | None = None) -> str:
    """The rembg executable: ``explicit``, else ``$ALPHACUT_REMBG``, else ``rembg`` on PATH."""
    env = os.environ if environ is None else environ
    candidate = explicit or env.get(REMBG_ENV) or "rembg"
    found = shutil.which(candidate)
    if found is None:
        raise RembgUnavailable(
            f"rembg executable {candidate!r} not found; install 'rembg[cpu,cli]' in its own "
            f"environment and pass --rembg-bin PATH or set {REMBG_ENV}"
        )
    return found


def md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def rembg_home(model: str, model_path: Path) -> Iterator[Path]:
    """A temporary U2NET_HOME holding ``model_path`` under the name rembg expects."""
    expected = REMBG_MODEL_MD5.get(model)
    if expected is None:
        known = ", ".join(REMBG_MODEL_MD5)
        raise RembgUnavailable(f"no rembg model pinned for {model!r}; known: {known}")
    actual = md5_file(model_path)
    if actual != expected:
        raise RembgUnavailable(
            f"{model_path}: md5 {actual} is not the file rembg pins for {model} ({expected})"
        )
    with tempfile.TemporaryDirectory(prefix="alphacut-u2net-home-") as tmp:
        home = Path(tmp)
        shutil.copyfile(model_path, home / f"{model}.onnx")
        yield home


def rembg_environment(home: Path) -> dict[str, str]:
    """The environment for a rembg subprocess: our U2NET_HOME, no network fallback."""
    env = dict(os.environ)
    env["U2NET_HOME"] = str(home)
    env.pop("MODEL_CHECKSUM_DISABLED", None)
    return env


def rembg_folder_command(
    executable: str,
    model: str,
    source: Path,
    dest: Path,
    *,
    only_mask: bool = False,
    alpha_matting: bool = False,
) -> list[str]:
    """``rembg p -m MODEL [-om] [-a] IN OUT``."""
    command = [executable, "p", "-m", model]
    if only_mask:
        command.append("-om")
    if alpha_matting:
        command.append("-a")
    return [*command, str(source), str(dest)]


def run_rembg_folder(
    executable: str,
    model: str,
    source: Path,
    dest: Path,
    home: Path,
    *,
    only_mask: bool = False,
) -> None:
    """Run ``rembg p`` on a folder; raises :class:`RembgUnavailable` when it fails."""
    command = rembg_folder_command(executable, model, source, dest, only_mask=only_mask)
    done = subprocess.run(
        command, env=rembg_environment(home), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RembgUnavailable(f"rembg exited with {done.returncode}: {tail[0]}")
