"""``alphacut models``: list, pull, verify, locate and add model files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alphacut.models.store import ModelStatus, ModelStore


def register(sub: Any) -> None:
    """Add the ``models`` sub-command and its actions."""
    p = sub.add_parser(
        "models",
        help="list, download, verify or add models",
        description=(
            "Manage the model cache. Only 'pull' touches the network (HTTPS, pinned sha256); "
            "ALPHACUT_OFFLINE=1 forbids even that."
        ),
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")

    a = actions.add_parser("list", help="show every model, its licence and cache state")
    a.set_defaults(func=run_list)

    a = actions.add_parser("pull", help="download a model into the cache and verify it")
    a.add_argument("name", nargs="?", default="u2netp", help="model name (default: u2netp)")
    a.add_argument("--accept-license", "--accept-licence", dest="accept_license",
                   action="store_true", help="accept the model's licence (needed for isnet)")
    a.set_defaults(func=run_pull)

    a = actions.add_parser("verify", help="check cached files against their sha256; exit 1 "
                                          "on any mismatch")
    a.add_argument("name", nargs="?", help="one model (default: every cached model)")
    a.set_defaults(func=run_verify)

    a = actions.add_parser("path", help="print the verified file of a model")
    a.add_argument("name")
    a.set_defaults(func=run_path)

    a = actions.add_parser("add", help="check a local ONNX file loads and fits the family, "
                                       "then copy it into the cache under a name")
    a.add_argument("file", type=Path)
    a.add_argument("--as", dest="name", required=True, metavar="NAME")
    a.add_argument("--family", default=None,
                   help="pre/post-processing recipe: u2net or isnet-imgly (required unless "
                        "NAME is a catalogue model)")
    a.add_argument("--input-size", type=_size, default=None, metavar="N|HxW",
                   help="model input size (default: the model's fixed size, else the "
                        "family's, e.g. 320 for u2net)")
    a.set_defaults(func=run_add)

    p.set_defaults(func=run_list)


def _size(text: str) -> tuple[int, int]:
    height, _, width = text.lower().partition("x")
    try:
        size = (int(height), int(width or height))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use N or HxW)") from None
    if min(size) < 1 or max(size) > 8192:
        raise argparse.ArgumentTypeError(f"size out of range: {text!r}")
    return size


def _store() -> ModelStore:
    from alphacut.models.store import ModelStore

    return ModelStore()


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _state(status: ModelStatus) -> str:
    if status.verified:
        return "verified (added)" if status.origin == "added" else "verified"
    if status.present:
        return f"CORRUPT: {status.detail}"
    return "not downloaded"


def _err(message: str) -> None:
    print(f"alphacut: {message}", file=sys.stderr)


def run_list(args: argparse.Namespace) -> int:
    """Print the catalogue and added models with their cache state."""
    store = _store()
    header = ("name", "family", "input", "size", "licence", "state")
    rows = []
    for name in store.names():
        status = store.status(store.spec(name))
        spec = status.spec
        licence = spec.licence + (" (pull needs --accept-license)"
                                  if spec.needs_licence_acceptance else "")
        rows.append((name, spec.family, f"{spec.input_size[1]}x{spec.input_size[0]}",
                     _megabytes(spec.size), licence, _state(status)))
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"models in {store.paths.models}")
        for column in header:
            table.add_column(column, justify="right" if column == "size" else "left")
        for row in rows:
            style = "green" if row[-1].startswith("verified") else (
                "red" if row[-1].startswith("CORRUPT") else None)
            table.add_row(*row, style=style)
        Console().print(table)
    else:
        print("\t".join(header))
        for row in rows:
            print("\t".join(row))
    return 0


def run_pull(args: argparse.Namespace) -> int:
    """Download a model (if it is not already cached and verified)."""
    from alphacut.progress import download_progress

    store = _store()
    spec = store.spec(args.name)
    before = store.status(spec)
    if before.verified:
        print(f"{spec.name} is already cached and verified: {before.path}")
        return 0
    with download_progress(f"pulling {spec.name}") as progress:
        path = store.ensure(args.name, progress=progress, accept_licence=args.accept_license,
                            say=_err)
    print(f"{spec.name} verified: {path}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Re-hash cached files; exit 1 when any cached (or the named) model fails."""
    store = _store()
    names = [args.name] if args.name else store.names()
    failed = 0
    for name in names:
        status = store.status(store.spec(name))
        if status.verified:
            print(f"{name}: ok ({status.path})")
        elif status.present:
            failed += 1
            hint = ("add it again with 'alphacut models add'" if status.origin == "added"
                    else f"run 'alphacut models pull {name}' to fetch it again")
            print(f"{name}: MISMATCH, {status.detail}; {hint}")
        elif args.name:
            failed += 1
            print(f"{name}: not downloaded")
        else:
            print(f"{name}: not downloaded")
    return 1 if failed else 0


def run_path(args: argparse.Namespace) -> int:
    """Print the path of a verified model file (for scripts)."""
    print(_store().locate(args.name))
    return 0


def run_add(args: argparse.Namespace) -> int:
    """Copy a local model file into the cache."""
    status = _store().add(args.file, args.name, family=args.family, input_size=args.input_size)
    spec = status.spec
    print(f"added {spec.name} ({spec.family}, input {spec.input_size[1]}x{spec.input_size[0]}, "
          f"sha256 {spec.sha256[:12]}...): {status.path}")
    return 0
