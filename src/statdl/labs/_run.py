"""A lab run is a run folder: ``statdl runs ls`` lists it, ``statdl runs view`` shows it.

:class:`LabRun` records one lab through :class:`statdl.run_folders.RunWriter`, the writer
tuning runs use too (``statdl.d/properties.json``, ``flags.json``, ``metrics.json``, ``evaluation.json``,
``model.txt``, ``output.txt``, the lab's source), plus what a lab adds: ``results.json``
(every number it reports), ``plots/*.png`` and ``view.html`` (the HTML report).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..run_folders.files import (
    CAPTIONS_FILE,
    RESULTS_FILE,
    read_json,
    record_thread_settings,
    to_jsonable,
)
from ..run_folders.writer import RunWriter

__all__ = ["LabRun", "CAPTIONS_FILE"]


class LabRun:
    """Context manager recording one lab as a run folder.

    Parameters
    ----------
    lab : str
        The lab's name, e.g. ``"hitters-nn"``.
    options : dict
        The lab's options (recorded as the run's flags).
    source : str or path
        The lab's module file (its source is snapshotted into the run).
    runs_dir : str or path
        Where the run folder is created.
    view : bool
        Write the HTML report ``view.html`` when the run ends.

    Examples
    --------
    >>> import tempfile
    >>> with LabRun("demo", {"epochs": 1}, __file__, tempfile.mkdtemp()) as run:
    ...     run.record(results={"answer": 42})  # doctest: +ELLIPSIS
    Lab demo: run folder ...
    >>> (run.path / "results.json").exists(), (run.path / "view.html").exists()
    (True, True)
    """

    def __init__(self, lab: str, options: dict[str, Any], source: str | os.PathLike,
                 runs_dir: str | os.PathLike = "runs", view: bool = True):
        self.lab, self.options, self.source = lab, dict(options), Path(source)
        self.runs_dir, self.view = Path(runs_dir), view
        self.writer: RunWriter | None = None
        self._scope = contextlib.ExitStack()

    @property
    def path(self) -> Path:
        """The run folder."""
        return self.writer.path if self.writer is not None else Path()

    @property
    def results(self) -> dict[str, Any]:
        """Every number recorded so far (``results.json``)."""
        return self.writer.results if self.writer is not None else {}

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LabRun:
        self.writer = run = RunWriter(self.runs_dir)
        run.start("lab", f"lab {self.lab}", self.source, lab=self.lab,
                  request={"script": str(self.source), "flags": self.options, "args": [],
                           "lab": self.lab},
                  sources=[self.source])
        run.record_flags(self.options)
        with contextlib.ExitStack() as scope:      # undone in __exit__, or now if this fails
            scope.enter_context(run.active())
            scope.enter_context(run.tee_stdout())
            self._scope = scope.pop_all()
        print(f"Lab {self.lab}: run folder {run.path}")
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        run = self.writer
        self._scope.close()                        # sys.stdout and STATDL_RUN_DIR as before
        if exc is not None:
            run.record_exception(exc)
        record_thread_settings(run.path)  # the threads the lab's fits used (issue #13)
        run.finish(returncode=1 if exc is not None else 0)
        if self.view:
            try:
                from ..reports import save_run_view

                save_run_view(run.path)
            except Exception as err:  # noqa: BLE001 - a report failure must not hide results
                print(f"(could not write the HTML report: {err})", file=sys.stderr)
        return False

    # ------------------------------------------------------------------ recording
    @property
    def plots(self) -> Path:
        """``<run>/plots``, where the lab's figures go."""
        return self.writer.plots

    def figure(self, fig: Any, name: str, caption: str) -> Path:
        """Save a matplotlib figure as ``plots/<name>.png``, its caption, and close it.

        ``caption`` says what the figure shows; the HTML report prints it under the figure
        (captions are kept in ``plots/captions.json``). A figure named ``history`` (or
        ``<prefix>history...``) holds the training curves, which the report then does not
        draw a second time.
        """
        target = self.writer.figure(fig, name, caption, who="LabRun.figure")
        print(f"  figure: {target}")
        return target

    def record(self, results: dict[str, Any] | None = None, *, history: Any = None,
               model: Any = None, evaluation: dict[str, Any] | None = None) -> None:
        """Add results (``results.json``), curves, the model summary and test statistics."""
        if results:
            self.writer.record_results(results)
        if history is not None or model is not None or evaluation is not None:
            self.writer.record(history, model=model, evaluation=evaluation)

    @staticmethod
    def read(path: str | os.PathLike) -> dict[str, Any]:
        """The ``results.json`` of a lab run folder."""
        return read_json(Path(path) / RESULTS_FILE, {}) or {}


def dumps(results: dict[str, Any]) -> str:
    """Results as indented JSON (for printing)."""
    return json.dumps(to_jsonable(results), indent=2)
