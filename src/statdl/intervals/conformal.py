"""Split conformal prediction on predictions already made: intervals for regression (absolute
residuals, conformalized quantile regression) and prediction sets for classification (LAC, APS).

Everything here is numpy on arrays of predictions, so the guarantee does not depend on the
model: if the calibration and test cases are exchangeable, a ``level`` interval or set covers
the test response with probability at least ``level`` (and below ``level + 1 / (n + 1)`` for
continuous scores), over the draw of calibration and test cases (Vovk et al. 2005; Lei et al.
2018; Romano, Patterson and Candes 2019; Sadinle, Lei and Wasserman 2019; Romano, Sesia and
Candes 2020).
"""

from __future__ import annotations

import math

import numpy as np

from .. import validation
from ..errors import ConfigError, ShapeError

__all__ = ["conformal_quantile", "split_conformal", "conformalized_quantiles",
           "conformal_sets", "check_level"]

#: tolerance of the order statistic's rank and of MAPIE's set thresholds (its EPSILON), so
#: that (n + 1) * level = 450.00000000000006 counts as 450
_EPS = 1e-8


def check_level(level) -> float:
    """``level`` as a float strictly between 0 and 1, or a ConfigError."""
    return validation.check_level(level)


def conformal_quantile(scores, level: float) -> float:
    """The ``ceil((n + 1) level)``-th smallest of ``n`` calibration scores; ``inf`` when that
    rank exceeds ``n`` (too few calibration cases for the level).

    This is the empirical quantile at ``ceil((n + 1) level) / n``, the finite-sample correction
    that makes split conformal sets cover with probability at least ``level``.

    Examples
    --------
    >>> conformal_quantile([3.0, 1.0, 2.0, 5.0, 4.0], 0.5)  # ceil(6 * 0.5) = 3rd smallest
    3.0
    >>> conformal_quantile([1.0, 2.0], 0.9)  # ceil(3 * 0.9) = 3 > 2
    inf
    """
    level = check_level(level)
    s = np.sort(_vector(scores, "scores"))
    k = math.ceil((s.size + 1) * level - _EPS)
    return float("inf") if k > s.size else float(s[k - 1])


def split_conformal(pred_cal, y_cal, pred, level: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray, float]:
    """Split conformal intervals ``pred -/+ q``, with ``q`` the conformal quantile of the
    absolute calibration residuals ``|y_cal - pred_cal|``.

    Returns
    -------
    lower, upper : numpy arrays like ``pred``
    q : float
        The half-width (``inf`` when the calibration set is too small for ``level``).

    Examples
    --------
    >>> lo, hi, q = split_conformal([0, 0, 0, 0], [1, -2, 3, -4], [10.0], level=0.5)
    >>> lo.tolist(), hi.tolist(), q
    ([7.0], [13.0], 3.0)
    """
    pc, yc = _vector(pred_cal, "pred_cal"), _vector(y_cal, "y_cal")
    _same_length(pc, yc, "pred_cal", "y_cal")
    p = _vector(pred, "pred")
    q = conformal_quantile(np.abs(yc - pc), level)
    return p - q, p + q, q


def conformalized_quantiles(lower_cal, upper_cal, y_cal, lower, upper, level: float = 0.95
                            ) -> tuple[np.ndarray, np.ndarray, float]:
    """Conformalized quantile regression (Romano, Patterson and Candes 2019): the band
    ``[lower - q, upper + q]`` of a model's lower and upper quantile outputs, with ``q`` the
    conformal quantile of ``max(lower_cal - y_cal, y_cal - upper_cal)`` (negative when the
    model's band is too wide, so it shrinks).

    Examples
    --------
    >>> lo, hi, q = conformalized_quantiles([0, 0, 0], [1, 1, 1], [0.5, 2.0, -0.5], [0.0],
    ...                                     [1.0], level=0.5)
    >>> q, lo.tolist(), hi.tolist()
    (0.5, [-0.5], [1.5])
    """
    lc, uc, yc = (_vector(v, n) for v, n in ((lower_cal, "lower_cal"), (upper_cal, "upper_cal"),
                                             (y_cal, "y_cal")))
    _same_length(lc, yc, "lower_cal", "y_cal")
    _same_length(uc, yc, "upper_cal", "y_cal")
    lo, hi = _vector(lower, "lower"), _vector(upper, "upper")
    _same_length(lo, hi, "lower", "upper")
    q = conformal_quantile(np.maximum(lc - yc, yc - uc), level)
    return lo - q, hi + q, q


def conformal_sets(proba_cal, y_cal, proba, level: float = 0.9, method: str = "lac",
                   randomize: bool = False, include_last: bool = False,
                   seed: int | None = None) -> tuple[np.ndarray, float]:
    """Conformal prediction sets from class probabilities: a boolean matrix (cases x classes)
    that contains the true class with probability at least ``level``.

    ``method="lac"`` (least ambiguous set-valued classifier, Sadinle et al. 2019): score
    ``1 - p_y``; the set holds every class with ``p_k >= 1 - q``. Smallest sets on average, but
    their coverage can vary between easy and hard cases.

    ``method="aps"`` (adaptive prediction sets, Romano et al. 2020): rank the classes by
    decreasing probability; a class's score is the total probability of the classes ranked at
    or above it, less ``u p_y`` with ``u`` uniform when ``randomize`` (drawn from
    ``numpy.random.RandomState(seed)``: calibration cases first, then test cases, so the
    calibration scores are MAPIE's for the same ``random_state``). The set holds the classes
    whose score is at most ``q``: coverage between ``level`` and ``level + 1 / (n + 1)``, larger
    sets where the model is unsure, and an empty set where even the top class's probability
    exceeds ``q``. ``include_last=True`` adds classes in decreasing probability up to and
    including the one whose running total reaches ``q`` (MAPIE's ``include_last_label=True``):
    never empty, but conservative (it covered 96% at level 0.9 in our simulations).

    ``y_cal`` holds class indices 0..k-1 (the columns of the probability matrices).

    Returns
    -------
    sets : bool array (n, k)
    q : float
        The conformal quantile of the calibration scores.

    Examples
    --------
    >>> p_cal = [[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.3, 0.6]]
    >>> sets, q = conformal_sets(p_cal, [0, 1, 1, 2], [[0.5, 0.4, 0.1]], level=0.75)
    >>> round(q, 2), sets.tolist()   # scores 0.3, 0.3, 0.7, 0.4: the 4th smallest is 0.7
    (0.7, [[True, True, False]])
    """
    pc, p = _proba(proba_cal, "proba_cal"), _proba(proba, "proba")
    if pc.shape[1] != p.shape[1]:
        raise ShapeError(validation.message(
            "proba", f"as many classes as `proba_cal` ({pc.shape[1]})", proba, "conformal_sets",
            verb="have", shown=str(p.shape[1])))
    yc = _labels(y_cal, pc.shape[1], len(pc))
    rows = np.arange(len(pc))
    if method == "lac":
        q = conformal_quantile(1.0 - pc[rows, yc], level)
        return p >= 1.0 - q - _EPS, q
    if method != "aps":
        raise validation.choice_error("method", method, ("lac", "aps"), "conformal_sets")
    rng = np.random.RandomState(seed) if randomize else None
    scores = _aps_scores(pc, rng)[rows, yc]
    q = conformal_quantile(scores, level)
    if include_last:
        return _up_to_last(p, q), q
    return _aps_scores(p, rng) <= q + _EPS, q


def _aps_scores(p: np.ndarray, rng: np.random.RandomState | None) -> np.ndarray:
    """Each class's APS score: the probability of the classes ranked at or above it (less
    ``u p_k``, one uniform ``u`` per case, when ``rng`` is given)."""
    order = np.argsort(-p, axis=1, kind="stable")
    cum = np.empty_like(p)
    np.put_along_axis(cum, order, np.cumsum(np.take_along_axis(p, order, axis=1), axis=1),
                      axis=1)
    if rng is not None:
        cum -= rng.uniform(size=(len(p), 1)) * p
    return cum


def _up_to_last(p: np.ndarray, q: float) -> np.ndarray:
    """Classes in decreasing probability up to the first whose running total reaches ``q``
    (ties in probability with that class included)."""
    order = np.argsort(-p, axis=1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=1)
    reached = np.cumsum(sorted_p, axis=1) >= q - _EPS
    last = np.where(reached.any(axis=1), reached.argmax(axis=1), p.shape[1] - 1)
    p_last = sorted_p[np.arange(len(p)), last]
    return p >= p_last[:, None] - _EPS


def _vector(values, name: str) -> np.ndarray:
    arr = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values, dtype=float)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.size == 0:
        raise ShapeError(validation.message(name, "a non-empty vector (or one column)", values,
                                            shown=f"shape {arr.shape}"))
    if not np.all(np.isfinite(arr)):
        raise ConfigError(validation.message(name, "finite numbers", values, verb="hold",
                                             shown="NaN or infinite values"))
    return arr


def _same_length(a: np.ndarray, b: np.ndarray, na: str, nb: str) -> None:
    if a.shape != b.shape:
        raise ShapeError(validation.message(nb, f"the length of `{na}` ({a.size})", b,
                                            verb="have", shown=str(b.size)))


def _proba(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] < 2:
        raise ShapeError(validation.message(
            name, "a matrix of class probabilities (cases x classes, at least 2 classes)",
            values, shown=f"shape {arr.shape}"))
    if not np.all(np.isfinite(arr)) or arr.min() < 0:
        raise ConfigError(validation.message(name, "finite probabilities >= 0", values,
                                             verb="hold", shown="NaN, infinite or negative "
                                             "values"))
    return arr


def _labels(y, k: int, n: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == k and k > 1:  # one-hot rows
        arr = arr.argmax(axis=1)
    arr = arr.reshape(-1)
    if arr.size != n:
        raise ShapeError(validation.message("y_cal", f"one label per calibration case ({n})",
                                            y, verb="have", shown=str(arr.size)))
    if not np.issubdtype(arr.dtype, np.number) or np.any(arr != np.round(arr)) \
            or arr.min() < 0 or arr.max() >= k:
        raise ConfigError(validation.message(
            "y_cal", f"class indices 0..{k - 1} (the columns of the probabilities)", y,
            verb="hold", shown=f"values {np.unique(arr)[:5].tolist()}"))
    return arr.astype(np.int64)
