"""The ``facegraft`` command: a thin layer over the library.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and a
``run(args) -> int``; this module only dispatches and turns
:class:`~facegraft.errors.FacegraftError` into one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import FacegraftError
from .common import Parser
from .nativelog import quiet_native_logs

SUBCOMMANDS = ("swap", "faces", "eval", "bench", "web", "live")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="facegraft",
        description="Replace a face in a video or image with a face from one or more photos.")
    parser.add_argument("--version", action="version", version=f"facegraft {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:  # a subcommand still being built
            if exc.name and exc.name.startswith("facegraft"):
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with quiet_native_logs():
        try:
            return int(args.run(args) or 0)
        except FacegraftError as exc:
            print(f"facegraft: error: {exc.line()}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("facegraft: interrupted; no output was written", file=sys.stderr)
            return 130
