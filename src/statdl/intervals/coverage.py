"""How often intervals (or prediction sets) cover the observed responses on a test set, with
an exact binomial interval for that rate, and how it varies across the predictions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ConfigError, ShapeError
from ..validation import check_int, message
from .api import GUARANTEE
from .conformal import check_level

__all__ = ["coverage_report", "clopper_pearson", "CoverageReport", "accuracy_by_uncertainty"]


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for a binomial proportion ``k / n``: the beta
    quantiles ``B((1 - level) / 2; k, n - k + 1)`` and ``B((1 + level) / 2; k + 1, n - k)``.

    Examples
    --------
    >>> [round(v, 4) for v in clopper_pearson(90, 100)]
    [0.8238, 0.951]
    >>> clopper_pearson(0, 10)[0], clopper_pearson(10, 10)[1]
    (0.0, 1.0)
    """
    level = check_level(level)
    if not (0 <= k <= n) or n < 1:
        raise ConfigError(message("k", "a count in 0..n with n >= 1", k, "clopper_pearson",
                                  shown=f"k={k}, n={n}"))
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


@dataclass
class CoverageReport:
    """The result of ``coverage_report``: overall coverage with its exact interval, the mean
    width (or set size), coverage by bins, and what the method guarantees."""

    method: str
    level: float | None
    n: int
    covered: int
    coverage: float
    ci: tuple[float, float]
    mean_width: float
    by_bin: pd.DataFrame
    guarantee: str
    kind: str = "interval"
    _intervals: pd.DataFrame | None = field(default=None, repr=False)
    _y: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> pd.DataFrame:
        """One row: method, nominal level, n, coverage, its 95% exact interval, mean width."""
        width = "mean_size" if self.kind == "set" else "mean_width"
        return pd.DataFrame([{"method": self.method, "level": self.level, "n": self.n,
                              "coverage": self.coverage, "ci_low": self.ci[0],
                              "ci_high": self.ci[1], width: self.mean_width}])

    def __str__(self) -> str:
        nominal = f"nominal {self.level:.0%}, " if self.level is not None else ""
        size = "mean set size" if self.kind == "set" else "mean width"
        lines = [f"Coverage of {self.method} {self.kind}s on {self.n} cases: "
                 f"{self.coverage:.1%} ({nominal}exact 95% CI {self.ci[0]:.1%} to "
                 f"{self.ci[1]:.1%}); {size} {self.mean_width:.4g}.",
                 f"Guarantee: {self.guarantee}.", "", self.by_bin.to_string(index=False)]
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike | None = None, **kwargs):
        """Intervals against observed responses (``statdl.plots.plot_intervals``)."""
        if self.kind != "interval":
            from ..plots.intervals import plot_set_sizes

            return plot_set_sizes(self._intervals, self._y, path=path, **kwargs)
        from ..plots.intervals import plot_intervals

        return plot_intervals(self._intervals, self._y, path=path, **kwargs)


def coverage_report(intervals: pd.DataFrame, y, bins: int = 5) -> CoverageReport:
    """Empirical coverage of ``predict_interval`` (or ``predict_set``) results on the observed
    ``y``: the share of cases inside their interval (set), its Clopper-Pearson 95% interval,
    the mean width (set size), and the same by ``bins`` quantile bins of the estimate (for sets:
    by predicted class). The report states the method's guarantee: conformal methods cover at
    least their level on average; MC dropout and ensembles have no guarantee.

    Examples
    --------
    >>> import pandas as pd
    >>> iv = pd.DataFrame({"estimate": [0.0, 1.0, 2.0, 3.0], "lower": [-1.0, 0.0, 1.0, 2.0],
    ...                    "upper": [1.0, 2.0, 3.0, 4.0], "method": "conformal"})
    >>> r = coverage_report(iv, [0.5, 1.5, 5.0, 3.0], bins=2)
    >>> r.coverage, r.mean_width, r.by_bin["coverage"].tolist()
    (0.75, 2.0, [1.0, 0.5])
    """
    if not isinstance(intervals, pd.DataFrame):
        raise TypeError(message("intervals", "the DataFrame of predict_interval or predict_set",
                                intervals, "coverage_report", shown=type(intervals).__name__))
    bins = check_int(bins, "bins", "coverage_report", low=1)
    method = str(intervals.attrs.get("method", intervals["method"].iloc[0]
                                     if "method" in intervals and len(intervals) else "?"))
    if "set" in intervals.columns:
        return _set_report(intervals, y, method)
    for column in ("estimate", "lower", "upper"):
        if column not in intervals.columns:
            raise ConfigError(message(
                "intervals", "a frame with columns estimate, lower and upper (from "
                "predict_interval)", intervals, "coverage_report",
                shown=f"one without {column!r}"))
    yv = _response(y, len(intervals))
    lo, hi = intervals["lower"].to_numpy(float), intervals["upper"].to_numpy(float)
    inside = (yv >= lo) & (yv <= hi)
    width = hi - lo
    est = intervals["estimate"].to_numpy(float)
    edges = np.unique(np.quantile(est, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, est, side="right") - 1, 0, max(len(edges) - 2, 0))
    rows = []
    for b in np.unique(which):
        mask = which == b
        k, n = int(inside[mask].sum()), int(mask.sum())
        lo_ci, hi_ci = clopper_pearson(k, n)
        rows.append({"from": float(est[mask].min()), "to": float(est[mask].max()), "n": n,
                     "coverage": k / n, "ci_low": lo_ci, "ci_high": hi_ci,
                     "mean_width": float(width[mask].mean())})
    return _report(intervals, yv, method, inside, float(width.mean()), pd.DataFrame(rows),
                   "interval")


def _set_report(frame: pd.DataFrame, y, method: str) -> CoverageReport:
    labels = list(frame.attrs.get("labels", []))
    yv = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y).reshape(-1)
    if yv.size != len(frame):
        raise ShapeError(message("y", f"one value per row of `intervals` ({len(frame)})", y,
                                 "coverage_report", verb="have", shown=str(yv.size)))
    if labels and np.issubdtype(yv.dtype, np.integer):  # class indices, as y_cal
        yv = np.asarray([labels[int(v)] for v in yv], dtype=object)
    inside = np.array([v in s for v, s in zip(yv.tolist(), frame["set"])])
    sizes = frame["size"].to_numpy(float)
    rows = []
    for label in sorted(set(frame["prediction"]), key=str):
        mask = (frame["prediction"] == label).to_numpy()
        k, n = int(inside[mask].sum()), int(mask.sum())
        lo_ci, hi_ci = clopper_pearson(k, n)
        rows.append({"prediction": label, "n": n, "coverage": k / n, "ci_low": lo_ci,
                     "ci_high": hi_ci, "mean_size": float(sizes[mask].mean())})
    return _report(frame, yv, method, inside, float(sizes.mean()), pd.DataFrame(rows), "set")


def _report(frame, yv, method, inside, mean_width, by_bin, kind) -> CoverageReport:
    k, n = int(inside.sum()), int(inside.size)
    return CoverageReport(method=method, level=frame.attrs.get("level"), n=n, covered=k,
                          coverage=k / n, ci=clopper_pearson(k, n), mean_width=mean_width,
                          by_bin=by_bin, guarantee=GUARANTEE.get(method, "unknown method"),
                          kind=kind, _intervals=frame, _y=yv)


def _response(y, n: int) -> np.ndarray:
    yv = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y, dtype=float).reshape(-1)
    if yv.size != n or n == 0:
        raise ShapeError(message("y", f"one value per row of `intervals` ({n})", y,
                                 "coverage_report", verb="have", shown=str(yv.size)))
    if not np.all(np.isfinite(yv)):
        raise ConfigError(message("y", "finite numbers", y, "coverage_report", verb="hold",
                                  shown="NaN or infinite values"))
    return yv


def accuracy_by_uncertainty(uncertainty: pd.DataFrame, y, by: str = "entropy",
                            bins: int = 5) -> pd.DataFrame:
    """Accuracy of the predicted class in ``bins`` quantile bins of an uncertainty measure
    (``entropy``, ``mutual_information`` or any column of ``predict_uncertainty``), with
    exact 95% intervals: a useful measure puts the errors in its top bins.

    ``y`` holds class indices (or labels, when ``predict_uncertainty`` was given ``labels``).

    Examples
    --------
    >>> import pandas as pd
    >>> u = pd.DataFrame({"prediction": [0, 1, 1, 0], "entropy": [0.1, 0.2, 0.9, 1.0]})
    >>> accuracy_by_uncertainty(u, [0, 1, 0, 1], bins=2)["accuracy"].tolist()
    [1.0, 0.0]
    """
    if not isinstance(uncertainty, pd.DataFrame) or by not in uncertainty.columns \
            or "prediction" not in uncertainty.columns:
        shown = type(uncertainty).__name__ if not isinstance(uncertainty, pd.DataFrame) else \
            f"a DataFrame with columns {list(uncertainty.columns)}"
        raise ConfigError(message(
            "uncertainty", f"the DataFrame of predict_uncertainty (with columns 'prediction' "
            f"and {by!r})", uncertainty, "accuracy_by_uncertainty", shown=shown))
    bins = check_int(bins, "bins", "accuracy_by_uncertainty", low=1)
    yv = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y).reshape(-1)
    if yv.size != len(uncertainty):
        raise ShapeError(message("y", f"one value per row of `uncertainty` ({len(uncertainty)})",
                                 y, "accuracy_by_uncertainty", verb="have", shown=str(yv.size)))
    right = uncertainty["prediction"].to_numpy() == yv
    value = uncertainty[by].to_numpy(float)
    edges = np.unique(np.quantile(value, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, value, side="right") - 1, 0, max(len(edges) - 2, 0))
    rows = []
    for b in np.unique(which):
        mask = which == b
        k, n = int(right[mask].sum()), int(mask.sum())
        lo, hi = clopper_pearson(k, n)
        rows.append({"from": float(value[mask].min()), "to": float(value[mask].max()), "n": n,
                     "accuracy": k / n, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)
