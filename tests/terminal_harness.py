"""Real terminals for tests: xterm (VT340, sixel) on a private Xvfb display, screenshots, keys.

Each display is started with ``-displayfd`` so the X server picks a free number itself.
Keys go in through XTEST (xdotool) after focusing the xterm, as a person's would.
Screenshots come from ``xwd`` of the xterm's text window, converted by ImageMagick.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
X_TOOLS = ("Xvfb", "xterm", "xwd", "convert", "xdotool")


def missing(tools: tuple[str, ...]) -> list[str]:
    """The programs of ``tools`` that are not on PATH."""
    return [tool for tool in tools if shutil.which(tool) is None]


def app_env(home: Path) -> dict[str, str]:
    """Environment for a child alphacut: this checkout first on PYTHONPATH, its own home."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["ALPHACUT_HOME"] = str(home)
    # The terminal's own size, not one a test runner exported (shutil reads these first).
    for name in ("TMUX", "COLUMNS", "LINES"):
        env.pop(name, None)
    return env


@contextmanager
def x_display() -> Iterator[str]:
    """A private Xvfb display (``":N"``), stopped on exit."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24",
         "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as numbers:
            number = numbers.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@dataclass
class XTerm:
    """One running xterm; ``window`` is its text window (WINDOWID), cell (0, 0) at pixel (0, 0)."""

    process: subprocess.Popen[bytes]
    display: str
    window: str
    cols: int
    rows: int
    workdir: Path

    def _x(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, "DISPLAY": self.display}
        return subprocess.run(list(args), env=env, capture_output=True, timeout=30, check=False)

    def screenshot(self) -> np.ndarray:
        """The text window as an RGB array (rows × cols × 3)."""
        dump = self._x("xwd", "-silent", "-id", self.window)
        if dump.returncode != 0:
            raise RuntimeError(f"xwd failed: {dump.stderr.decode(errors='replace')}")
        png = subprocess.run(["convert", "xwd:-", "png:-"], input=dump.stdout,
                             capture_output=True, timeout=30, check=True).stdout
        return np.asarray(Image.open(BytesIO(png)).convert("RGB"))

    @property
    def cell_px(self) -> tuple[int, int]:
        """Cell size in pixels, from the window size (internal border is 0)."""
        height, width = self.screenshot().shape[:2]
        return width // self.cols, height // self.rows

    def keys(self, *names: str) -> None:
        """Type X key names (``Down``, ``m``, ``space``) into the xterm."""
        self._x("xdotool", "windowfocus", "--sync", self.window)
        self._x("xdotool", "key", "--delay", "30", *names)

    def wait_for(self, check: Callable[[np.ndarray], bool], timeout: float, what: str,
                 explain: Callable[[np.ndarray], str] = lambda shot: "") -> np.ndarray:
        """Screenshots until ``check`` passes; the last one is returned. Fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            shot = self.screenshot()
            if check(shot):
                return shot
            if time.monotonic() > deadline or self.process.poll() is not None:
                saved = self.workdir / "timed-out.png"
                Image.fromarray(shot).save(saved)
                raise AssertionError(f"timed out waiting for {what}: {explain(shot)} ({saved})")
            time.sleep(0.2)

    def stop(self) -> None:
        """End the xterm and the program it runs.

        The program is found before the xterm goes: a Textual app busy in a worker may outlive
        the hang-up that xterm sends, and would be left running after the test.
        """
        try:
            program = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            program = []
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for child in program:
            with suppress(psutil.NoSuchProcess):
                child.terminate()
        _, alive = psutil.wait_procs(program, timeout=10)
        for child in alive:
            with suppress(psutil.NoSuchProcess):
                child.kill()


def start_xterm(display: str, command: list[str], env: dict[str, str], workdir: Path,
                cols: int = 120, rows: int = 36, vt340: bool = True) -> XTerm:
    """Start ``command`` in an xterm (VT340 sixel emulation unless ``vt340`` is False)."""
    window_file = workdir / f"windowid-{time.monotonic_ns()}"
    wrapper = ["sh", "-c", f'echo "$WINDOWID" > {window_file}; exec "$@"', "sh", *command]
    args = ["xterm", "-b", "0", "-bw", "0", "-geometry", f"{cols}x{rows}+0+0"]
    if vt340:
        args += ["-ti", "vt340"]
    process = subprocess.Popen([*args, "-e", *wrapper], env={**env, "DISPLAY": display},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not window_file.exists() or not window_file.read_text().strip():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("xterm did not start")
        time.sleep(0.05)
    return XTerm(process, display, window_file.read_text().strip(), cols, rows, workdir)
