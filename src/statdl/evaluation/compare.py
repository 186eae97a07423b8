"""Paired comparisons of two models on the same test set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._validate import MAX_LEVELS, as_labels, as_numeric, check_level_count, check_same_length
from .regression import check_level_arg

__all__ = ["ClassifierComparison", "RegressorComparison", "compare_classifiers",
           "compare_regressors", "newcombe_paired_ci"]


def _wilson(x: int, n: int, z: float) -> tuple[float, float]:
    p = x / n
    centre = (2 * x + z * z) / (2 * (n + z * z))
    half = z * np.sqrt(z * z + 4 * x * (1 - p)) / (2 * (n + z * z))
    return centre - half, centre + half


def newcombe_paired_ci(both: int, only_a: int, only_b: int, neither: int,
                       level: float = 0.95) -> tuple[float, float]:
    """Newcombe's (1998, method 10) score interval for a difference of paired proportions.

    The difference is p_a - p_b = (only_a - only_b) / n, where ``only_a`` counts pairs where
    only A succeeds. Wilson limits of each proportion are combined with the correlation phi
    of the 2x2 table, whose numerator ``both*neither - only_a*only_b`` is replaced by
    ``max(0, that - n/2)`` when positive (Newcombe 1998; Altman et al., *Statistics with
    Confidence*, 2000, ch. 6); phi = 0 when a margin is empty.

    Examples
    --------
    >>> lo, hi = newcombe_paired_ci(40, 10, 2, 8)
    >>> round(lo, 4) < 0.1333 < round(hi, 4)
    True
    """
    n = both + only_a + only_b + neither
    z = stats.norm.ppf(1 - (1 - level) / 2)
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    l1, u1 = _wilson(both + only_a, n, z)
    l2, u2 = _wilson(both + only_b, n, z)
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    cross = both * neither - only_a * only_b
    if cross > 0:
        cross = max(0.0, cross - n / 2)
    phi = 0.0 if margins == 0 else cross / np.sqrt(margins)
    d = p1 - p2
    lower = d - np.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2)
                            + (u2 - p2) ** 2))
    upper = d + np.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2)
                            + (p2 - l2) ** 2))
    return float(max(-1.0, lower)), float(min(1.0, upper))


@dataclass(frozen=True)
class ClassifierComparison:
    """Result of :func:`compare_classifiers`.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows: A correct / A wrong; columns: B correct / B wrong.
    accuracy_a, accuracy_b, difference, lower, upper : float
        Accuracies, their difference A - B and its interval (Newcombe).
    p_value : float
        Exact McNemar test (two-sided binomial test on the discordant pairs).
    """

    table: pd.DataFrame
    accuracy_a: float
    accuracy_b: float
    difference: float
    lower: float
    upper: float
    p_value: float
    level: float
    names: tuple[str, str]

    @property
    def n(self) -> int:
        return int(self.table.to_numpy().sum())

    def __str__(self) -> str:
        a, b = self.names
        only_a = int(self.table.iloc[0, 1])
        only_b = int(self.table.iloc[1, 0])
        alpha = 1 - self.level
        if self.p_value < alpha:
            better = a if self.difference > 0 else b
            verdict = f"{better} is more accurate (exact McNemar p = {self.p_value:.3g})."
        else:
            verdict = (f"No significant difference in accuracy at the {100 * alpha:g}% level "
                       f"(exact McNemar p = {self.p_value:.3g}).")
        pct = f"{100 * self.level:g}%"
        return "\n".join([
            verdict,
            f"  accuracy {a} = {self.accuracy_a:.4f}, {b} = {self.accuracy_b:.4f} "
            f"(n = {self.n})",
            f"  difference {a} - {b} = {self.difference:+.4f}, {pct} CI "
            f"({self.lower:+.4f}, {self.upper:+.4f}) (Newcombe paired score interval)",
            f"  discordant pairs: only {a} correct = {only_a}, only {b} correct = {only_b}",
        ])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        """For Jupyter: the verdict, the accuracies with the difference's interval, and the
        paired table (the printout's numbers)."""
        from ..display import escape, html_table, wrap

        a, b = self.names
        lines = str(self).splitlines()
        pct = f"{100 * self.level:g}%"
        rows = [[f"accuracy {a}", f"{self.accuracy_a:.4f}"],
                [f"accuracy {b}", f"{self.accuracy_b:.4f}"],
                [f"difference {a} - {b}", f"{self.difference:+.4f}"],
                [f"{pct} CI (Newcombe)", f"({self.lower:+.4f}, {self.upper:+.4f})"],
                ["exact McNemar p", f"{self.p_value:.3g}"], ["n", str(self.n)]]
        counts = self.table.to_numpy()
        pairs = html_table([[f"{a} correct", str(int(counts[0, 0])), str(int(counts[0, 1]))],
                            [f"{a} wrong", str(int(counts[1, 0])), str(int(counts[1, 1]))]],
                           header=[f"{b} correct", f"{b} wrong"], caption="Paired outcomes")
        return wrap(f"<p>{escape(lines[0])}</p>", html_table(rows), pairs)


def compare_classifiers(pred_a: Any, pred_b: Any, reference: Any, *, level: float = 0.95,
                        names: tuple[str, str] = ("A", "B"),
                        max_levels: int | None = MAX_LEVELS) -> ClassifierComparison:
    """Compare two classifiers on the same cases: McNemar's exact test and the accuracy gap.

    Parameters
    ----------
    pred_a, pred_b : array-like
        Predicted labels of models A and B.
    reference : array-like
        True labels.
    level : float
        Confidence level of the interval for the accuracy difference.
    names : tuple of str
        Names of the two models in the printout.
    max_levels : int or None
        More distinct labels than this (50 by default) is refused as a count or continuous
        response passed by mistake; raise it (or pass None) for that many real classes.

    Returns
    -------
    ClassifierComparison
        ``.table`` (2x2 agreement), ``.p_value``, ``.difference`` with ``.lower``/``.upper``;
        prints a short verdict with the numbers behind it.

    Notes
    -----
    The exact McNemar test is the two-sided binomial test of the discordant pairs:
    among the cases exactly one model gets right, is A right half the time? (p = 1 when there
    are none.) The interval for accuracy(A) - accuracy(B) is Newcombe's (1998) method 10
    score interval for paired proportions, which stays inside [-1, 1] and behaves well near
    0 and 1, unlike the Wald interval.

    Examples
    --------
    >>> ref = [0, 1, 1, 0, 1, 0, 1, 1]
    >>> res = compare_classifiers([0, 1, 1, 0, 1, 0, 0, 1], [0, 0, 1, 1, 0, 0, 0, 1], ref)
    >>> res.table.to_numpy().tolist(), round(res.p_value, 4)
    ([[4, 3], [0, 1]], 0.25)
    """
    level = check_level_arg(level)
    where = "compare_classifiers"
    a, _ = as_labels(pred_a, "pred_a", where)
    b, _ = as_labels(pred_b, "pred_b", where)
    r, _ = as_labels(reference, "reference", where)
    n = check_same_length(where, pred_a=a, pred_b=b, reference=r)
    check_level_count(len(pd.unique(np.concatenate([a, b, r]))),
                      ["pred_a", "pred_b", "reference"], where, max_levels)
    ca = np.array([x == y for x, y in zip(a, r)])
    cb = np.array([x == y for x, y in zip(b, r)])
    both = int(np.sum(ca & cb))
    only_a = int(np.sum(ca & ~cb))
    only_b = int(np.sum(~ca & cb))
    neither = n - both - only_a - only_b
    name_a, name_b = names
    table = pd.DataFrame([[both, only_a], [only_b, neither]],
                         index=pd.Index([f"{name_a} correct", f"{name_a} wrong"], name=name_a),
                         columns=pd.Index([f"{name_b} correct", f"{name_b} wrong"],
                                          name=name_b))
    discordant = only_a + only_b
    p = 1.0 if discordant == 0 else float(stats.binomtest(only_a, discordant, 0.5).pvalue)
    lo, hi = newcombe_paired_ci(both, only_a, only_b, neither, level)
    return ClassifierComparison(table, (both + only_a) / n, (both + only_b) / n,
                                (only_a - only_b) / n, lo, hi, p, level, (name_a, name_b))


@dataclass(frozen=True)
class RegressorComparison:
    """Result of :func:`compare_regressors`.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``squared error`` and ``absolute error``; columns ``mean_a``, ``mean_b``,
        ``difference`` (A - B), ``lower``, ``upper`` (t interval), ``t_p_value`` (paired t)
        and ``wilcoxon_p_value`` (Wilcoxon signed-rank).
    """

    table: pd.DataFrame
    level: float
    n: int
    names: tuple[str, str]

    def __str__(self) -> str:
        a, b = self.names
        alpha = 1 - self.level
        pct = f"{100 * self.level:g}%"
        lines = []
        row = self.table.loc["squared error"]
        if row["t_p_value"] < alpha:
            better = a if row["difference"] < 0 else b
            lines.append(f"{better} has the lower mean squared error "
                         f"(paired t p = {row['t_p_value']:.3g}).")
        else:
            lines.append(f"No significant difference in mean squared error at the "
                         f"{100 * alpha:g}% level (paired t p = {row['t_p_value']:.3g}).")
        for name, r in self.table.iterrows():
            lines.append(f"  {name}: {a} {r['mean_a']:.4g}, {b} {r['mean_b']:.4g}; "
                         f"difference {a} - {b} = {r['difference']:+.4g}, {pct} CI "
                         f"({r['lower']:+.4g}, {r['upper']:+.4g}); paired t p = "
                         f"{r['t_p_value']:.3g}, Wilcoxon p = {r['wilcoxon_p_value']:.3g}")
        lines.append(f"  (n = {self.n} paired cases)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        """For Jupyter: the verdict and one row per error measure (the printout's numbers)."""
        from ..display import escape, html_table, wrap

        a, b = self.names
        pct = f"{100 * self.level:g}%"
        rows = [[name, f"{r['mean_a']:.4g}", f"{r['mean_b']:.4g}", f"{r['difference']:+.4g}",
                 f"({r['lower']:+.4g}, {r['upper']:+.4g})", f"{r['t_p_value']:.3g}",
                 f"{r['wilcoxon_p_value']:.3g}"] for name, r in self.table.iterrows()]
        table = html_table(rows, header=[a, b, f"{a} - {b}", f"{pct} CI", "paired t p",
                                         "Wilcoxon p"],
                           caption=f"n = {self.n} paired cases")
        return wrap(f"<p>{escape(str(self).splitlines()[0])}</p>", table)


def compare_regressors(y: Any, pred_a: Any, pred_b: Any, *, level: float = 0.95,
                       names: tuple[str, str] = ("A", "B")) -> RegressorComparison:
    """Compare two regression models on the same cases with paired tests.

    Parameters
    ----------
    y : array-like
        Observed responses.
    pred_a, pred_b : array-like
        Predictions of models A and B.
    level : float
        Confidence level of the intervals.
    names : tuple of str
        Names of the two models in the printout.

    Returns
    -------
    RegressorComparison
        ``.table`` with one row for squared and one for absolute error; prints a verdict.

    Notes
    -----
    For each case d_i = loss_A,i - loss_B,i (squared, then absolute error). The difference
    of mean losses is mean(d) with the t interval mean(d) +- t_{n-1} sd(d)/sqrt(n); the
    p-values are the paired t test and the Wilcoxon signed-rank test (zero differences
    dropped, ``scipy.stats.wilcoxon`` defaults) of d. A negative difference favours A.
    With identical losses the t interval is (0, 0) and both p-values are 1.

    Examples
    --------
    >>> y = [1.0, 2.0, 3.0, 4.0, 5.0]
    >>> res = compare_regressors(y, [1.1, 2.1, 2.9, 4.2, 5.0], [1.5, 2.6, 2.2, 4.9, 5.8])
    >>> bool(res.table.loc["squared error", "difference"] < 0)
    True
    """
    level = check_level_arg(level)
    where = "compare_regressors"
    yv = as_numeric(y, "y", where)
    a = as_numeric(pred_a, "pred_a", where)
    b = as_numeric(pred_b, "pred_b", where)
    n = check_same_length(where, y=yv, pred_a=a, pred_b=b)
    rows = {}
    for name, la, lb in (("squared error", (yv - a) ** 2, (yv - b) ** 2),
                         ("absolute error", np.abs(yv - a), np.abs(yv - b))):
        d = la - lb
        mean = float(d.mean())
        sd = float(d.std(ddof=1)) if n > 1 else float("nan")
        if n > 1 and sd > 0:
            t = stats.t.ppf(1 - (1 - level) / 2, n - 1)
            half = t * sd / np.sqrt(n)
            t_p = float(2 * stats.t.sf(abs(mean) / (sd / np.sqrt(n)), n - 1))
        elif n > 1:
            half, t_p = 0.0, (1.0 if mean == 0 else 0.0)
        else:
            half, t_p = float("nan"), float("nan")
        w_p = float(stats.wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
        rows[name] = {"mean_a": float(la.mean()), "mean_b": float(lb.mean()),
                      "difference": mean, "lower": mean - half, "upper": mean + half,
                      "t_p_value": t_p, "wilcoxon_p_value": w_p}
    table = pd.DataFrame.from_dict(rows, orient="index")
    return RegressorComparison(table, level, n, tuple(names))
