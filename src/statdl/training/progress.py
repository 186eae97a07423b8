"""Moved to :mod:`statdl.training.epoch_progress` (the progress display of ``fit``; the name
``progress`` was shared with the tuning grid's display); this name keeps
``statdl.training.progress`` imports working."""

from .epoch_progress import *  # noqa: F403
from .epoch_progress import __all__, format_logs  # noqa: F401
