"""Statistical evaluation: caret's confusion matrix, regression errors with intervals,
probability scores (ROC/AUC, calibration, log loss) and paired model comparisons."""

from __future__ import annotations

from .compare import (
    ClassifierComparison,
    RegressorComparison,
    compare_classifiers,
    compare_regressors,
)
from .confusion import ConfusionMatrix, confusion_matrix, confusion_matrix_from_table
from .probability import AUC, ROCCurve, calibration_table, log_loss, roc_auc, roc_curve
from .regression import RegressionReport, regression_report

__all__ = [
    "AUC", "ClassifierComparison", "ConfusionMatrix", "ROCCurve", "RegressionReport",
    "RegressorComparison", "calibration_table", "compare_classifiers", "compare_regressors",
    "confusion_matrix", "confusion_matrix_from_table", "log_loss", "regression_report",
    "roc_auc", "roc_curve",
]
