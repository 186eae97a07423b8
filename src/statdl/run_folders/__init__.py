"""Run folders: one folder per training run or lab, written once, read by listings and reports.

``folders`` (layout, unique names, liveness lock, status), ``files`` (names and atomic JSON),
``writer`` (:class:`RunWriter`, the one writer, used by ``statdl.tuning`` and
``statdl.labs``), ``output`` (console capture), ``recording`` (what a script inside a run
reports: :func:`report`, :func:`run_dir` ...) and ``listing`` (reading runs back:
:func:`ls_runs`, :func:`best_run` ...; imports pandas, so it loads on first use).

Nothing here imports torch, the models, tuning or labs: they build on this.

Examples
--------
>>> import tempfile
>>> from statdl.run_folders import RunWriter, run_status
>>> run = RunWriter(tempfile.mkdtemp())
>>> run.start("lab", "lab demo", "demo.py", request={})
>>> run.finish(returncode=0), run_status(run.path)
('completed', 'completed')
"""

from __future__ import annotations

import importlib
from typing import Any

from .files import META, read_json, utc_now, write_json, write_text
from .folders import as_run_dir, is_run_dir, mark_interrupted, new_run_dir, run_status
from .recording import is_run_active, plots_dir, report, report_epoch, report_to, run_dir
from .writer import RunWriter

_LAZY = {name: "statdl.run_folders.listing" for name in (
    "read_run", "run_info", "ls_runs", "best_run", "latest_run", "clean_runs", "purge_runs")}

__all__ = ["META", "RunWriter", "as_run_dir", "is_run_active", "is_run_dir",
           "mark_interrupted", "new_run_dir", "plots_dir", "read_json", "report",
           "report_epoch", "report_to", "run_dir", "run_status", "utc_now", "write_json",
           "write_text", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'statdl.run_folders' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
