"""Asking the terminal what it can draw, once, before the UI takes over stdin.

All questions go out in one write with Primary Device Attributes (DA1) last. Every
terminal answers DA1 and answers in order, so its reply marks the end of the answers:
there is no fixed short timeout that a loaded machine or a slow SSH link can miss (the
cause of sixel terminals being mistaken for plain ones). Nothing here imports Textual.
"""

from __future__ import annotations

import os
import re
import select
import sys
import time
from dataclasses import dataclass
from typing import TextIO

# Kitty graphics query (a 1x1 RGB image, never stored): "OK" means the protocol works.
KITTY_QUERY = "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
# XTSMGRAPHICS: ask for 256 sixel colour registers, then read how many there are
# (xterm's VT340 starts with 16; most other sixel terminals have 256 or more).
SIXEL_REGISTERS_SET = "\x1b[?1;3;256S"
SIXEL_REGISTERS_READ = "\x1b[?1;1;0S"
CELL_SIZE_QUERY = "\x1b[16t"  # reply: CSI 6 ; height ; width t
VERSION_QUERY = "\x1b[>0q"  # XTVERSION, reply: DCS > | name(version) ST or "name version"
DA1_QUERY = "\x1b[c"  # reply: CSI ? attributes c; attribute 4 means sixel
QUERIES = (KITTY_QUERY + SIXEL_REGISTERS_SET + SIXEL_REGISTERS_READ + CELL_SIZE_QUERY
           + VERSION_QUERY + DA1_QUERY)

_DA1_REPLY = re.compile(r"\x1b\[\?([\d;]*)c")
_KITTY_REPLY = re.compile(r"\x1b_Gi=31;([^\x1b]*)\x1b\\")
_CELL_REPLY = re.compile(r"\x1b\[6;(\d+);(\d+)t")
_REGISTERS_REPLY = re.compile(r"\x1b\[\?1;(\d+);(\d+)S")
_VERSION_REPLY = re.compile(r"\x1bP>\|([^\x1b]*)\x1b\\")
_NAME_VERSION = re.compile(r"([A-Za-z][\w.-]*?)[ (]+v?(\d+(?:\.\d+)*)")

DEFAULT_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class TerminalReport:
    """What the terminal said about itself (``answered`` is False when it said nothing)."""

    answered: bool = False
    da1: tuple[int, ...] = ()
    kitty: bool = False
    cell_px: tuple[int, int] | None = None  # (width, height) from CSI 16 t
    color_registers: int | None = None
    version: str = ""  # XTVERSION text, e.g. "kitty(0.26.5)" or "tmux 3.3a"
    note: str = ""  # why nothing was asked, when nothing was

    @property
    def sixel(self) -> bool:
        """DA1 attribute 4: the terminal draws sixel graphics."""
        return 4 in self.da1

    def program(self) -> tuple[str, tuple[int, ...]]:
        """The terminal's name (lower case) and version numbers from XTVERSION, if it said."""
        match = _NAME_VERSION.match(self.version)
        if match is None:
            return self.version.strip().lower(), ()
        return match.group(1).lower(), tuple(int(p) for p in match.group(2).split("."))


def parse_replies(text: str) -> TerminalReport:
    """Read the answers to :data:`QUERIES` out of what the terminal sent back."""
    da1 = _DA1_REPLY.search(text)
    kitty = _KITTY_REPLY.search(text)
    cell = _CELL_REPLY.search(text)
    version = _VERSION_REPLY.search(text)
    registers = None
    for match in _REGISTERS_REPLY.finditer(text):
        status, value = int(match.group(1)), int(match.group(2))
        if status == 0 and value > 0:
            registers = value  # the last successful reply is the read-back
    attributes = tuple(int(a) for a in da1.group(1).split(";") if a) if da1 else ()
    cell_px = (int(cell.group(2)), int(cell.group(1))) if cell else None
    if cell_px is not None and min(cell_px) <= 0:
        cell_px = None
    return TerminalReport(
        answered=da1 is not None,
        da1=attributes,
        kitty=bool(kitty and kitty.group(1).startswith("OK")),
        cell_px=cell_px,
        color_registers=registers,
        version=version.group(1) if version else "",
    )


def probe_terminal(
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> TerminalReport:
    """Send :data:`QUERIES` and read until the DA1 reply (or ``timeout`` seconds pass).

    Only works before the UI starts reading stdin. Not a terminal, or not POSIX: nothing
    is asked and the report says why.
    """
    stdin = stdin if stdin is not None else sys.__stdin__
    stdout = stdout if stdout is not None else sys.__stdout__
    if stdin is None or stdout is None or not (stdin.isatty() and stdout.isatty()):
        return TerminalReport(note="stdin/stdout is not a terminal")
    try:
        import termios
        import tty
    except ImportError:
        return TerminalReport(note="terminal queries need a POSIX terminal")
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    received = b""
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        stdout.write(QUERIES)
        stdout.flush()
        deadline = time.monotonic() + timeout
        while not _DA1_REPLY.search(received.decode("latin-1")):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            received += chunk
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)
    report = parse_replies(received.decode("latin-1"))
    if not report.answered:
        return TerminalReport(note=f"no answer from the terminal within {timeout:g} s")
    return report


def window_cell_px(stdout: TextIO | None = None) -> tuple[int, int] | None:
    """Cell size from the kernel's window size (TIOCGWINSZ pixels), when the terminal sets it."""
    stdout = stdout if stdout is not None else sys.__stdout__
    if stdout is None:
        return None
    try:
        import fcntl
        import struct
        import termios

        packed = fcntl.ioctl(stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
    except (ImportError, OSError, ValueError):
        return None
    rows, cols, xpixel, ypixel = struct.unpack("HHHH", packed)
    if not (rows and cols and xpixel and ypixel):
        return None
    return xpixel // cols, ypixel // rows


def multiplexer() -> str:
    """The terminal multiplexer between us and the terminal, if any ("tmux", "screen" or "")."""
    if os.environ.get("TMUX"):
        return "tmux"
    if os.environ.get("STY"):
        return "screen"
    return ""
