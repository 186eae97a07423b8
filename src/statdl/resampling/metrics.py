"""Metrics computed on each resample's held-out rows, named as caret names them.

Regression: ``RMSE``, ``Rsquared`` (squared correlation of observed and predicted, caret's
default), ``MAE``, ``MSE``. Classification: ``Accuracy``, ``Kappa`` (Cohen's), ``LogLoss``
and, for two classes, ``AUC``. A metric can also be any ``f(y_true, y_pred) -> float``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ConfigError, ShapeError
from ..validation import choice_error, message

__all__ = ["METRICS", "resolve_metrics", "default_metrics", "is_classifier_loss"]

CLASS_LOSSES = {"binary_crossentropy", "categorical_crossentropy",
                "sparse_categorical_crossentropy"}
_EPS = 1e-15


def _flat(y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float).reshape(len(y), -1)
    pred = np.asarray(pred, dtype=float).reshape(len(pred), -1)
    if y.shape[1] != 1 or pred.shape[1] != 1:
        raise ShapeError(message(["y", "pred"], "one column each for a regression metric", None,
                                 verb="have", shown=f"{y.shape[1]} and {pred.shape[1]} columns"))
    return y[:, 0], pred[:, 0]


def rmse(y, pred) -> float:
    y, pred = _flat(y, pred)
    return float(np.sqrt(np.mean((y - pred) ** 2)))


def mse(y, pred) -> float:
    y, pred = _flat(y, pred)
    return float(np.mean((y - pred) ** 2))


def mae(y, pred) -> float:
    y, pred = _flat(y, pred)
    return float(np.mean(np.abs(y - pred)))


def rsquared(y, pred) -> float:
    """caret's ``R2(formula = "corr")``: NaN when either side is constant (to rounding)."""
    y, pred = _flat(y, pred)
    if any(np.std(v) <= 1e-12 * max(1.0, float(np.abs(v).max())) for v in (y, pred)):
        return float("nan")
    return float(np.corrcoef(y, pred)[0, 1] ** 2)


def _probabilities(pred: np.ndarray) -> np.ndarray:
    """Class probabilities as an (n, classes) matrix: a single column is P(class 1)."""
    p = np.asarray(pred, dtype=float).reshape(len(pred), -1)
    return np.column_stack([1 - p[:, 0], p[:, 0]]) if p.shape[1] == 1 else p


def _labels(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    return np.asarray(y, dtype=float).reshape(-1).round().astype(np.int64)


def accuracy(y, pred) -> float:
    return float(np.mean(_labels(y) == np.argmax(_probabilities(pred), axis=1)))


def kappa(y, pred) -> float:
    """Cohen's kappa of the predicted classes (argmax) against the observed ones."""
    p = _probabilities(pred)
    obs, hat = _labels(y), np.argmax(p, axis=1)
    k = max(p.shape[1], int(obs.max()) + 1)
    table = np.zeros((k, k))
    np.add.at(table, (hat, obs), 1)
    n = table.sum()
    po = np.trace(table) / n
    pe = float(table.sum(0) @ table.sum(1)) / n ** 2
    return float("nan") if pe == 1 else float((po - pe) / (1 - pe))


def log_loss(y, pred) -> float:
    p = np.clip(_probabilities(pred), _EPS, 1 - _EPS)
    obs = _labels(y)
    return float(-np.mean(np.log(p[np.arange(len(obs)), obs])))


def auc(y, pred) -> float:
    """Area under the ROC curve of P(class 1) for two classes (ties count one half)."""
    p = _probabilities(pred)
    if p.shape[1] != 2:
        raise ShapeError(message("pred", "two classes for `AUC`", pred, verb="have",
                                 shown=str(p.shape[1])))
    from scipy.stats import rankdata

    obs, score = _labels(y), p[:, 1]
    pos, neg = int((obs == 1).sum()), int((obs == 0).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[obs == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


METRICS: dict[str, Callable[[Any, Any], float]] = {
    "RMSE": rmse, "Rsquared": rsquared, "MAE": mae, "MSE": mse,
    "Accuracy": accuracy, "Kappa": kappa, "LogLoss": log_loss, "AUC": auc,
}
_BY_LOWER = {k.lower(): k for k in METRICS}


def is_classifier_loss(model: Any) -> bool:
    """True when the model is compiled with a classification loss."""
    compiled = getattr(model, "_compiled", None)
    loss = compiled.get("loss") if isinstance(compiled, dict) else None
    return getattr(loss, "name", None) in CLASS_LOSSES


def default_metrics(classifier: bool) -> list[str]:
    """caret's defaults: RMSE, Rsquared, MAE; Accuracy, Kappa."""
    return ["Accuracy", "Kappa"] if classifier else ["RMSE", "Rsquared", "MAE"]


def resolve_metrics(metrics: Any) -> dict[str, Callable[[Any, Any], float]]:
    """Metric names and callables as ``{name: f(y_true, y_pred)}``.

    Examples
    --------
    >>> list(resolve_metrics(["rmse", "MAE"]))
    ['RMSE', 'MAE']
    """
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    if isinstance(metrics, dict):
        items = list(metrics.items())
    elif isinstance(metrics, list | tuple):
        items = [(m, m) for m in metrics]
    else:
        raise ConfigError(message("metrics", "a name, a callable, a list of them or a dict "
                                  "name -> callable", metrics, "cross_validate",
                                  shown=type(metrics).__name__))
    out: dict[str, Callable[[Any, Any], float]] = {}
    for name, fn in items:
        if isinstance(fn, str):
            key = _BY_LOWER.get(fn.lower())
            if key is None:
                raise choice_error("metrics", fn, METRICS, "cross_validate",
                                   fix="Or pass a function f(y_true, y_pred) -> float.")
            out[key if name == fn else str(name)] = METRICS[key]
        elif callable(fn):
            out[str(name) if name is not fn else getattr(fn, "__name__", "metric")] = fn
        else:
            raise ConfigError(message(f"metrics[{name!r}]", "a metric name or a function", fn,
                                      "cross_validate", shown=type(fn).__name__))
    if not out:
        raise ConfigError(message("metrics", "at least one metric", metrics, "cross_validate",
                                  verb="name"))
    return out
