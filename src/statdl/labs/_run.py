"""A lab run is a training run folder: ``statdl runs ls`` lists it, ``statdl runs view`` shows it.

:class:`LabRun` creates ``<runs_dir>/<UTC timestamp>/`` with the layout of
``statdl.tuning.runs`` (``statdl.d/properties.json``, ``flags.json``, ``metrics.json``,
``evaluation.json``, ``model.txt``, ``output.txt``, the lab's source), plus what a lab adds:
``results.json`` (every number it reports), ``plots/*.png`` and ``view.html`` (the HTML report).
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..tuning._io import ENV_RUN_DIR, META, read_json, to_jsonable, utc_now, write_json, write_text
from ..tuning.runs import new_run_dir, release_lock, write_lock

__all__ = ["LabRun", "CAPTIONS_FILE"]

CAPTIONS_FILE = "captions.json"     # plots/captions.json: figure file -> what it shows

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_EPOCH = re.compile(r"^\s*Epoch (\d+)/(\d+)")


class _Tee(io.TextIOBase):
    """Write to the console and to a file (the file gets the text without colour codes)."""

    def __init__(self, console: Any, sink: io.TextIOBase):
        self.console, self.sink = console, sink

    def write(self, text: str) -> int:
        self.console.write(text)
        self.sink.write(_ANSI.sub("", text))
        return len(text)

    def flush(self) -> None:
        self.console.flush()
        self.sink.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.console, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self.console.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.console, "encoding", "utf-8")


def clean_output(text: str) -> str:
    """Drop the redraws of a live progress bar: keep the last line written for each epoch."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.split("\r")[-1].rstrip()
        m = _EPOCH.match(line)
        if m and lines and _EPOCH.match(lines[-1] or "") and \
                _EPOCH.match(lines[-1]).group(1) == m.group(1):
            lines[-1] = line
        else:
            lines.append(line)
    return "\n".join(lines)


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
        self.results: dict[str, Any] = {}
        self.path: Path = Path()
        self._t0 = 0.0

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LabRun:
        self.path = new_run_dir(self.runs_dir)
        meta = self.path / META
        write_lock(self.path, [os.getpid()])
        write_json(meta / "request.json", {"script": str(self.source), "flags": self.options,
                                           "args": [], "lab": self.lab})
        write_json(meta / "flags.json", self.options)
        self.props = {
            "type": "lab", "context": "local", "script": f"lab {self.lab}",
            "script_path": str(self.source), "lab": self.lab, "start": utc_now(), "end": None,
            "completed": False, "status": "running", "host": socket.gethostname(),
            "python": sys.version.split()[0],
        }
        write_json(meta / "properties.json", self.props)
        if self.source.is_file():
            write_text(meta / "source" / self.source.name,
                       self.source.read_text(encoding="utf-8", errors="replace"))
        self._old_env = os.environ.get(ENV_RUN_DIR)
        os.environ[ENV_RUN_DIR] = str(self.path.resolve())
        self._sink = open(meta / "output.txt.partial", "w", encoding="utf-8")  # noqa: SIM115
        self._stdout = sys.stdout
        sys.stdout = _Tee(self._stdout, self._sink)
        self._t0 = time.perf_counter()
        print(f"Lab {self.lab}: run folder {self.path}")
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        meta = self.path / META
        sys.stdout.flush()
        sys.stdout = self._stdout
        self._sink.close()
        if self._old_env is None:
            os.environ.pop(ENV_RUN_DIR, None)
        else:
            os.environ[ENV_RUN_DIR] = self._old_env
        partial = meta / "output.txt.partial"
        if partial.exists():
            write_text(meta / "output.txt", clean_output(partial.read_text(encoding="utf-8")))
            partial.unlink()
        if exc is not None:
            write_json(meta / "error.json", {
                "message": f"{type(exc).__name__}: {exc}", "type": type(exc).__name__,
                "traceback": "".join(traceback.format_exception(exc_type, exc, tb))})
        failed = exc is not None
        self.props.update(end=utc_now(), elapsed_s=round(time.perf_counter() - self._t0, 3),
                          returncode=1 if failed else 0, completed=not failed,
                          status="failed" if failed else "completed")
        write_json(meta / "properties.json", self.props)
        release_lock(self.path)
        if self.view:
            try:
                from ..tuning.views import save_run_view

                save_run_view(self.path)
            except Exception as err:  # noqa: BLE001 - a report failure must not hide results
                print(f"(could not write the HTML report: {err})", file=sys.stderr)
        return False

    # ------------------------------------------------------------------ recording
    @property
    def plots(self) -> Path:
        """``<run>/plots``, where the lab's figures go."""
        (self.path / "plots").mkdir(exist_ok=True)
        return self.path / "plots"

    def figure(self, fig: Any, name: str, caption: str) -> Path:
        """Save a matplotlib figure as ``plots/<name>.png``, its caption, and close it.

        ``caption`` says what the figure shows; the HTML report prints it under the figure
        (captions are kept in ``plots/captions.json``). A figure named ``history`` (or
        ``<prefix>history...``) holds the training curves, which the report then does not
        draw a second time.
        """
        import matplotlib.pyplot as plt

        if not isinstance(caption, str) or not caption.strip():
            raise ConfigError(f"`caption` of LabRun.figure must say what figure {name!r} "
                              f"shows; got {caption!r}.")
        target = self.plots / f"{name}.png"
        fig.savefig(target, dpi=90, bbox_inches="tight")
        plt.close(fig)
        captions = read_json(self.plots / CAPTIONS_FILE, {}) or {}
        write_json(self.plots / CAPTIONS_FILE, {**captions, target.name: caption.strip()})
        print(f"  figure: {target}")
        return target

    def record(self, results: dict[str, Any] | None = None, *, history: Any = None,
               model: Any = None, evaluation: dict[str, Any] | None = None) -> None:
        """Add results (``results.json``), curves, the model summary and test statistics."""
        from ..tuning.recording import report

        if results:
            self.results.update(to_jsonable(results))
            write_json(self.path / "results.json", self.results)
        if history is not None or model is not None or evaluation is not None:
            report(history, model=model, evaluation=evaluation)

    @staticmethod
    def read(path: str | os.PathLike) -> dict[str, Any]:
        """The ``results.json`` of a lab run folder."""
        return read_json(Path(path) / "results.json", {}) or {}


def dumps(results: dict[str, Any]) -> str:
    """Results as indented JSON (for printing)."""
    return json.dumps(to_jsonable(results), indent=2)
