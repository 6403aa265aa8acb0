"""Finding input images and planning where each output goes."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from alphacut.errors import OutputError
from alphacut.pipeline.decode import is_image_name
from alphacut.pipeline.output import OutputOptions
from alphacut.pipeline.ownership import is_our_output
from alphacut.pipeline.regular_file import kind_of


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


@dataclass(frozen=True)
class _Candidate:
    """An input file found by expansion, with the output planned for it."""

    source: Path
    dest: Path
    source_real: Path
    dest_real: Path | None


def _candidate(
    item: Path, root: Path, out_dir: Path, options: OutputOptions
) -> _Candidate | InputProblem:
    try:
        dest = _dest_for(item, root, out_dir, options)
    except OutputError as exc:
        return InputProblem(item, exc.reason)
    item_real = _resolved(item)
    if item_real is None:
        return InputProblem(item, f"cannot read: {os.strerror(errno.ELOOP)}")
    try:
        kind = kind_of(item.stat().st_mode)
    except OSError:
        kind = None  # missing or unreadable: decoding says why, in its own words
    if kind is not None:
        # Checked before anything opens it: opening a FIFO would block the batch.
        return InputProblem(item, f"is {kind}, not a regular file; skipped")
    return _Candidate(item, dest, item_real, _resolved(dest))


def _expand(
    inputs: Iterable[Path], out_dir: Path, options: OutputOptions, recursive: bool
) -> list[_Candidate | InputProblem]:
    """Every input file (folders expanded) with its planned output, in order."""
    found: list[_Candidate | InputProblem] = []
    out_real = out_dir.resolve()
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            root = path
            items: Iterable[Path | InputProblem] = _walk(path, recursive, out_real)
        elif path.exists() or path.is_symlink():
            root = path.parent
            items = [path]
        else:
            found.append(InputProblem(path, "no such file or folder"))
            continue
        for item in items:
            found.append(
                item if isinstance(item, InputProblem) else _candidate(item, root, out_dir, options)
            )
    return found


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
    No output may resolve to any input (not only its own), so an input is never
    overwritten; an earlier output of ours that another input would write again is left out
    of the inputs, so a second run into the input folder does not treat it as a photo.
    """
    found = _expand(inputs, out_dir, options, recursive)
    candidates = [c for c in found if isinstance(c, _Candidate)]
    planned = {c.dest_real for c in candidates if c.dest_real not in (None, c.source_real)}
    ours = {c.source_real for c in candidates if c.source_real in planned
            and is_our_output(c.source)}
    sources = {c.source_real: c.source for c in candidates if c.source_real not in ours}
    jobs: list[Job] = []
    problems: list[InputProblem] = []
    seen_dest: dict[Path, Path] = {}
    for item in found:
        if isinstance(item, InputProblem):
            problems.append(item)
            continue
        if item.source_real in ours:
            continue
        if item.dest_real == item.source_real:
            problems.append(InputProblem(item.source, "output would overwrite the input; skipped"))
        elif item.dest_real in sources:
            problems.append(InputProblem(
                item.source,
                f"output {item.dest} would overwrite the input {sources[item.dest_real]}; skipped",
            ))
        elif (item.dest_real or item.dest) in seen_dest:
            first = seen_dest[item.dest_real or item.dest]
            problems.append(InputProblem(
                item.source, f"same output name as {first}: {item.dest}; skipped"
            ))
        else:
            seen_dest[item.dest_real or item.dest] = item.source
            jobs.append(Job(source=item.source, dest=item.dest))
    return jobs, problems


def median_file_bytes(paths: Sequence[Path], sample: int = 64) -> int | None:
    """The median size of up to ``sample`` files spread over ``paths``, from ``stat`` alone
    (no file is read); None when none could be stat'ed."""
    if not paths:
        return None
    step = max(1, len(paths) // sample)
    sizes = []
    for path in paths[::step][:sample]:
        try:
            sizes.append(path.stat().st_size)
        except OSError:
            continue  # decoding will say why, in its own words
    return sorted(sizes)[len(sizes) // 2] if sizes else None


def header_pixels(path: Path) -> int:
    """The pixel count ``path``'s header declares, read without decoding; 0 when it cannot be
    read (decoding then says why, in its own words). FIFOs and devices are refused at once,
    as decoding refuses them."""
    import warnings

    from PIL import Image

    from alphacut.pipeline.regular_file import open_regular

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # size limits and damaged metadata: decode's call
            with open_regular(path) as fh, Image.open(fh) as img:
                return img.width * img.height
    except Exception:  # noqa: BLE001 - any unreadable header only means "size unknown"
        return 0
