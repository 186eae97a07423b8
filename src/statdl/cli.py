"""The ``statdl`` command line.

Each feature area registers its own sub-commands through a ``register(subparsers)`` function
listed in ``_COMMAND_MODULES``; this module only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys

_COMMAND_MODULES = (
    "statdl.demo",          # statdl demo
    "statdl.tuning.cli",    # statdl run | tune | runs ...
    "statdl.labs.cli",      # statdl lab | labs
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statdl",
        description="Deep learning for statisticians: worked examples, tuning runs and reports.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def _version() -> str:
    from statdl import __version__

    return f"statdl {__version__}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``statdl`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as exc:
        if getattr(args, "debug", False):
            raise
        print(f"statdl: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
