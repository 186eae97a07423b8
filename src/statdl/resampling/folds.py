"""Which rows each resample holds out: K-fold, repeated, stratified and grouped folds.

Every repeat is a new random partition of the rows into ``k`` folds, drawn from
``numpy.random.default_rng(seed)``; fold ``j`` of repeat ``r`` is named as caret names it
(``Fold03`` for one repeat, ``Fold03.Rep2`` for several).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import validation
from ..errors import ConfigError, ShapeError

__all__ = ["Folds", "make_folds", "strata_of"]

MAX_WHOLE_LEVELS = 20  # a float y with at most this many whole values is taken as classes


@dataclass(frozen=True, eq=False)
class Folds:
    """The held-out rows of every resample (sorted row numbers), and how they were drawn.

    Attributes
    ----------
    test : tuple of numpy.ndarray
        Row numbers held out by each resample, in resample order.
    ids : tuple of str
        caret's names of the resamples (``Fold01`` ... or ``Fold01.Rep1`` ...).
    n, k, repeats : int
        Rows, folds per repeat, repeats.
    kind : str
        ``"random"``, ``"stratified"`` or ``"grouped"``.
    seed : int
        Seed of the draw.

    Examples
    --------
    >>> f = make_folds(10, folds=5, seed=1)
    >>> len(f), f.ids[0], sorted(np.concatenate(f.test).tolist()) == list(range(10))
    (5, 'Fold1', True)
    """

    test: tuple[np.ndarray, ...]
    ids: tuple[str, ...]
    n: int
    k: int
    repeats: int
    kind: str
    seed: int

    def __len__(self) -> int:
        return len(self.test)

    def train(self, i: int) -> np.ndarray:
        """The rows resample ``i`` trains on (every row it does not hold out)."""
        keep = np.ones(self.n, dtype=bool)
        keep[self.test[i]] = False
        return np.flatnonzero(keep)

    def __iter__(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        for i, name in enumerate(self.ids):
            yield name, self.train(i), self.test[i]

    def same_as(self, other: Folds) -> bool:
        """True when both hold out exactly the same rows under the same names."""
        return (self.n == other.n and self.ids == other.ids
                and all(np.array_equal(a, b) for a, b in zip(self.test, other.test)))

    def first_difference(self, other: Folds) -> str:
        """Says where two sets of folds part (for error messages)."""
        if self.n != other.n:
            return f"they split {self.n} and {other.n} rows"
        if self.ids != other.ids:
            return f"their resamples are {_ids_text(self.ids)} and {_ids_text(other.ids)}"
        for name, a, b in zip(self.ids, self.test, other.test):
            if not np.array_equal(a, b):
                return f"resample {name} holds out different rows"
        return "they are the same"

    @property
    def description(self) -> str:
        """caret's line: ``Cross-Validated (10 fold, repeated 3 times)``."""
        kind = {"random": "", "stratified": "stratified, ", "grouped": "grouped, "}[self.kind]
        if self.repeats == 1:
            return f"Cross-Validated ({kind}{self.k} fold)"
        return f"Cross-Validated ({kind}{self.k} fold, repeated {self.repeats} times)"

    def __repr__(self) -> str:
        return f"<Folds: {self.description}, {self.n} rows, seed {self.seed}>"


def _ids_text(ids: tuple[str, ...]) -> str:
    return ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")


def _check_int(value: Any, name: str, low: int) -> int:
    return validation.check_int(value, name, "make_folds", low=low)  # type: ignore


def strata_of(y: Any) -> np.ndarray:
    """Stratum of each row of ``y``: its class, or (numeric y) its quantile group as caret's
    ``createFolds`` cuts it.

    Classes are the column of a one-hot matrix, or the values of an integer, boolean or text
    ``y`` (a float ``y`` of at most 20 whole values counts as classes too). Any other numeric
    ``y`` is cut at its quantiles into ``min(5, max(2, n // 10)) - 1`` groups, as caret does.

    Examples
    --------
    >>> strata_of(np.eye(3)[[0, 2, 1, 2]]).tolist()
    [0, 2, 1, 2]
    """
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] > 1:
        return np.argmax(arr, axis=1)
    arr = arr.reshape(len(arr), -1)
    if arr.shape[1] != 1:
        raise ShapeError(validation.message("stratify", "one label per row", y, verb="hold",
                                            shown=f"an array of shape {np.asarray(y).shape}"))
    arr = arr[:, 0]
    if arr.dtype.kind in "biuUSOb":
        return np.unique(arr.astype(str) if arr.dtype.kind == "O" else arr,
                         return_inverse=True)[1]
    if not np.all(np.isfinite(arr)):
        raise ConfigError(validation.message("stratify", "finite labels", y, verb="hold",
                                             shown="NaN or infinite values"))
    values = np.unique(arr)
    if len(values) <= MAX_WHOLE_LEVELS and np.all(values == np.round(values)):
        return np.searchsorted(values, arr)
    cuts = min(5, max(2, len(arr) // 10))
    breaks = np.unique(np.quantile(arr, np.linspace(0, 1, cuts)))
    return np.clip(np.searchsorted(breaks, arr, side="left") - 1, 0, None)


def _random_folds(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    fold = np.arange(n) % k
    return fold[rng.permutation(n)]


def _stratified_counts(sizes: np.ndarray, fold_sizes: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """Rows of each stratum (rows of the result) in each fold (columns).

    The exact share of stratum c in fold i, ``n_c s_i / n``, is rounded down or up so that
    every stratum and every fold keeps its total (controlled rounding: a transportation
    problem with integer margins always has such a solution, found here as a maximum flow).
    So each fold's count of each stratum is within one row of its share.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    n = int(sizes.sum())
    exact = np.outer(sizes, fold_sizes)
    counts = exact // n
    can_round_up = exact % n != 0
    short_rows = sizes - counts.sum(1)          # strata still to place
    short_cols = fold_sizes - counts.sum(0)     # fold places still free
    c, k = counts.shape
    src, sink = c + k, c + k + 1
    cols = rng.permutation(k)                   # which folds round up: random among equals
    rows_i, cols_i = np.nonzero(can_round_up[:, cols])
    heads = np.concatenate([np.full(c, src), rows_i, c + np.arange(k)])
    tails = np.concatenate([np.arange(c), c + cols_i, np.full(k, sink)])
    caps = np.concatenate([short_rows, np.ones(len(rows_i), dtype=np.int64),
                           short_cols[cols]]).astype(np.int32)
    graph = csr_matrix((caps, (heads, tails)), shape=(c + k + 2, c + k + 2))
    flow = maximum_flow(graph, src, sink).flow.tocoo()
    for a, b, v in zip(flow.row, flow.col, flow.data):
        if a < c and c <= b < c + k and v > 0:
            counts[a, cols[b - c]] += v
    return counts


def _stratified_folds(strata: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Each stratum's rows, in random order, dealt out in the counts of
    :func:`_stratified_counts` to folds of sizes floor or ceil of n / k."""
    levels, codes, sizes = np.unique(strata, return_inverse=True, return_counts=True)
    n = len(strata)
    fold_sizes = rng.permutation(np.arange(k) < n % k).astype(np.int64) + n // k
    counts = _stratified_counts(sizes, fold_sizes, rng)
    fold = np.empty(n, dtype=np.int64)
    for s in range(len(levels)):
        rows = rng.permutation(np.flatnonzero(codes == s))
        fold[rows] = np.repeat(np.arange(k), counts[s])
    return fold


def _grouped_folds(groups: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Groups in random order, then largest first (stable), each to the fold with the fewest
    rows so far: no group is split and fold sizes stay close."""
    names, codes, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    if len(names) < k:
        raise ConfigError(validation.message(
            "groups", f"at least `folds` = {k} distinct groups", groups, "make_folds",
            verb="have", shown=str(len(names)), fix="Use fewer folds."))
    shuffled = rng.permutation(len(names))
    order = shuffled[np.argsort(-sizes[shuffled], kind="stable")]
    load = np.zeros(k, dtype=np.int64)
    group_fold = np.empty(len(names), dtype=np.int64)
    for g in order:
        f = int(np.argmin(load))
        group_fold[g] = f
        load[f] += sizes[g]
    return group_fold[codes]


def make_folds(n_or_y: Any, folds: int = 10, repeats: int = 1, *, stratify: Any = None,
               groups: Any = None, seed: int = 1) -> Folds:
    """Split rows into ``folds`` folds, ``repeats`` times (plain, stratified or by group).

    Parameters
    ----------
    n_or_y : int or array-like
        The number of rows, or anything with one entry per row (``y``).
    folds : int
        Folds per repeat (at least 2).
    repeats : int
        Independent partitions (repeated K-fold).
    stratify : None, array-like
        Labels to balance across folds: each fold gets ``floor`` or ``ceil`` of each stratum's
        rows divided by ``folds`` (see :func:`strata_of` for numeric labels).
    groups : None, array-like
        Group of each row (a patient, a player): all rows of a group fall in the same fold.
    seed : int
        Seed of the draw; the same seed gives the same folds.

    Returns
    -------
    Folds

    Examples
    --------
    >>> f = make_folds(np.array([0] * 6 + [1] * 4), folds=2, stratify=[0] * 6 + [1] * 4)
    >>> [int((t >= 6).sum()) for t in f.test]
    [2, 2]
    """
    n = n_or_y if isinstance(n_or_y, int | np.integer) and not isinstance(n_or_y, bool) \
        else len(n_or_y)
    k = _check_int(folds, "folds", 2)
    repeats = _check_int(repeats, "repeats", 1)
    seed = _check_int(seed, "seed", 0)
    if k > n:
        raise ConfigError(validation.message("folds", f"at most the number of rows, {n}", k,
                                             "make_folds"))
    if stratify is not None and groups is not None:
        raise ConfigError(validation.message(
            "groups", "None when `stratify` is given (make_folds takes `stratify` or `groups`, "
            "not both: grouped folds keep each group whole, which stratifying rows would "
            "break)", groups, "make_folds", shown="groups as well as `stratify`"))
    strata = group_codes = None
    kind = "random"
    if stratify is not None:
        strata, kind = _per_row(strata_of(stratify), n, "stratify"), "stratified"
    if groups is not None:
        group_codes, kind = _per_row(np.asarray(groups), n, "groups"), "grouped"
    rng = np.random.default_rng(seed)
    width = len(str(k))
    tests, ids = [], []
    for r in range(repeats):
        if strata is not None:
            fold = _stratified_folds(strata, k, rng)
        elif group_codes is not None:
            fold = _grouped_folds(group_codes, k, rng)
        else:
            fold = _random_folds(n, k, rng)
        for j in range(k):
            tests.append(np.flatnonzero(fold == j))
            ids.append(f"Fold{j + 1:0{width}d}" + (f".Rep{r + 1}" if repeats > 1 else ""))
    return Folds(tuple(tests), tuple(ids), n, k, repeats, kind, seed)


def _per_row(values: np.ndarray, n: int, name: str) -> np.ndarray:
    if values.ndim != 1 or len(values) != n:
        raise ShapeError(validation.message(name, f"one entry per row ({n})", values,
                                            verb="have", shown=f"shape {values.shape}"))
    return values
