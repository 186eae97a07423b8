"""The one writer of a run folder, for tuning runs and labs alike.

A tuning run (``statdl run``, :func:`statdl.training_run`) runs a script in a child process;
a lab runs in this process. Both record the same folder (see :mod:`statdl.run_folders.folders` for
the layout) through :class:`RunWriter`: it creates the folder and its lock, records what was
asked and the facts of the run, snapshots the sources, captures the console output (a
child's pipe, or this process's ``sys.stdout``), records flags, metrics, results, figures and
errors, and finishes the run with its status. The HTML report is then a pure function of the
folder (:func:`statdl.reports.save_run_view`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

from ..errors import ConfigError
from ..validation import message
from .files import (
    CAPTIONS_FILE,
    ENV_RUN_DIR,
    META,
    RESULTS_FILE,
    read_json,
    to_jsonable,
    utc_now,
    write_json,
    write_text,
)
from .folders import new_run_dir, release_lock, write_lock
from .output import OutputCapture, Tee, clean_output

__all__ = ["RunWriter"]

_PARTIAL = "output.txt.partial"


class RunWriter:
    """Write one run folder: start, capture output, record, finish.

    Parameters
    ----------
    runs_dir : str or path
        Where a new folder ``<UTC timestamp>[-n]`` is made.
    folder : str or path, optional
        A run folder already made (e.g. claimed by ``tuning_run``) to write into instead.

    Examples
    --------
    >>> import tempfile
    >>> run = RunWriter(tempfile.mkdtemp())
    >>> run.start("lab", "lab demo", __file__, request={"flags": {"epochs": 1}})
    >>> run.record_results({"answer": 42})
    {'answer': 42}
    >>> run.finish(returncode=0)
    'completed'
    >>> from statdl.run_folders import run_status
    >>> run_status(run.path), (run.path / "results.json").exists()
    ('completed', True)
    """

    def __init__(self, runs_dir: str | os.PathLike = "runs",
                 folder: str | os.PathLike | None = None) -> None:
        self.path = Path(folder) if folder is not None else new_run_dir(runs_dir)
        self.meta = self.path / META
        self.props: dict[str, Any] = {}
        self.results: dict[str, Any] = {}
        self._t0 = time.perf_counter()
        self._clean_output = False

    # ------------------------------------------------------------------ start
    def start(self, kind: str, script: str, script_path: str | os.PathLike,
              request: Mapping[str, Any], sources: Iterable[str | os.PathLike] = (),
              context: str = "local", **facts: Any) -> None:
        """Lock the folder for this process and record the request, the run's facts, sources.

        ``kind`` is ``"training"`` or ``"lab"``; ``script`` the name listings show;
        ``request`` what was asked (script, flags, args ...: ``request.json``, which
        ``tuning_run`` reads to resume a grid); ``facts`` more ``properties.json`` entries.
        """
        write_lock(self.path, [os.getpid()])
        write_json(self.meta / "request.json", dict(request))
        self.props = {"type": kind, "context": context, "script": script,
                      "script_path": str(script_path), **facts, "start": utc_now(),
                      "end": None, "completed": False, "status": "running",
                      "host": socket.gethostname(), "python": sys.version.split()[0]}
        write_json(self.meta / "properties.json", self.props)
        for source in sources:
            source = Path(source)
            if source.is_file():
                write_text(self.meta / "source" / source.name,
                           source.read_text(encoding="utf-8", errors="replace"))
        self._t0 = time.perf_counter()

    def lock(self, pids: list[int]) -> None:
        """Record the processes working on the run (a run whose processes are gone is
        ``interrupted``)."""
        write_lock(self.path, pids)

    # ------------------------------------------------------------------ output
    def capture(self, stream: Any, echo: TextIO | None) -> OutputCapture:
        """Copy a child process's output pipe into the run (and to ``echo``) on a thread;
        call ``finish()`` of what this returns, then :meth:`note` its result."""
        return OutputCapture(stream, self.meta / _PARTIAL, echo)

    @contextlib.contextmanager
    def tee_stdout(self) -> Iterator[None]:
        """Inside the block, what this process prints also goes to the run's output (without
        colour codes; a progress bar's redraws are dropped when the run finishes).
        ``sys.stdout`` is the caller's again afterwards, whatever happens."""
        sink = open(self.meta / _PARTIAL, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        before = sys.stdout
        sys.stdout = Tee(before, sink)
        self._clean_output = True
        try:
            yield
        finally:
            with contextlib.suppress(Exception):   # a closed console must not hide the result
                sys.stdout.flush()
            sys.stdout = before
            sink.close()

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Inside the block this process is inside the run: ``statdl.report()``,
        ``statdl.run_dir()`` and ``plots_dir()`` write here (``STATDL_RUN_DIR``, put back as
        it was afterwards)."""
        before = os.environ.get(ENV_RUN_DIR)
        os.environ[ENV_RUN_DIR] = str(self.path.resolve())
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(ENV_RUN_DIR, None)
            else:
                os.environ[ENV_RUN_DIR] = before

    def note(self, **facts: Any) -> None:
        """Add facts to ``properties.json`` (written when the run finishes)."""
        self.props.update(facts)

    # ------------------------------------------------------------------ recording
    def record_flags(self, values: Mapping[str, Any]) -> None:
        """The run's flag values (``flags.json``)."""
        write_json(self.meta / "flags.json", dict(values))

    def record_results(self, results: Mapping[str, Any]) -> dict[str, Any]:
        """Add numbers to ``results.json``; return all of them so far."""
        self.results.update(to_jsonable(dict(results)))
        write_json(self.path / RESULTS_FILE, self.results)
        return self.results

    def record(self, history: Any = None, *, model: Any = None,
               evaluation: Mapping[str, Any] | None = None) -> None:
        """Curves of a ``fit``, the model's summary and facts, a final evaluation
        (what :func:`statdl.report` records)."""
        from .recording import report_to

        report_to(self.path, history, model=model, evaluation=evaluation)

    @property
    def plots(self) -> Path:
        """``<run>/plots`` (made on demand), where the run's figures go."""
        (self.path / "plots").mkdir(exist_ok=True)
        return self.path / "plots"

    def figure(self, fig: Any, name: str, caption: str, who: str = "RunWriter.figure") -> Path:
        """Save a matplotlib figure as ``plots/<name>.png`` with its caption; close it.

        ``caption`` says what the figure shows; the HTML report prints it under the figure
        (``plots/captions.json``).
        """
        import matplotlib.pyplot as plt

        if not isinstance(caption, str) or not caption.strip():
            raise ConfigError(message("caption", f"what figure {name!r} shows", caption, who,
                                      verb="say"))
        target = self.plots / f"{name}.png"
        fig.savefig(target, dpi=90, bbox_inches="tight")
        plt.close(fig)
        captions = read_json(self.plots / CAPTIONS_FILE, {}) or {}
        write_json(self.plots / CAPTIONS_FILE, {**captions, target.name: caption.strip()})
        return target

    def record_error(self, message: str, kind: str, trace: str = "") -> None:
        """Why the run failed (``error.json``)."""
        write_json(self.meta / "error.json", {"message": message, "type": kind,
                                              "traceback": trace})

    def record_exception(self, exc: BaseException) -> None:
        """An exception that ended the run, with its traceback."""
        self.record_error(f"{type(exc).__name__}: {exc}", type(exc).__name__,
                          "".join(traceback.format_exception(exc)))

    def error(self) -> dict[str, Any] | None:
        """The recorded error (``message``, ``type``, ``traceback``), or ``None``."""
        return read_json(self.meta / "error.json")

    # ------------------------------------------------------------------ end
    def finish(self, returncode: int | None, interrupted: str | None = None) -> str:
        """Record the end of the run and release its lock; return its status.

        ``interrupted`` says why the run was stopped before it finished. The status is
        ``interrupted``, ``failed`` (an error was recorded), ``stopped`` (early, by a tuning
        run's scheduler: ``stopped.json``) or ``completed``.
        """
        partial = self.meta / _PARTIAL
        if partial.exists():
            if self._clean_output:
                write_text(self.meta / "output.txt",
                           clean_output(partial.read_text(encoding="utf-8", errors="replace")))
                partial.unlink()
            else:
                os.replace(partial, self.meta / "output.txt")
        if interrupted and self.error() is None:
            self.record_error(f"interrupted: {interrupted}", "Interrupted")
        failed = self.error() is not None
        # a tuning run's scheduler stopped it early (statdl.tuning.schedulers: stopped.json)
        stopped = (self.meta / "stopped.json").exists()
        status = ("interrupted" if interrupted else "failed" if failed
                  else "stopped" if stopped else "completed")
        self.props.update(end=utc_now(), elapsed_s=round(time.perf_counter() - self._t0, 3),
                          returncode=returncode, completed=status == "completed", status=status)
        write_json(self.meta / "properties.json", self.props)
        release_lock(self.path)
        return status
