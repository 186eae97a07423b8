"""Prediction intervals, prediction sets and uncertainty for fitted networks.

- ``predict_interval(model, x, level, method="conformal"|"cqr"|"mc_dropout"|"ensemble")``
- ``predict_set(model, x, level, method="lac"|"aps")``: conformal sets for classifiers
- ``predict_uncertainty(model, x, method="mc_dropout"|"ensemble")``: probabilities and spread
- ``Ensemble(model_fn, n=5)``: deep ensembles; ``mc_dropout_predict``: the raw passes
- ``coverage_report(intervals, y)``: coverage, exact binomial interval, width, by bins
- ``accuracy_by_uncertainty(uncertainty, y)``: accuracy by bins of predictive entropy
- ``split_conformal``, ``conformalized_quantiles``, ``conformal_sets``: the numpy core

Conformal methods guarantee coverage >= level on average over exchangeable calibration and
test cases; MC dropout and ensembles guarantee nothing, and ``coverage_report`` says so.
"""

from __future__ import annotations

from .api import predict_interval, predict_set, predict_uncertainty
from .conformal import conformal_quantile, conformal_sets, conformalized_quantiles, split_conformal
from .coverage import CoverageReport, accuracy_by_uncertainty, clopper_pearson, coverage_report
from .stochastic import Ensemble, mc_dropout_predict

__all__ = ["CoverageReport", "Ensemble", "accuracy_by_uncertainty", "clopper_pearson",
           "conformal_quantile", "conformal_sets", "conformalized_quantiles", "coverage_report", "mc_dropout_predict",
           "predict_interval", "predict_set", "predict_uncertainty", "split_conformal"]
