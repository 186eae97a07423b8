"""Predicted against observed values."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..validation import message
from ._base import as_array, finish, new_figure, with_data

__all__ = ["plot_predictions"]


def plot_predictions(y: Any, pred: Any, *, title: str = "Predicted vs observed",
                     xlabel: str = "observed", ylabel: str = "predicted",
                     data: str | None = None, path: str | os.PathLike | None = None) -> Figure:
    """Scatter of predictions against observed values, with the identity line.

    Points on the dashed line are predicted exactly; the title reports the test MSE and
    R-squared.

    Parameters
    ----------
    y, pred : array-like
        Observed responses and predictions (same length; a column vector is fine).
    title, xlabel, ylabel : str
        Texts of the figure.
    data : str, optional
        Which data the points are (``"test"``, ``"training"``); named in the title.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> fig = plot_predictions([1, 2, 3], [1.1, 1.8, 3.3])
    >>> fig.axes[0].get_xlabel()
    'observed'
    """
    title = with_data(title, data, "plot_predictions")
    yv = as_array(y, "y").reshape(-1)
    pv = as_array(pred, "pred").reshape(-1)
    if yv.size == 0 or yv.size != pv.size:
        raise ConfigError(message(["y", "pred"], "non-empty with the same length", (y, pred),
                                  "plot_predictions", shown=f"{yv.size} and {pv.size}"))
    if not (np.all(np.isfinite(yv)) and np.all(np.isfinite(pv))):
        raise ConfigError(message(["y", "pred"], "finite", (y, pred), "plot_predictions",
                                  shown="NaN or infinite values"))
    fig = new_figure(5.2, 5.0)
    ax = fig.subplots()
    ax.scatter(yv, pv, s=14, alpha=0.7, label="test cases")
    lo, hi = float(min(yv.min(), pv.min())), float(max(yv.max(), pv.max()))
    pad = 0.04 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "--", color="grey",
            label="predicted = observed")
    mse = float(np.mean((yv - pv) ** 2))
    sst = float(np.sum((yv - yv.mean()) ** 2))
    r2 = 1 - mse * yv.size / sst if sst > 0 else float("nan")
    ax.set_title(f"{title}\nMSE = {mse:.4g}, R\u00b2 = {r2:.3f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return finish(fig, path)
