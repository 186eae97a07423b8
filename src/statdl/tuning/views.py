"""Moved to :mod:`statdl.reports.pages` (the HTML pages live with their template); this name keeps
``statdl.tuning.views`` imports working."""

from ..reports.pages import *  # noqa: F403
from ..reports.pages import __all__  # noqa: F401
