"""Moved to :mod:`statdl.plots.classification` (the old name read as the package
``statdl.evaluation``); this name keeps ``statdl.plots.evaluation`` imports working."""

from .classification import *  # noqa: F403
from .classification import plot_calibration, plot_confusion_matrix, plot_roc  # noqa: F401
