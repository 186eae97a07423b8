"""The ``statdl`` command line.

Each feature area registers its own sub-commands through a ``register(subparsers)`` function
listed in ``_COMMAND_MODULES``; this module only wires them together.

A user's mistake (a mistyped command or option, an unknown lab, a bad value, a missing file)
ends with one line ``statdl: error: ...`` and exit code 2; ``statdl --traceback ...`` or the
environment variable ``STATDL_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .cli_parsing import SuggestingParser, did_you_mean
from .errors import StatdlError

__all__ = ["SuggestingParser", "did_you_mean", "build_parser", "main"]

_COMMAND_MODULES = (
    "statdl.demo",          # statdl demo
    "statdl.tuning.cli",    # statdl run | tune | runs ...
    "statdl.labs.cli",      # statdl lab | labs
)

# The mistakes a user can make; anything else is a bug and keeps its traceback.
USER_ERRORS = (StatdlError, ValueError, TypeError, FileNotFoundError)


def build_parser() -> argparse.ArgumentParser:
    """The ``statdl`` parser with every area's sub-commands."""
    parser = SuggestingParser(
        prog="statdl",
        description="Deep learning for statisticians: worked examples, tuning runs and reports.",
        epilog="A mistake ends with one line `statdl: error: ...` (exit code 2); "
               "--traceback or STATDL_DEBUG=1 shows the traceback.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--traceback", action="store_true",
                        help="show the full traceback of an error (also: STATDL_DEBUG=1)")
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
    from ._version import __version__

    return f"statdl {__version__}"


def _debug(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "traceback", False) or getattr(args, "debug", False)
                or os.environ.get("STATDL_DEBUG", "") not in ("", "0"))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``statdl`` console script; returns the exit code.

    Examples
    --------
    >>> main(["lab", "mnst-cnn"])
    2
    """
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
    except BrokenPipeError:
        # the reader went away (`statdl runs ls --csv | head`): not an error of ours. Point
        # stdout at /dev/null so that flushing it at exit does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except USER_ERRORS as exc:
        if _debug(args):
            raise
        print(f"statdl: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
