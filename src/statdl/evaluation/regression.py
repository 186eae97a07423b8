"""Regression error summaries with bootstrap confidence intervals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import validation
from ._report import EstimateTable
from ._validate import as_numeric, check_same_length

__all__ = ["RegressionReport", "regression_report", "check_level_arg", "check_n_boot"]


def check_level_arg(level: Any) -> float:
    """``level`` is a confidence level strictly between 0 and 1."""
    return validation.check_level(level)


def check_n_boot(n_boot: Any) -> int:
    """``n_boot`` is an int >= 100."""
    return validation.check_int(n_boot, "n_boot", low=100)  # type: ignore[return-value]


class RegressionReport(EstimateTable):
    """MSE, RMSE, MAE and R-squared with percentile-bootstrap intervals.

    ``report["RMSE"]`` gives an estimate; ``report.table`` the full table.
    """

    title = "Regression report"


def _metrics(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Rows of (MSE, MAE, R2) for each row of a 2-d ``y``/``pred`` (one resample per row)."""
    err = y - pred
    mse = np.mean(err ** 2, axis=-1)
    mae = np.mean(np.abs(err), axis=-1)
    sst = np.sum((y - y.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(sst > 0, 1 - np.sum(err ** 2, axis=-1) / sst, np.nan)
    return np.stack([mse, mae, r2], axis=-1)


def regression_report(y: Any, pred: Any, level: float = 0.95, n_boot: int = 2000,
                      seed: int = 0) -> RegressionReport:
    """Test-set error of a regression model: MSE, RMSE, MAE and R-squared with intervals.

    Parameters
    ----------
    y : array-like
        Observed responses.
    pred : array-like
        Predictions, same length (a column vector from ``model.predict`` is fine).
    level : float
        Confidence level of the intervals.
    n_boot : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling; the same seed gives the same intervals.

    Returns
    -------
    RegressionReport
        ``.table`` (rows MSE, RMSE, MAE, R-squared; columns estimate, lower, upper).

    Notes
    -----
    Estimates: MSE = mean((y - pred)^2), RMSE = sqrt(MSE), MAE = mean|y - pred|,
    R-squared = 1 - SSE/SST with SST around the mean of ``y`` (as ``caret::R2`` with
    ``formula = "traditional"``; it is negative when the model is worse than the mean).

    Intervals: **percentile bootstrap** over rows (pairs (y, pred) resampled together,
    ``n_boot`` resamples, NumPy ``default_rng(seed)``). The predictions are held fixed, so the
    interval reflects test-set sampling variability only, not refitting. The RMSE interval is
    the square root of the MSE interval (percentile intervals respect monotone transforms).
    R-squared needs at least two distinct values of ``y``; otherwise it is NaN.

    Examples
    --------
    >>> rep = regression_report([1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.2, 3.8], n_boot=200)
    >>> round(rep["MSE"], 4), round(rep["MAE"], 3)
    (0.025, 0.15)
    """
    y_arr = as_numeric(y, "y", "regression_report")
    p_arr = as_numeric(pred, "pred", "regression_report")
    n = check_same_length("regression_report", y=y_arr, pred=p_arr)
    level = check_level_arg(level)
    n_boot = check_n_boot(n_boot)
    est = _metrics(y_arr, p_arr)
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, 2_000_000 // max(n, 1)))
    boots = []
    done = 0
    while done < n_boot:
        m = min(chunk, n_boot - done)
        idx = rng.integers(0, n, size=(m, n))
        boots.append(_metrics(y_arr[idx], p_arr[idx]))
        done += m
    boot = np.concatenate(boots)
    alpha = 1 - level
    lo = np.quantile(boot[:, :2], alpha / 2, axis=0).tolist()
    hi = np.quantile(boot[:, :2], 1 - alpha / 2, axis=0).tolist()
    r2 = boot[:, 2][np.isfinite(boot[:, 2])]
    if np.isfinite(est[2]) and r2.size:
        lo.append(float(np.quantile(r2, alpha / 2)))
        hi.append(float(np.quantile(r2, 1 - alpha / 2)))
    else:
        lo.append(np.nan)
        hi.append(np.nan)
    table = pd.DataFrame(
        {"estimate": [est[0], np.sqrt(est[0]), est[1], est[2]],
         "lower": [lo[0], np.sqrt(lo[0]), lo[1], lo[2]],
         "upper": [hi[0], np.sqrt(hi[0]), hi[1], hi[2]]},
        index=["MSE", "RMSE", "MAE", "R-squared"])
    return RegressionReport(table, level, f"percentile bootstrap, {n_boot} resamples, "
                                          f"seed {seed}", n)
