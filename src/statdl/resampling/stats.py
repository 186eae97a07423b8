"""Statistics of resampled metrics: t intervals, the Nadeau-Bengio corrected resampled t-test,
and caret's six-number summary.

Resampled estimates are correlated (the training sets overlap), so the plain t interval of
their mean is too narrow. Nadeau and Bengio (2003, *Machine Learning* 52:239-281) inflate the
variance of the mean of J resampled values from ``s^2 / J`` to ``(1 / J + n_test / n_train) s^2``
and keep J - 1 degrees of freedom: the corrected resampled t-test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from .. import validation
from ..errors import ConfigError, ShapeError

__all__ = ["TTest", "corrected_ttest", "mean_interval", "six_number_summary", "check_level"]

SUMMARY_COLUMNS = ["Min.", "1st Qu.", "Median", "Mean", "3rd Qu.", "Max.", "NA's"]


def check_level(level: Any, where: str) -> float:
    """``level`` as a float in (0, 1), else a ConfigError naming ``where``."""
    return validation.check_level(level, "level", where)


@dataclass(frozen=True)
class TTest:
    """One t-test of a mean of resampled values (or of paired differences).

    ``se`` includes the correction when ``corrected`` is true; ``lower``/``upper`` is the
    two-sided interval at ``level``; ``p_value`` tests ``estimate == 0``.
    """

    estimate: float
    se: float
    t: float
    df: int
    p_value: float
    lower: float
    upper: float
    level: float
    corrected: bool
    n: int


def _values(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).reshape(-1)
    arr = arr[~np.isnan(arr)]
    if arr.size < 2:
        raise ShapeError(validation.message(name, "at least 2 non-missing values", values,
                                            verb="have", shown=str(arr.size)))
    if not np.all(np.isfinite(arr)):
        raise ConfigError(validation.message(name, "finite numbers", values, verb="hold",
                                             shown="infinite values"))
    return arr


def mean_interval(values: Any, *, level: float = 0.95, n_train: float | None = None,
                  n_test: float | None = None) -> TTest:
    """t-test and interval for the mean of resampled values; Nadeau-Bengio corrected when
    ``n_train`` and ``n_test`` (rows each resample trains on and holds out) are given.

    NaN values are left out (as R's ``t.test`` leaves out NA).

    Examples
    --------
    >>> r = mean_interval([1.0, 2.0, 3.0, 4.0])
    >>> round(r.estimate, 3), round(r.se, 4), r.df
    (2.5, 0.6455, 3)
    >>> round(mean_interval([1.0, 2.0, 3.0, 4.0], n_train=3, n_test=1).se, 4)
    0.986
    """
    level = check_level(level, "mean_interval")
    arr = _values(values, "values")
    j = arr.size
    factor = 1.0 / j
    corrected = n_train is not None or n_test is not None
    if corrected:
        if n_train is None or n_test is None or not (n_train > 0 and n_test > 0):
            raise ConfigError(validation.message(["n_train", "n_test"], "numbers > 0", None,
                                                 shown=f"{n_train!r} and {n_test!r}"))
        factor += n_test / n_train
    estimate = float(arr.mean())
    se = math.sqrt(factor * float(arr.var(ddof=1)))
    df = j - 1
    q = float(stats.t.ppf(0.5 + level / 2, df))
    if se > 0:
        t = estimate / se
        p = float(2 * stats.t.sf(abs(t), df))
    else:  # every value equal: R's t.test stops ("data are essentially constant")
        t, p = (math.nan, math.nan)
    return TTest(estimate, se, t, df, p, estimate - q * se, estimate + q * se, level,
                 corrected, j)


def corrected_ttest(differences: Any, n_train: float, n_test: float, *,
                    level: float = 0.95) -> TTest:
    """Nadeau and Bengio's corrected resampled t-test of paired differences.

    With J differences d_j (one per resample, model A minus model B on the same held-out
    rows), ``t = mean(d) / sqrt((1 / J + n_test / n_train) var(d))`` on J - 1 degrees of
    freedom; the interval is ``mean(d) +- t_{J-1} * that standard error``.

    Parameters
    ----------
    differences : array-like
        One paired difference per resample (NaN left out).
    n_train, n_test : float
        Rows each resample trains on and holds out (their means when folds differ by a row).
    level : float
        Confidence level of the interval.

    Examples
    --------
    >>> r = corrected_ttest([0.1, 0.3, 0.2, 0.4, 0.0], n_train=90, n_test=10)
    >>> round(r.se, 4), r.df
    (0.0882, 4)
    """
    return mean_interval(differences, level=level, n_train=n_train, n_test=n_test)


def six_number_summary(values: Any) -> list[float]:
    """R's ``summary(x)[1:6]`` (quantiles of type 7 and the mean, NA left out) and the count
    of NA, as caret's ``summary.resamples`` shows them.

    Examples
    --------
    >>> six_number_summary([1.0, 2.0, 3.0, 4.0, float("nan")])
    [1.0, 1.75, 2.5, 2.5, 3.25, 4.0, 1]
    """
    arr = np.asarray(values, dtype=float).reshape(-1)
    ok = arr[~np.isnan(arr)]
    n_na = int(arr.size - ok.size)
    if ok.size == 0:
        return [math.nan] * 6 + [n_na]
    q = np.quantile(ok, [0.0, 0.25, 0.5, 0.75, 1.0])  # numpy's default is R's type 7
    return [float(q[0]), float(q[1]), float(q[2]), float(ok.mean()), float(q[3]),
            float(q[4]), n_na]
