"""Finding input images and planning where each output goes."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from alphacut.errors import OutputError
from alphacut.pipeline.decode import is_image_name
from alphacut.pipeline.output import OutputOptions


@dataclass(frozen=True)
class Job:
    """One input file and the output path planned for it."""

    source: Path
    dest: Path


@dataclass(frozen=True)
class InputProblem:
    """An input that could not even be listed (missing path, loop, unreadable folder)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _walk(root: Path, recursive: bool, skip: Path | None) -> Iterator[Path | InputProblem]:
    """Image files under ``root``, sorted, following symlinks without looping."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
        except OSError as exc:
            yield InputProblem(folder, f"cannot read folder: {exc.strerror or exc}")
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            yield InputProblem(folder, "symlink loop: folder already visited, skipped")
            continue
        seen.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield InputProblem(folder, f"cannot read folder: {exc.strerror or exc}")
            continue
        subdirs: list[Path] = []
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if recursive and (skip is None or _resolved(path) != skip):
                    subdirs.append(path)
            elif is_image_name(path):
                yield path
        stack.extend(reversed(subdirs))


def _dest_for(source: Path, root: Path, out_dir: Path, options: OutputOptions) -> Path:
    """``OUT/<source relative to root>/<stem><suffix>``, never outside ``out_dir``."""
    rel = source.relative_to(root) if source != root else Path(source.name)
    parts = [p for p in rel.parent.parts if p not in ("", ".", "..", os.sep)]
    dest = out_dir.joinpath(*parts, rel.stem + options.suffix())
    dest_real = _resolved(dest)
    if dest_real is None:
        raise OutputError(dest, "output path cannot be resolved (symlink loop?)")
    if out_dir.resolve() not in dest_real.parents:
        raise OutputError(dest, "output path would escape the output folder")
    return dest


def _resolved(path: Path) -> Path | None:
    """``path.resolve()``, or None for a symlink loop (Python 3.11 raises RuntimeError)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return None


def plan_jobs(
    inputs: Iterable[Path],
    out_dir: Path,
    options: OutputOptions,
    *,
    recursive: bool = False,
) -> tuple[list[Job], list[InputProblem]]:
    """Expand files and folders into jobs; problems are returned, not raised.

    Files named directly are always tried (a bad one gets its own error line); folders
    contribute image files by extension. The output folder is never read as input.
    """
    jobs: list[Job] = []
    problems: list[InputProblem] = []
    out_real = out_dir.resolve()
    seen_dest: dict[Path, Path] = {}
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            root = path
            found: Iterable[Path | InputProblem] = _walk(path, recursive, out_real)
        elif path.exists() or path.is_symlink():
            root = path.parent
            found = [path]
        else:
            problems.append(InputProblem(path, "no such file or folder"))
            continue
        for item in found:
            if isinstance(item, InputProblem):
                problems.append(item)
                continue
            try:
                dest = _dest_for(item, root, out_dir, options)
            except OutputError as exc:
                problems.append(InputProblem(item, exc.reason))
                continue
            item_real = _resolved(item)
            if item_real is None:
                problems.append(InputProblem(item, f"cannot read: {os.strerror(errno.ELOOP)}"))
                continue
            if _resolved(dest) == item_real:
                problems.append(InputProblem(item, "output would overwrite the input; skipped"))
                continue
            if dest in seen_dest:
                problems.append(
                    InputProblem(item, f"same output name as {seen_dest[dest]}: {dest}; skipped")
                )
                continue
            seen_dest[dest] = item
            jobs.append(Job(source=item, dest=dest))
    return jobs, problems
