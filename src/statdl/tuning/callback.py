"""Moved to :mod:`statdl.tuning.fit_hook` (the callbacks every fit of a run gets; beside
``training/callbacks.py`` the old name read as a second callbacks module); this name keeps
``statdl.tuning.callback`` imports working."""

from .fit_hook import *  # noqa: F403
from .fit_hook import __all__  # noqa: F401
