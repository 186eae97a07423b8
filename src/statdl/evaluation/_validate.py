"""Input checks shared by the evaluation functions.

Every check raises :class:`statdl.errors.ConfigError` (a ``ValueError``) whose message names the
argument (and, given ``where``, the function it was passed to), what was expected and what came:
``statdl.validation``'s template, with checks of label arrays that only evaluation needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import validation
from ..errors import ConfigError

__all__ = ["as_labels", "as_numeric", "as_probability", "as_binary", "check_same_length",
           "check_level", "check_level_count", "MAX_LEVELS"]

#: More distinct labels than this is taken for a count or a continuous response, not classes.
MAX_LEVELS = 50

_LABEL_HINT = ("so it looks like probabilities or a continuous response, not class labels. "
               "Pass class labels: model.predict_classes(x), or (prob > 0.5).astype(int) for a "
               "threshold; for a continuous response use regression_report(y, pred).")


_message = validation.message


def _describe(x: Any) -> str:
    shape = getattr(x, "shape", None)
    if shape is not None:
        return f"{type(x).__name__} of shape {tuple(shape)}"
    return f"{type(x).__name__} of length {len(x)}" if hasattr(x, "__len__") else repr(x)


def _one_dim(x: Any, name: str, where: str | None = None) -> Any:
    if x is None:
        raise ConfigError(_message(name, "a 1-d array-like", None, where))
    if isinstance(x, pd.DataFrame):
        if x.shape[1] != 1:
            raise ConfigError(_message(name, "1-d", x, where,
                                       shown=f"a DataFrame with {x.shape[1]} columns"))
        x = x.iloc[:, 0]
    if isinstance(x, pd.Series | pd.Categorical | pd.Index):
        return x
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except ValueError:  # ragged nesting: numpy refuses to guess a shape
        raise ConfigError(_message(name, "a 1-d array-like (one value per observation)", x,
                                   where, shown=f"a ragged nested {type(x).__name__}")) from None
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ConfigError(_message(name, "1-d (one value per observation)", x, where,
                                   shown=_describe(arr)))
    return arr


def _check_whole(values: np.ndarray, name: str, where: str | None, hint: str) -> None:
    """Float labels must be finite whole numbers (0.0/1.0 are labels, 0.37 is not)."""
    if values.dtype.kind == "f":
        floats, where_float = values, np.arange(len(values))
    elif values.dtype.kind == "O":
        where_float = np.flatnonzero([isinstance(v, float | np.floating) for v in values])
        floats = values[where_float].astype(float)
    else:
        return
    infinite = np.isinf(floats)
    if infinite.any():
        first = int(where_float[np.flatnonzero(infinite)[0]])
        raise ConfigError(_message(name, "class labels", values, where,
                                   shown=f"{int(infinite.sum())} infinite value(s), the first "
                                         f"at position {first}"))
    fractional = floats[floats % 1 != 0]
    if fractional.size:
        raise ConfigError(_message(name, "class labels", values, where, verb="hold",
                                   shown=f"non-integer values (e.g. {float(fractional[0]):.4g}), "
                                         f"{hint.rstrip('.')}"))


def as_labels(x: Any, name: str, where: str | None = None,
              hint: str = _LABEL_HINT) -> tuple[np.ndarray, list | None]:
    """Class labels as an object array, plus the declared category order if ``x`` has one.

    Missing labels (None, NaN, pandas NA), infinite values and non-integer floats (which are
    probabilities or a continuous response, not labels) raise an error naming ``name``;
    ``hint`` ends the non-integer message with what to pass instead.
    """
    x = _one_dim(x, name, where)
    declared: list | None = None
    if isinstance(x, pd.Categorical) or isinstance(getattr(x, "dtype", None),
                                                   pd.CategoricalDtype):
        cat = pd.Categorical(x)
        declared = list(cat.categories)
        values = np.asarray(cat.astype(object))
        raw = np.asarray(cat.categories)
    else:
        raw = pd.Series(x).to_numpy()
        values = np.asarray(raw, dtype=object)
    if len(values) == 0:
        raise ConfigError(_message(name, "at least one label", x, where, verb="hold",
                                   shown="an empty vector"))
    missing = pd.isna(values)
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise ConfigError(_message(name, "labels with none missing (None/NaN)", x, where,
                                   verb="hold", shown=f"{int(missing.sum())} missing, the first "
                                                      f"at position {first}"))
    _check_whole(raw, name, where, hint)
    return values, declared


def check_level_count(count: int, names: Sequence[str], where: str,
                      max_levels: int | None) -> None:
    """Refuse more than ``max_levels`` distinct labels (``None``: no limit).

    So many "classes" is nearly always an integer-valued response passed as labels.
    """
    if validation.check_int(max_levels, "max_levels", where, low=2, allow_none=True) is None:
        return
    if count > max_levels:
        raise ConfigError(_message(
            names, f"at most `max_levels` = {max_levels} distinct labels", count, where,
            verb="hold", shown=f"{count} distinct labels",
            fix="That looks like a count or a continuous response, not classes. Pass class "
                f"labels (model.predict_classes(x)), or max_levels={count} (or None) if there "
                f"really are {count} classes."))


def as_numeric(x: Any, name: str, where: str | None = None, *,
               allow_empty: bool = False) -> np.ndarray:
    """A finite float vector; NaN, infinities, text and empty input raise ``ConfigError``."""
    x = _one_dim(x, name, where)
    try:
        arr = np.asarray(pd.Series(x).to_numpy(), dtype=float)
    except (TypeError, ValueError) as err:
        raise ConfigError(_message(name, "numeric", x, where,
                                   shown=f"values that are not numbers ({err})")) from None
    if arr.size == 0 and not allow_empty:
        raise ConfigError(_message(name, "at least one value", x, where, verb="hold",
                                   shown="an empty vector"))
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ConfigError(_message(name, "finite numbers", x, where,
                                   shown=f"{int(bad.sum())} NaN or infinite value(s), the first "
                                         f"at position {first} ({float(arr[first])!r})"))
    return arr


def as_probability(x: Any, name: str, where: str | None = None) -> np.ndarray:
    """A vector of probabilities in [0, 1]."""
    arr = as_numeric(x, name, where)
    bad = (arr < 0) | (arr > 1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ConfigError(_message(
            name, "probabilities in [0, 1]", x, where,
            shown=f"{int(bad.sum())} value(s) outside, e.g. {float(arr[first])!r} at position "
                  f"{first}", fix="Pass predicted probabilities, not logits or class labels."))
    return arr


def as_binary(y: Any, name: str, positive: Any = None, where: str | None = None) -> np.ndarray:
    """Binary outcomes as a 0/1 float vector (1 = ``positive``).

    Without ``positive``, ``y`` must be 0/1 (or bool); any two labels are accepted with
    ``positive`` naming the event. More than two levels raise an error listing them.
    """
    values, _ = as_labels(y, name, where, hint="it must be the observed outcomes (0/1, or two "
                                                "labels with `positive`), with the predicted "
                                                "probabilities in `prob`.")
    levels = list(pd.unique(values))
    if len(levels) > 2:
        try:
            levels = sorted(levels)
        except TypeError:
            pass
        shown = ", ".join(repr(v) for v in levels[:10]) + (", ..." if len(levels) > 10 else "")
        raise ConfigError(_message(
            name, "a binary outcome (two levels)", y, where,
            shown=f"{len(levels)} levels: {shown}", fix="For one class against the rest pass "
            "e.g. (y == k) with the predicted probability of class k."))
    if positive is None:
        ok = all(isinstance(v, bool | np.bool_ | int | np.integer | float | np.floating)
                 and v in (0, 1) for v in levels)
        if not ok:
            shown = ", ".join(repr(v) for v in levels)
            raise ConfigError(_message(
                name, "0/1 (1 = event) unless `positive` names the event level", y, where,
                shown=f"levels {shown}"))
        return values.astype(float)
    level = check_level(positive, levels, "positive")
    return np.array([v == level for v in values], dtype=float)


def check_level(value: Any, levels: Sequence, name: str) -> Any:
    """Return the level equal to ``value`` (or whose text is ``str(value)``)."""
    for level in levels:
        if level is value or (isinstance(level, bool) == isinstance(value, bool)
                              and level == value):
            return level
    for level in levels:
        if str(level) == str(value):
            return level
    shown = ", ".join(repr(v) for v in levels)
    raise ConfigError(_message(name, f"one of the levels {shown}", value))


def check_same_length(where: str | None = None, /, **arrays: Any) -> int:
    """All arrays share one length; returns it. ``where`` names the function in messages."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"`{k}` has {v}" for k, v in lengths.items())
        raise ConfigError(_message(list(lengths), "the same length (one value per "
                                   "observation)", None, where, verb="have", shown=detail))
    return next(iter(lengths.values()))
