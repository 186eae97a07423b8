"""Argument parsers whose errors suggest the closest command, choice or option.

Used by the ``statdl`` command (:mod:`statdl.cli`) and by the parts that parse their own
options (``statdl.labs``); it imports nothing of statdl, so that those parts need not import
the command line that imports them.
"""

from __future__ import annotations

import argparse
import difflib
from typing import Any

__all__ = ["SuggestingParser", "did_you_mean"]

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
