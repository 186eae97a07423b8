"""Resampled performance of a network: cross-validation, comparison of models on the same
folds (caret's ``resamples``) and the Nadeau-Bengio corrected resampled t-test."""

from __future__ import annotations

from .compare import Resamples, ResamplesDiff, resamples
from .cv import CVResult, clone_model, cross_validate, fold_seed
from .folds import Folds, make_folds, strata_of
from .stats import TTest, corrected_ttest, mean_interval, six_number_summary

__all__ = ["cross_validate", "CVResult", "clone_model", "fold_seed", "Folds", "make_folds",
           "strata_of", "resamples", "Resamples", "ResamplesDiff", "TTest", "corrected_ttest",
           "mean_interval", "six_number_summary"]
