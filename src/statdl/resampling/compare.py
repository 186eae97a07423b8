"""``resamples``: several models resampled on the same folds, compared as caret's
``resamples``, ``summary`` and ``diff`` do, with the Nadeau-Bengio corrected resampled t-test
beside caret's paired t-test."""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ConfigError
from ..validation import check_choice, choice_error, message
from .cv import CVResult
from .stats import SUMMARY_COLUMNS, check_level, corrected_ttest, six_number_summary

__all__ = ["resamples", "Resamples", "ResamplesSummary", "ResamplesDiff"]

ADJUSTMENTS = ("bonferroni", "none")


def _r_matrix(stat: pd.DataFrame) -> list[str]:
    """A numeric matrix as R prints it: each column formatted alone with 7 digits."""
    from ..evaluation._rformat import format_real, print_matrix

    columns = [format_real(stat[c].to_numpy(dtype=float), digits=7) for c in stat.columns]
    cells = [[col[r].strip() for col in columns] for r in range(len(stat))]
    return print_matrix(cells, [str(i) for i in stat.index], list(stat.columns))


@dataclass(eq=False)
class ResamplesSummary:
    """caret's ``summary(resamples(...))``: per metric, a table of ``Min.``, ``1st Qu.``,
    ``Median``, ``Mean``, ``3rd Qu.``, ``Max.`` and ``NA's`` with one row per model."""

    statistics: dict[str, pd.DataFrame]
    models: list[str]
    n_resamples: int

    def __getitem__(self, metric: str) -> pd.DataFrame:
        return self.statistics[metric]

    def __repr__(self) -> str:
        lines = [f"Models: {', '.join(self.models)} ", f"Number of resamples: {self.n_resamples} ",
                 ""]
        for metric, stat in self.statistics.items():
            lines += [f"{metric} ", *_r_matrix(stat), ""]
        return "\n".join(lines)

    __str__ = __repr__


@dataclass(eq=False)
class ResamplesDiff:
    """Paired differences between models (row model minus column model), per metric.

    Attributes
    ----------
    differences : dict of DataFrame
        Per metric, one column ``"A.diff.B"`` per pair, one row per resample (caret's ``difs``).
    table : DataFrame
        One row per metric and pair: ``estimate`` (mean difference), caret's paired t-test
        (``lower``, ``upper``, ``p_value`` adjusted) and the corrected resampled t-test
        (``se_corrected``, ``lower_corrected``, ``upper_corrected``, ``p_corrected``, adjusted
        the same way), at ``conf_level`` (``level`` adjusted for the comparisons).
    """

    differences: dict[str, pd.DataFrame]
    table: pd.DataFrame
    models: list[str]
    metrics: list[str]
    level: float
    conf_level: float
    adjustment: str
    test_train_ratio: float

    def _matrix(self, metric: str, p_column: str) -> list[str]:
        from ..evaluation._rformat import format_pval, format_real, print_matrix

        k = len(self.models)
        rows = self.table[self.table["metric"] == metric]
        est = np.full((k, k), np.nan)
        pvals = np.full((k, k), np.nan)
        for _, r in rows.iterrows():
            i, j = self.models.index(r["model_1"]), self.models.index(r["model_2"])
            est[i, j], pvals[j, i] = r["estimate"], r[p_column]
        est_text = np.array(format_real(est.T.reshape(-1), digits=4)).reshape(k, k).T
        p_text = np.array(format_pval(pvals.T.reshape(-1), digits=4)).reshape(k, k).T
        cells = [["" if i == j else (est_text[i, j] if i < j else p_text[i, j])
                  for j in range(k)] for i in range(k)]
        return print_matrix(cells, self.models, self.models, left=True)

    def __repr__(self) -> str:
        lines = []
        if self.adjustment != "none":
            lines.append(f"p-value adjustment: {self.adjustment} ")
        lines += ["Upper diagonal: estimates of the difference",
                  "Lower diagonal: p-value for H0: difference = 0", ""]
        for metric in self.metrics:
            lines += [f"{metric} ", *self._matrix(metric, "p_value"), ""]
        lines += ["Corrected resampled t-test (Nadeau and Bengio 2003: variance x "
                  f"(1/J + n_test/n_train), n_test/n_train = {self.test_train_ratio:.4g}):", ""]
        for metric in self.metrics:
            lines += [f"{metric} ", *self._matrix(metric, "p_corrected"), ""]
        pct = f"{100 * self.conf_level:.4g}%"
        lines.append(f"{pct} intervals of the differences (paired t; corrected):")
        for _, r in self.table.iterrows():
            lines.append(f"  {r['metric']} {r['model_1']} - {r['model_2']}: "
                         f"{r['estimate']:.4g} [{r['lower']:.4g}, {r['upper']:.4g}]; "
                         f"[{r['lower_corrected']:.4g}, {r['upper_corrected']:.4g}]")
        return "\n".join(lines)

    __str__ = __repr__


def _paired_t(d: np.ndarray, conf_level: float) -> tuple[float, float, float]:
    """R's ``t.test(d, conf.level=)``: (p-value, lower, upper); NaN where R would stop."""
    d = d[~np.isnan(d)]
    if d.size < 2 or np.std(d) == 0:
        return math.nan, math.nan, math.nan
    res = stats.ttest_1samp(d, 0.0)
    ci = res.confidence_interval(conf_level)
    return float(res.pvalue), float(ci.low), float(ci.high)


def _adjust(p: float, n_comparisons: int, adjustment: str) -> float:
    return min(1.0, p * n_comparisons) if adjustment == "bonferroni" and not math.isnan(p) \
        else p


@dataclass(eq=False)
class Resamples:
    """Several models' metrics on the same resamples (caret's ``resamples`` object).

    Attributes
    ----------
    values : DataFrame
        ``Resample`` and one column ``"model~metric"`` per model and metric (caret's layout).
    models, metrics : list of str
    results : dict of CVResult
    """

    values: pd.DataFrame
    models: list[str]
    metrics: list[str]
    results: dict[str, CVResult]

    @property
    def folds(self):
        return next(iter(self.results.values())).folds

    @property
    def test_train_ratio(self) -> float:
        """n_test / n_train of the resamples (mean sizes), the correction's second term."""
        first = next(iter(self.results.values()))
        return first.n_test / first.n_train

    def metric_values(self, metric: str) -> pd.DataFrame:
        """One column per model, one row per resample."""
        self._check_metric(metric)
        return pd.DataFrame({m: self.values[f"{m}~{metric}"].to_numpy() for m in self.models},
                            index=self.values["Resample"])

    def _check_metric(self, metric: str) -> None:
        if metric not in self.metrics:
            raise choice_error("metric", metric, self.metrics, "Resamples")

    def _metric_list(self, metric: Any) -> list[str]:
        if metric is None:
            return list(self.metrics)
        chosen = [metric] if isinstance(metric, str) else list(metric)
        for m in chosen:
            self._check_metric(m)
        return chosen

    def summary(self, metric: str | list[str] | None = None) -> ResamplesSummary:
        """caret's ``summary.resamples``: six numbers and NA count per model and metric.

        Examples
        --------
        >>> import statdl as sd  # see ``resamples`` for a whole example
        """
        out = {}
        for m in self._metric_list(metric):
            vals = self.metric_values(m)
            out[m] = pd.DataFrame([six_number_summary(vals[k]) for k in self.models],
                                  index=self.models, columns=SUMMARY_COLUMNS)
        return ResamplesSummary(out, list(self.models), len(self.values))

    def diff(self, metric: str | list[str] | None = None, level: float = 0.95,
             adjustment: str = "bonferroni", models: list[str] | None = None) -> ResamplesDiff:
        """Paired differences between every two models, as caret's ``diff.resamples``.

        For each metric and pair (A listed before B): the differences A - B on each resample,
        their mean, R's one-sample ``t.test`` of them (caret's test) and Nadeau and Bengio's
        corrected resampled t-test. With ``adjustment="bonferroni"`` (caret's default) the
        intervals are at ``1 - (1 - level) / comparisons`` and the p-values multiplied by the
        number of comparisons (at most 1).
        """
        level = check_level(level, "Resamples.diff")
        check_choice(adjustment, "adjustment", ADJUSTMENTS, "Resamples.diff")
        models = list(self.models) if models is None else list(models)
        for m in models:
            if m not in self.models:
                raise choice_error("models", m, self.models, "Resamples.diff")
        if len(models) < 2:
            raise ConfigError(message("models", "at least two models", models,
                                      "Resamples.diff"))
        pairs = list(itertools.combinations(models, 2))
        conf_level = 1 - (1 - level) / len(pairs) if adjustment == "bonferroni" else level
        ratio = self.test_train_ratio
        first = next(iter(self.results.values()))
        rows, differences = [], {}
        chosen = self._metric_list(metric)
        for name in chosen:
            vals = self.metric_values(name)
            difs = pd.DataFrame({f"{a}.diff.{b}": vals[a] - vals[b] for a, b in pairs})
            differences[name] = difs
            for a, b in pairs:
                d = difs[f"{a}.diff.{b}"].to_numpy(dtype=float)
                p, lo, hi = _paired_t(d, conf_level)
                ok = d[~np.isnan(d)]
                nb = corrected_ttest(ok, first.n_train, first.n_test, level=conf_level) \
                    if ok.size >= 2 else None
                rows.append({
                    "metric": name, "model_1": a, "model_2": b,
                    "estimate": float(ok.mean()) if ok.size else math.nan,
                    "lower": lo, "upper": hi, "p_value": _adjust(p, len(pairs), adjustment),
                    "se_corrected": nb.se if nb else math.nan,
                    "lower_corrected": nb.lower if nb else math.nan,
                    "upper_corrected": nb.upper if nb else math.nan,
                    "p_corrected": _adjust(nb.p_value, len(pairs), adjustment) if nb
                    else math.nan,
                    "n": int(ok.size)})
        return ResamplesDiff(differences, pd.DataFrame(rows), models, chosen, level, conf_level, adjustment, ratio)

    def plot_dot(self, metric: str | list[str] | None = None, *, level: float = 0.95,
                 path: str | os.PathLike | None = None):
        """Dot plot: each model's mean with its corrected t interval, fold values behind."""
        from ..plots.resampling import plot_resamples_dot

        return plot_resamples_dot(self, metric=metric, level=level, path=path)

    def plot_box(self, metric: str | list[str] | None = None, *,
                 path: str | os.PathLike | None = None):
        """Box plot of the fold metrics, one box per model."""
        from ..plots.resampling import plot_resamples_box

        return plot_resamples_box(self, metric=metric, path=path)

    def __repr__(self) -> str:
        return "\n".join([f"Models: {', '.join(self.models)} ",
                          f"Number of resamples: {len(self.values)} ",
                          f"Performance metrics: {', '.join(self.metrics)} ",
                          f"Resampling: {self.folds.description}"])

    __str__ = __repr__


def resamples(results: dict[str, CVResult], metrics: list[str] | None = None) -> Resamples:
    """Gather models resampled on the same folds, to compare them as caret's ``resamples``.

    Parameters
    ----------
    results : dict
        Name -> :class:`CVResult`, all computed on the same folds (same rows held out by
        every resample: same ``folds``, ``repeats``, ``seed``, ``stratify`` and ``groups``, or
        ``folds=other.folds``).
    metrics : list of str, optional
        Metrics to keep; default: those every result has.

    Returns
    -------
    Resamples
        ``summary()``, ``diff()``, ``plot_dot()``, ``plot_box()``.

    Examples
    --------
    >>> import numpy as np, statdl as sd
    >>> from statdl.resampling import cross_validate, resamples
    >>> class Mean:                      # any model with fit and predict
    ...     def fit(self, x, y, **kw): self.m = y.mean()
    ...     def predict(self, x): return np.full(len(x), self.m)
    >>> class LeastSquares:
    ...     def fit(self, x, y, **kw): self.b = np.linalg.lstsq(x, y, rcond=None)[0]
    ...     def predict(self, x): return x @ self.b
    >>> x = np.random.default_rng(1).normal(size=(60, 2)); y = x[:, 0] + 0.1 * x[:, 1]
    >>> res = resamples({"mean": cross_validate(Mean, x, y, folds=5),
    ...                  "ls": cross_validate(LeastSquares, x, y, folds=5)})
    >>> res.summary()["RMSE"].shape, res.diff().table.shape[0]
    ((2, 7), 3)
    """
    if not isinstance(results, dict) or not results:
        raise ConfigError(message("results", "a non-empty dict name -> CVResult", results,
                                  "resamples", shown=type(results).__name__
                                  if results else repr(results)))
    for name, r in results.items():
        if not isinstance(r, CVResult):
            raise ConfigError(message(f"results[{name!r}]", "a CVResult (what cross_validate "
                                      "returns)", r, "resamples", shown=type(r).__name__))
    names = [str(k) for k in results]
    items = list(results.values())
    for name, r in zip(names[1:], items[1:]):
        if not r.folds.same_as(items[0].folds):
            raise ConfigError(message(
                "results", "results that come from the same folds", results, "resamples",
                verb="hold", shown=f"{names[0]!r} and {name!r}, which differ: "
                f"{items[0].folds.first_difference(r.folds)}",
                fix="Run cross_validate with the same folds, repeats, seed, stratify and "
                    f"groups, or pass folds={names[0]}_result.folds."))
    common = [m for m in items[0].metrics if all(m in r.metrics for r in items)]
    if metrics is not None:
        missing = [m for m in metrics if m not in common]
        if missing:
            raise choice_error("metrics", missing[0], common, "resamples",
                               fix="The others are not measured by every result.")
        common = list(metrics)
    if not common:
        raise ConfigError(message(
            "results", "results that share a metric", results, "resamples", verb="hold",
            shown="none in common", fix="Give cross_validate the same `metrics` for each "
            "model."))
    values = pd.DataFrame({"Resample": list(items[0].folds.ids)})
    for name, r in zip(names, items):
        for m in common:
            values[f"{name}~{m}"] = r.table[m].to_numpy(dtype=float)
    return Resamples(values, names, common, dict(zip(names, items)))
