"""Prediction intervals against observed responses, and conformal prediction set sizes."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import validation
from ..errors import ConfigError
from ._base import as_array, finish, new_figure, with_data

__all__ = ["plot_intervals", "plot_set_sizes", "plot_accuracy_by_uncertainty"]


def plot_intervals(intervals: pd.DataFrame, y, *, bins: int = 5, max_points: int = 300,
                   title: str | None = None, data: str | None = None,
                   path: str | os.PathLike | None = None) -> Figure:
    """Each case's interval (a vertical bar at its estimate) with the observed response (a
    dot, red when outside), and coverage by bins of the estimate with exact 95% intervals
    against the nominal level.

    Parameters
    ----------
    intervals : DataFrame
        From ``statdl.intervals.predict_interval`` (columns estimate, lower, upper).
    y : array-like
        Observed responses, one per row.
    bins : int
        Bins of the estimate in the right panel.
    max_points : int
        At most this many cases in the left panel (an even subsample, sorted by estimate).
    data : str, optional
        Which data the cases are (``"test"``); named in the title.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> import pandas as pd
    >>> iv = pd.DataFrame({"estimate": [0.0, 1.0, 2.0], "lower": [-1.0, 0.0, 1.0],
    ...                    "upper": [1.0, 2.0, 3.0]})
    >>> fig = plot_intervals(iv, [0.5, 2.5, 2.0], bins=1)
    >>> len(fig.axes)
    2
    """
    from ..intervals.coverage import coverage_report

    report = coverage_report(intervals, y, bins=bins)
    est = as_array(intervals["estimate"], "estimate")
    lo, hi = as_array(intervals["lower"], "lower"), as_array(intervals["upper"], "upper")
    yv = as_array(y, "y").reshape(-1)
    validation.check_int(max_points, "max_points", low=1)
    order = np.argsort(est, kind="stable")
    if order.size > max_points:
        order = order[np.linspace(0, order.size - 1, max_points).round().astype(int)]
    inside = (yv >= lo) & (yv <= hi)
    fig = new_figure(11.0, 4.6)
    left, right = fig.subplots(1, 2, width_ratios=[2, 1])
    left.vlines(est[order], lo[order], hi[order], color="tab:blue", alpha=0.35, lw=1.2,
                label="interval")
    for mask, color, label in ((inside, "black", "observed, inside"),
                               (~inside, "tab:red", "observed, outside")):
        sel = order[mask[order]]
        if sel.size:
            left.scatter(est[sel], yv[sel], s=10, color=color, label=label, zorder=3)
    span = [float(min(est.min(), yv.min())), float(max(est.max(), yv.max()))]
    left.plot(span, span, "--", color="grey", lw=1, label="observed = estimate")
    left.set_xlabel("estimate")
    left.set_ylabel("observed")
    left.legend(loc="best", fontsize="small")
    left.grid(alpha=0.3)
    table = report.by_bin
    mid = (table["from"] + table["to"]) / 2
    err = np.vstack([table["coverage"] - table["ci_low"], table["ci_high"] - table["coverage"]])
    right.errorbar(mid, table["coverage"], yerr=err, fmt="o", capsize=3, label="coverage (95% CI)")
    if report.level is not None:
        right.axhline(report.level, color="grey", ls="--", label=f"nominal {report.level:.0%}")
    right.set_ylim(max(0.0, float(table["ci_low"].min()) - 0.05), 1.02)
    right.set_xlabel("estimate (bin centre)")
    right.set_ylabel("coverage")
    right.legend(loc="lower left", fontsize="small")
    right.grid(alpha=0.3)
    head = title or f"{report.method} intervals"
    fig.suptitle(f"{with_data(head, data, 'plot_intervals')}: coverage {report.coverage:.1%} "
                 f"(95% CI {report.ci[0]:.1%}-{report.ci[1]:.1%}), mean width "
                 f"{report.mean_width:.3g}")
    return finish(fig, path)


def plot_set_sizes(sets: pd.DataFrame, y, *, title: str | None = None, data: str | None = None,
                   path: str | os.PathLike | None = None) -> Figure:
    """Distribution of conformal prediction set sizes, and coverage by set size.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"prediction": [0, 1, 1], "set": [(0,), (0, 1), (1,)],
    ...                   "size": [1, 2, 1], "method": "lac"})
    >>> len(plot_set_sizes(s, [0, 0, 0]).axes)
    2
    """
    yv = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y).reshape(-1)
    labels = list(sets.attrs.get("labels", []))
    if labels and np.issubdtype(yv.dtype, np.integer):  # class indices, as y_cal
        yv = np.asarray([labels[int(v)] for v in yv], dtype=object)
    if yv.size != len(sets):
        raise ConfigError(validation.message(
            "y", f"one value per row of `sets` ({len(sets)})", y, "plot_set_sizes", verb="have",
            shown=f"{yv.size}"))
    inside = np.array([v in s for v, s in zip(yv.tolist(), sets["set"])])
    sizes = sets["size"].to_numpy(int)
    values = np.arange(sizes.min(), sizes.max() + 1)
    fig = new_figure(9.0, 4.0)
    left, right = fig.subplots(1, 2)
    left.bar(values, [(sizes == v).sum() for v in values], color="tab:blue", alpha=0.7)
    left.set_xlabel("set size")
    left.set_ylabel("cases")
    cov = [inside[sizes == v].mean() if (sizes == v).any() else np.nan for v in values]
    right.plot(values, cov, "o-")
    level = sets.attrs.get("level")
    if level is not None:
        right.axhline(level, color="grey", ls="--", label=f"nominal {level:.0%}")
        right.legend(loc="lower right", fontsize="small")
    right.set_xlabel("set size")
    right.set_ylabel("coverage")
    right.set_ylim(0, 1.02)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    method = sets.attrs.get("method", sets["method"].iloc[0] if "method" in sets else "")
    head = title or f"{method} prediction sets".strip()
    fig.suptitle(f"{with_data(head, data, 'plot_set_sizes')}: coverage {inside.mean():.1%}, "
                 f"mean size {sizes.mean():.2f}")
    return finish(fig, path)


def plot_accuracy_by_uncertainty(uncertainty: pd.DataFrame, y, *, by: str = "entropy",
                                 bins: int = 10, title: str | None = None,
                                 data: str | None = None,
                                 path: str | os.PathLike | None = None) -> Figure:
    """Accuracy (with exact 95% intervals) in quantile bins of an uncertainty measure of
    ``statdl.intervals.predict_uncertainty``: falling accuracy means the measure flags errors.

    Examples
    --------
    >>> import pandas as pd
    >>> u = pd.DataFrame({"prediction": [0, 1, 1, 0], "entropy": [0.1, 0.2, 0.9, 1.0]})
    >>> len(plot_accuracy_by_uncertainty(u, [0, 1, 0, 1], bins=2).axes)
    1
    """
    from ..intervals.coverage import accuracy_by_uncertainty

    table = accuracy_by_uncertainty(uncertainty, y, by=by, bins=bins)
    mid = (table["from"] + table["to"]) / 2
    err = np.vstack([table["accuracy"] - table["ci_low"], table["ci_high"] - table["accuracy"]])
    fig = new_figure(6.4, 4.4)
    ax = fig.subplots()
    ax.errorbar(mid, table["accuracy"], yerr=err, fmt="o-", capsize=3)
    ax.set_xlabel(f"{by.replace('_', ' ')} (bin centre; {len(table)} bins of equal size)")
    ax.set_ylabel("accuracy (95% CI)")
    ax.set_ylim(max(0.0, float(table["ci_low"].min()) - 0.05), 1.02)
    ax.grid(alpha=0.3)
    method = uncertainty.attrs.get("method", "")
    head = title or f"Accuracy by {by.replace('_', ' ')}" + (f" ({method})" if method else "")
    ax.set_title(with_data(head, data, "plot_accuracy_by_uncertainty"))
    return finish(fig, path)
