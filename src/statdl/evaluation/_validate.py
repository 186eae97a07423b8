"""Input checks shared by the evaluation functions.

Every check raises :class:`statdl.errors.ConfigError` (a ``ValueError``) whose message names the
argument, what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["as_labels", "as_numeric", "as_probability", "as_binary", "check_same_length",
           "check_level"]


def _describe(x: Any) -> str:
    shape = getattr(x, "shape", None)
    if shape is not None:
        return f"{type(x).__name__} of shape {tuple(shape)}"
    return f"{type(x).__name__} of length {len(x)}" if hasattr(x, "__len__") else repr(x)


def _one_dim(x: Any, name: str) -> Any:
    if x is None:
        raise ConfigError(f"`{name}` must be a 1-d array-like; got None.")
    if isinstance(x, pd.DataFrame):
        if x.shape[1] != 1:
            raise ConfigError(f"`{name}` must be 1-d; got a DataFrame with {x.shape[1]} columns.")
        x = x.iloc[:, 0]
    if isinstance(x, pd.Series | pd.Categorical | pd.Index):
        return x
    if hasattr(x, "detach"):  # a torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ConfigError(f"`{name}` must be 1-d (one value per observation); got "
                          f"{_describe(arr)}.")
    return arr


def as_labels(x: Any, name: str) -> tuple[np.ndarray, list | None]:
    """Class labels as an object array, plus the declared category order if ``x`` has one.

    Missing labels (None, NaN, pandas NA) raise an error naming ``name``.
    """
    x = _one_dim(x, name)
    declared: list | None = None
    if isinstance(x, pd.Categorical) or isinstance(getattr(x, "dtype", None),
                                                   pd.CategoricalDtype):
        cat = pd.Categorical(x)
        declared = list(cat.categories)
        values = np.asarray(cat.astype(object))
    else:
        values = np.asarray(pd.Series(x).to_numpy(), dtype=object)
    if len(values) == 0:
        raise ConfigError(f"`{name}` must hold at least one label; got an empty vector.")
    missing = pd.isna(values)
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise ConfigError(f"`{name}` must not contain missing labels (None/NaN); got "
                          f"{int(missing.sum())} missing, the first at position {first}.")
    return values, declared


def as_numeric(x: Any, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """A finite float vector; NaN, infinities, text and empty input raise ``ConfigError``."""
    x = _one_dim(x, name)
    try:
        arr = np.asarray(pd.Series(x).to_numpy(), dtype=float)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"`{name}` must be numeric; got values that are not numbers "
                          f"({err}).") from None
    if arr.size == 0 and not allow_empty:
        raise ConfigError(f"`{name}` must hold at least one value; got an empty vector.")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ConfigError(f"`{name}` must be finite numbers; got {int(bad.sum())} NaN or "
                          f"infinite value(s), the first at position {first} "
                          f"({arr[first]!r}).")
    return arr


def as_probability(x: Any, name: str) -> np.ndarray:
    """A vector of probabilities in [0, 1]."""
    arr = as_numeric(x, name)
    bad = (arr < 0) | (arr > 1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ConfigError(f"`{name}` must be probabilities in [0, 1]; got {int(bad.sum())} "
                          f"value(s) outside, e.g. {arr[first]!r} at position {first}. "
                          "Pass predicted probabilities, not logits or class labels.")
    return arr


def as_binary(y: Any, name: str, positive: Any = None) -> np.ndarray:
    """Binary outcomes as a 0/1 float vector (1 = ``positive``).

    Without ``positive``, ``y`` must be 0/1 (or bool); any two labels are accepted with
    ``positive`` naming the event.
    """
    values, _ = as_labels(y, name)
    levels = pd.unique(values)
    if positive is None:
        ok = all(isinstance(v, bool | np.bool_ | int | np.integer | float | np.floating)
                 and v in (0, 1) for v in levels)
        if not ok:
            shown = ", ".join(repr(v) for v in list(levels)[:5])
            raise ConfigError(f"`{name}` must be 0/1 (1 = event) unless `positive` names the "
                              f"event level; got levels {shown}.")
        return values.astype(float)
    if len(levels) > 2:
        raise ConfigError(f"`{name}` must have two levels for a binary outcome; got "
                          f"{len(levels)}.")
    level = check_level(positive, list(levels), "positive")
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
    raise ConfigError(f"`{name}` must be one of the levels {shown}; got {value!r}.")


def check_same_length(**arrays: Any) -> int:
    """All arrays share one length; returns it."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"`{k}` has {v}" for k, v in lengths.items())
        raise ConfigError(f"{' and '.join(f'`{k}`' for k in lengths)} must have the same "
                          f"length (one value per observation); got {detail}.")
    return next(iter(lengths.values()))
