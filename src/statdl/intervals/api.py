"""One call per question: an interval for each prediction (``predict_interval``), a set of
classes for each case (``predict_set``), and the spread of a classifier's probabilities
(``predict_uncertainty``)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ConfigError, ShapeError
from ..validation import choice_error, message
from .conformal import check_level, conformal_sets, conformalized_quantiles, split_conformal
from .stochastic import Ensemble, mc_dropout_predict

__all__ = ["predict_interval", "predict_set", "predict_uncertainty", "GUARANTEE"]

_METHODS = ("conformal", "cqr", "mc_dropout", "ensemble")

#: what each method promises about coverage; coverage_report prints it
GUARANTEE = {
    "conformal": "split conformal: coverage >= level guaranteed on average over calibration "
                 "and test cases (exchangeable data), not within each bin",
    "cqr": "conformalized quantile regression: coverage >= level guaranteed on average over "
           "calibration and test cases (exchangeable data), not within each bin",
    "lac": "conformal sets (LAC): coverage >= level guaranteed on average over calibration "
           "and test cases (exchangeable data), not within each class",
    "aps": "conformal sets (APS): coverage >= level guaranteed on average over calibration "
           "and test cases (exchangeable data), not within each class",
    "mc_dropout": "MC dropout: NO coverage guarantee; the spread of dropout passes "
                  "approximates weight uncertainty only, so check the coverage measured here",
    "ensemble": "deep ensemble: NO coverage guarantee; the spread of the members reflects "
                "their disagreement only, so check the coverage measured here",
}


def predict_interval(model, x, level: float = 0.95, method: str = "conformal",
                     calibration=None, passes: int = 100, seed: int | None = None,
                     batch_size: int | None = None) -> pd.DataFrame:
    """A prediction interval for each row of ``x``: a DataFrame with columns ``estimate``,
    ``lower``, ``upper`` and ``method`` (and ``sd`` for the sampling methods).

    Methods
    -------
    ``"conformal"``
        Split conformal: ``estimate -/+ q`` with ``q`` the ``ceil((n + 1) level)``-th smallest
        absolute residual on ``calibration = (x_cal, y_cal)``, cases the model was NOT fitted
        on. Covers a new response with probability >= ``level`` whatever the model.
    ``"cqr"``
        Conformalized quantile regression, for a model fitted with
        ``statdl.losses.quantile([lo, ..., hi])``: its first and last output columns, widened
        (or narrowed) by the conformal quantile of their calibration errors. Same guarantee,
        and the width follows the noise where the model learnt it. ``estimate`` is the middle
        column (the median for ``[0.05, 0.5, 0.95]``).
    ``"mc_dropout"``
        ``passes`` predictions with dropout on (Gal and Ghahramani 2016); ``estimate`` is their
        mean. Without ``calibration`` the interval is the ``(1 -/+ level) / 2`` quantiles of
        the passes (the network's uncertainty only); with it, a normal interval whose variance
        adds the passes' variance to the noise variance estimated on the calibration cases.
        No coverage guarantee either way.
    ``"ensemble"``
        ``model`` is a fitted ``statdl.Ensemble``: as mc_dropout with the members in place of
        the passes. No coverage guarantee.

    The level, the method and the half-width ``q`` (conformal) are in ``frame.attrs``.

    Examples
    --------
    >>> import numpy as np, statdl as sd
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(400, 2)).astype("float32"); y = x[:, 0] + rng.normal(size=400)
    >>> m = sd.Sequential([sd.layers.Dense(1)], input_shape=(2,))
    >>> m.compile(optimizer="adam", loss="mse"); _ = m.fit(x[:200], y[:200], verbose=0)
    >>> iv = predict_interval(m, x[300:], level=0.9, calibration=(x[200:300], y[200:300]))
    >>> list(iv.columns), iv.attrs["level"]
    (['estimate', 'lower', 'upper', 'method'], 0.9)
    """
    level = check_level(level)
    if method not in _METHODS:
        raise choice_error("method", method, list(_METHODS))
    if method == "ensemble" and not isinstance(model, Ensemble):
        raise TypeError(message("model", "a fitted statdl.Ensemble with method='ensemble'",
                                model, "predict_interval", shown=type(model).__name__,
                                fix="Build one with sd.Ensemble(model_fn, n=5)."))
    if method in ("conformal", "cqr") and calibration is None:
        raise ConfigError(message(
            "calibration", f"(x_cal, y_cal) with method={method!r}: cases the model was not "
            "fitted on", None, "predict_interval",
            fix="Hold out 20-50% of the training data, e.g. with sd.train_test_split."))
    x_cal, y_cal = _calibration(calibration)
    attrs: dict = {"level": level, "method": method}
    if method == "conformal":
        est = _one_column(_predict(model, x, batch_size), "conformal")
        est_cal = _one_column(_predict(model, x_cal, batch_size), "conformal")
        lower, upper, q = split_conformal(est_cal, y_cal, est, level)
        frame, attrs["q"] = _frame(est, lower, upper, method), q
    elif method == "cqr":
        qs = _quantile_columns(_predict(model, x, batch_size))
        qs_cal = _quantile_columns(_predict(model, x_cal, batch_size))
        lower, upper, q = conformalized_quantiles(qs_cal[:, 0], qs_cal[:, -1], y_cal,
                                                  qs[:, 0], qs[:, -1], level)
        frame, attrs["q"] = _frame(qs[:, qs.shape[1] // 2], lower, upper, method), q
    else:
        frame, noise_sd = _sampled_interval(model, x, level, method, x_cal, y_cal, passes,
                                            seed, batch_size)
        attrs["noise_sd"] = noise_sd
    if math.isinf(attrs.get("q", 0.0)):
        _warn_too_few(len(y_cal), level)
    frame.attrs.update(attrs)
    return frame


def _warn_too_few(n: int, level: float) -> None:
    need = math.ceil(level / (1 - level) - 1e-9)
    warnings.warn(f"{n} calibration cases are too few for level {level:g}: the intervals (sets)"
                  f" are unbounded. Use at least {need} calibration cases.", stacklevel=3)


def _predict(model, x, batch_size):
    """``model.predict(x)``, passing ``batch_size`` only when given (scikit-learn models)."""
    if batch_size is None:
        return model.predict(x)
    return model.predict(x, batch_size=batch_size)


def _sampled_interval(model, x, level, method, x_cal, y_cal, passes, seed, batch_size):
    draws = _draws(model, x, method, passes, seed, batch_size)
    mean, sd = draws.mean(axis=0), draws.std(axis=0, ddof=1)
    if x_cal is None:
        lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
        noise_sd = None
    else:
        cal = _draws(model, x_cal, method, passes, seed, batch_size)
        resid2 = np.mean((y_cal - cal.mean(axis=0)) ** 2)
        noise_sd = float(np.sqrt(max(resid2 - np.mean(cal.var(axis=0, ddof=1)), 0.0)))
        z = stats.norm.ppf((1 + level) / 2)
        half = z * np.sqrt(sd ** 2 + noise_sd ** 2)
        lo, hi = mean - half, mean + half
    frame = _frame(mean, lo, hi, method)
    frame["sd"] = sd
    return frame, noise_sd


def _draws(model, x, method, passes, seed, batch_size) -> np.ndarray:
    """(draws, rows) predictions of a one-output regression model."""
    if method == "ensemble":
        raw = model.predict_members(x, batch_size)
    else:
        raw = mc_dropout_predict(model, x, passes=passes, seed=seed, batch_size=batch_size)
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[:, :, 0]
    if raw.ndim != 2:
        raise ShapeError(message("model", f"a model with one output column for method="
                                 f"{method!r}", None, "predict_interval",
                                 shown=f"outputs of shape {raw.shape[1:]}"))
    return raw.astype(np.float64)


def predict_set(model, x, level: float = 0.9, method: str = "lac", calibration=None,
                randomize: bool = False, include_last: bool = False, seed: int | None = None,
                labels=None, batch_size: int | None = None) -> pd.DataFrame:
    """Conformal prediction sets for a classifier: each row's set of classes holds the true
    class with probability >= ``level`` (marginally, for exchangeable data).

    ``calibration = (x_cal, y_cal)``: held-out cases with class indices (or one-hot rows).
    ``method``: ``"lac"`` (smallest sets) or ``"aps"`` (adaptive: larger sets where the model
    is unsure; ``randomize`` and ``include_last`` as in ``statdl.intervals.conformal_sets``).
    ``model`` may be a statdl model, a
    ``statdl.Ensemble`` or anything with ``predict`` returning class probabilities.

    Returns a DataFrame with ``prediction`` (most probable class), ``set`` (tuple of labels),
    ``size`` and ``method``; the boolean matrix is ``frame.attrs["sets"]``.

    Examples
    --------
    >>> import numpy as np, statdl as sd
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(300, 2)).astype("float32"); y = (x[:, 0] > 0).astype(int)
    >>> m = sd.Sequential([sd.layers.Dense(2, activation="softmax")], input_shape=(2,))
    >>> m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    >>> _ = m.fit(x[:100], y[:100], epochs=5, verbose=0)
    >>> sets = predict_set(m, x[200:], level=0.9, calibration=(x[100:200], y[100:200]))
    >>> list(sets.columns)
    ['prediction', 'set', 'size', 'method']
    """
    level = check_level(level)
    if method not in ("lac", "aps"):
        raise choice_error("method", method, ["lac", "aps"])
    if calibration is None:
        raise ConfigError(message("calibration", "(x_cal, y_cal): cases the model was not "
                                  "fitted on", None, "predict_set"))
    x_cal, y_cal = _calibration(calibration, classes=True)
    p = _probabilities(_predict(model, x, batch_size))
    p_cal = _probabilities(_predict(model, x_cal, batch_size))
    sets, q = conformal_sets(p_cal, y_cal, p, level, method, randomize=randomize,
                             include_last=include_last, seed=seed)
    if math.isinf(q):
        _warn_too_few(len(p_cal), level)
    names = _labels(labels, p.shape[1])
    frame = pd.DataFrame({
        "prediction": [names[i] for i in p.argmax(axis=1)],
        "set": [tuple(names[j] for j in np.flatnonzero(row)) for row in sets],
        "size": sets.sum(axis=1),
        "method": method,
    })
    frame.attrs.update({"level": level, "method": method, "q": q, "sets": sets,
                        "labels": names})
    return frame


def predict_uncertainty(model, x, method: str = "mc_dropout", passes: int = 100,
                        seed: int | None = None, labels=None,
                        batch_size: int | None = None) -> pd.DataFrame:
    """Predictive class probabilities of a classifier with their spread, from MC-dropout
    passes or ensemble members.

    Columns: ``prediction``, ``p_<label>`` (mean probability), ``sd_<label>`` (its standard
    deviation over draws), ``entropy`` (of the mean probabilities, in nats: total
    uncertainty) and ``mutual_information`` (entropy minus the mean entropy of the draws: the
    part due to the model's uncertainty, Houlsby et al. 2011). No coverage guarantee.

    Examples
    --------
    >>> import numpy as np, statdl as sd
    >>> m = sd.Sequential([sd.layers.Dense(8, activation="relu"), sd.layers.Dropout(0.5),
    ...                    sd.layers.Dense(3, activation="softmax")], input_shape=(2,))
    >>> u = predict_uncertainty(m, np.ones((4, 2)), passes=10, seed=0)
    >>> list(u.columns)[:4], bool((u["entropy"] >= u["mutual_information"]).all())
    (['prediction', 'p_0', 'p_1', 'p_2'], True)
    """
    if method not in ("mc_dropout", "ensemble"):
        raise choice_error("method", method, ["mc_dropout", "ensemble"])
    if method == "ensemble":
        if not isinstance(model, Ensemble):
            raise TypeError(message("model", "a fitted statdl.Ensemble with method='ensemble'",
                                    model, "predict_uncertainty", shown=type(model).__name__))
        raw = model.predict_members(x, batch_size)
    else:
        raw = mc_dropout_predict(model, x, passes=passes, seed=seed, batch_size=batch_size)
    draws = np.stack([_probabilities(d) for d in raw]).astype(np.float64)
    mean = draws.mean(axis=0)
    names = _labels(labels, mean.shape[1])
    entropy = _entropy(mean)
    columns = {"prediction": [names[i] for i in mean.argmax(axis=1)]}
    columns.update({f"p_{n}": mean[:, j] for j, n in enumerate(names)})
    columns.update({f"sd_{n}": draws[:, :, j].std(axis=0, ddof=1) for j, n in enumerate(names)})
    columns["entropy"] = entropy
    columns["mutual_information"] = np.maximum(entropy - _entropy(draws).mean(axis=0), 0.0)
    frame = pd.DataFrame(columns)
    frame.attrs.update({"method": method, "draws": len(draws)})
    return frame


def _entropy(p: np.ndarray) -> np.ndarray:
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def _calibration(calibration, classes: bool = False):
    if calibration is None:
        return None, None
    if not isinstance(calibration, tuple | list) or len(calibration) != 2:
        raise ConfigError(message("calibration", "a pair (x_cal, y_cal)", calibration,
                                  shown=type(calibration).__name__))
    x_cal, y_cal = calibration
    y = np.asarray(y_cal.to_numpy() if hasattr(y_cal, "to_numpy") else y_cal)
    if not classes:
        y = y.astype(np.float64).reshape(len(y), -1)
        if y.shape[1] != 1:
            raise ShapeError(message("y_cal", "one column of responses", y_cal,
                                     shown=f"shape {y.shape}"))
        y = y[:, 0]
    return x_cal, y


def _one_column(pred, method: str) -> np.ndarray:
    arr = np.asarray(pred, dtype=np.float64)
    arr = arr.reshape(len(arr), -1)
    if arr.shape[1] != 1:
        raise ShapeError(message(
            "model", f"a model with one output column for method={method!r}", None,
            "predict_interval", shown=f"{arr.shape[1]} columns",
            fix="For a model fitted with sd.losses.quantile(...), use method='cqr'."))
    return arr[:, 0]


def _quantile_columns(pred) -> np.ndarray:
    arr = np.asarray(pred, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ShapeError(message(
            "model", "a model with one output column per quantile (at least 2, fitted with "
            "sd.losses.quantile) for method='cqr'", None, "predict_interval",
            shown=f"outputs of shape {arr.shape[1:]}"))
    return arr


def _probabilities(pred) -> np.ndarray:
    arr = np.asarray(pred, dtype=np.float64)
    if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):  # one sigmoid output
        p1 = arr.reshape(-1)
        arr = np.column_stack([1.0 - p1, p1])
    if arr.ndim != 2 or arr.min() < -1e-6 or arr.max() > 1 + 1e-6:
        raise ShapeError(message("model", "a model whose outputs are class probabilities "
                                 "(softmax rows or one sigmoid column)", None,
                                 shown=f"outputs from {arr.min():g} to {arr.max():g}"
                                 if arr.size else "no outputs"))
    return np.clip(arr, 0.0, 1.0)


def _labels(labels, k: int) -> list:
    if labels is None:
        return list(range(k))
    names = list(labels)
    if len(names) != k:
        raise ConfigError(message("labels", f"the {k} classes", labels, verb="name",
                                  shown=f"{len(names)} names"))
    return names


def _frame(estimate, lower, upper, method: str) -> pd.DataFrame:
    return pd.DataFrame({"estimate": estimate, "lower": lower, "upper": upper,
                         "method": method})
