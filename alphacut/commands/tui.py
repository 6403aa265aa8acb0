"""``alphacut tui [DIR]`` (also plain ``alphacut [DIR]``): the terminal user interface."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from alphacut.choices import GRAPHICS_MODES


def register(sub: Any) -> None:
    """Add the ``tui`` sub-command."""
    p = sub.add_parser(
        "tui",
        help="open the terminal UI on a folder (the default command)",
        description=(
            "Browse a folder, mark photos, preview masks and cutouts inline, run and watch "
            "progress. Model, provider, output settings and graphics mode are remembered in "
            "the config file; options given here replace the remembered ones."
        ),
    )
    p.add_argument("directory", nargs="?", type=Path, default=Path("."), metavar="DIR",
                   help="folder to open (default: the current folder)")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="OUT",
                   help="output folder for this session (default: DIR/alphacut-out)")
    p.add_argument("--model", default="", help="model name (see 'alphacut models list')")
    p.add_argument("--provider", default="", metavar="NAME[:DEVICE]",
                   help="auto | cpu | openvino[:CPU|GPU|NPU] | directml[:ID] | cuda[:ID]")
    p.add_argument("--graphics", choices=GRAPHICS_MODES, default=None,
                   help="image rendering (default: kitty/sixel when detected, else halfcell)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the UI; returns its exit status."""
    from alphacut.tui.app import run_app

    return run_app(
        args.directory,
        output_dir=args.output,
        model=args.model,
        provider=args.provider,
        graphics=args.graphics,
    )
