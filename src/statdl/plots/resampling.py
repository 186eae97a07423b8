"""Figures of resampled metrics (caret's ``dotplot`` and ``bwplot`` of ``resamples``): one
panel per metric, one row per model, every resample's value shown."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from matplotlib import __version__ as mpl_version
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..validation import message
from ._base import finish, grid_shape, new_figure

__all__ = ["plot_resamples_dot", "plot_resamples_box"]

# matplotlib 3.10 replaced boxplot's `vert` (deprecated in 3.11) by `orientation`
_HORIZONTAL = ({"orientation": "horizontal"}
               if tuple(int(p) for p in mpl_version.split(".")[:2]) >= (3, 10) else {"vert": False})


def _as_resamples(res: Any):
    from ..resampling import CVResult, Resamples, resamples

    if isinstance(res, Resamples):
        return res
    if isinstance(res, CVResult):
        return resamples({res.model_name: res})
    if isinstance(res, dict):
        return resamples(res)
    raise ConfigError(message("res", "what statdl.resamples returns (or a CVResult, or a dict "
                              "name -> CVResult)", res, shown=type(res).__name__))


def _panels(res, metric: Any, ncol: int | None, height_per_model: float):
    metrics = res._metric_list(metric)
    nrow, nc = grid_shape(len(metrics), ncol)
    fig = new_figure(4.2 * nc, (1.2 + height_per_model * len(res.models)) * nrow)
    axes = np.atleast_1d(fig.subplots(nrow, nc, squeeze=False)).reshape(-1)
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    return fig, metrics, axes


def plot_resamples_dot(res: Any, *, metric: str | list[str] | None = None, level: float = 0.95,
                       corrected: bool = True, ncol: int | None = None,
                       path: str | os.PathLike | None = None) -> Figure:
    """Each model's mean metric with its confidence interval, over its resampled values.

    The interval is the corrected resampled t interval (Nadeau and Bengio 2003) unless
    ``corrected=False`` (the plain t interval caret's ``dotplot`` draws); small grey points
    are the metric on each resample.

    Parameters
    ----------
    res : Resamples, CVResult or dict of CVResult
    metric : str or list of str, optional
        Panels to draw (default: every metric).
    level : float
        Confidence level of the intervals.
    corrected : bool
        Corrected (default) or plain t intervals.
    ncol : int, optional
        Panels per row.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> import numpy as np
    >>> from statdl.resampling import cross_validate
    >>> class Mean:
    ...     def fit(self, x, y, **kw): self.m = y.mean()
    ...     def predict(self, x): return np.full(len(x), self.m)
    >>> cv = cross_validate(Mean, np.zeros((20, 1)), np.arange(20.0), folds=4, metrics="MAE")
    >>> plot_resamples_dot(cv).axes[0].get_xlabel()
    'MAE'
    """
    res = _as_resamples(res)
    fig, metrics, axes = _panels(res, metric, ncol, 0.45)
    rng = np.random.default_rng(0)
    for ax, name in zip(axes, metrics):
        vals = res.metric_values(name)
        for row, model in enumerate(res.models):
            r = res.results[model]
            s = r.summary(level=level, corrected=corrected).loc[name]
            v = vals[model].to_numpy(dtype=float)
            ax.scatter(v, row + rng.uniform(-0.12, 0.12, v.size), s=10, color="grey",
                       alpha=0.5, label="resamples" if row == 0 else None)
            ax.errorbar(s["mean"], row, xerr=[[s["mean"] - s["lower"]], [s["upper"] - s["mean"]]],
                        fmt="o", color="C0", capsize=4,
                        label=f"mean, {100 * level:g}% CI" if row == 0 else None)
        ax.set_yticks(range(len(res.models)), res.models)
        ax.set_ylim(-0.6, len(res.models) - 0.4)
        ax.invert_yaxis()
        ax.set_xlabel(name)
        ax.grid(axis="x", alpha=0.3)
    kind = "corrected t" if corrected else "t"
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2,
               fontsize="small", frameon=False)
    fig.suptitle(f"Resampled metrics: mean and {100 * level:g}% {kind} interval "
                 f"({len(res.values)} resamples)", fontsize="medium")
    return finish(fig, path)


def plot_resamples_box(res: Any, *, metric: str | list[str] | None = None,
                       ncol: int | None = None,
                       path: str | os.PathLike | None = None) -> Figure:
    """Box plot of each model's metric over the resamples (caret's ``bwplot``).

    Parameters
    ----------
    res : Resamples, CVResult or dict of CVResult
    metric : str or list of str, optional
        Panels to draw (default: every metric).
    ncol : int, optional
        Panels per row.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> import numpy as np
    >>> from statdl.resampling import cross_validate
    >>> class Mean:
    ...     def fit(self, x, y, **kw): self.m = y.mean()
    ...     def predict(self, x): return np.full(len(x), self.m)
    >>> cv = cross_validate(Mean, np.zeros((20, 1)), np.arange(20.0), folds=4, metrics="MAE")
    >>> len(plot_resamples_box(cv).axes)
    1
    """
    res = _as_resamples(res)
    fig, metrics, axes = _panels(res, metric, ncol, 0.45)
    for ax, name in zip(axes, metrics):
        vals = res.metric_values(name)
        data = [vals[m].dropna().to_numpy(dtype=float) for m in res.models]
        ax.boxplot(data, widths=0.5, **_HORIZONTAL)
        ax.set_yticks(range(1, len(res.models) + 1), res.models)
        ax.invert_yaxis()
        ax.set_xlabel(name)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Resampled metrics ({len(res.values)} resamples)", fontsize="medium")
    return finish(fig, path)
