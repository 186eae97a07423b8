"""caret-style confusion matrix and its statistics.

Definitions follow caret's ``confusionMatrix`` (topepo/caret ``R/confusionMatrix.R``,
``R/sensitivity.R``, ``R/posPredValue.R``...): Prediction on rows, Reference on columns;
overall Accuracy, Kappa, the exact Clopper-Pearson interval, the no-information rate and its
exact one-sided binomial test, and McNemar's (2 classes) or Bowker's (more) symmetry test;
per-class statistics one-vs-rest. They are checked against R's caret in
``tests/test_evaluation_caret_r.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .. import validation
from ..errors import ConfigError
from ._rformat import format_pval, format_real, print_matrix, r_number
from ._validate import MAX_LEVELS, as_labels, check_level, check_level_count, check_same_length

__all__ = ["ConfusionMatrix", "confusion_matrix", "OVERALL_NAMES", "BY_CLASS_NAMES"]

OVERALL_NAMES = ("Accuracy", "Kappa", "AccuracyLower", "AccuracyUpper", "AccuracyNull",
                 "AccuracyPValue", "McnemarPValue")
BY_CLASS_NAMES = ("Sensitivity", "Specificity", "Pos Pred Value", "Neg Pred Value",
                  "Precision", "Recall", "F1", "Prevalence", "Detection Rate",
                  "Detection Prevalence", "Balanced Accuracy")
_MODES = ("sens_spec", "prec_recall", "everything")


def _div(num: float, den: float) -> float:
    """num/den with R's IEEE semantics: 0/0 is NaN, x/0 is +-Inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(num) / np.float64(den))


def _order_levels(pred_vals: np.ndarray, ref_vals: np.ndarray, pred_decl: list | None,
                  ref_decl: list | None, levels: list | None) -> list:
    """Reference's declared order first, then prediction's, then the sorted rest."""
    seen: list = []

    def add(items):
        for v in items:
            if not any(v == s and type(v) is type(s) or v is s for s in seen):
                seen.append(v)

    if levels is not None:
        add(list(levels))
    else:
        add(ref_decl or [])
        add(pred_decl or [])
    observed = list(pd.unique(np.concatenate([ref_vals, pred_vals])))
    missing = [v for v in observed if v not in seen]
    if levels is not None and missing:
        shown = ", ".join(repr(v) for v in missing[:5])
        raise ConfigError(validation.message(
            "levels", "every label in `pred` and `reference`", levels, "confusion_matrix",
            verb="include", shown=f"a list without {shown}"))
    try:
        missing = sorted(missing)
    except TypeError:
        missing = sorted(missing, key=lambda v: (type(v).__name__, str(v)))
    add(missing)
    return seen


def _class_stats(tab: np.ndarray, i: int, prevalence: float | None) -> dict[str, float]:
    """caret's statistics for class ``i`` against all others (rows predicted, cols truth)."""
    n = tab.sum()
    a = tab[i, i]
    row = tab[i, :].sum()
    col = tab[:, i].sum()
    b, c = row - a, col - a
    d = n - a - b - c
    sens = a / col if col > 0 else math.nan
    spec = d / (b + d) if (b + d) > 0 else math.nan
    prev = _div(col, n) if prevalence is None else float(prevalence)
    ppv = _div(sens * prev, sens * prev + (1 - spec) * (1 - prev))
    npv = _div(spec * (1 - prev), (1 - sens) * prev + spec * (1 - prev))
    precision = a / row if row > 0 else math.nan
    recall = sens
    f1 = _div(2 * precision * recall, precision + recall)
    return {
        "Sensitivity": sens, "Specificity": spec, "Pos Pred Value": ppv,
        "Neg Pred Value": npv, "Precision": precision, "Recall": recall, "F1": f1,
        "Prevalence": prev, "Detection Rate": _div(a, n), "Detection Prevalence": _div(row, n),
        "Balanced Accuracy": (sens + spec) / 2,
    }


def _mcnemar_bowker(tab: np.ndarray) -> float:
    """``stats::mcnemar.test(tab)$p.value`` (continuity-corrected for 2x2; Bowker beyond)."""
    k = tab.shape[0]
    iu = np.triu_indices(k, 1)
    diff = (tab - tab.T)[iu].astype(float)
    total = (tab + tab.T)[iu].astype(float)
    if k == 2 and np.any(diff != 0):
        diff = np.abs(diff) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = float(np.sum(diff ** 2 / total))
    if math.isnan(statistic):
        return math.nan
    return float(stats.chi2.sf(statistic, k * (k - 1) / 2))


def _overall(tab: np.ndarray) -> dict[str, float]:
    n = int(tab.sum())
    x = int(np.trace(tab))
    rows, cols = tab.sum(axis=1), tab.sum(axis=0)
    p0 = x / n
    pc = float(np.sum((rows / n) * (cols / n)))
    kappa = _div(p0 - pc, 1 - pc)
    alpha = 0.05
    lower = 0.0 if x == 0 else float(stats.beta.ppf(alpha / 2, x, n - x + 1))
    upper = 1.0 if x == n else float(stats.beta.ppf(1 - alpha / 2, x + 1, n - x))
    nir = float(cols.max() / n)
    pvalue = float(stats.binom.sf(x - 1, n, nir))
    return {"Accuracy": p0, "Kappa": kappa, "AccuracyLower": lower, "AccuracyUpper": upper,
            "AccuracyNull": nir, "AccuracyPValue": min(1.0, pvalue),
            "McnemarPValue": _mcnemar_bowker(tab)}


class ConfusionMatrix:
    """A confusion matrix with caret's statistics.

    Build it with :func:`confusion_matrix`. Printing it shows caret's layout.

    Attributes
    ----------
    table : pandas.DataFrame
        Counts; rows are the predictions ("Prediction"), columns the truth ("Reference").
    overall : pandas.Series
        Accuracy, Kappa, AccuracyLower, AccuracyUpper, AccuracyNull, AccuracyPValue,
        McnemarPValue.
    by_class : pandas.Series or pandas.DataFrame
        With two classes, a Series of the 11 statistics for the ``positive`` class (as caret);
        with more, a DataFrame with one row per class (index = class labels) and the 11
        statistics as columns. ``cm.by_class["Sensitivity"]`` works in both cases.
    positive : object or None
        The positive class (two classes only).
    levels : list
        The class labels in table order.
    """

    def __init__(self, table: pd.DataFrame, positive: Any, prevalence: Any = None,
                 mode: str = "sens_spec"):
        validation.check_choice(mode, "mode", _MODES, "ConfusionMatrix")
        self.table = table
        self.levels = list(table.index)
        self.positive = positive
        self.mode = mode
        counts = table.to_numpy(dtype=np.int64)
        self.n = int(counts.sum())
        self.overall = pd.Series(_overall(counts), index=list(OVERALL_NAMES), dtype=float)
        if len(self.levels) == 2:
            i = self.levels.index(positive)
            self.by_class = pd.Series(_class_stats(counts, i, prevalence),
                                      index=list(BY_CLASS_NAMES), dtype=float)
        else:
            rows = [_class_stats(counts, i, None if prevalence is None else prevalence[lev])
                    for i, lev in enumerate(self.levels)]
            self.by_class = pd.DataFrame(rows, index=pd.Index(self.levels, name="Class"),
                                         columns=list(BY_CLASS_NAMES), dtype=float)

    # convenient accessors
    @property
    def accuracy(self) -> float:
        """Share of correct predictions."""
        return float(self.overall["Accuracy"])

    @property
    def kappa(self) -> float:
        """Unweighted Cohen's kappa."""
        return float(self.overall["Kappa"])

    def to_dict(self) -> dict:
        """JSON-able summary: table (nested lists), overall and by-class statistics (NaN -> None)."""
        def clean(v):
            return None if isinstance(v, float) and math.isnan(v) else v

        by_class = self.by_class
        if isinstance(by_class, pd.Series):
            bc = {k: clean(float(v)) for k, v in by_class.items()}
        else:
            bc = {str(lev): {k: clean(float(v)) for k, v in row.items()}
                  for lev, row in by_class.iterrows()}
        return {"levels": [str(v) for v in self.levels],
                "table": self.table.to_numpy().tolist(),
                "positive": None if self.positive is None else str(self.positive),
                "overall": {k: clean(float(v)) for k, v in self.overall.items()},
                "by_class": bc}

    def plot(self, **kwargs: Any):
        """Labelled heatmap of the table; see :func:`statdl.plots.plot_confusion_matrix`."""
        from ..plots.classification import plot_confusion_matrix

        return plot_confusion_matrix(self, **kwargs)

    # printing, as caret's print.confusionMatrix
    def _table_lines(self) -> list[str]:
        labels = [str(v) for v in self.levels]
        counts = self.table.to_numpy()
        cell_w = max(len(str(int(v))) for v in counts.ravel())
        lab_w = max(len(s) for s in labels)
        row_w = max(len("Prediction"), lab_w + 2)
        col_w = [max(cell_w, len(s)) for s in labels]
        lines = [" " * row_w + "Reference",
                 "Prediction".ljust(row_w) + "".join(" " + s.rjust(w)
                                                     for s, w in zip(labels, col_w))]
        for lab, row in zip(labels, counts):
            lines.append(lab.ljust(lab_w).rjust(row_w)
                         + "".join(" " + str(int(v)).rjust(w) for v, w in zip(row, col_w)))
        return lines

    def _hidden(self) -> tuple[str, ...]:
        if self.mode == "sens_spec":
            return ("Precision", "Recall", "F1")
        if self.mode == "prec_recall":
            return ("Sensitivity", "Specificity", "Pos Pred Value", "Neg Pred Value")
        return ()

    def _overall_cells(self) -> tuple[list[str], list[str]]:
        """Caret's overall statistics: (names, formatted values)."""
        o = self.overall
        pv = format_pval([o["AccuracyPValue"], o["McnemarPValue"]])
        ci = f"({r_number(o['AccuracyLower'])}, {r_number(o['AccuracyUpper'])})"
        names = ["Accuracy", "95% CI", "No Information Rate", "P-Value [Acc > NIR]", "",
                 "Kappa", "", "Mcnemar's Test P-Value"]
        text = [r_number(o["Accuracy"]), ci, r_number(o["AccuracyNull"]), pv[0], "",
                r_number(o["Kappa"]), "", pv[1]]
        return names, text

    def _class_cells(self) -> pd.DataFrame:
        """The shown per-class statistics, formatted as printed (4 digits)."""
        hidden = self._hidden()
        if len(self.levels) > 2:
            bc = self.by_class[[c for c in BY_CLASS_NAMES if c not in hidden]]
            cols = [format_real(bc.iloc[i].to_numpy(), 4) for i in range(len(bc))]
            return pd.DataFrame([[col[j] for col in cols] for j in range(bc.shape[1])],
                                index=list(bc.columns),
                                columns=[f"Class: {v}" for v in self.levels])
        bc = self.by_class[[c for c in BY_CLASS_NAMES if c not in hidden]]
        return pd.DataFrame({"": format_real(bc.to_numpy(), 4)}, index=list(bc.index))

    def __str__(self) -> str:
        names, text = self._overall_cells()
        lines = ["Confusion Matrix and Statistics", ""] + self._table_lines()
        classes = self._class_cells()
        if len(self.levels) > 2:
            labels = [f"{s} :" if s else "" for s in names]
            lines += ["", "Overall Statistics"]
            lines += self._stat_block(labels, text)
            lines += ["", "Statistics by Class:", ""]
            cells = classes.to_numpy().tolist()
            lines += print_matrix(cells, list(classes.index), list(classes.columns))
        else:
            names += [""] + list(classes.index)
            text += [""] + list(classes.iloc[:, 0])
            labels = [f"{s} :" if s else "" for s in names]
            labels += ["", "'Positive' Class :"]
            text += ["", str(self.positive)]
            lines += self._stat_block(labels + [""], text + [""])
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Caret's layout for Jupyter: the counts, the overall and the per-class statistics,
        with the numbers formatted as the printout formats them."""
        from ..display import html_table, wrap

        labels = [str(v) for v in self.levels]
        counts = html_table([[lab, *(str(int(v)) for v in row)]
                             for lab, row in zip(labels, self.table.to_numpy())],
                            header=labels, index_header="Prediction \\ Reference",
                            caption="Confusion Matrix and Statistics")
        names, text = self._overall_cells()
        overall = html_table([[n, t] for n, t in zip(names, text) if n],
                             caption="Overall Statistics")
        classes = self._class_cells()
        if len(self.levels) > 2:
            by_class = html_table([[name, *row] for name, row in
                                   zip(classes.index, classes.to_numpy().tolist())],
                                  header=list(classes.columns), caption="Statistics by Class")
        else:
            rows = [[name, value] for name, value in zip(classes.index, classes.iloc[:, 0])]
            by_class = html_table(rows + [["'Positive' Class", str(self.positive)]],
                                  caption="Statistics of the positive class")
        return wrap(counts, overall, by_class)

    @staticmethod
    def _stat_block(labels: list[str], text: list[str]) -> list[str]:
        width = max(len(s) for s in labels)
        rows = [[lab.rjust(width), t] for lab, t in zip(labels, text)]
        return print_matrix(rows, [""] * len(rows), ["", ""], left=True)

    def __repr__(self) -> str:
        return str(self)


def confusion_matrix(pred: Any, reference: Any, positive: Any = None, *,
                     levels: list | None = None, prevalence: float | Mapping | None = None,
                     mode: str = "sens_spec",
                     max_levels: int | None = MAX_LEVELS) -> ConfusionMatrix:
    """Cross-tabulate predictions against the truth and compute caret's statistics.

    Parameters
    ----------
    pred : array-like
        Predicted class labels (ints, strings, bools or a pandas Categorical; floats only when
        whole numbers, so probabilities or a continuous response are refused).
    reference : array-like
        True class labels, same length as ``pred``.
    positive : label, optional
        The event class for two-class problems; the first level by default (as caret). With
        more classes every class gets one-vs-rest statistics and ``positive`` is only checked.
    levels : list, optional
        All class labels in the order to show them; needed when a class occurs in neither
        vector. By default: the categories of ``reference`` (then ``pred``) when they are
        Categoricals, then the remaining labels sorted (as R's ``factor``).
    prevalence : float or mapping, optional
        Prevalence used by the positive and negative predictive values (and reported as
        Prevalence) instead of the observed one: a float for two classes, a mapping level ->
        prevalence for more.
    mode : {"sens_spec", "prec_recall", "everything"}
        Which per-class statistics the printout shows (as caret); all are always computed.
    max_levels : int or None
        Without ``levels``, more distinct labels than this (50 by default) is refused as a
        count or continuous response passed by mistake; raise it (or pass None) for that many
        real classes.

    Returns
    -------
    ConfusionMatrix
        With ``.table``, ``.overall``, ``.by_class``, ``.plot()``; prints like caret.

    Notes
    -----
    Every class seen in either vector gets a row and a column, even when it occurs in only
    one of them. Accuracy's 95% interval is the exact Clopper-Pearson interval; AccuracyPValue
    is the exact one-sided binomial test of Accuracy > AccuracyNull (the share of the largest
    reference class); McnemarPValue is R's ``mcnemar.test`` (continuity-corrected for two
    classes, Bowker's symmetry test beyond) and is NaN when a pair of off-diagonal cells is
    empty, as in R.

    Examples
    --------
    >>> cm = confusion_matrix(["a", "a", "b", "b", "b"], ["a", "b", "b", "b", "a"])
    >>> int(cm.table.loc["a", "b"])      # predicted "a", truly "b"
    1
    >>> cm.accuracy, cm.positive
    (0.6, 'a')
    >>> float(cm.by_class["Sensitivity"])
    0.5
    """
    where = "confusion_matrix"
    pred_vals, pred_decl = as_labels(pred, "pred", where)
    ref_vals, ref_decl = as_labels(reference, "reference", where)
    check_same_length(where, pred=pred_vals, reference=ref_vals)
    lev = _order_levels(pred_vals, ref_vals, pred_decl, ref_decl, levels)
    if levels is None:
        check_level_count(len(lev), ["pred", "reference"], where, max_levels)
    if len(lev) < 2:
        raise ConfigError(validation.message(
            ["pred", "reference"], "at least 2 classes between them", lev, where, verb="have",
            shown=f"only {lev[0]!r}", fix="Pass `levels=` to name the other classes."))
    index = {}
    for i, v in enumerate(lev):
        index.setdefault(v, i)
    k = len(lev)
    p_idx = np.array([index[v] for v in pred_vals])
    r_idx = np.array([index[v] for v in ref_vals])
    counts = np.bincount(p_idx * k + r_idx, minlength=k * k).reshape(k, k)
    table = pd.DataFrame(counts, index=pd.Index(lev, name="Prediction"),
                         columns=pd.Index(lev, name="Reference"))
    return _from_table(table, positive, prevalence, mode)


def _from_table(table: pd.DataFrame, positive: Any, prevalence: Any,
                mode: str) -> ConfusionMatrix:
    lev = list(table.index)
    if positive is not None:
        positive = check_level(positive, lev, "positive")
    if len(lev) == 2:
        positive = lev[0] if positive is None else positive
        if prevalence is not None:
            prevalence = _check_prob(prevalence, "prevalence")
    else:
        positive = None
        if prevalence is not None:
            if not isinstance(prevalence, Mapping | pd.Series):
                raise ConfigError(validation.message(
                    "prevalence", "a mapping level -> probability with more than two classes",
                    prevalence, shown=type(prevalence).__name__))
            prev = {}
            for key, val in prevalence.items():
                prev[check_level(key, lev, "prevalence key")] = _check_prob(val, "prevalence")
            absent = [v for v in lev if v not in prev]
            if absent:
                raise ConfigError(validation.message(
                    "prevalence", "every class", prevalence, verb="give",
                    shown=f"a mapping without {', '.join(map(repr, absent))}"))
            prevalence = prev
    return ConfusionMatrix(table, positive, prevalence, mode)


def _check_prob(value: Any, name: str) -> float:
    return validation.check_probability(value, name)


def confusion_matrix_from_table(table: Any, positive: Any = None, *,
                                prevalence: Any = None,
                                mode: str = "sens_spec") -> ConfusionMatrix:
    """Statistics for an existing square table of counts (rows predicted, columns truth).

    Parameters
    ----------
    table : pandas.DataFrame or 2-d array
        Square table of non-negative integer counts; a DataFrame's index gives the labels.
    positive, prevalence, mode
        As in :func:`confusion_matrix`.

    Examples
    --------
    >>> cm = confusion_matrix_from_table([[10, 2], [3, 15]])
    >>> round(cm.accuracy, 4)
    0.8333
    """
    if isinstance(table, pd.DataFrame):
        if list(table.index) != list(table.columns):
            raise ConfigError(validation.message(
                "table", "the same labels, in the same order, on rows and columns", table,
                "confusion_matrix_from_table", verb="have",
                shown=f"rows {list(table.index)} and columns {list(table.columns)}"))
        labels = list(table.index)
        arr = table.to_numpy()
    else:
        arr = np.asarray(table)
        labels = list(range(arr.shape[0])) if arr.ndim == 2 else []
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 2:
        raise ConfigError(validation.message(
            "table", "a square table with at least 2 classes", table,
            "confusion_matrix_from_table", shown=f"shape {arr.shape}"))
    if not np.all(np.isfinite(arr.astype(float))) or np.any(arr < 0) or np.any(arr % 1 != 0):
        raise ConfigError(validation.message(
            "table", "non-negative whole counts", table, "confusion_matrix_from_table",
            verb="hold", shown="negative, fractional or non-finite values"))
    if arr.sum() == 0:
        raise ConfigError(validation.message(
            "table", "at least one observation", table, "confusion_matrix_from_table",
            verb="hold", shown="all zeros"))
    df = pd.DataFrame(arr.astype(np.int64), index=pd.Index(labels, name="Prediction"),
                      columns=pd.Index(labels, name="Reference"))
    return _from_table(df, positive, prevalence, mode)


__all__.append("confusion_matrix_from_table")
