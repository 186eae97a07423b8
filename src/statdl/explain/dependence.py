"""Partial dependence and individual conditional expectation (Friedman 2001; Goldstein et al.
2015): a fitted model's prediction as one or two inputs vary over a grid, the other inputs of
each case held at their observed values."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats.mstats import mquantiles

from ..errors import ConfigError
from ..validation import check_choice, message
from ._common import column_indices, design, predictor

__all__ = ["partial_dependence", "PartialDependence"]


@dataclass
class PartialDependence:
    """Result of ``partial_dependence``.

    ``features``: the names of the one or two variables; ``grid``: one array of values per
    variable (for a group of dummy columns, its observed rows, labelled by ``labels``);
    ``average``: the partial dependence over the grid (shape ``(len(g1),)`` or
    ``(len(g1), len(g2))``); ``individual``: one curve per case, shape ``(n, *average.shape)``
    (None for ``kind="average"``).
    """

    features: list[str]
    grid: list[np.ndarray]
    labels: list[list[str]]
    average: np.ndarray | None
    individual: np.ndarray | None
    kind: str

    def frame(self) -> pd.DataFrame:
        """The partial dependence in long form: one column per variable, then ``yhat``."""
        axes = [g if g.ndim == 1 else np.asarray(lab, dtype=object)
                for g, lab in zip(self.grid, self.labels)]
        combos = list(itertools.product(*axes))
        values = self.average if self.average is not None else self.individual.mean(axis=0)
        out = pd.DataFrame(combos, columns=self.features)
        out["yhat"] = np.asarray(values).reshape(-1)
        return out

    def plot(self, path: str | os.PathLike | None = None, **kwargs):
        """PD line over ICE lines (one variable) or a heat map (two); see
        ``statdl.plots.plot_partial_dependence``."""
        from ..plots.explain import plot_partial_dependence

        return plot_partial_dependence(self, path=path, **kwargs)


def partial_dependence(model, x, features, grid=100, kind: str = "average",
                       percentiles=(0.05, 0.95), output: int | None = None
                       ) -> PartialDependence:
    """Partial dependence (``kind="average"``), ICE curves (``"individual"``) or both of the
    prediction on one or two variables.

    For each grid value the variable is set to that value in every row of ``x`` and the model
    predicts; the average over rows is the partial dependence, each row's curve an ICE curve.
    This is scikit-learn's ``method="brute"`` with the same default grid: a variable's unique
    values when it has fewer than ``grid``, else ``grid`` evenly spaced values between its
    ``percentiles`` (``scipy.stats.mstats.mquantiles``, as scikit-learn computes them).

    Parameters
    ----------
    model : fitted model or function ``x -> predictions``
    x : array or DataFrame
    features : column, or list of one or two
        Each a column name or index, or a list of columns taken as one variable (the dummy
        columns of a factor: its grid is the distinct observed rows of those columns).
    grid : int, array or list of arrays
        Resolution, or the grid values themselves (one array per variable).
    kind : ``"average"``, ``"individual"`` or ``"both"``
    output : int, optional
        Output column to explain; defaults to the only one, or to column 1 (the second class)
        of a two-column classifier, as scikit-learn's positive class.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.column_stack([np.linspace(0, 1, 50), np.tile([0.0, 1.0], 25)])
    >>> pd_ = partial_dependence(lambda v: 2 * v[:, 0] + v[:, 1], x, 1)
    >>> pd_.grid[0].tolist(), pd_.average.round(6).tolist()  # 2 * mean(x0) + {0, 1}
    ([0.0, 1.0], [1.0, 2.0])
    """
    values, names = design(x)
    check_choice(kind, "kind", ("average", "individual", "both"), "partial_dependence")
    specs = _feature_specs(features, names)
    grids = _grids(values, specs, grid, percentiles)
    predict = predictor(model)
    shape = tuple(len(g) for g in grids)
    preds = np.empty((len(values), int(np.prod(shape))))
    work = values.copy()
    for k, point in enumerate(itertools.product(*grids)):
        for cols, value in zip(specs, point):
            work[:, cols] = value
        out = predict(work)
        preds[:, k] = out[:, _output(out, output)]
    preds = preds.reshape(len(values), *shape)
    labels = [_labels(g, cols, names) for g, cols in zip(grids, specs)]
    feature_names = [names[c[0]] if len(c) == 1 else "+".join(names[j] for j in c)
                     for c in specs]
    return PartialDependence(
        features=feature_names,
        grid=[g[:, 0] if g.shape[1] == 1 else g for g in grids],
        labels=labels,
        average=preds.mean(axis=0) if kind != "individual" else None,
        individual=preds if kind != "average" else None, kind=kind)


def _feature_specs(features, names) -> list[list[int]]:
    items = features if isinstance(features, list) else [features]
    if not 1 <= len(items) <= 2:
        raise ConfigError(message("features", "one variable or a list of two", features,
                                  "partial_dependence", shown=f"{len(items)} variables"))
    return [column_indices(item, names, "features") for item in items]


def _grids(values, specs, grid, percentiles) -> list[np.ndarray]:
    """Per variable, a (points, columns) array of grid values."""
    custom = None
    if not isinstance(grid, int | np.integer) or isinstance(grid, bool):
        custom = grid if len(specs) > 1 else [grid]
        if len(custom) != len(specs):
            raise ConfigError(message("grid", f"one array of values per feature ({len(specs)})",
                                      grid, "partial_dependence", verb="give",
                                      shown=str(len(custom))))
    elif grid < 2:
        raise ConfigError(message("grid", "an int >= 2 (the resolution) or the grid values",
                                  grid, "partial_dependence"))
    out = []
    for i, cols in enumerate(specs):
        if custom is not None:
            g = np.asarray(custom[i], dtype=np.float64).reshape(-1, len(cols))
        elif len(cols) > 1:  # a factor's dummy columns: its observed rows
            g = np.unique(values[:, cols], axis=0)
        else:
            g = _numeric_grid(values[:, cols[0]], int(grid), percentiles)[:, None]
        out.append(g)
    return out


def _numeric_grid(column: np.ndarray, resolution: int, percentiles) -> np.ndarray:
    uniques = np.unique(column)
    if uniques.shape[0] < resolution:
        return uniques
    lo, hi = mquantiles(column, prob=percentiles, axis=0)
    if np.isclose(lo, hi):
        raise ConfigError(message(
            "percentiles", "two percentiles of distinct values", percentiles,
            "partial_dependence", shown=f"{percentiles}, both at the value {lo:g}",
            fix="Choose percentiles further apart or pass the grid values."))
    return np.linspace(lo, hi, num=resolution, endpoint=True)


def _output(out: np.ndarray, output: int | None) -> int:
    if output is None:
        if out.shape[1] == 1:
            return 0
        if out.shape[1] == 2:
            return 1
        raise ConfigError(message(
            "output", f"the column index to explain (the model has {out.shape[1]} outputs)",
            output, "partial_dependence"))
    if not isinstance(output, int | np.integer) or not 0 <= output < out.shape[1]:
        raise ConfigError(message("output", f"an int in 0..{out.shape[1] - 1}", output,
                                  "partial_dependence"))
    return int(output)


def _labels(g: np.ndarray, cols: list[int], names: list[str]) -> list[str]:
    """Grid labels: numbers, or for a group the columns at their highest grid value (a
    factor's level, whether its dummies are 0/1 or standardised)."""
    if len(cols) == 1:
        return [f"{v:g}" for v in g[:, 0]]
    high = g.max(axis=0)
    varies = high > g.min(axis=0)
    labels = []
    for row in g:
        on = [names[c] for c, v, h, var in zip(cols, row, high, varies) if var and v == h]
        labels.append(",".join(on) if on else "(reference)")
    return labels
