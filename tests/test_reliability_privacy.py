"""Privacy: processing never opens a network connection; only ``models pull`` and ``demo``
fetch, and ``ALPHACUT_OFFLINE=1`` forbids even those.

Three layers of proof: Python's socket constructor patched to raise (CLI and TUI, in
process), a real process with an audit hook that fails on any socket event, and a real
process in a network namespace with no interfaces at all (``unshare -n``).
"""

from __future__ import annotations

import ast
import asyncio
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import alphacut
from alphacut.cli import main

PACKAGE = Path(alphacut.__file__).parent
# Modules through which Python code can reach a network.
NETWORK_MODULES = frozenset(
    {
        "socket",
        "ssl",
        "http",
        "urllib",
        "ftplib",
        "smtplib",
        "requests",
        "httpx",
        "aiohttp",
        "urllib3",
        "websocket",
        "websockets",
        "xmlrpc",
        "asyncio.streams",
    }
)
# The only modules allowed to import them: the verified downloader (used by pull and demo).
FETCHING_MODULES = frozenset({"models/fetch.py", "models/npm.py", "samples.py"})


class NetworkAttempt(AssertionError):
    """Raised by the patched socket layer; an AssertionError so a test fails loudly."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every socket creation, DNS lookup or connection raise; returns the attempts."""
    attempts: list[str] = []
    real_init = socket.socket.__init__

    def refuse(what: str):
        def raiser(*args: object, **kwargs: object) -> None:
            attempts.append(f"{what}{args}")
            raise NetworkAttempt(f"network access attempted: {what}")

        return raiser

    def guarded_init(self, family=-1, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        # Local AF_UNIX pairs are how asyncio wakes its own loop (the TUI); any other
        # family can reach a network.
        if family != socket.AF_UNIX:
            attempts.append(f"socket(family={family})")
            raise NetworkAttempt(f"network socket attempted: family {family}")
        real_init(self, family, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "__init__", guarded_init)
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        monkeypatch.setattr(socket, name, refuse(name))
    return attempts


def _images(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for i in range(count):
        arr = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
        arr[20:70, 30:90] = (235, 225, 210)
        Image.fromarray(arr).save(folder / f"private {i}.png")
    return folder


def test_cli_batch_with_sockets_patched_to_raise(
    no_network: list[str], tmp_path: Path, home_with_model: Path, capsys
) -> None:
    folder = _images(tmp_path / "in")
    with pytest.raises(NetworkAttempt):
        socket.socket()  # the patch is live
    no_network.clear()
    code = main(["remove", str(folder), "-o", str(tmp_path / "out"), "--json"])
    assert code == 0, capsys.readouterr().err
    assert len(list((tmp_path / "out").glob("*.png"))) == 3
    for args in (["models", "list"], ["models", "verify"], ["models", "path", "u2netp"]):
        assert main(args) == 0, args
    assert no_network == []


def test_tui_batch_with_sockets_patched_to_raise(
    no_network: list[str], tmp_path: Path, home_with_model: Path
) -> None:
    """The UI loads its own model from the cache and runs a batch, all without a socket."""
    from alphacut.config import Settings
    from alphacut.tui.app import AlphacutApp
    from alphacut.tui.screens.main import MainScreen

    folder = _images(tmp_path / "in")
    out = tmp_path / "out"

    async def scenario() -> None:
        app = AlphacutApp(
            folder,
            settings=Settings(graphics="halfcell", provider="cpu"),
            settings_path=tmp_path / "config.toml",
            output_dir=out,
            live_stats=False,
        )
        async with app.run_test(size=(120, 36)) as pilot:
            screen = app.screen
            assert isinstance(screen, MainScreen)
            await _until(pilot, lambda: app.remover is not None or bool(app.model_error))
            assert app.remover is not None, app.model_error
            await pilot.press("A")
            await _until(pilot, lambda: len(screen.marks) == 3)
            await pilot.press("r")
            await _until(pilot, lambda: not screen.running, timeout=120)
            assert [s.state for s in screen.statuses.values()] == ["done"] * 3

    asyncio.run(scenario())
    assert sorted(p.name for p in out.glob("*.png")) == [f"private {i}.png" for i in range(3)]
    assert no_network == []


async def _until(pilot, condition, timeout: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.01)


_AUDITED_RUN = """
import sys
import socket
def hook(event, args):
    unix = event == "socket.__new__" and args[1] == socket.AF_UNIX
    if (event.startswith("socket.") and not unix) or event in (
        "http.client.connect", "urllib.Request"
    ):
        sys.stderr.write(f"NETWORK-EVENT {event} {args!r}\\n")
        sys.stderr.flush()
        raise RuntimeError(f"network event {event} during processing")
sys.addaudithook(hook)
from alphacut.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_real_process_raises_no_socket_audit_event(tmp_path: Path, home_with_model: Path) -> None:
    """Catches socket use from any Python module, however it was imported."""
    folder = _images(tmp_path / "in", count=2)
    proc = subprocess.run(
        [sys.executable, "-c", _AUDITED_RUN, "remove", str(folder), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert "NETWORK-EVENT" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 2


def _unshare_works() -> str:
    unshare = shutil.which("unshare")
    if unshare is None:
        return "unshare is not installed"
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare -n is not permitted here: {probe.stderr.strip()}"
    return ""


def test_remove_in_a_network_namespace_with_no_network(
    tmp_path: Path, home_with_model: Path
) -> None:
    """``unshare -n``: no interface but a downed loopback, so even C code cannot connect."""
    reason = _unshare_works()
    if reason:
        pytest.skip(reason)
    folder = _images(tmp_path / "in", count=2)
    proc = subprocess.run(
        [
            "unshare",
            "-n",
            sys.executable,
            "-m",
            "alphacut",
            "remove",
            str(folder),
            "-o",
            str(tmp_path / "out"),
            "--provider",
            "auto",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 2


def test_offline_forbids_pull_and_demo_with_a_clear_message(
    no_network: list[str], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("ALPHACUT_OFFLINE", "1")
    assert main(["models", "pull", "u2netp"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ALPHACUT_OFFLINE is set" in err[0], err
    assert main(["demo", "--headless"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ALPHACUT_OFFLINE is set" in err[0], err
    assert no_network == [], "offline mode must refuse before touching the network"


def test_offline_pull_of_a_corrupt_cache_says_so(
    home_with_model: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[str], capsys
) -> None:
    model = home_with_model / "cache" / "models" / "u2netp.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    monkeypatch.setenv("ALPHACUT_OFFLINE", "1")
    assert main(["models", "pull", "u2netp"]) == 1
    err = capsys.readouterr().err
    assert "corrupt" in err and "ALPHACUT_OFFLINE is set" in err, err
    assert no_network == []


def _module_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_only_the_downloader_can_reach_the_network() -> None:
    """Static half of the guarantee: no other module even imports a network library."""
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in FETCHING_MODULES:
            continue
        hits = {
            name
            for name in _module_imports(path)
            if name in NETWORK_MODULES
            or name.split(".")[0] in NETWORK_MODULES - {"asyncio.streams"}
        }
        if hits:
            offenders[rel] = sorted(hits)
    assert offenders == {}, f"network libraries imported outside the downloader: {offenders}"
