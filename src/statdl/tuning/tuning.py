"""Moved to :mod:`statdl.tuning.grid_runs` (``tuning_run``: a run for each combination of a
grid; the old name repeated its package's); this name keeps ``statdl.tuning.tuning`` imports
working."""

from .grid_runs import *  # noqa: F403
from .grid_runs import __all__  # noqa: F401
