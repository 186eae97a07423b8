"""Tuning runs in the manner of R's tfruns: flags, recorded runs, grids, listings, reports.

A training script declares its hyperparameters with :func:`flags` and reports what it learned
with :func:`report`; :func:`training_run` runs it in a fresh process and records a run folder;
:func:`tuning_run` does so for every combination of a grid, or for the combinations a random or
TPE search picks (locally, in parallel, or on Ray), optionally stopping poor runs early (ASHA,
Hyperband, the median rule);
:func:`ls_runs`, :func:`best_run` and :func:`latest_run` read the folders back.

Names are imported on first use so that a training script's ``import statdl`` stays light.

Examples
--------
>>> import statdl as sd
>>> FLAGS = sd.flags(nodes1=256, dropout1=0.4, optimizer="rmsprop")
>>> FLAGS.nodes1, FLAGS["optimizer"]
(256, 'rmsprop')
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # inside a training script
    "flags": "statdl.tuning.flagset",
    "flag_integer": "statdl.tuning.flagset",
    "flag_numeric": "statdl.tuning.flagset",
    "flag_boolean": "statdl.tuning.flagset",
    "flag_string": "statdl.tuning.flagset",
    "Flags": "statdl.tuning.flagset",
    "report": "statdl.run_folders.recording",
    "report_epoch": "statdl.run_folders.recording",
    "RunMetricsCallback": "statdl.tuning.fit_hook",
    "epoch_done": "statdl.tuning.fit_hook",
    "run_dir": "statdl.run_folders.recording",
    "plots_dir": "statdl.run_folders.recording",
    "is_run_active": "statdl.run_folders.recording",
    # running
    "training_run": "statdl.tuning.runner",
    "declared_flags": "statdl.tuning.runner",
    "tuning_run": "statdl.tuning.grid_runs",
    "expand_grid": "statdl.tuning.grid",
    "sample_grid": "statdl.tuning.grid",
    "search_range": "statdl.tuning.search",
    # looking at runs
    "ls_runs": "statdl.run_folders.listing",
    "best_run": "statdl.run_folders.listing",
    "latest_run": "statdl.run_folders.listing",
    "run_info": "statdl.run_folders.listing",
    "clean_runs": "statdl.run_folders.listing",
    "purge_runs": "statdl.run_folders.listing",
    "view_run": "statdl.reports.pages",
    "save_run_view": "statdl.reports.pages",
    "compare_runs": "statdl.reports.pages",
    "save_run_comparison": "statdl.reports.pages",
    "save_tuning_report": "statdl.reports.pages",
    "evaluate_best": "statdl.tuning.selection",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'statdl.tuning' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
