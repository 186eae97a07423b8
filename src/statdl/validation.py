"""Argument checks for every public entry point, with one message template.

Every check raises :class:`statdl.errors.ConfigError` (``ShapeError`` for array shapes), both
``ValueError`` subclasses, whose text follows one template::

    `arg` of Func must be <what was expected>; got <what came>. <the fix, when there is one>

(without `` of Func`` when no owner is given). A check returns the value in its plain Python
form (``int``, ``float``), so callers can keep it. Modules with checks of their own (layers,
optimisers, evaluation ...) build their messages with :func:`message` or call these checks, so
that the wording stays the same everywhere.

Examples
--------
>>> check_int(3, "units", "Dense", low=1)
3
>>> check_int(0, "units", "Dense", low=1)
Traceback (most recent call last):
...
statdl.errors.ConfigError: `units` of Dense must be an int >= 1; got 0.
>>> check_number(0.5, "rate", "Dropout", low=0, high=1, high_open=True)
0.5
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .errors import ConfigError, ShapeError

__all__ = ["label", "message", "check_int", "check_number", "check_positive", "check_in_range",
           "check_rate", "check_level", "check_probability", "check_choice", "choice_error",
           "check_callable", "check_array_shape", "is_int", "is_number"]


def label(argument: str | Sequence[str], owner: str | None = None) -> str:
    """"`argument`", or "`argument` of owner" when the owner (a class or function) is given;
    several arguments that must agree read "`a`, `b` and `c`".

    Examples
    --------
    >>> label("y", "roc_auc"), label(["y", "pred"], "regression_report")
    ('`y` of roc_auc', '`y` and `pred` of regression_report')
    """
    names = [argument] if isinstance(argument, str) else [f"{a}" for a in argument]
    quoted = [f"`{n}`" for n in names]
    subject = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return subject if owner is None else f"{subject} of {owner}"


def message(argument: str | Sequence[str], expected: str, got: Any, owner: str | None = None,
            fix: str | None = None, *, shown: str | None = None, verb: str = "be") -> str:
    """The one message template: "`arg` of Owner must be EXPECTED; got GOT." (and the fix).

    ``got`` is shown with ``repr``, unless ``shown`` gives the text to show instead (a shape,
    a type name, "3 NaN values"). ``verb`` replaces "be" where the data, not the argument's
    type, is at fault: "must hold numbers", "must have shape (n, 3)".

    Examples
    --------
    >>> message("patience", "an int >= 0", -1, "EarlyStopping")
    '`patience` of EarlyStopping must be an int >= 0; got -1.'
    >>> message("x", "a 2-d array", None, fix="Pass x.reshape(-1, 1).", shown="shape (5,)")
    '`x` must be a 2-d array; got shape (5,). Pass x.reshape(-1, 1).'
    >>> message("y", "finite numbers", None, "fit", verb="hold", shown="2 NaN values")
    '`y` of fit must hold finite numbers; got 2 NaN values.'
    """
    text = f"{label(argument, owner)} must {verb} {expected}; got " \
           f"{repr(got) if shown is None else shown}."
    return text if not fix else f"{text} {fix}"


def is_int(value: Any) -> bool:
    """Python or numpy integers, not booleans (``numbers.Integral``: no numpy import, so
    ``import statdl`` stays light)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Python or numpy reals (ints included), not booleans."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _num(x: float) -> str:
    return f"{x:g}"


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """" >= 1", " > 0", " <= 5", " in [0, 1)" or ""."""
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{_num(low)}, {_num(high)}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {_num(low)}"
    if high is not None:
        return f" {'<' if high_open else '<='} {_num(high)}"
    return ""


def _within(value: float, low: float | None, high: float | None, low_open: bool,
            high_open: bool) -> bool:
    if low is not None and (value <= low if low_open else value < low):
        return False
    return not (high is not None and (value >= high if high_open else value > high))


def _or(expected: str, allow_none: bool, also: str | None) -> str:
    if also:
        expected += f" ({also})"
    return expected + " or None" if allow_none else expected


def check_int(value: Any, argument: str, owner: str | None = None, *, low: int | None = None,
              high: int | None = None, allow_none: bool = False, also: Iterable[int] = (),
              also_text: str | None = None, fix: str | None = None) -> int | None:
    """``value`` as an ``int`` within ``[low, high]`` (``None`` passes with ``allow_none``;
    the values in ``also`` pass too, described by ``also_text``, e.g. ``-1`` for "one per
    core").

    Examples
    --------
    >>> check_int(-1, "n_jobs", "cross_validate", low=1, also=(-1,),
    ...           also_text="or -1: one per core")
    -1
    >>> check_int(None, "batch_size", low=1, allow_none=True) is None
    True
    >>> check_int(2.0, "folds", "make_folds", low=2)
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `folds` of make_folds must be an int >= 2; got 2.0.
    """
    if value is None and allow_none:
        return None
    if is_int(value) and (value in tuple(also) or _within(value, low, high, False, False)):
        return int(value)
    expected = _or("an int" + _bounds(low, high, False, False), allow_none, also_text)
    raise ConfigError(message(argument, expected, value, owner, fix))


def check_number(value: Any, argument: str, owner: str | None = None, *,
                 low: float | None = None, high: float | None = None, low_open: bool = False,
                 high_open: bool = False, allow_none: bool = False, what: str = "a number",
                 fix: str | None = None) -> float | None:
    """``value`` as a finite ``float`` within the bounds (open or closed at each end); ``what``
    names the kind of number in the message ("a number of seconds", "a probability").

    Examples
    --------
    >>> check_number(0.01, "learning_rate", "RMSprop", low=0, low_open=True)
    0.01
    >>> check_number(float("nan"), "learning_rate", "RMSprop", low=0, low_open=True)
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `learning_rate` of RMSprop must be a number > 0; got nan.
    """
    if value is None and allow_none:
        return None
    if is_number(value) and math.isfinite(value) \
            and _within(value, low, high, low_open, high_open):
        return float(value)
    expected = _or(what + _bounds(low, high, low_open, high_open), allow_none, None)
    raise ConfigError(message(argument, expected, value, owner, fix))


def check_positive(value: Any, argument: str, owner: str | None = None, *,
                   integer: bool = False) -> float | int:
    """An int >= 1 (``integer=True``) or a finite number > 0.

    Examples
    --------
    >>> check_positive(3, "passes", "mc_dropout_predict", integer=True)
    3
    >>> check_positive(0.5, "timeout")
    0.5
    """
    if integer:
        return check_int(value, argument, owner, low=1)  # type: ignore[return-value]
    return check_number(value, argument, owner, low=0, low_open=True)  # type: ignore[return-value]


def check_in_range(value: Any, argument: str, low: float, high: float,
                   owner: str | None = None, *, low_open: bool = False,
                   high_open: bool = False) -> float:
    """A finite number in the interval from ``low`` to ``high`` (closed unless ``*_open``).

    Examples
    --------
    >>> check_in_range(1.5, "quantile", 0, 1, "AnomalyDetector", low_open=True, high_open=True)
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `quantile` of AnomalyDetector must be a number in (0, 1); got 1.5.
    """
    return check_number(value, argument, owner, low=low, high=high,  # type: ignore[return-value]
                        low_open=low_open, high_open=high_open)


def check_rate(value: Any, argument: str = "rate", owner: str | None = None) -> float:
    """A dropout-like rate in ``[0, 1)``.

    Examples
    --------
    >>> check_rate(0.2, "rate", "Dropout")
    0.2
    """
    return check_in_range(value, argument, 0, 1, owner, high_open=True)


def check_level(value: Any, argument: str = "level", owner: str | None = None) -> float:
    """A confidence or coverage level strictly between 0 and 1.

    Examples
    --------
    >>> check_level(0.95)
    0.95
    >>> try:
    ...     check_level(1)
    ... except ConfigError as e:
    ...     print(e)
    `level` must be a number strictly between 0 and 1 (e.g. 0.95); got 1.
    """
    if is_number(value) and 0 < value < 1:
        return float(value)
    raise ConfigError(message(argument, "a number strictly between 0 and 1 (e.g. 0.95)", value,
                              owner))


def check_probability(value: Any, argument: str, owner: str | None = None) -> float:
    """A probability in ``[0, 1]``.

    Examples
    --------
    >>> check_probability(0.3, "prevalence")
    0.3
    """
    return check_number(value, argument, owner, low=0, high=1,  # type: ignore[return-value]
                        what="a probability")


def _one_of(choices: Sequence[Any]) -> str:
    """"one of 'a', 'b'" (names sorted)."""
    if all(isinstance(c, str) for c in choices):
        choices = sorted(choices)
    return "one of " + ", ".join(repr(c) for c in choices)


def check_choice(value: Any, argument: str, choices: Iterable[Any], owner: str | None = None,
                 *, allow_none: bool = False) -> Any:
    """``value`` if it is one of ``choices``; else the choices and, for a near miss, the fix.

    Examples
    --------
    >>> check_choice("same", "padding", ["valid", "same"], "Conv2D")
    'same'
    >>> try:
    ...     check_choice("smae", "padding", ["valid", "same"], "Conv2D")
    ... except ConfigError as e:
    ...     print(e)
    `padding` of Conv2D must be one of 'same', 'valid'; got 'smae'. Did you mean 'same'?
    """
    choices = list(choices)
    if (value is None and allow_none) or any(
            value == c and type(value) is type(c) for c in choices):
        return value
    raise choice_error(argument, value, choices, owner, allow_none=allow_none)


def choice_error(argument: str, got: Any, valid: Iterable[Any], owner: str | None = None,
                 *, allow_none: bool = False, fix: str | None = None) -> ConfigError:
    """The error for a value that is not one of ``valid`` (for callers that test membership
    themselves, e.g. in a registry): the choices and, for a near miss, the closest one.

    Examples
    --------
    >>> str(choice_error("loss", "msq", ["mse", "mae"]))
    "`loss` must be one of 'mae', 'mse'; got 'msq'. Did you mean 'mse'?"
    """
    valid = list(valid)
    if fix is None and isinstance(got, str):
        close = difflib.get_close_matches(got, [c for c in valid if isinstance(c, str)], 1)
        fix = f"Did you mean {close[0]!r}?" if close else None
    expected = _one_of(valid) + (" or None" if allow_none else "")
    return ConfigError(message(argument, expected, got, owner, fix))


def check_callable(value: Any, argument: str, owner: str | None = None, *,
                   allow_none: bool = False) -> Callable | None:
    """A callable (or ``None`` with ``allow_none``); a ``TypeError`` otherwise.

    Examples
    --------
    >>> check_callable(len, "function", "register_lambda") is len
    True
    """
    if callable(value) or (value is None and allow_none):
        return value
    raise TypeError(message(argument, "callable" + (" or None" if allow_none else ""), value,
                            owner, shown=type(value).__name__))


def check_array_shape(array: Any, argument: str, owner: str | None = None, *,
                      ndim: int | Sequence[int] | None = None,
                      shape: Sequence[int | None] | None = None) -> Any:
    """``array`` as a numpy array with ``ndim`` dimensions (one of them, given a list) and the
    ``shape`` given (``None`` for any size of that axis); a ``ShapeError`` otherwise.

    Examples
    --------
    >>> check_array_shape([[1, 2], [3, 4]], "x", shape=(None, 2)).shape
    (2, 2)
    >>> check_array_shape([1, 2], "x", "predict", ndim=2)
    Traceback (most recent call last):
    ...
    statdl.errors.ShapeError: `x` of predict must be a 2-d array; got shape (2,).
    """
    import numpy as np  # here only: the other checks need no numpy

    arr = np.asarray(array)
    if shape is not None:
        ok = arr.ndim == len(shape) and all(s is None or s == n for s, n in zip(shape, arr.shape))
        if not ok:
            want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + \
                   ("," if len(shape) == 1 else "") + ")"
            raise ShapeError(message(argument, f"an array of shape {want}", arr,
                                     owner, shown=f"shape {arr.shape}"))
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-d" for d in allowed)
            raise ShapeError(message(argument, f"a {want} array", arr, owner,
                                     shown=f"shape {arr.shape}"))
    return arr
