"""The ``finveil`` command: one entry point, a subcommand per capability."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from engine import __version__
from engine.errors import FinVeilError

# Each module in engine/commands/ registers its own subcommands; listed here so that
# `finveil --help` shows them in a stable order. A module that is absent is skipped.
_COMMAND_MODULES = (
    "run",
    "keys",
    "detokenize",
    "retokenize",
    "tokenize",
    "scan",
    "enclave",
    "smpc",
    "manifest",
    "simulate",
    "serve",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="finveil",
        description="Privacy-preserving analytics for financial data.",
    )
    parser.add_argument("--version", action="version", version=f"finveil {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"engine.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"engine.commands.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``finveil`` command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        code: int = handler(args)
    except FinVeilError as exc:
        # SECURITY: FinVeil messages never carry raw values, so they are safe to print.
        print(f"finveil: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("finveil: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
