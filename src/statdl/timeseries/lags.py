"""Lagged design matrices (R's ``lagm``), RNN windows and chronological splits."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, ShapeError
from ..validation import check_int, message

__all__ = ["lagm", "lag_matrix", "windows", "chronological_split"]


def lagm(x: Any, k: int = 1) -> Any:
    """The ISLR2 lab's ``lagm(x, k)``: ``x`` moved ``k`` rows down, the first ``k`` rows NaN.

    Row ``t`` of the result holds row ``t - k`` of ``x``: the value ``k`` days before.

    Parameters
    ----------
    x : DataFrame, Series or array (1-d or 2-d)
        Rows are time points, oldest first. A DataFrame or Series keeps its index and names.
    k : int
        The lag, >= 0.

    Returns
    -------
    The same kind as ``x`` (arrays as float).

    Examples
    --------
    >>> lagm(np.array([[1.0, 10], [2, 20], [3, 30]]), 1)
    array([[nan, nan],
           [ 1., 10.],
           [ 2., 20.]])
    """
    k = _int(k, "k", "lagm", low=0)
    if isinstance(x, pd.DataFrame | pd.Series):
        return x.shift(k)
    arr = _numbers(x, "x", "lagm")
    if arr.ndim not in (1, 2):
        raise ShapeError(message("x", "1-d or 2-d (rows are time points)", x, "lagm",
                                 shown=f"shape {arr.shape}"))
    out = np.full_like(arr, np.nan)
    if k < len(arr):
        out[k:] = arr[:len(arr) - k]
    return out


def lag_matrix(data: Any, lags: int = 5, columns: Sequence[str] | None = None,
               response: str | None = None) -> Any:
    """The lagged design of an autoregression: lags 1..``lags`` of ``columns`` side by side.

    As the ISLR2 lab's ``arframe`` (``data.frame(L1 = lagm(x, 1), ..., L5 = lagm(x, 5))``, then
    ``arframe[-(1:5), ]``) and ISLP's lagged columns: the first ``lags`` rows, which lack a
    full history, are dropped, so row ``j`` of the result is time point ``j + lags``.

    Parameters
    ----------
    data : DataFrame or 2-d array
        Rows are time points, oldest first (an array's columns are named ``V1``, ``V2`` ...).
    lags : int
        How many past time points, >= 1.
    columns : list of str, optional
        The columns to lag (default: every numeric column).
    response : str, optional
        A column of ``data`` returned as ``y`` on the same rows (it may also be lagged).

    Returns
    -------
    DataFrame, or ``(x, y)`` when ``response`` is given
        Columns ``L1.<col>`` for every column, then ``L2.<col>`` ... (R's names, lag-major);
        the index is ``data``'s without its first ``lags`` entries.

    Examples
    --------
    >>> df = pd.DataFrame({"v": [1.0, 2, 3, 4, 5], "r": [0.1, 0.2, 0.3, 0.4, 0.5]})
    >>> x, y = lag_matrix(df, lags=2, response="v")
    >>> x
       L1.v  L1.r  L2.v  L2.r
    2   2.0   0.2   1.0   0.1
    3   3.0   0.3   2.0   0.2
    4   4.0   0.4   3.0   0.3
    >>> y.tolist()
    [3.0, 4.0, 5.0]
    """
    frame = _frame(data, "lag_matrix")
    cols = _columns(frame, columns, "lag_matrix")
    lags = _int(lags, "lags", "lag_matrix", low=1)
    if lags >= len(frame):
        raise ConfigError(message("lags", f"below the number of time points ({len(frame)})",
                                  lags, "lag_matrix"))
    parts = []
    for k in range(1, lags + 1):
        part = frame[cols].shift(k)
        part.columns = [f"L{k}.{c}" for c in cols]
        parts.append(part)
    x = pd.concat(parts, axis=1).iloc[lags:]
    if response is None:
        return x
    if not any(response == c and type(response) is type(c) for c in frame.columns):
        raise ConfigError(message("response", f"a column of `data` ({_names(frame)})",
                                  response, "lag_matrix"))
    return x, frame[response].iloc[lags:]


def windows(data: Any, lags: int = 5, columns: Sequence[str] | None = None,
            dtype: Any = np.float32) -> np.ndarray:
    """The past ``lags`` time points of every time point, as RNN and Conv1D layers read them.

    Returns an array of shape ``(samples, timesteps, features) = (n - lags, lags, p)``: sample
    ``j`` is time point ``j + lags`` (the rows of :func:`lag_matrix`), and its ``lags`` steps
    run from the oldest (``t - lags``) to the latest (``t - 1``), the order in which Keras's
    (and statdl's) recurrent layers process a sequence. This is the ISLR2 lab's ``xrnn``
    (``array(x, c(n, 3, 5))[, , 5:1]``, then ``aperm(c(1, 3, 2))``) built directly.

    Parameters
    ----------
    data : DataFrame or 2-d array
        Rows are time points, oldest first.
    lags : int
        Timesteps per sample, >= 1.
    columns : list of str, optional
        The features, in this order (default: every numeric column).
    dtype : floating numpy dtype
        Of the result (float32 by default, what the layers train in; an integer dtype is
        refused: it would truncate the standardized values).

    Examples
    --------
    >>> w = windows(pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [5.0, 6, 7, 8]}), lags=2)
    >>> w.shape, w[0].tolist()           # time point 2: days 0 and 1, oldest first
    ((2, 2, 2), [[1.0, 5.0], [2.0, 6.0]])
    """
    dtype = _float_dtype(dtype)
    frame = _frame(data, "windows")
    cols = _columns(frame, columns, "windows")
    lags = _int(lags, "lags", "windows", low=1)
    values = frame[cols].to_numpy(dtype=float)
    if lags >= len(values):
        raise ConfigError(message("lags", f"below the number of time points ({len(values)})",
                                  lags, "windows"))
    view = np.lib.stride_tricks.sliding_window_view(values, lags, axis=0)  # (n-lags+1, p, lags)
    return np.ascontiguousarray(view[:-1].transpose(0, 2, 1), dtype=dtype)


def chronological_split(*arrays: Any, train: Any):
    """Split arrays into an earlier training part and a later test part (no shuffling).

    Parameters
    ----------
    *arrays : arrays, DataFrames or Series with the same number of rows (time points)
    train : int, float or boolean array
        The training rows: the first ``train`` rows (int), the first ``round(n * train)``
        (a fraction in (0, 1)), or a mask that is True for an initial stretch and False after
        it (as NYSE's ``train`` column; after :func:`lag_matrix`, drop its first ``lags``
        entries: ``mask[lags:]``, R's ``istrain[-(1:5)]``).

    Returns
    -------
    ``((a_train, b_train, ...), (a_test, b_test, ...))``; with one array, ``(train, test)``.

    Examples
    --------
    >>> (x_tr, y_tr), (x_te, y_te) = chronological_split(np.arange(10), np.arange(10) * 2,
    ...                                                  train=0.7)
    >>> x_tr.tolist(), y_te.tolist()
    ([0, 1, 2, 3, 4, 5, 6], [14, 16, 18])
    """
    if not arrays:
        raise ConfigError(message("arrays", "one or more arrays (rows are time points)", None,
                                  "chronological_split", shown="none",
                                  fix="For example chronological_split(x, y, train=0.8)."))
    lengths = [_length(a, i) for i, a in enumerate(arrays)]
    n = lengths[0]
    if any(m != n for m in lengths):
        raise ShapeError(message("arrays", "arrays with the same number of rows", lengths,
                                 "chronological_split", shown=f"{lengths} rows"))
    n_train = _n_train(train, n)
    pieces = [(_rows(a, slice(0, n_train)), _rows(a, slice(n_train, n))) for a in arrays]
    if len(arrays) == 1:
        return pieces[0]
    return tuple(p[0] for p in pieces), tuple(p[1] for p in pieces)


_TRAIN = "an int (rows), a fraction in (0, 1) or a 1-d boolean mask"


def _n_train(train: Any, n: int) -> int:
    if isinstance(train, bool | np.bool_):
        raise ConfigError(message("train", _TRAIN, train, "chronological_split"))
    if isinstance(train, Integral):
        count = int(train)
    elif isinstance(train, Real):
        if not 0 < train < 1:
            raise ConfigError(message("train", _TRAIN, train, "chronological_split",
                                      fix="A count of rows is an int (3, not 3.0)."
                                      if float(train).is_integer() else None))
        count = int(round(n * train))
    else:
        mask = np.asarray(train)
        if mask.dtype != bool or mask.ndim != 1:
            raise ConfigError(message("train", _TRAIN, train, "chronological_split",
                                      shown=_describe(train)))
        if len(mask) != n:
            raise ShapeError(message("train", f"a mask with one entry per row ({n})", train,
                                     "chronological_split", shown=f"{len(mask)} entries",
                                     fix="After lag_matrix or windows with `lags` rows "
                                         "dropped, pass mask[lags:]."))
        count = int(mask.sum())
        if not mask[:count].all():
            first_false = int(np.argmin(mask))
            raise ConfigError(message(
                "train", "True for an initial stretch of rows and False after it (a "
                "chronological split)", train, "chronological_split",
                shown=f"row {first_false} False but a later row True"))
    if not 1 <= count < n:
        shown = repr(train) if isinstance(train, Integral) else (
            f"{train!r} ({count} rows)" if isinstance(train, Real)
            else f"a mask with {count} True")
        raise ConfigError(message("train", f"1 to {n - 1} training rows (of {n})", train,
                                  "chronological_split", verb="give", shown=shown))
    return count


def _numbers(x: Any, name: str, who: str) -> np.ndarray:
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(message(name, "numbers (rows are time points)", x, who, verb="hold",
                                  shown=_describe(x))) from None


def _float_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise ConfigError(message("dtype", "a floating numpy dtype (np.float32 or np.float64)",
                                  dtype, "windows"))
    return dt


def _names(frame: pd.DataFrame) -> str:
    return ", ".join(map(str, frame.columns))


def _frame(data: Any, who: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    arr = np.asarray(data)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ShapeError(message("data", "a DataFrame or a 2-d array (rows are time points)",
                                 data, who, shown=_describe(data)))
    return pd.DataFrame(arr, columns=[f"V{i + 1}" for i in range(arr.shape[1])])


def _columns(frame: pd.DataFrame, columns: Sequence[str] | None, who: str) -> list:
    if columns is None:
        cols = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
                and not pd.api.types.is_bool_dtype(frame[c])]
        if not cols:
            raise ConfigError(message("data", "numeric columns", frame, who, verb="have",
                                      shown="none", fix="Name the columns to lag."))
        return cols
    if isinstance(columns, str):
        columns = [columns]
    if not isinstance(columns, list | tuple | pd.Index | np.ndarray) or len(columns) == 0:
        raise ConfigError(message("columns", "a column name or a non-empty list of them (in "
                                  "order)", columns, who))
    cols = list(columns)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ConfigError(message("columns", f"columns of `data` ({_names(frame)})", missing,
                                  who))
    twice = sorted({str(c) for c in cols if cols.count(c) > 1})
    if twice:
        raise ConfigError(message("columns", "distinct columns", columns, who,
                                  fix=f"{', '.join(twice)} given twice."))
    bad = [c for c in cols if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise ConfigError(message("columns", "numeric columns", bad, who,
                                  fix="Make dummies of a factor with pandas.get_dummies and "
                                      "add them beside the lags."))
    return cols


def _int(value: Any, name: str, who: str, low: int) -> int:
    return check_int(value, name, who, low=low)


def _length(a: Any, i: int) -> int:
    if isinstance(a, str | bytes | dict | set) or (isinstance(a, np.ndarray) and a.ndim == 0) \
            or not hasattr(a, "__len__"):
        raise ConfigError(message(f"arrays[{i}]", "an array, DataFrame, Series or list with "
                                  "one row per time point", a, "chronological_split",
                                  shown=type(a).__name__))
    return len(a)


def _rows(a: Any, rows: slice) -> Any:
    if isinstance(a, pd.DataFrame | pd.Series):
        return a.iloc[rows]
    if isinstance(a, np.ndarray):
        return a[rows]
    return np.asarray(a)[rows]


def _describe(x: Any) -> str:
    if isinstance(x, list | tuple):
        return f"{type(x).__name__} of shape {np.shape(np.asarray(x, dtype=object))}"
    if isinstance(x, np.ndarray | pd.Series | pd.DataFrame):
        return f"{type(x).__name__} of dtype {np.asarray(x).dtype} and shape {np.shape(x)}"
    return repr(x)
