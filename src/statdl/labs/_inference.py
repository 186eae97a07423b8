"""The inference part of a regression lab (#16): conformal prediction intervals for the test
cases with their coverage, permutation importance with intervals, and partial dependence of
the most important variables; each with its figure in the run folder."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._common import with_interval

__all__ = ["inference_section"]


def inference_section(run: Any, model: Any, calibration: tuple, test: tuple,
                      data: pd.DataFrame | None = None, level: float = 0.9, top: int = 3,
                      repeats: int = 10, seed: int = 0) -> dict:
    """Intervals, importance and effects of a fitted regression ``model``.

    ``calibration = (x_cal, y_cal)``: cases the model was not fitted on; ``test = (x_test,
    y_test)``, ``x_test`` a DataFrame with the design matrix's column names. ``data`` (the
    table the design matrix was made from) lets factor dummies be permuted as one variable.
    Prints the tables, saves the figures, records the numbers; returns them.
    """
    from ..explain import partial_dependence, permutation_importance, term_groups
    from ..intervals import coverage_report, predict_interval
    from ..plots.explain import plot_importance, plot_partial_dependence

    x_test, y_test = test
    intervals = predict_interval(model, x_test, level=level, method="conformal",
                                 calibration=calibration)
    report = coverage_report(intervals, y_test)
    print(f"\nConformal {level:.0%} prediction intervals for the test cases:\n{report}")
    run.figure(report.plot(data="test"), "conformal_intervals",
               f"split conformal {level:.0%} prediction intervals of the test cases against "
               "their observed responses (red: outside), and coverage by fifths of the "
               "prediction with exact 95% intervals")
    groups = term_groups(x_test, data) if data is not None else None
    importance = permutation_importance(model, x_test, y_test, metric="mse", repeats=repeats,
                                        seed=seed, groups=groups)
    print(f"\nPermutation importance (increase in test MSE, {repeats} shuffles):\n"
          f"{importance.head(10).to_string()}")
    run.figure(plot_importance(importance, data="test"), "permutation_importance",
               f"increase in test MSE when a variable is shuffled ({repeats} shuffles), with "
               "95% intervals over the shuffles")
    numeric = [v for v in importance.index if importance.loc[v, "columns"] == 1
               and v in x_test.columns][:top]
    for name in numeric:
        pd_ = partial_dependence(model, x_test, name, grid=20, kind="both")
        run.figure(plot_partial_dependence(pd_, data="test"), f"pd_{name}",
                   f"partial dependence of the prediction on {name} (red) over the "
                   "individual conditional expectation curves of the test cases (grey)")
    if len(numeric) >= 2:
        pair = partial_dependence(model, x_test, numeric[:2], grid=12)
        run.figure(plot_partial_dependence(pair, data="test"),
                   f"pd_{numeric[0]}_{numeric[1]}",
                   f"partial dependence on {numeric[0]} and {numeric[1]} together")
    results = {
        "conformal_level": level, "conformal_coverage": report.coverage,
        "conformal_mean_width": report.mean_width,
        "importance": {str(k): float(v) for k, v in importance["importance"].items()},
        "top_variables": [str(v) for v in importance.index[:top]],
    }
    evaluation = {**with_interval("conformal_coverage", report.coverage, *report.ci),
                  "conformal_mean_width": float(report.mean_width)}
    evaluation.update({f"importance_{v}": float(importance.loc[v, "importance"])
                       for v in importance.index[:top]})
    run.record(results, evaluation=evaluation)
    return results

