"""Moved to :mod:`statdl.run_folders.folders` (run folders serve tuning runs and labs alike); this
name keeps ``statdl.tuning.runs`` imports working."""

from ..run_folders.folders import *  # noqa: F403
from ..run_folders.folders import __all__  # noqa: F401
