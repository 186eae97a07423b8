"""Permutation importance (Breiman 2001; Fisher, Rudin and Dominici 2019): how much worse a
fitted model predicts when the values of one column, or of one group of columns, are shuffled
among the cases."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ConfigError, ShapeError
from ..validation import check_int, choice_error, message
from ._common import column_indices, design, predictor

__all__ = ["permutation_importance", "term_groups", "METRICS"]


def _mse(y, p):
    return float(np.mean((y - p) ** 2))


def _accuracy(y, p):
    return float(np.mean(_labels(y, p) == _classes(p)))


def _classes(a: np.ndarray) -> np.ndarray:
    return a.argmax(axis=1) if a.shape[1] > 1 else (a[:, 0] > 0.5).astype(int)


def _labels(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Class indices from y: one-hot rows, or one column of indices (0/1 for a sigmoid)."""
    return y.argmax(axis=1) if y.shape[1] > 1 else y[:, 0].astype(int)


def _log_loss(y, p):
    if p.shape[1] == 1:
        p = np.column_stack([1 - p[:, 0], p[:, 0]])
    labels = _labels(y, p)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(p)), labels], 1e-15, 1.0))))


def _r2(y, p):
    return float(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean(axis=0)) ** 2))


#: name -> (function of (y, predictions), greater is better)
METRICS: dict[str, tuple[Callable, bool]] = {
    "mse": (_mse, False),
    "rmse": (lambda y, p: float(np.sqrt(_mse(y, p))), False),
    "mae": (lambda y, p: float(np.mean(np.abs(y - p))), False),
    "r2": (_r2, True),
    "accuracy": (_accuracy, True),
    "log_loss": (_log_loss, False),
}


def permutation_importance(model, x, y, metric: str | Callable = "mse", repeats: int = 10,
                           seed: int | None = 0, groups: dict | None = None,
                           greater_is_better: bool | None = None,
                           level: float = 0.95) -> pd.DataFrame:
    """Permutation importance of each column (or group of columns) of ``x``: the loss of
    accuracy when its values are shuffled, ``repeats`` times.

    Same algorithm and random numbers as ``sklearn.inspection.permutation_importance`` with
    ``random_state=seed`` (one seed drawn from it, the same shuffles for every column, each
    repeat shuffling the previous one), so with ``metric="mse"`` it gives scikit-learn's
    numbers for ``scoring="neg_mean_squared_error"``.

    Parameters
    ----------
    model : fitted model, or a function ``x -> predictions``
    x : array or DataFrame
        The cases to permute, ideally held-out ones.
    y : array-like
        Observed responses (class indices, 0/1 or one-hot rows for classifiers).
    metric : str or callable
        ``"mse"``, ``"rmse"``, ``"mae"``, ``"r2"``, ``"accuracy"``, ``"log_loss"``, or a
        function ``f(y, predictions) -> float`` (then say ``greater_is_better``; default False,
        a loss).
    repeats : int
        Shuffles per column.
    seed : int or None
        As scikit-learn's ``random_state``.
    groups : dict, optional
        ``{name: [columns]}``: columns shuffled together (the same row order), such as the
        dummy columns of one factor (see ``term_groups``). Other columns stay on their own.
    level : float
        Of the t interval for the mean importance over repeats. It reflects the randomness of
        the shuffles only, not the sampling of ``x``.

    Returns
    -------
    DataFrame, one row per variable, most important first: ``importance`` (mean drop in
    performance: increase of a loss, decrease of a score), ``sd`` (over repeats), ``lower``,
    ``upper``, ``columns``. ``attrs`` holds ``baseline`` (the metric on intact data),
    ``importances`` (variables x repeats, in row order) and ``metric``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 3)); y = 3 * x[:, 0] + x[:, 1]
    >>> imp = permutation_importance(lambda v: 3 * v[:, 0] + v[:, 1], x, y, repeats=5)
    >>> imp.index.tolist(), bool(imp.loc["x2", "importance"] == 0)
    (['x0', 'x1', 'x2'], True)
    """
    values, names = design(x)
    yv = _response(y, len(values))
    score, higher = _metric(metric, greater_is_better)
    repeats = check_int(repeats, "repeats", "permutation_importance", low=1)
    predict = predictor(model)
    variables = _variables(groups, names)
    baseline = score(yv, predict(values))
    seed_for_columns = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    raw = np.empty((len(variables), repeats))
    for i, (_, cols) in enumerate(variables):
        rng = np.random.RandomState(seed_for_columns)
        permuted = values.copy()
        order = np.arange(len(values))
        for r in range(repeats):
            rng.shuffle(order)
            permuted[:, cols] = permuted[order][:, cols]
            value = score(yv, predict(permuted))
            raw[i, r] = baseline - value if higher else value - baseline
    return _table(variables, raw, baseline, metric, level)


def _table(variables, raw: np.ndarray, baseline: float, metric, level: float) -> pd.DataFrame:
    mean = raw.mean(axis=1)
    sd = raw.std(axis=1, ddof=1) if raw.shape[1] > 1 else np.full(len(raw), np.nan)
    half = stats.t.ppf((1 + level) / 2, raw.shape[1] - 1) * sd / np.sqrt(raw.shape[1]) \
        if raw.shape[1] > 1 else np.full(len(raw), np.nan)
    frame = pd.DataFrame({"importance": mean, "sd": sd, "lower": mean - half,
                          "upper": mean + half,
                          "columns": [len(cols) for _, cols in variables]},
                         index=pd.Index([name for name, _ in variables], name="variable"))
    order = np.argsort(-mean, kind="stable")
    frame = frame.iloc[order]
    frame.attrs.update({"baseline": baseline, "importances": raw[order],
                        "metric": metric if isinstance(metric, str) else
                        getattr(metric, "__name__", "custom"), "level": level})
    return frame


def _variables(groups, names: list[str]) -> list[tuple[str, list[int]]]:
    if groups is None:
        return [(n, [j]) for j, n in enumerate(names)]
    if not isinstance(groups, dict):
        raise ConfigError(message("groups", "a dict name -> list of columns", groups,
                                  "permutation_importance", shown=type(groups).__name__))
    taken: dict[int, str] = {}
    grouped = {}
    for name, spec in groups.items():
        cols = column_indices(spec, names, "groups")
        for c in cols:
            if c in taken:
                raise ConfigError(message(
                    "groups", "groups with no column in common", groups,
                    "permutation_importance",
                    shown=f"column {names[c]!r} in both {taken[c]!r} and {name!r}"))
            taken[c] = str(name)
        grouped[cols[0]] = (str(name), cols)
    out = []
    for j, n in enumerate(names):  # in the order of x's columns
        if j in grouped:
            out.append(grouped[j])
        elif j not in taken:
            out.append((n, [j]))
    return out


def _metric(metric, greater_is_better):
    if callable(metric):
        return metric, bool(greater_is_better)
    if not isinstance(metric, str) or metric not in METRICS:
        raise choice_error("metric", metric, list(METRICS))
    fn, higher = METRICS[metric]
    return fn, higher


def _response(y, n: int) -> np.ndarray:
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y, dtype=np.float64)
    arr = arr.reshape(len(arr), -1) if arr.ndim else arr.reshape(1, 1)
    if arr.shape[0] != n:
        raise ShapeError(message("y", f"one row per row of `x` ({n})", y, verb="have",
                                 shown=str(arr.shape[0])))
    return arr


def term_groups(x: pd.DataFrame, data: pd.DataFrame) -> dict[str, list[str]]:
    """Groups of the design matrix ``x`` (from ``statdl.model_matrix``) by the variable of
    ``data`` each column comes from: a factor's dummy columns (R names: variable then level)
    under the factor's name. Columns of no variable (intercept, interactions) are left out.

    Examples
    --------
    >>> import pandas as pd, statdl as sd
    >>> df = pd.DataFrame({"y": [1., 2, 3], "x": [.5, .1, .2], "g": ["a", "b", "c"]})
    >>> term_groups(sd.model_matrix("y ~ x + g", df), df)
    {'x': ['x'], 'g': ['gb', 'gc']}
    """
    if not isinstance(x, pd.DataFrame) or not isinstance(data, pd.DataFrame):
        bad, value = ("x", x) if not isinstance(x, pd.DataFrame) else ("data", data)
        raise TypeError(message(bad, "a DataFrame (x: the design matrix; data: the data it was "
                                "made from)", value, "term_groups", shown=type(value).__name__))
    groups: dict[str, list[str]] = {}
    for var in data.columns:
        if var in x.columns and not _is_factor(data[var]):
            groups[str(var)] = [str(var)]
        elif _is_factor(data[var]):
            levels = [f"{var}{level}" for level in data[var].dropna().unique()]
            cols = [str(c) for c in x.columns if str(c) in levels]
            if cols:
                groups[str(var)] = cols
    return groups


def _is_factor(column: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(column) or \
        isinstance(column.dtype, pd.CategoricalDtype)
