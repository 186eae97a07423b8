"""Moved to :mod:`statdl.run_folders.listing` (run folders serve tuning runs and labs alike); this
name keeps ``statdl.tuning.listing`` imports working."""

from ..run_folders.listing import *  # noqa: F403
from ..run_folders.listing import __all__  # noqa: F401
