"""Members of a zip/wheel at an HTTPS URL, read with HTTP Range requests.

The central directory comes from the end of the file, then one member's local header and
compressed bytes; when a server ignores ranges the whole archive is fetched instead,
checked against its own pinned sha256. Every member is verified before it lands.
"""

from __future__ import annotations

import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from alphacut.errors import ChecksumError, ModelError
from alphacut.models.fetch import (
    Fetcher,
    HTTPResponse,
    ProgressCallback,
    content_range_total,
    save_verified,
    stream_blocks,
)

# HTTPResponse comes through fetch.py: only the downloader imports network libraries
# (tests/test_reliability_privacy.py); this module reaches the network only via Fetcher.
_EOCD_MAX = 22 + 0xFFFF
_EOCD_SIG = b"PK\x05\x06"
_CDIR_SIG = b"PK\x01\x02"
_LOCAL_SIG = b"PK\x03\x04"


@dataclass(frozen=True)
class ZipEntry:
    """One member as the central directory describes it."""

    name: str
    method: int
    crc32: int
    compressed_size: int
    size: int
    header_offset: int


def parse_central_directory(tail: bytes) -> tuple[int, int]:
    """Find the end-of-central-directory record in the last bytes of a zip.

    Returns the central directory's (offset, size) in the file. Zip64 archives raise
    ``ModelError`` so the caller falls back to the whole-archive path.
    """
    at = tail.rfind(_EOCD_SIG)
    if at < 0 or len(tail) - at < 22:
        raise ModelError("not a zip file (no end-of-central-directory record)")
    (_, _, _, _, _, cd_size, cd_offset, _) = struct.unpack("<4sHHHHIIH", tail[at : at + 22])
    if cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        raise ModelError("zip64 archives are read whole")
    return cd_offset, cd_size


def parse_entries(directory: bytes) -> dict[str, ZipEntry]:
    """Parse central-directory file headers into entries keyed by member name."""
    entries: dict[str, ZipEntry] = {}
    pos = 0
    while pos + 46 <= len(directory) and directory[pos : pos + 4] == _CDIR_SIG:
        fields = struct.unpack("<4s6H3I5H2I", directory[pos : pos + 46])
        flags, method = fields[3], fields[4]
        crc, csize, usize = fields[7], fields[8], fields[9]
        name_len, extra_len, comment_len = fields[10], fields[11], fields[12]
        offset = fields[16]
        raw_name = directory[pos + 46 : pos + 46 + name_len]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
        if 0xFFFFFFFF in (csize, usize, offset):
            raise ModelError("zip64 archives are read whole")
        entries[name] = ZipEntry(name, method, crc, csize, usize, offset)
        pos += 46 + name_len + extra_len + comment_len
    if not entries:
        raise ModelError("zip central directory is empty or unreadable")
    return entries


def _inflate(blocks: Iterable[bytes], entry: ZipEntry, what: str) -> Iterator[bytes]:
    """Decompress a member's raw bytes, checking its CRC-32 and size from the directory."""
    if entry.method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelError(f"{what}: unsupported zip compression method {entry.method}")
    inflater = zlib.decompressobj(-15) if entry.method == zipfile.ZIP_DEFLATED else None
    crc = 0
    produced = 0
    for block in blocks:
        try:
            out = inflater.decompress(block) if inflater else block
        except zlib.error as exc:
            raise ChecksumError(f"{what}: member is damaged ({exc}); refused") from exc
        crc = zlib.crc32(out, crc)
        produced += len(out)
        if produced > entry.size:  # stop early rather than inflate an oversized member
            raise ChecksumError(f"{what}: member is larger than its directory entry; refused")
        if out:
            yield out
    if inflater:
        rest = inflater.flush()
        crc = zlib.crc32(rest, crc)
        produced += len(rest)
        if rest:
            yield rest
    if crc != entry.crc32 or produced != entry.size:
        raise ChecksumError(f"{what}: member is damaged (CRC or size does not match); refused")


@dataclass
class RemoteZip:
    """Members of a zip/wheel at an HTTPS URL, read with Range requests when possible.

    Use as a context manager: a whole-archive fallback download lives in a temp folder
    (``workdir``) until the context exits.
    """

    url: str
    fetcher: Fetcher
    workdir: Path
    archive_sha256: str = ""
    archive_size: int = 0
    progress: ProgressCallback | None = None
    ranges_used: bool = field(default=False, init=False)
    _entries: dict[str, ZipEntry] | None = field(default=None, init=False)
    _tail: bytes = field(default=b"", init=False)
    _tail_start: int = field(default=0, init=False)
    _archive: Path | None = field(default=None, init=False)
    _tmpdir: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False)

    def __enter__(self) -> RemoteZip:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
            self._archive = None

    def extract(self, member: str, dest: Path, *, sha256: str, size: int = 0) -> Path:
        """Write ``member`` to ``dest`` if its sha256 (and size) match; else ``ChecksumError``."""
        what = f"{member} in {self.url}"
        if self._archive is None and self._entries is None:
            self._load_directory()
        if self._archive is not None:
            return self._extract_from_archive(member, dest, sha256=sha256, size=size, what=what)
        assert self._entries is not None
        entry = self._entries.get(member)
        if entry is None:
            raise ModelError(f"{self.url} has no member {member!r}")
        header = self._cached(entry.header_offset, 30)
        if header is None:
            got = self.fetcher.read_range(
                self.url, f"{entry.header_offset}-{entry.header_offset + 29}"
            )
            header = got[0] if got else b""
        if len(header) != 30 or header[:4] != _LOCAL_SIG:
            raise ModelError(f"{what}: bad local header")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        start = entry.header_offset + 30 + name_len + extra_len
        cached = self._cached(start, entry.compressed_size)
        if cached is not None or entry.compressed_size == 0:
            return save_verified(dest, _inflate([cached or b""], entry, what), sha256=sha256,
                                 size=size, what=what)
        end = start + entry.compressed_size - 1
        with self.fetcher.open(self.url, byte_range=f"{start}-{end}") as response:
            if response.status != 206:
                raise ModelError(f"{what}: server stopped honouring range requests")
            raw = stream_blocks(response, entry.compressed_size, self.progress,
                                limit=entry.compressed_size)
            return save_verified(dest, _inflate(raw, entry, what), sha256=sha256, size=size,
                                 what=what)

    def _cached(self, start: int, length: int) -> bytes | None:
        """Bytes already fetched with the directory (small archives fit in that request)."""
        if self._tail and start >= self._tail_start:
            at = start - self._tail_start
            if at + length <= len(self._tail):
                return self._tail[at : at + length]
        return None

    def _load_directory(self) -> None:
        with self.fetcher.open(self.url, byte_range=f"-{_EOCD_MAX}") as response:
            if response.status != 206:
                # The server sent the whole file: keep streaming it as the fallback path.
                self._save_archive(response)
                return
            total = content_range_total(response.headers.get("Content-Range", ""))
            tail = response.read()
        tail_start = total - len(tail)
        if total <= 0 or tail_start < 0:  # no usable Content-Range: read the archive whole
            self._download_archive()
            return
        try:
            cd_offset, cd_size = parse_central_directory(tail)
        except ModelError:
            self._download_archive()
            return
        if cd_offset >= tail_start:
            directory = tail[cd_offset - tail_start : cd_offset - tail_start + cd_size]
        else:
            got = self.fetcher.read_range(self.url, f"{cd_offset}-{cd_offset + cd_size - 1}")
            if got is None:
                self._download_archive()
                return
            directory = got[0]
        try:
            self._entries = parse_entries(directory)
        except ModelError:
            self._download_archive()
            return
        self._tail, self._tail_start = tail, tail_start
        self.ranges_used = True

    def _download_archive(self) -> None:
        with self.fetcher.open(self.url) as response:
            self._save_archive(response)

    def _save_archive(self, response: HTTPResponse) -> None:
        if not self.archive_sha256:
            raise ModelError(
                f"{self.url}: the server ignores range requests and no archive sha256 is "
                "pinned, so the whole archive cannot be checked; refused"
            )
        self._tmpdir = tempfile.TemporaryDirectory(prefix=".zip-", dir=self._ensure_workdir())
        target = Path(self._tmpdir.name) / "archive.zip"
        total = int(response.headers.get("Content-Length") or self.archive_size or 0)
        save_verified(
            target,
            stream_blocks(response, total, self.progress),
            sha256=self.archive_sha256,
            size=self.archive_size,
            what=self.url,
        )
        self._archive = target

    def _ensure_workdir(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        return self.workdir

    def _extract_from_archive(
        self, member: str, dest: Path, *, sha256: str, size: int, what: str
    ) -> Path:
        assert self._archive is not None
        try:
            with zipfile.ZipFile(self._archive) as zf, zf.open(member) as fh:
                return save_verified(dest, iter(lambda: fh.read(1 << 20), b""),
                                     sha256=sha256, size=size, what=what)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise ModelError(f"{what}: cannot read member: {exc}") from exc

