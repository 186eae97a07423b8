"""Moved to :mod:`statdl.run_folders.recording` (run folders serve tuning runs and labs alike);
this name keeps ``statdl.tuning.recording`` imports working."""

from ..run_folders.recording import *  # noqa: F403
from ..run_folders.recording import __all__  # noqa: F401
