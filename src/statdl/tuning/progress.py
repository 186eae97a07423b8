"""Moved to :mod:`statdl.tuning.grid_progress` (the progress display of a grid); this name keeps
``statdl.tuning.progress`` imports working."""

from .grid_progress import *  # noqa: F403
from .grid_progress import __all__  # noqa: F401
