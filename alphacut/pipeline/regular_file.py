"""Opening input files without ever blocking: FIFOs, devices and sockets are refused first.

``open()`` on a FIFO waits for a writer forever, and a character device can stream without
end; either would stall a worker and, through it, the whole batch. Opening with
``O_NONBLOCK`` returns at once for any kind of file, and ``fstat`` on the open descriptor
says what it really is (no gap between the check and the use).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFileError(OSError):
    """The path exists but is not a regular file (it would block or never end)."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path}: is {kind}, not a regular file")
        self.kind = kind

    @property
    def reason(self) -> str:
        return f"is {self.kind}, not a regular file; skipped"


def kind_of(mode: int) -> str | None:
    """``None`` for a regular file, else what the file is, e.g. ``'a FIFO (named pipe)'``."""
    if stat.S_ISREG(mode):
        return None
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a special file"


def _nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | _O_NONBLOCK)


def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for binary reading, or raise :class:`NotRegularFileError` at once.

    Other ``OSError``s (missing, permission, symlink loop) pass through unchanged.
    """
    fh = open(path, "rb", opener=_nonblocking)  # noqa: SIM115 - returned to the caller
    try:
        kind = kind_of(os.fstat(fh.fileno()).st_mode)
        if kind is not None:
            raise NotRegularFileError(Path(path), kind)
        if _O_NONBLOCK:
            # Regular files ignore O_NONBLOCK; cleared anyway so nothing downstream sees it.
            os.set_blocking(fh.fileno(), True)
        return fh
    except BaseException:
        fh.close()
        raise
