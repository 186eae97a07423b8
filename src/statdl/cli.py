"""The ``statdl`` command line.

Each feature area registers its own sub-commands through a ``register(subparsers)`` function
listed in ``_COMMAND_MODULES``; this module only wires them together.

A user's mistake (a mistyped command or option, an unknown lab, a bad value, a missing file)
ends with one line ``statdl: error: ...`` and exit code 2; ``statdl --traceback ...`` or the
environment variable ``STATDL_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
from typing import Any

from .errors import StatdlError

__all__ = ["SuggestingParser", "did_you_mean", "build_parser", "main"]

_COMMAND_MODULES = (
    "statdl.demo",          # statdl demo
    "statdl.tuning.cli",    # statdl run | tune | runs ...
    "statdl.labs.cli",      # statdl lab | labs
)

# The mistakes a user can make; anything else is a bug and keeps its traceback.
USER_ERRORS = (StatdlError, ValueError, TypeError, FileNotFoundError)

_OWNER = "_statdl_unrecognized_by"


def did_you_mean(word: str, candidates: Any) -> str:
    """``" did you mean 'x'?"`` for the candidate closest to ``word``, or ``""``.

    Examples
    --------
    >>> did_you_mean("--quik", ["--quick", "--seed"])
    " did you mean '--quick'?"
    >>> did_you_mean("zzz", ["--quick"])
    ''
    """
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1)
    return f" did you mean {close[0]!r}?" if close else ""


class SuggestingParser(argparse.ArgumentParser):
    """An argument parser whose errors suggest the closest command, choice or option.

    Sub-command parsers made with ``add_subparsers().add_parser`` are of the same class, and
    an unrecognised option is reported with the usage of the command it was given to.

    Examples
    --------
    >>> p = SuggestingParser(prog="demo")
    >>> _ = p.add_argument("--runs-dir")
    >>> p.option_hint(["--run-dir"])
    " did you mean '--runs-dir'?"
    """

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as err:
            hint = did_you_mean(value, action.choices or ())
            raise argparse.ArgumentError(action, f"{err.message};{hint}" if hint
                                         else err.message) from None

    def option_hint(self, unknown: list[str]) -> str:
        """Suggestions for the unknown options among ``unknown`` (one per option)."""
        options = [o for a in self._actions for o in a.option_strings]
        hints = [did_you_mean(arg.split("=", 1)[0], options)
                 for arg in unknown if arg.startswith("-")]
        return ";".join(h for h in hints if h)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        namespace, extras = super().parse_known_args(args, namespace)
        if extras and not hasattr(namespace, _OWNER):
            setattr(namespace, _OWNER, self)      # the innermost command that saw them
        return namespace, extras

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        namespace, extras = self.parse_known_args(args, namespace)
        owner = vars(namespace).pop(_OWNER, self)
        if extras:
            hint = owner.option_hint(extras)
            owner.error(f"unrecognized arguments: {' '.join(extras)}" + (f";{hint}" if hint
                                                                          else ""))
        return namespace


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
    from statdl import __version__

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
