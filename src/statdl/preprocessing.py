"""R-style data preparation: design matrices, scaling, train/test splits, one-hot labels."""

from __future__ import annotations

import re
import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .errors import ConfigError
from .validation import message

__all__ = ["model_matrix", "scale", "Scaled", "train_test_split", "to_categorical"]


# ----------------------------------------------------------------------------- model_matrix
def model_matrix(formula: str, data: pd.DataFrame) -> pd.DataFrame:
    """Design matrix of ``formula`` with R's ``model.matrix`` semantics (via formulaic).

    The response (left of ``~``) is not included; ``- 1`` removes the intercept, in which
    case the first factor gets a column for every level, as in R. Rows with missing values
    are dropped (R's default ``na.omit``). Columns carry R's names (``LeagueN``, not
    ``League[T.N]``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1., 2, 3], "x": [.5, .1, .2], "g": ["a", "b", "a"]})
    >>> model_matrix("y ~ . - 1", df).columns.tolist()
    ['x', 'ga', 'gb']
    >>> model_matrix("y ~ x + g", df).columns.tolist()
    ['(Intercept)', 'x', 'gb']
    """
    if not isinstance(formula, str) or "~" not in formula and not formula.strip():
        raise ConfigError(message("formula", "a formula string such as 'y ~ x'", formula,
                                  "model_matrix"))
    if not isinstance(data, pd.DataFrame):
        raise ConfigError(message("data", "a pandas DataFrame", data, "model_matrix",
                                  shown=type(data).__name__))
    _check_columns(formula, data)
    import formulaic

    try:
        mm = formulaic.model_matrix(formula, data)
    except Exception as exc:  # formulaic raises many types; re-raise with the formula named
        raise ConfigError(message("formula", "a formula that can be evaluated on `data`",
                                  formula, "model_matrix", f"formulaic says: {exc}")) from exc
    rhs = mm.rhs if hasattr(mm, "rhs") else mm
    out = pd.DataFrame(np.asarray(rhs, dtype=float), index=rhs.index,
                       columns=[_r_name(c) for c in rhs.columns])
    return out


def _check_columns(formula: str, data: pd.DataFrame) -> None:
    """Name every bare variable of the formula missing from ``data``."""
    stripped = re.sub(r"`[^`]*`", " ", formula)
    stripped = re.sub(r"\b\w+\s*\(", " ", stripped)  # function names such as log(
    names = set(re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", stripped)) - {"."}
    missing = sorted(n for n in names if n not in data.columns and not _is_number(n))
    if missing:
        raise ConfigError(message(
            "formula", "a formula over the columns of `data`", formula, "model_matrix",
            f"Its column(s) {', '.join(map(repr, missing))} are not in `data`, whose columns "
            f"are {', '.join(map(str, data.columns))}."))


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _r_name(col: str) -> str:
    if col == "Intercept":
        return "(Intercept)"
    return ":".join(re.sub(r"^(.*)\[(?:T\.)?(.*)\]$", r"\1\2", part) for part in col.split(":"))


# ----------------------------------------------------------------------------- scale
class Scaled(NamedTuple):
    """Result of :func:`scale`: the scaled data and the centre and scale used.

    ``apply(new)`` transforms new data with the same centre and scale (e.g. test data with
    the training means and standard deviations).
    """

    x: Any
    center: np.ndarray | None
    scale: np.ndarray | None

    def apply(self, new):
        """Scale ``new`` with this centre and scale."""
        return scale(new, center=False if self.center is None else self.center,
                     scale=False if self.scale is None else self.scale).x


def scale(x, center=None, scale=None) -> Scaled:
    """Centre and scale columns like R's ``scale()``.

    Parameters
    ----------
    x : array-like or DataFrame, 2-D (a 1-D input is one column)
    center : None/True, False or array-like
        ``None``/``True``: subtract the column means (NaNs ignored); ``False``: no centring;
        an array: subtract these values.
    scale : None/True, False or array-like
        ``None``/``True``: divide by the column sample standard deviations (``n - 1``), or,
        when not centring, by the root mean square ``sqrt(sum(x^2) / (n - 1))`` as R does;
        ``False``: no scaling; an array: divide by these values.

    Returns
    -------
    Scaled
        Named tuple ``(x, center, scale)``; ``x`` keeps the input's type (DataFrame or
        ndarray, float64). A constant column gives NaN (as in R), with a warning.

    Examples
    --------
    >>> s = scale([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    >>> s.x[:, 0].tolist(), s.center.tolist(), s.scale.tolist()
    ([-1.0, 0.0, 1.0], [2.0, 20.0], [1.0, 10.0])
    >>> s.apply([[4.0, 40.0]]).tolist()
    [[2.0, 2.0]]
    """
    frame = x if isinstance(x, pd.DataFrame) else None
    try:
        arr = np.array(x, dtype=float)
    except (ValueError, TypeError):
        raise ConfigError(message(
            "x", "a numeric 2-D array or DataFrame with equal-length rows", x, "scale",
            "A ragged or non-numeric input cannot be scaled.", shown=type(x).__name__)) from None
    one_d = arr.ndim == 1
    if one_d:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ConfigError(message("x", "1-D or 2-D", x, "scale",
                                  shown=f"{arr.ndim} dimensions"))
    p = arr.shape[1]
    c = _vector(center, "center", p)
    if c is True:
        c = np.nanmean(arr, axis=0)
    if c is not False:
        arr = arr - c
    s = _vector(scale, "scale", p)
    if s is True:
        n_ok = np.sum(~np.isnan(arr), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.sqrt(np.nansum(arr**2, axis=0) / (n_ok - 1))
        bad = np.flatnonzero(~(s > 0))
        if bad.size:
            names = frame.columns[bad].tolist() if frame is not None else bad.tolist()
            warnings.warn(f"scale(): column(s) {names} have zero or undefined standard "
                          "deviation; they become NaN (as in R).", stacklevel=2)
    if s is not False:
        with np.errstate(invalid="ignore", divide="ignore"):
            arr = arr / s
    out: Any = arr[:, 0] if one_d else arr
    if frame is not None:
        out = pd.DataFrame(arr, index=frame.index, columns=frame.columns)
    elif isinstance(x, pd.Series):
        out = pd.Series(arr[:, 0], index=x.index, name=x.name)
    return Scaled(out, None if c is False else np.asarray(c, dtype=float),
                  None if s is False else np.asarray(s, dtype=float))


def _vector(value, name: str, p: int):
    if value is None or value is True:
        return True
    if value is False:
        return False
    try:
        v = np.asarray(value, dtype=float).reshape(-1)
    except (ValueError, TypeError):
        v = None
    if v is None or v.size not in (1, p):
        raise ConfigError(message(name, f"None, True, False or {p} numbers (one per column)",
                                  value, "scale"))
    return np.broadcast_to(v, (p,)).copy()


# ----------------------------------------------------------------------------- split
def train_test_split(*arrays, test_size: float | int = 0.25, seed: int | None = None):
    """Split arrays (numpy, pandas, lists) into random train and test rows.

    ``round(n * test_size)`` rows (or ``test_size`` rows when it is an int) go to the test
    set, drawn with ``numpy.random.default_rng(seed)``; both parts keep the original row
    order. With two arrays the result is ``((x_train, y_train), (x_test, y_test))``; with one,
    ``(x_train, x_test)``; with k arrays, two k-tuples.

    Examples
    --------
    >>> import numpy as np
    >>> (xtr, ytr), (xte, yte) = train_test_split(np.arange(10), np.arange(10) * 2,
    ...                                           test_size=0.3, seed=1)
    >>> len(xtr), len(xte), bool(((ytr == 2 * xtr).all()))
    (7, 3, True)
    """
    if not arrays:
        raise ConfigError(message("arrays", "one or more arrays", arrays, "train_test_split",
                                  shown="none"))
    lengths = [_len(a, i) for i, a in enumerate(arrays)]
    n = lengths[0]
    if any(m != n for m in lengths):
        raise ConfigError(message("arrays", "arrays with the same number of rows", lengths,
                                  "train_test_split", shown=f"{lengths} rows"))
    if isinstance(test_size, bool) or not isinstance(test_size, int | float | np.number):
        raise ConfigError(message("test_size", "a fraction in (0, 1) or an int", test_size,
                                  "train_test_split"))
    if isinstance(test_size, int | np.integer):
        if not 1 <= test_size < n:
            raise ConfigError(message("test_size", f"a count in [1, {n - 1}]", test_size,
                                      "train_test_split"))
        n_test = int(test_size)
    else:
        if not 0 < test_size < 1:
            raise ConfigError(message("test_size", "a fraction in (0, 1)", test_size,
                                      "train_test_split"))
        n_test = int(round(n * test_size))
        if not 1 <= n_test < n:
            raise ConfigError(message(
                "test_size", f"a fraction giving 1..{n - 1} test rows out of {n}", test_size,
                "train_test_split", shown=f"{test_size} ({n_test} test rows)"))
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)
                             or seed < 0):
        raise ConfigError(message("seed", "an int >= 0 or None", seed, "train_test_split"))
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(n, dtype=bool)
    test_mask[rng.choice(n, size=n_test, replace=False)] = True
    tr, te = np.flatnonzero(~test_mask), np.flatnonzero(test_mask)
    train = tuple(_take(a, tr) for a in arrays)
    test = tuple(_take(a, te) for a in arrays)
    if len(arrays) == 1:
        return train[0], test[0]
    return train, test


def _len(a, i: int) -> int:
    try:
        return len(a)
    except TypeError:
        raise ConfigError(message(
            f"arrays[{i}]", "an array-like with rows (numpy, pandas or a list)", a,
            "train_test_split", shown=type(a).__name__)) from None


def _take(a, idx: np.ndarray):
    if isinstance(a, pd.DataFrame | pd.Series):
        return a.iloc[idx]
    if isinstance(a, np.ndarray) or hasattr(a, "__array__") and hasattr(a, "shape"):
        return a[idx]
    return [a[i] for i in idx.tolist()]


# ----------------------------------------------------------------------------- one-hot
# 2**31 cells (16 GiB as float64): beyond any real one-hot matrix, so a label that asks for
# more is a code or an id, not a class index, and numpy's MemoryError would not say so.
_MAX_ONE_HOT_CELLS = 2**31


def to_categorical(y, num_classes: int | None = None, dtype="float64") -> np.ndarray:
    """One-hot encode integer class labels, as Keras's ``to_categorical``.

    ``num_classes`` defaults to ``max(y) + 1``; a trailing axis of length 1 is dropped.
    Labels must be whole numbers in ``[0, num_classes)``.

    Examples
    --------
    >>> to_categorical([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])
    """
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ConfigError(message("dtype", "a numpy dtype or its name such as 'float32'", dtype,
                                  "to_categorical")) from None
    try:
        raw = np.asarray(y, dtype=float)
    except (ValueError, TypeError):
        raise ConfigError(message("y", "integer class labels (a numeric array)", y,
                                  "to_categorical", verb="hold",
                                  shown=type(y).__name__)) from None
    if raw.size and (~np.isfinite(raw) | (raw != np.round(raw))).any():
        raise ConfigError(message("y", "whole-number class labels", y, "to_categorical",
                                  verb="hold", shown="non-integer values"))
    x = raw.astype(np.int64)
    shape = x.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    x = x.reshape(-1)
    if num_classes is None:
        num_classes = int(x.max()) + 1 if x.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) \
            or num_classes < 1:
        raise ConfigError(message("num_classes", "an int >= 1 or None", num_classes,
                                  "to_categorical"))
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ConfigError(message(
            "y", f"labels in [0, {num_classes - 1}] for num_classes={num_classes}", y,
            "to_categorical", verb="hold", shown=f"values from {x.min()} to {x.max()}"))
    cells = x.size * num_classes
    if cells > _MAX_ONE_HOT_CELLS:
        raise ConfigError(message(
            "y", "class indices 0..k-1", y, "to_categorical",
            "pd.factorize(y) turns arbitrary codes into such indices.", verb="hold",
            shown=f"labels needing a one-hot matrix of {x.size} x {num_classes} = {cells:,} "
                  f"cells ({cells * dtype.itemsize / 2**30:.1f} GiB)"))
    out = np.zeros((x.size, num_classes), dtype=dtype)
    out[np.arange(x.size), x] = 1
    return out.reshape(shape + (num_classes,))
