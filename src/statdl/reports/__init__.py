"""HTML reports of run folders, beside their template ``page.html``.

Pages are pure functions of the run folders (:mod:`statdl.run_folders`): one run
(:func:`save_run_view`), two runs side by side (:func:`save_run_comparison`) and a whole
tuning grid (:func:`save_tuning_report`). ``statdl.tuning`` re-exports them.

Examples
--------
>>> from statdl.reports import save_run_view
>>> save_run_view("/no/such/run")
Traceback (most recent call last):
...
statdl.errors.ConfigError: `run` must be a run folder (with statdl.d inside); got '/no/such/run'.
"""

from __future__ import annotations

from .pages import (
    Report,
    compare_runs,
    open_in_browser,
    save_run_comparison,
    save_run_view,
    save_tuning_report,
    view_run,
)

__all__ = ["save_run_view", "view_run", "save_run_comparison", "compare_runs",
           "save_tuning_report", "open_in_browser", "Report"]
