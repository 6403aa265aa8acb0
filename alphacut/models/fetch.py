"""Fetching pinned files over HTTPS, always verified before they land in the cache.

Only ``models pull`` and ``demo`` reach this module; processing images never does.

Every download is streamed into a temp file next to its destination while its sha256
is computed; the temp file is renamed into place only when size and sha256 match, so a
cached file is never one that failed its check, and an interrupted download leaves at
most a ``.part`` file behind.

Members of a zip/wheel are read with HTTP Range requests by ``remote_zip.RemoteZip``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.client import HTTPException, HTTPResponse
from pathlib import Path
from typing import BinaryIO

from alphacut.errors import ChecksumError, ModelError, OfflineError
from alphacut.paths import offline_requested

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total or 0)

_BLOCK = 1 << 16
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# The end-of-central-directory record is 22 bytes plus a comment of at most 65,535 bytes.
_STALE_PART_SECONDS = 3600


def check_online(what: str) -> None:
    """Refuse to touch the network when ``ALPHACUT_OFFLINE`` is set."""
    if offline_requested():
        raise OfflineError(
            f"ALPHACUT_OFFLINE is set, so {what} cannot be downloaded; "
            "unset it to download, or copy the file in with 'alphacut models add'"
        )


def save_verified(
    dest: Path, blocks: Iterable[bytes], *, sha256: str, size: int = 0, what: str
) -> Path:
    """Stream ``blocks`` into ``dest`` via a temp file; rename only if size and sha256 match.

    On a mismatch the temp file is deleted and ``ChecksumError`` raised: nothing that
    failed its check is ever left under ``dest``'s name.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise ModelError(f"{dest.parent}: cannot write there ({exc.strerror or exc})") from exc
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    written = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            for block in blocks:
                digest.update(block)
                fh.write(block)
                written += len(block)
            fh.flush()
            os.fsync(fh.fileno())
        got = digest.hexdigest()
        if size and written != size:
            raise ChecksumError(f"{what}: got {written} B, expected {size} B; refused")
        if got != sha256:
            raise ChecksumError(f"{what}: sha256 mismatch (expected {sha256}, got {got}); refused")
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, dest)
    except OSError as exc:  # disk full, permissions: one line, nothing left behind
        tmp.unlink(missing_ok=True)
        raise ModelError(f"{dest}: cannot write ({exc.strerror or exc})") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def copy_verified(source: Path, dest: Path, *, sha256: str, size: int = 0, what: str) -> Path:
    """Copy a local file into ``dest`` with the same temp-file-and-check rule as downloads."""
    return save_verified(dest, iter_file(source), sha256=sha256, size=size, what=what)


def iter_file(path: Path, block: int = 1 << 20) -> Iterator[bytes]:
    """The bytes of a file, in blocks."""
    with open(path, "rb") as fh:
        while data := fh.read(block):
            yield data


def remove_stale_parts(folder: Path, max_age_s: float = _STALE_PART_SECONDS) -> None:
    """Delete temp files and folders left by downloads killed more than an hour ago."""
    if not folder.is_dir():
        return
    cutoff = time.time() - max_age_s
    for pattern in (".*.part", ".npm-*", ".zip-*", ".derive-*"):
        for stale in folder.glob(pattern):
            try:
                if stale.stat().st_mtime >= cutoff:
                    continue
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink()
            except OSError:
                pass  # another process may be cleaning up the same file


class _NoInsecureRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to URLs the fetcher would accept in the first place."""

    def __init__(self, fetcher: Fetcher) -> None:
        super().__init__()
        self.fetcher = fetcher

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        self.fetcher.check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@dataclass(frozen=True)
class Fetcher:
    """HTTP(S) access for pulls: HTTPS only, proxies from the environment, bounded timeouts.

    ``allow_loopback_http`` exists for tests that serve files from 127.0.0.1; production
    code never sets it, so every real download is HTTPS.
    """

    timeout: float = 60.0
    allow_loopback_http: bool = False
    user_agent: str = "alphacut"

    def check_url(self, url: str) -> None:
        """Raise ``ModelError`` unless ``url`` is HTTPS (or loopback HTTP in test mode)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "https":
            return
        loopback = parts.hostname in _LOOPBACK_HOSTS
        if self.allow_loopback_http and parts.scheme == "http" and loopback:
            return
        raise ModelError(f"refusing non-HTTPS download: {url}")

    def _opener(self, url: str) -> urllib.request.OpenerDirector:
        handlers: list[urllib.request.BaseHandler] = [_NoInsecureRedirects(self)]
        if urllib.parse.urlsplit(url).hostname in _LOOPBACK_HOSTS:
            handlers.append(urllib.request.ProxyHandler({}))  # a proxy cannot reach our loopback
        # Otherwise urllib's default ProxyHandler reads HTTPS_PROXY / NO_PROXY from the env.
        return urllib.request.build_opener(*handlers)

    def open(self, url: str, *, byte_range: str | None = None) -> HTTPResponse:
        """Open ``url`` (optionally with ``Range: bytes=<byte_range>``); caller closes it."""
        self.check_url(url)
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": "identity"}
        if byte_range is not None:
            headers["Range"] = f"bytes={byte_range}"
        request = urllib.request.Request(url, headers=headers)
        try:
            return self._opener(url).open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            raise ModelError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from exc
        except OSError as exc:  # URLError, timeouts, refused connections, DNS failures
            reason = getattr(exc, "reason", exc)
            raise OfflineError(
                f"cannot reach {urllib.parse.urlsplit(url).hostname}: {reason} "
                "(check the network or HTTPS_PROXY)"
            ) from exc

    def download(
        self,
        url: str,
        dest: Path,
        *,
        sha256: str,
        size: int = 0,
        progress: ProgressCallback | None = None,
    ) -> Path:
        """Download ``url`` to ``dest``, verified against ``sha256`` (and ``size`` if given)."""
        with self.open(url) as response:
            total = int(response.headers.get("Content-Length") or size or 0)
            return save_verified(
                dest, stream_blocks(response, total, progress), sha256=sha256, size=size, what=url
            )

    def read_range(self, url: str, byte_range: str) -> tuple[bytes, int] | None:
        """Bytes of ``url`` in ``byte_range`` and the file's total size, or None if ranges
        are not honoured (the server answered 200 with the whole file)."""
        with self.open(url, byte_range=byte_range) as response:
            if response.status != 206:
                return None
            total = content_range_total(response.headers.get("Content-Range", ""))
            return response.read(), total


def stream_blocks(
    stream: BinaryIO, total: int, progress: ProgressCallback | None, limit: int | None = None
) -> Iterator[bytes]:
    """Read ``stream`` in blocks (at most ``limit`` bytes), reporting progress as it goes."""
    done = 0
    while limit is None or done < limit:
        want = _BLOCK if limit is None else min(_BLOCK, limit - done)
        try:
            block = stream.read(want)
        except (OSError, HTTPException) as exc:  # reset connection, short body
            raise OfflineError(f"download interrupted: {exc!r}") from exc
        if not block:
            break
        done += len(block)
        if progress:
            progress(done, total)
        yield block


def content_range_total(header: str) -> int:
    # "bytes 100-199/12345"; "*" means the server does not know.
    total = header.rpartition("/")[2].strip()
    return int(total) if total.isdigit() else 0
