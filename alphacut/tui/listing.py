"""What the file browser shows: folders and image files, filtered; per-file batch status.

Plain functions and records with no Textual import, so marking and filtering logic can be
tested without a terminal.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alphacut.pipeline.decode import is_image_name

FileState = Literal["queued", "running", "done", "failed", "skipped", "cancelled"]


@dataclass(frozen=True)
class Entry:
    """One row of the browser."""

    path: Path
    is_dir: bool
    is_parent: bool = False  # the ".." row

    @property
    def label(self) -> str:
        if self.is_parent:
            return ".."
        return self.path.name + ("/" if self.is_dir else "")


@dataclass(frozen=True)
class FileStatus:
    """Where one file stands in the current or last batch."""

    state: FileState
    ms: float = 0.0
    reason: str = ""
    review: str = ""  # why the cutout needs a look; empty when it does not
    confidence: float | None = None

    @property
    def flagged(self) -> bool:
        return bool(self.review)

    def describe(self) -> str:
        if self.state == "done" and self.review:
            return f"done {self.ms:.0f} ms, review: {self.review}"
        if self.state == "done":
            return f"done {self.ms:.0f} ms"
        if self.state in ("failed", "skipped") and self.reason:
            return f"{self.state}: {self.reason}"
        return self.state


def matches(name: str, pattern: str) -> bool:
    """Glob match when ``pattern`` has wildcards, else case-insensitive substring."""
    if not pattern:
        return True
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatch(name.lower(), pattern.lower())
    return pattern.lower() in name.lower()


def list_entries(
    folder: Path,
    *,
    show_hidden: bool = False,
    pattern: str = "",
    only: Collection[Path] | None = None,
) -> list[Entry]:
    """Sub-folders then images of ``folder``, sorted by name; the filter applies to images,
    and ``only`` (the files flagged for review, say) keeps just those images."""
    entries: list[Entry] = []
    if folder.parent != folder:
        entries.append(Entry(folder.parent, is_dir=True, is_parent=True))
    try:
        scanned = sorted(os.scandir(folder), key=lambda e: e.name.lower())
    except OSError:
        return entries
    dirs: list[Entry] = []
    files: list[Entry] = []
    for item in scanned:
        if item.name.startswith(".") and not show_hidden:
            continue
        path = Path(item.path)
        try:
            is_dir = item.is_dir()
        except OSError:
            continue
        if is_dir:
            dirs.append(Entry(path, is_dir=True))
        elif is_image_name(path) and matches(item.name, pattern):
            if only is None or path in only:
                files.append(Entry(path, is_dir=False))
    return entries + dirs + files


def walk_images(
    folder: Path, *, show_hidden: bool = False, pattern: str = "", exclude: Path | None = None
) -> list[Path]:
    """Every image under ``folder`` (recursively), sorted, without following folder links.

    ``exclude`` (the output folder) is never entered: cutouts are not inputs.
    """
    found: list[Path] = []
    skip = exclude.resolve() if exclude is not None else None
    for root, dirs, files in os.walk(folder):
        dirs[:] = [
            d for d in dirs
            if (show_hidden or not d.startswith(".")) and Path(root, d).resolve() != skip
        ]
        dirs.sort()
        for name in sorted(files):
            if name.startswith(".") and not show_hidden:
                continue
            path = Path(root, name)
            if is_image_name(path) and matches(name, pattern):
                found.append(path)
    return found
