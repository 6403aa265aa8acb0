"""Command-line entry point: ``parse_args`` / ``run`` / ``main``.

Each sub-command lives in ``alphacut/commands/<name>.py`` with ``register(subparsers)``;
those modules import nothing heavy at module level, so ``alphacut --help`` never loads
ONNX Runtime, NumPy or Textual.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from alphacut import __version__

# Order is the order shown in --help.
COMMANDS: tuple[str, ...] = ("remove", "tui", "demo", "models", "providers", "bench")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="alphacut",
        description=(
            "Private, local AI background removal. Run without a command to open the "
            "terminal UI on a folder; nothing is uploaded anywhere."
        ),
    )
    parser.add_argument("--version", action="version", version=f"alphacut {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"alphacut.commands.{name}")
        module.register(sub)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; a bare ``alphacut [DIR] [options]`` means ``alphacut tui ...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    first = next((a for a in args if not a.startswith("-")), None)
    wants_help_or_version = any(a in ("-h", "--help", "--version") for a in args)
    if (first is None and not wants_help_or_version) or (
        first is not None and first not in COMMANDS
    ):
        args = ["tui", *args]
    return parser.parse_args(args)


def run(args: argparse.Namespace) -> int:
    """Run the parsed command and return its exit status."""
    from alphacut.accel.flavours import check_flavours
    from alphacut.allocator import apply_process_settings
    from alphacut.errors import AlphacutError

    apply_process_settings()

    # Two ONNX Runtime flavours overwrite each other's files without a word from pip.
    warning = check_flavours().warning()
    if warning:
        print(warning, file=sys.stderr)
    try:
        return int(args.func(args))
    except AlphacutError as exc:
        from alphacut.printable import printable_text

        print(f"alphacut: error: {printable_text(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("alphacut: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point."""
    return run(parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
