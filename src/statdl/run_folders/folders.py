"""The runs directory: unique run folders, the liveness lock, and each run's status.

Layout of one run (``<runs_dir>/<YYYY-MM-DDTHH-MM-SSZ>[-n]/``)::

    statdl.d/request.json        script, flags and arguments asked for (used to resume grids)
    statdl.d/properties.json     start, end, completed, status, exit code, host ...
    statdl.d/lock.json           pids (with start time and boot id) of the runner and child
                                 while the run is active: a run whose processes are gone is
                                 ``interrupted``
    statdl.d/flags.json          resolved flag values (written by the script's flags())
    statdl.d/metrics.json        per-epoch metrics, name -> list
    statdl.d/evaluation.json     final evaluation
    statdl.d/properties_reported.json, model.txt   what statdl.report(model=...) learned
    statdl.d/error.json          message and traceback of a failed run
    statdl.d/output.txt          console output (``output.txt.partial`` while running); the
                                 first and last MiB of a huge output, with a note between
    statdl.d/source/             snapshot of the script (and flags.yml) or the lab's module
    plots/*.png, model.pt, ...   artefacts the script saved
    plots/captions.json          figure file -> what it shows (labs)
    results.json                 every number a lab reports
    view.html                    the HTML report (labs write it at the end; ``statdl runs view``)

:class:`statdl.run_folders.writer.RunWriter` writes all of it but what the script saves itself.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:          # Windows: runs directories are not locked across processes
    fcntl = None  # type: ignore[assignment]

from ..errors import ConfigError
from ..validation import message
from .files import META, read_json, write_json

__all__ = ["check_runs_dir", "new_run_dir", "is_run_dir", "write_lock", "release_lock",
           "pid_alive", "run_status", "status_from", "mark_interrupted", "as_run_dir", "locked_runs_dir", "ARCHIVE"]

ARCHIVE = ".archive"


def check_runs_dir(runs_dir: str | os.PathLike, create: bool = False) -> Path:
    """Validate ``runs_dir`` (a folder, or a path that does not exist yet).

    Examples
    --------
    >>> import tempfile, os
    >>> check_runs_dir(os.path.join(tempfile.mkdtemp(), "runs"), create=True).is_dir()
    True
    """
    if not isinstance(runs_dir, str | os.PathLike) or not str(runs_dir):
        raise ConfigError(message("runs_dir", "a folder path", runs_dir))
    path = Path(runs_dir)
    if path.exists() and not path.is_dir():
        raise ConfigError(message("runs_dir", "a folder path", str(path),
                                  shown=f"{str(path)!r}, a file", fix="Pick another runs_dir."))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def new_run_dir(runs_dir: str | os.PathLike) -> Path:
    """Create ``<runs_dir>/<UTC timestamp>`` (``-1``, ``-2`` ... on collision) and its metadata.

    ``os.mkdir`` is atomic, so two runners never share a folder.

    Examples
    --------
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> a, b = new_run_dir(root), new_run_dir(root)
    >>> a != b and (a / "statdl.d").is_dir()
    True
    """
    root = check_runs_dir(runs_dir, create=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    for n in range(10_000):
        candidate = root / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        (candidate / META).mkdir()
        return candidate
    raise ConfigError(message("runs_dir", "a folder with room for a new run folder", str(root),
                              shown=f"{str(root)!r}, where 10000 names are taken"))


def is_run_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a run folder (holds ``statdl.d``)."""
    return (Path(path) / META).is_dir()


def as_run_dir(run: Any, runs_dir: str | os.PathLike = "runs") -> Path:
    """Resolve a run given as a path, a folder name inside ``runs_dir``, or a listing row.

    Examples
    --------
    >>> as_run_dir("/nonexistent/run")
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `run` must be a run folder (with statdl.d inside); got '/nonexistent/run'.
    """
    if hasattr(run, "get") and not isinstance(run, str | os.PathLike) and run.get("run_dir"):
        run = run.get("run_dir")
    for candidate in (Path(run), Path(runs_dir) / str(run)):
        if is_run_dir(candidate):
            return candidate
    raise ConfigError(message("run", f"a run folder (with {META} inside)", str(run)))


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of ``pid`` from ``/proc`` (Linux)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return fields[0], fields[19]
    except (OSError, IndexError):
        return None


def _proc_start(pid: int) -> str | None:
    stat = _proc_stat(pid)
    return None if stat is None else stat[1]


def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return None


def pid_alive(pid: int, started: str | None = None) -> bool:
    """Whether process ``pid`` runs (and, when ``started`` is given, is the same process).

    A zombie (exited, not yet reaped) counts as gone.

    Examples
    --------
    >>> pid_alive(os.getpid())
    True
    """
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _proc_stat(int(pid))
    if stat is None:
        return True                     # no /proc: existence is all we can tell
    if stat[0] == "Z":
        return False
    return started is None or stat[1] == started


def write_lock(run: Path, pids: list[int]) -> None:
    """Record the processes working on ``run`` (so a killed run can be told from a live one)."""
    write_json(run / META / "lock.json", {
        "host": socket.gethostname(),
        "boot_id": _boot_id(),
        "processes": [{"pid": p, "started": _proc_start(p)} for p in pids],
        "time": time.time(),
    })


def release_lock(run: Path) -> None:
    """Remove the lock of a finished run."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(run / META / "lock.json")


def _lock_alive(lock: dict, path: Path | None = None) -> bool:
    if lock.get("host") != socket.gethostname():
        # another machine's run: alive while its runner refreshes the lock file's time (a
        # tuning run's does every lock["heartbeat"] s), else assumed alive: cannot tell
        if not lock.get("heartbeat") or path is None:
            return True
        try:
            return time.time() - os.stat(path).st_mtime < 8 * float(lock["heartbeat"])
        except OSError:
            return False
    if lock.get("boot_id") and _boot_id() and lock["boot_id"] != _boot_id():
        return False                    # written before a reboot
    return any(pid_alive(p["pid"], p.get("started")) for p in lock.get("processes", []))


def run_status(run: str | os.PathLike) -> str:
    """``completed``, ``stopped`` (early, by a tuning run's scheduler), ``failed``, ``running``
    or ``interrupted`` (killed before it finished).

    Examples
    --------
    >>> import tempfile
    >>> run_status(new_run_dir(tempfile.mkdtemp()))   # no lock, no result: interrupted
    'interrupted'
    """
    meta = Path(run) / META
    return status_from(meta, read_json(meta / "properties.json", {}) or {})


def status_from(meta: Path, props: dict[str, Any]) -> str:
    """:func:`run_status` of a run whose ``properties.json`` is already read."""
    if props.get("completed") is True:
        return "completed"
    if props.get("status") in ("interrupted", "stopped"):
        return props["status"]
    if (meta / "error.json").exists() or props.get("status") == "failed":
        return "failed"
    lock = read_json(meta / "lock.json")
    if lock is not None and _lock_alive(lock, meta / "lock.json"):
        return "running"
    return "interrupted"


def mark_interrupted(run: str | os.PathLike, why: str) -> None:
    """Record that ``run`` stopped before it finished (unless it completed or says so already).

    Examples
    --------
    >>> import tempfile
    >>> run = new_run_dir(tempfile.mkdtemp()); mark_interrupted(run, "a test")
    >>> run_status(run), read_json(run / META / "error.json")["message"]
    ('interrupted', 'interrupted: a test')
    """
    meta = Path(run) / META
    props = read_json(meta / "properties.json", {}) or {}
    if props.get("completed") is True:
        return
    if not (meta / "error.json").exists():
        write_json(meta / "error.json", {"message": f"interrupted: {why}", "type": "Interrupted",
                                          "traceback": ""})
    if props.get("status") != "interrupted":
        props.update(status="interrupted", completed=False)
        write_json(meta / "properties.json", props)
    release_lock(Path(run))


_warned_unlocked: set[str] = set()


@contextlib.contextmanager
def locked_runs_dir(root: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on the runs directory itself (``flock`` on its descriptor).

    Tuners claim a combination (look for its runs, then create its run folder) under this lock,
    so that two ``tuning_run`` calls on one directory never start the same combination twice.
    Where directories cannot be locked (no ``fcntl``, some network file systems) it warns once
    and goes on unlocked.

    Examples
    --------
    >>> import tempfile
    >>> with locked_runs_dir(tempfile.mkdtemp()):
    ...     pass
    """
    fd = os.open(root, os.O_RDONLY)
    try:
        try:
            if fcntl is None:
                raise OSError("fcntl is not available on this platform")
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            if str(root) not in _warned_unlocked:
                _warned_unlocked.add(str(root))
                warnings.warn(f"cannot lock the runs directory {root} ({exc}); two tuning runs "
                              "on it at once may repeat combinations", stacklevel=3)
        yield
    finally:
        os.close(fd)                     # releases the lock
