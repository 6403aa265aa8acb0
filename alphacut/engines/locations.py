"""Inputs and outputs named by URI (``s3://``, ``gs://``, ``file://``…) through pyarrow.

Local paths keep going through :mod:`alphacut.pipeline.jobs` and the atomic writer in
:mod:`alphacut.pipeline.output`. A URI is opened with ``pyarrow.fs`` (S3, GCS, HDFS, ABFS
and local files built in) or, failing that, with an fsspec filesystem wrapped for pyarrow
when the user has installed it (``s3fs``, ``gcsfs``…).
"""

from __future__ import annotations

import os
import posixpath
import secrets
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from alphacut.engines import is_uri
from alphacut.errors import ConfigError, InputError, OutputError
from alphacut.pipeline.decode import is_image_name
from alphacut.pipeline.jobs import InputProblem, Job
from alphacut.pipeline.output import TEMP_MARK, OutputOptions


@dataclass(frozen=True)
class UriRoot:
    """A filesystem opened from a URI, and the path inside it the URI names."""

    uri: str
    filesystem: Any  # pyarrow.fs.FileSystem
    path: str


def open_uri(uri: str) -> UriRoot:
    """Open the filesystem a URI names; a one-line ConfigError says what to install if none."""
    try:
        from pyarrow import fs as pafs
    except ImportError:
        raise ConfigError(f"{uri}: URIs need pyarrow: pip install 'alphacut[ray]'") from None
    try:
        filesystem, path = pafs.FileSystem.from_uri(uri)
        return UriRoot(uri, filesystem, path)
    except Exception as exc:  # pyarrow: ArrowInvalid / ArrowNotImplementedError / OSError
        arrow_error = str(exc).splitlines()[0]
    try:
        import fsspec
    except ImportError:
        raise ConfigError(f"{uri}: {arrow_error}; install fsspec and its filesystem") from None
    try:
        fsspec_fs, path = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"{uri}: {exc}") from None
    return UriRoot(uri, pafs.PyFileSystem(pafs.FSSpecHandler(fsspec_fs)), path)


def as_uri(text: str) -> str:
    """``text`` itself when it is a URI, else the absolute ``file://`` URI of the path."""
    return text if is_uri(text) else f"file://{os.path.abspath(text)}"


@dataclass
class UriPlan:
    """Jobs (paths inside each side's filesystem) and the URIs that open both sides."""

    jobs: list[Job]
    problems: list[InputProblem]
    source_uri: str
    out_uri: str


def plan_uri_jobs(
    sources: list[str], out: str, options: OutputOptions, *, recursive: bool = False
) -> UriPlan:
    """Jobs for URI inputs and/or a URI output, with the local planner's rules.

    Outputs go to ``OUT/<path relative to the input>/<stem><suffix>``; an output never
    names an input, and two inputs never share an output. All inputs live on one
    filesystem (one scheme); job paths are POSIX paths inside it (``bucket/photos/a.jpg``).
    """
    from pyarrow import fs as pafs

    uris = [as_uri(s) for s in sources]
    schemes = sorted({u.partition("://")[0] for u in uris})
    if len(schemes) > 1:
        raise ConfigError(f"inputs on several filesystems ({', '.join(schemes)}): use one")
    out_root = open_uri(as_uri(out))
    problems: list[InputProblem] = []
    inputs: set[str] = set()
    planned: list[tuple[str, str]] = []
    for uri in uris:
        root = open_uri(uri)
        info = root.filesystem.get_file_info(root.path)
        if info.type == pafs.FileType.Directory:
            selector = pafs.FileSelector(root.path, recursive=recursive)
            found = sorted(
                f.path
                for f in root.filesystem.get_file_info(selector)
                if f.type == pafs.FileType.File
                and not posixpath.basename(f.path).startswith(".")
                and is_image_name(PurePosixPath(f.path))
            )
            base = root.path
        elif info.type == pafs.FileType.File:
            found, base = [root.path], posixpath.dirname(root.path)
        else:
            problems.append(InputProblem(PurePosixPath(uri), "no such file or folder"))
            continue
        for path in found:
            inputs.add(path)
            planned.append((path, posixpath.relpath(path, base) if base else path))
    jobs: list[Job] = []
    seen: dict[str, str] = {}
    same_fs = out_root.uri.partition("://")[0] == schemes[0]
    for path, rel in planned:
        rel_path = PurePosixPath(rel)
        parts = [p for p in rel_path.parent.parts if p not in ("", ".", "..")]
        dest = posixpath.join(out_root.path, *parts, rel_path.stem + options.suffix())
        if same_fs and dest in inputs:
            problems.append(
                InputProblem(PurePosixPath(path), "output would overwrite an input; skipped")
            )
            continue
        if dest in seen:
            problems.append(InputProblem(
                PurePosixPath(path), f"same output name as {seen[dest]}: {dest}; skipped"
            ))
            continue
        seen[dest] = path
        jobs.append(Job(source=PurePosixPath(path), dest=PurePosixPath(dest)))  # type: ignore[arg-type]
    return UriPlan(jobs, problems, uris[0], out_root.uri)


def read_uri_file(root: UriRoot, path: str) -> bytes:
    """The whole file; InputError with a one-line reason when it is not a readable file."""
    from pyarrow import fs as pafs

    info = root.filesystem.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise InputError(path, "file not found")
    if info.type != pafs.FileType.File:
        raise InputError(path, "not a regular file")
    try:
        with root.filesystem.open_input_stream(path) as stream:
            return stream.read()
    except OSError as exc:
        raise InputError(path, f"cannot read: {str(exc).splitlines()[0]}") from None


def uri_exists(root: UriRoot, path: str) -> bool:
    from pyarrow import fs as pafs

    return root.filesystem.get_file_info(path).type != pafs.FileType.NotFound


def write_uri_file(root: UriRoot, path: str, data: bytes) -> int:
    """Write under a temp name beside ``path``, then move it into place.

    A local or HDFS move is a rename; on object stores the copy is published whole, so a
    reader never sees a partial output either way.
    """
    folder, name = posixpath.split(path)
    tmp = posixpath.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_MARK}")
    try:
        root.filesystem.create_dir(folder, recursive=True)
        with root.filesystem.open_output_stream(tmp) as stream:
            stream.write(data)
        root.filesystem.move(tmp, path)
    except OSError as exc:
        try:
            root.filesystem.delete_file(tmp)
        except OSError:
            pass
        raise OutputError(path, f"cannot write: {str(exc).splitlines()[0]}") from None
    return len(data)
