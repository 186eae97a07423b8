"""Moved to :mod:`statdl.plots.learning_curves` (the old name read as the package
``statdl.training``); this name keeps ``statdl.plots.training`` imports working."""

from .learning_curves import *  # noqa: F403
from .learning_curves import history_frame, plot_history  # noqa: F401
