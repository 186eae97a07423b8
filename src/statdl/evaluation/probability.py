"""Scores for predicted probabilities of a binary outcome: ROC curve, AUC with DeLong's
interval, calibration table and log loss."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ConfigError
from ..validation import check_choice, check_int, message
from ._validate import as_binary, as_labels, as_probability, check_same_length
from .regression import check_level_arg

__all__ = ["ROCCurve", "AUC", "roc_curve", "roc_auc", "calibration_table", "log_loss"]


def _binary_inputs(y: Any, prob: Any, positive: Any,
                   where: str) -> tuple[np.ndarray, np.ndarray]:
    p = as_probability(prob, "prob", where)
    t = as_binary(y, "y", positive, where)
    check_same_length(where, y=t, prob=p)
    return t, p


@dataclass(frozen=True)
class AUC:
    """Area under the ROC curve with its confidence interval.

    Attributes
    ----------
    auc, lower, upper, se : float
        Estimate, interval limits and DeLong standard error.
    level : float
        Confidence level.
    method : str
        How the interval was computed.
    """

    auc: float
    lower: float
    upper: float
    se: float
    level: float
    method: str = "DeLong"

    def __float__(self) -> float:
        return self.auc

    def __str__(self) -> str:
        return (f"AUC {self.auc:.4f}, {100 * self.level:g}% CI ({self.lower:.4f}, "
                f"{self.upper:.4f}) ({self.method})")


def _delong(t: np.ndarray, p: np.ndarray, level: float) -> AUC:
    pos, neg = p[t == 1], p[t == 0]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        raise ConfigError(message("y", "both outcomes to compute an AUC", None, verb="contain",
                                  shown=f"{m} events and {n} non-events"))
    # placement values through mid-ranks: V10_i = P(neg < pos_i) + 0.5 P(neg = pos_i)
    all_rank = stats.rankdata(np.concatenate([pos, neg]))
    pos_rank = stats.rankdata(pos)
    neg_rank = stats.rankdata(neg)
    v10 = (all_rank[:m] - pos_rank) / n
    v01 = 1 - (all_rank[m:] - neg_rank) / m
    auc = float(v10.mean())
    s10 = v10.var(ddof=1) if m > 1 else 0.0
    s01 = v01.var(ddof=1) if n > 1 else 0.0
    se = float(np.sqrt(s10 / m + s01 / n))
    z = stats.norm.ppf(1 - (1 - level) / 2)
    return AUC(auc, max(0.0, auc - z * se), min(1.0, auc + z * se), se, level)


def roc_auc(y: Any, prob: Any, *, positive: Any = None, level: float = 0.95) -> AUC:
    """Area under the ROC curve with DeLong's confidence interval.

    Parameters
    ----------
    y : array-like
        Outcomes: 0/1 (1 = event), or two labels with ``positive`` naming the event.
    prob : array-like
        Predicted probability of the event, in [0, 1].
    positive : label, optional
        The event level when ``y`` is not 0/1.
    level : float
        Confidence level.

    Returns
    -------
    AUC
        ``auc``, ``lower``, ``upper``, ``se``.

    Notes
    -----
    The AUC is the Mann-Whitney probability P(prob of an event > prob of a non-event), ties
    counting one half. Its standard error is DeLong, DeLong and Clarke-Pearson (1988), from
    the placement values; the interval is AUC +- z * SE, cut to [0, 1] (as pROC's
    ``ci.auc(method = "delong")``).

    Examples
    --------
    >>> res = roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> res.auc
    0.75
    """
    t, p = _binary_inputs(y, prob, positive, "roc_auc")
    return _delong(t, p, check_level_arg(level))


@dataclass(frozen=True)
class ROCCurve:
    """Points of an ROC curve; unpacks as ``fpr, tpr, thresholds``.

    Attributes
    ----------
    fpr, tpr : numpy.ndarray
        False and true positive rates, from (0, 0) to (1, 1).
    thresholds : numpy.ndarray
        ``prob >= threshold`` is called an event at each point; the first is ``inf``.
    auc : AUC
        Area under the curve with DeLong's interval.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: AUC = field(repr=False)

    def __iter__(self):
        return iter((self.fpr, self.tpr, self.thresholds))

    def to_frame(self) -> pd.DataFrame:
        """The curve as a DataFrame with columns threshold, fpr, tpr."""
        return pd.DataFrame({"threshold": self.thresholds, "fpr": self.fpr, "tpr": self.tpr})

    def plot(self, **kwargs: Any):
        """Draw the curve; see :func:`statdl.plots.plot_roc`."""
        from ..plots.classification import plot_roc

        return plot_roc(self, **kwargs)

    def __str__(self) -> str:
        return f"ROC curve with {len(self.fpr)} points; {self.auc}"


def roc_curve(y: Any, prob: Any, *, positive: Any = None, level: float = 0.95) -> ROCCurve:
    """ROC curve of predicted probabilities for a binary outcome, with the AUC.

    Parameters
    ----------
    y : array-like
        Outcomes: 0/1 (1 = event), or two labels with ``positive`` naming the event.
    prob : array-like
        Predicted probability of the event, in [0, 1].
    positive : label, optional
        The event level when ``y`` is not 0/1.
    level : float
        Confidence level of the AUC interval (DeLong; see :func:`roc_auc`).

    Returns
    -------
    ROCCurve
        ``fpr, tpr, thresholds = roc_curve(y, prob)`` unpacks; ``.auc`` holds the AUC.

    Examples
    --------
    >>> fpr, tpr, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    t, p = _binary_inputs(y, prob, positive, "roc_curve")
    auc = _delong(t, p, check_level_arg(level))
    order = np.argsort(-p, kind="mergesort")
    ps, ts = p[order], t[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]  # end of each tied group
    tps = np.cumsum(ts)[last]
    fps = (last + 1) - tps
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    thresholds = np.r_[np.inf, ps[last]]
    return ROCCurve(fpr, tpr, thresholds, auc)


def calibration_table(y: Any, prob: Any, bins: int = 10, *, positive: Any = None,
                      strategy: str = "uniform", level: float = 0.95) -> pd.DataFrame:
    """Observed event rate against mean predicted probability, by bins of the prediction.

    Parameters
    ----------
    y : array-like
        Outcomes: 0/1 (1 = event), or two labels with ``positive`` naming the event.
    prob : array-like
        Predicted probability of the event, in [0, 1].
    bins : int
        Number of bins.
    strategy : {"uniform", "quantile"}
        Equal-width bins on [0, 1], or bins with (about) equal counts (deciles by default,
        as in the Hosmer-Lemeshow table).
    level : float
        Confidence level of the exact (Clopper-Pearson) interval of each observed rate.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``lower``, ``upper`` (bin edges), ``n``,
        ``mean_predicted``, ``events`` (observed), ``expected`` (sum of probabilities),
        ``observed_rate``, ``rate_lower``, ``rate_upper``. Bins include their upper edge
        and the first bin its lower edge.

    Examples
    --------
    >>> tab = calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], bins=2)
    >>> tab["observed_rate"].tolist()
    [0.0, 1.0]
    """
    t, p = _binary_inputs(y, prob, positive, "calibration_table")
    level = check_level_arg(level)
    bins = check_int(bins, "bins", "calibration_table", low=1)
    check_choice(strategy, "strategy", ("uniform", "quantile"), "calibration_table")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
        if len(edges) == 1:
            edges = np.r_[edges, edges]
    which = np.clip(np.searchsorted(edges, p, side="left") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        mask = which == b
        n = int(mask.sum())
        if n == 0:
            continue
        events = int(t[mask].sum())
        ci = stats.binomtest(events, n).proportion_ci(level, method="exact")
        rows.append({"lower": edges[b], "upper": edges[b + 1], "n": n,
                     "mean_predicted": float(p[mask].mean()), "events": events,
                     "expected": float(p[mask].sum()), "observed_rate": events / n,
                     "rate_lower": float(ci.low), "rate_upper": float(ci.high)})
    return pd.DataFrame(rows)


def log_loss(y: Any, prob: Any, *, positive: Any = None, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood (cross-entropy) of predicted probabilities.

    Parameters
    ----------
    y : array-like
        Binary outcomes (0/1, or two labels with ``positive``) when ``prob`` is 1-d; class
        indices ``0..k-1`` (or labels, matched to ``positive``-free sorted order) when
        ``prob`` is an ``(n, k)`` matrix of class probabilities.
    prob : array-like
        Probabilities in [0, 1]: of the event (1-d) or of each class (2-d, rows sum to 1).
    eps : float
        Probabilities are clipped to ``[eps, 1 - eps]`` so that a confident mistake costs a
        large but finite amount.

    Returns
    -------
    float
        ``-mean(y log p + (1 - y) log(1 - p))``, or ``-mean(log p[i, y_i])``.

    Examples
    --------
    >>> round(log_loss([1, 0], [0.8, 0.4]), 4)
    0.367
    """
    try:
        arr = prob.detach().cpu().numpy() if hasattr(prob, "detach") else np.asarray(prob)
    except ValueError:  # ragged nesting
        raise ConfigError(message("prob", "a vector or a matrix of probabilities", prob,
                                  "log_loss", shown=f"a ragged nested {type(prob).__name__}"
                                  )) from None
    if arr.ndim == 2 and arr.shape[1] > 1:
        if arr.dtype.kind not in "biuf":
            raise ConfigError(message("prob", "a numeric matrix of class probabilities", prob,
                                      "log_loss", shown=f"dtype {arr.dtype}"))
        if not np.all(np.isfinite(arr)) or np.any((arr < 0) | (arr > 1)):
            raise ConfigError(message(
                "prob", "probabilities in [0, 1] with no NaN", prob, "log_loss",
                shown=f"values from {np.nanmin(arr)!r} to {np.nanmax(arr)!r}"))
        if not np.allclose(arr.sum(axis=1), 1.0, atol=1e-4):
            raise ConfigError(message(
                "prob", "rows that sum to 1 (one probability per class)", prob, "log_loss",
                verb="have", shown=f"row sums from {arr.sum(axis=1).min():.4g} to "
                                   f"{arr.sum(axis=1).max():.4g}"))
        labels, _ = as_labels(y, "y", "log_loss", hint="it must be class indices 0..k-1, "
                              "one per column of `prob`.")
        check_same_length("log_loss", y=labels, prob=arr)
        try:
            idx = labels.astype(int)
        except (TypeError, ValueError):
            raise ConfigError(message("y", "class indices 0..k-1 when `prob` is a matrix", y,
                                      "log_loss", shown="non-integer labels")) from None
        if np.any(idx != labels.astype(float)) or idx.min() < 0 or idx.max() >= arr.shape[1]:
            raise ConfigError(message(
                "y", f"class indices 0..{arr.shape[1] - 1} for a `prob` with {arr.shape[1]} "
                "columns", y, "log_loss", shown=f"values from {idx.min()} to {idx.max()}"))
        picked = np.clip(arr[np.arange(len(idx)), idx], eps, 1 - eps)
        return float(-np.mean(np.log(picked)))
    t, p = _binary_inputs(y, arr.reshape(-1) if arr.ndim == 2 else prob, positive, "log_loss")
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(t * np.log(p) + (1 - t) * np.log1p(-p)))
