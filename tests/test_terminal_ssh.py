"""The UI over a real SSH session inside tmux, on 127.0.0.1 only.

A throwaway sshd (own host key, key-only login, a free high port on 127.0.0.1) runs
``alphacut DIR -o OUT`` of this checkout for ``ssh -t`` inside a detached tmux session.
The screen is read with ``tmux capture-pane``, keys go in with ``tmux send-keys``.
Skips where sshd, ssh, ssh-keygen or tmux is missing, or when not root (sshd must be).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from terminal_harness import REPO

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
NEEDED = [tool for tool in ("ssh", "ssh-keygen", "tmux") if shutil.which(tool) is None]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.model,
    pytest.mark.skipif(SSHD is None or bool(NEEDED), reason="needs sshd, ssh, ssh-keygen, tmux"),
    pytest.mark.skipif(os.geteuid() != 0, reason="a throwaway sshd has to run as root"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def ssh_login(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """An ``ssh`` command line (without the remote command) into a private sshd."""
    base = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / name)],
                       check=True)
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    port = free_port()
    (base / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {base / 'host_key'}",
        f"AuthorizedKeysFile {base / 'authorized_keys'}", "PubkeyAuthentication yes",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no",
        f"PidFile {base / 'sshd.pid'}", "LogLevel ERROR", "",
    ]))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(base / "sshd_config")],
                              stderr=open(base / "sshd.log", "wb"))
    login = ["ssh", "-p", str(port), "-i", str(base / "client_key"), "-o", "IdentitiesOnly=yes",
             "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
             "-o", f"UserKnownHostsFile={base / 'known_hosts'}", "-o", "LogLevel=ERROR"]
    try:
        deadline = time.monotonic() + 20
        while subprocess.run([*login, "127.0.0.1", "true"], capture_output=True,
                             timeout=20).returncode != 0:
            assert server.poll() is None, (base / "sshd.log").read_text()
            assert time.monotonic() < deadline, "sshd never accepted the key"
            time.sleep(0.2)
        yield login
    finally:
        server.terminate()
        server.wait(timeout=10)


class TmuxPane:
    """One detached tmux session on a private socket, running ``command``."""

    def __init__(self, command: str, workdir: Path, cols: int, rows: int) -> None:
        self.socket = str(workdir / "tmux.sock")
        env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "COLUMNS", "LINES")}
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(cols),
                   "-y", str(rows), command, env=env)
        self._tmux("set-option", "-t", "t", "remain-on-exit", "on")

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True,
                              text=True, timeout=30, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def screen(self) -> list[str]:
        return self._tmux("capture-pane", "-p", "-t", "t").splitlines()

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "t", *keys)

    def resize(self, cols: int, rows: int) -> None:
        self._tmux("resize-window", "-t", "t", "-x", str(cols), "-y", str(rows))

    def client_pid(self) -> int:
        return int(self._tmux("list-panes", "-t", "t", "-F", "#{pane_pid}").split()[0])

    def wait(self, check: Callable[[list[str]], bool], timeout: float, what: str) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.screen()
            if check(lines):
                return lines
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n" + "\n".join(lines))
            time.sleep(0.2)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)


def remote_command(photos: Path, out: Path, home: Path) -> str:
    """This checkout's alphacut in this venv, whatever the login shell's environment."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "PYTHONPATH": str(REPO), "ALPHACUT_HOME": str(home), "TERM": "tmux-256color"}
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return (f"env {assigns} {shlex.quote(sys.executable)} -m alphacut {shlex.quote(str(photos))}"
            f" -o {shlex.quote(str(out))} --provider cpu")


def write_photos(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    paths = []
    for index in range(count):
        pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        pixels[size // 4: 3 * size // 4, size // 4: 3 * size // 4] = (220, 30, 30)
        path = folder / f"photo_{index:02d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def footer(lines: list[str]) -> bool:
    return bool(lines) and "Mark" in lines[-1] and "palette" in lines[-1]


def open_over_ssh(ssh_login: list[str], tmp_path: Path, home: Path, count: int,
                  size: int) -> tuple[TmuxPane, Path, Path, list[str]]:
    """``count`` photos, and the UI on them over ssh in a 100×30 tmux pane, shown."""
    photos, out = tmp_path / "photos", tmp_path / "out"
    write_photos(photos, count, size)
    command = shlex.join([*ssh_login, "-t", "127.0.0.1", remote_command(photos, out, home)])
    pane = TmuxPane(command, tmp_path, 100, 30)
    try:
        lines = pane.wait(lambda s: footer(s) and "photo_00.jpg" in "".join(s), 90,
                          "the UI over ssh")
    except BaseException:
        pane.close()
        raise
    return pane, photos, out, lines


def test_ui_over_ssh_in_tmux(ssh_login: list[str], tmp_path: Path, home_with_model: Path) -> None:
    pane, _, out, lines = open_over_ssh(ssh_login, tmp_path, home_with_model, 3, 320)
    try:
        # Sized to the pane: 30 lines with the footer last, borders out to column 100.
        assert len(lines) == 30
        assert max(len(line.rstrip()) for line in lines) in (99, 100)
        # Inside tmux 3.3 (no sixel) auto picks half-cells, and the help says why.
        pane.keys("?")
        help_text = " ".join(pane.wait(lambda s: "images" in "".join(s), 20, "the help"))
        assert "halfcell (auto): tmux 3." in help_text, help_text
        pane.keys("Escape")
        pane.wait(lambda s: "images" not in "".join(s), 20, "the help to close")
        # Marking and running by keys alone.
        pane.keys("a")
        pane.wait(lambda s: "3 marked" in "".join(s), 20, "3 marked")
        pane.keys("r")
        pane.wait(lambda s: "finished" in "".join(s), 120, "the batch to finish")
        assert sorted(p.name for p in out.iterdir()) == [f"photo_{i:02d}.png" for i in range(3)]
        # A resize of the tmux window lays the UI out again.
        pane.resize(80, 24)
        lines = pane.wait(lambda s: len(s) == 24 and footer(s)
                          and max(len(line.rstrip()) for line in s) <= 80, 20, "the re-layout")
        pane.keys("q")
    finally:
        pane.close()


def test_dropped_connection_leaves_whole_files(ssh_login: list[str], tmp_path: Path,
                                               home_with_model: Path) -> None:
    pane, photos, out, _ = open_over_ssh(ssh_login, tmp_path, home_with_model, 12, 1600)
    try:
        pane.keys("a")
        pane.wait(lambda s: "12 marked" in "".join(s), 20, "12 marked")
        pane.keys("r")
        deadline = time.monotonic() + 120
        while not (out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())):
            assert time.monotonic() < deadline, "no output before the drop"
            time.sleep(0.05)
        os.kill(pane.client_pid(), signal.SIGKILL)  # the ssh client, mid-batch
        # The remote alphacut notices the hang-up and ends; nothing of it may keep writing.
        deadline = time.monotonic() + 60
        while remote_alive(photos):
            assert time.monotonic() < deadline, "alphacut kept running after the drop"
            time.sleep(0.2)
    finally:
        pane.close()
    written = sorted(out.iterdir())
    assert 1 <= len(written) < 12, [p.name for p in written]
    for path in written:
        assert path.suffix == ".png" and not path.name.startswith("."), path.name
        with Image.open(path) as image:
            image.load()  # a truncated file fails here
            assert image.size == (1600, 1600) and image.mode == "RGBA"


def remote_alive(photos: Path) -> bool:
    """Whether a process still runs alphacut on ``photos`` (read from /proc)."""
    needle = str(photos).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"alphacut" in cmdline and needle in cmdline and b"ssh" not in cmdline:
            return True
    return False
