"""training_run: run a script in a fresh Python process and record its run folder."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .. import validation
from ..errors import ConfigError
from ..run_folders.files import (
    ENV_DECLARE,
    ENV_FLAGS,
    ENV_PARENT,
    ENV_RUN_DIR,
    ENV_THREADS,
    flag_value,
    read_json,
    write_json,
)
from ..run_folders.output import OutputCapture
from ..run_folders.writer import RunWriter
from .warm import WarmPool

__all__ = ["training_run", "declared_flags", "declare", "check_script", "check_timeout", "execute_run",
           "child_env", "spawn", "kill_group", "stop_active_runs", "sigterm_as_exit",
           "OutputCapture"]  # OutputCapture: now statdl.run_folders.output, kept importable here

_ACTIVE: set[subprocess.Popen] = set()      # children of this process, to stop on Ctrl-C
_STOPPED: set[subprocess.Popen] = set()     # ... of them, those stopped on purpose
_ACTIVE_LOCK = threading.Lock()
_POSIX = os.name == "posix"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])   # the folder holding `statdl`


def check_script(script: str | os.PathLike) -> Path:
    """Validate that ``script`` is an existing Python file; return its absolute path."""
    if not isinstance(script, str | os.PathLike):
        raise ConfigError(validation.message("script", "a path to a .py file", script))
    path = Path(script).resolve()
    if not path.is_file():
        raise ConfigError(validation.message("script", "an existing file", str(script)))
    return path


def _check_flags(flags: Mapping[str, Any] | None) -> dict[str, Any]:
    if flags is None:
        return {}
    if not isinstance(flags, Mapping):
        raise ConfigError(validation.message("flags", "a dict of flag name -> value", flags))
    out = {}
    for k, v in flags.items():
        v = flag_value(str(k), v)
        if isinstance(v, list | dict):
            raise ConfigError(validation.message(
                "flags", "one value per flag for a single run", flags, verb="hold",
                fix="Use tuning_run for several values.", shown=f"`{k}`: {v!r}"))
        out[str(k)] = v
    return out


def _env_count(env: dict[str, str], key: str) -> int | None:
    try:
        return max(1, int(env[key].split(",")[0]))
    except (KeyError, ValueError):
        return None


def child_env(run: Path | None, flags: dict[str, Any] | None,
              num_threads: int | None, max_threads: int | None = None) -> dict[str, str]:
    """The environment of a run's child process.

    ``num_threads`` fixes the child's torch threads (``STATDL_NUM_THREADS`` and the OpenMP
    count). ``max_threads`` only caps them (``OMP_NUM_THREADS``, or the user's smaller value):
    within it statdl's ``fit`` still follows the cores other processes leave free, which a
    fixed count would not.

    Examples
    --------
    >>> env = child_env(None, None, None, max_threads=1)
    >>> env["OMP_NUM_THREADS"], env["MKL_NUM_THREADS"]
    ('1', '1')
    """
    env = dict(os.environ)
    for key in (ENV_RUN_DIR, ENV_FLAGS, ENV_DECLARE):
        env.pop(key, None)
    if run is not None:
        env[ENV_RUN_DIR] = str(run.resolve())
    if flags:
        env[ENV_FLAGS] = json.dumps(flags)
    if num_threads:
        for key in (ENV_THREADS, "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[key] = str(int(num_threads))
    elif max_threads:
        cap = min(int(max_threads), _env_count(env, "OMP_NUM_THREADS") or int(max_threads))
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[key] = str(cap)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = _PACKAGE_ROOT + (os.pathsep + path if path else "")
    return env


def _command(script: Path, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "statdl.tuning._child", str(script), *map(str, args)]


def declared_flags(script: str | os.PathLike, timeout: float | None = 300) -> dict[str, dict]:
    """Ask a script which flags it declares, without training.

    The script runs with ``STATDL_DECLARE_FLAGS`` set: its child process hands the
    declaration of ``statdl.flags(...)`` to a handler (:func:`statdl.tuning.flagset.on_declare`)
    that writes it and stops the script. A script that never calls ``flags()`` declares none.

    Returns
    -------
    dict
        name -> ``{"type": ..., "default": ..., "description": ...}``.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "s.py")
    >>> _ = open(p, "w").write("import statdl\\nF = statdl.flags(units=8)\\n1/0\\n")
    >>> declared_flags(p)["units"]["type"]
    'integer'
    """
    return declare(script, timeout)[0]


def declare(script: str | os.PathLike, timeout: float | None = 300) -> tuple[dict, bool]:
    """:func:`declared_flags`, and whether the script had loaded torch when it declared them
    (``tuning_run`` then forks its runs from a warm process: :mod:`statdl.tuning.warm`)."""
    path = check_script(script)
    with tempfile.TemporaryDirectory(prefix="statdl-declare-") as tmp:
        target = Path(tmp) / "flags.json"
        env = child_env(None, None, 1)
        env[ENV_DECLARE] = str(target)
        proc = spawn(_command(path, []), env, stdin=subprocess.DEVNULL,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = _communicate(proc, timeout)
        declaration = read_json(target)
    if declaration is not None:
        return declaration["flags"], bool(declaration["torch"])
    if proc.returncode != 0:
        tail = output.strip().splitlines()[-15:]
        raise ConfigError(f"`script` {path.name} failed before declaring its flags "
                          f"(exit code {proc.returncode}):\n" + "\n".join(tail))
    return {}, False


def _communicate(proc: Any, timeout: float | None) -> str:
    """The whole output of ``proc`` (a ``Popen`` or a warm run) once it ended; on a timeout
    or an interruption its group is killed and the error raised."""
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout)
    except BaseException:
        kill_group(proc)
        proc.wait()
        raise
    finally:
        reader.join()
        proc.stdout.close()
    return b"".join(chunks).decode(errors="replace")


def check_timeout(timeout: Any) -> float | None:
    """Validate a run's ``timeout``: ``None`` or a finite number of seconds > 0.

    Examples
    --------
    >>> check_timeout(None), check_timeout(2)
    (None, 2.0)
    >>> check_timeout(-1)
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `timeout` must be a number of seconds > 0 or None; got -1.
    """
    return validation.check_number(timeout, "timeout", low=0, low_open=True, allow_none=True,
                                   what="a number of seconds")


def spawn(command: list[str], env: dict[str, str], **popen: Any) -> subprocess.Popen:
    """Start a run's process in a session (process group) of its own.

    The child (``statdl.tuning._child``) stops itself and its group when this process dies
    (``ENV_PARENT``); :func:`kill_group` stops the group.
    """
    env = {**env, ENV_PARENT: str(os.getpid())}
    return subprocess.Popen(command, env=env, start_new_session=_POSIX, **popen)


def kill_group(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and every process of its group (what it started, unless they left it)."""
    if _POSIX:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def execute_run(script: str | os.PathLike, flags: Mapping[str, Any] | None = None,
                runs_dir: str | os.PathLike = "runs", args: list[str] | tuple = (),
                echo: bool = True, num_threads: int | None = None, context: str = "local",
                timeout: float | None = None, extra: dict[str, Any] | None = None,
                run_folder: str | os.PathLike | None = None,
                max_threads: int | None = None, facts: dict[str, Any] | None = None,
                pool: WarmPool | None = None) -> dict:
    """Run one training run and record it; return a small dict (run_dir, status, error).

    The building block of :func:`training_run` and of every tuning executor (it is what a
    Ray task calls). Never raises for a failing script: the failure is recorded. The script
    runs in a process group of its own: a timeout stops the whole group. ``run_folder`` is a
    folder already claimed by :func:`statdl.tuning.grid_runs.tuning_run`; by default a new one
    is made in ``runs_dir``. ``num_threads`` fixes the run's threads, ``max_threads`` caps
    them (a tuning run's share of the cores; see :func:`child_env`). ``facts`` are more
    entries of the run's ``properties.json`` (e.g. the Ray node it ran on). ``pool``: fork
    the run from a warm process that imported torch and statdl already
    (:mod:`statdl.tuning.warm`; the run is isolated as a fresh process is), else start one.
    """
    path = check_script(script)
    flags = _check_flags(flags)
    timeout = check_timeout(timeout)
    run = RunWriter(runs_dir, run_folder)
    run.start("training", path.name, path,
              request={"script": str(path), "flags": flags, "args": list(map(str, args)),
                       **(extra or {})},
              sources=[path, path.parent / "flags.yml"], context=context,
              num_threads=num_threads, max_threads=max_threads, **(facts or {}))
    env = child_env(run.path, flags, num_threads, max_threads)
    proc = pool.launch([str(path), *map(str, args)], env) if pool is not None else None
    warm = proc is not None
    run.note(warm_start=warm)
    if proc is None:
        proc = spawn(_command(path, list(args)), env, stdin=subprocess.DEVNULL,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    with _ACTIVE_LOCK:
        _ACTIVE.add(proc)
    capture = run.capture(proc.stdout, sys.stdout if echo else None)
    run.lock([os.getpid(), proc.pid])
    heartbeat = _Heartbeat(run.path)
    try:
        returncode = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        returncode = proc.wait()
        run.record_error(f"TimeoutError: the run took longer than {timeout} s and was stopped",
                         "TimeoutError")
    except BaseException as exc:
        kill_group(proc)
        proc.wait()
        run.note(**capture.finish())
        run.finish(proc.returncode,
                   interrupted=f"{type(exc).__name__} stopped the run before it finished")
        raise
    finally:
        heartbeat.stop()
        with _ACTIVE_LOCK:
            _ACTIVE.discard(proc)
            stopped = proc in _STOPPED
            _STOPPED.discard(proc)
    run.note(**capture.finish())
    if stopped:
        status = run.finish(returncode,
                            interrupted="the tuning run was stopped before this run finished")
    else:
        if run.error() is None and returncode != 0:
            how = (f"killed by signal {-returncode}" if returncode < 0
                   else f"exited with code {returncode}")
            run.record_error(f"ChildProcessError: the script {how}", "ChildProcessError")
        status = run.finish(returncode)
    error = run.error()
    if pool is not None and not warm:
        pool.learn(run.path)
    return {"run_dir": str(run.path), "status": status, "returncode": returncode, "flags": flags,
            "error": None if error is None else error.get("message")}


HEARTBEAT_S = 15.0


class _Heartbeat:
    """Refresh the time of a run's lock file every :data:`HEARTBEAT_S` s while it runs.

    From another machine (a cluster's shared runs directory) pids cannot be checked: there a
    run whose lock was not refreshed for 8 heartbeats (2 minutes) is taken as gone (its node
    died), so a resume redoes it instead of waiting for it forever.
    """

    def __init__(self, run: Path) -> None:
        self.path = run / "statdl.d" / "lock.json"
        lock = read_json(self.path, {}) or {}
        write_json(self.path, {**lock, "heartbeat": HEARTBEAT_S})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name="statdl-run-heartbeat")
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def stop(self) -> None:
        self._stop.set()


def stop_active_runs() -> int:
    """Kill the training runs this process started that are still going; return how many.

    They are recorded as interrupted (a later ``tuning_run`` redoes them).
    """
    with _ACTIVE_LOCK:
        procs = [p for p in _ACTIVE if p.poll() is None]
        _STOPPED.update(procs)
    for proc in procs:
        kill_group(proc)
    return len(procs)


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """While in the block, SIGTERM raises ``SystemExit(143)`` in the main thread.

    So ``kill PID`` of a ``statdl tune`` / ``tuning_run`` process stops its runs and records
    them as interrupted instead of leaving them behind. Nothing changes off the main thread
    or when the program handles SIGTERM itself.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def _exit(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def training_run(script: str | os.PathLike = "train.py", flags: Mapping[str, Any] | None = None,
                 runs_dir: str | os.PathLike = "runs", args: list[str] | tuple = (),
                 echo: bool = True, num_threads: int | None = None,
                 timeout: float | None = None):
    """Run a training script in a fresh process and record a run folder.

    Parameters
    ----------
    script : str or path
        The Python training script.
    flags : dict, optional
        Flag values; they override the script's defaults, ``flags.yml`` and its command line.
    runs_dir : str or path
        Where the run folder ``<UTC timestamp>[-n]`` is created.
    args : list of str
        Command-line arguments of the script.
    echo : bool
        Also print the script's output here (it is always saved in the run folder).
    num_threads : int, optional
        torch threads of the child (``OMP_NUM_THREADS`` too).
    timeout : float, optional
        Seconds (> 0) after which the run and every process it started are stopped, and the
        run recorded as failed.

    Returns
    -------
    pandas.Series
        The run as :func:`run_info` reads it back (``run_dir``, ``status``, ``metric_*`` ...).
        A failing script does not raise: look at ``status`` and ``error_message``.

    Notes
    -----
    The script runs in a process group of its own, which is stopped when this process dies
    (see :mod:`statdl.tuning._child`); Ctrl-C or SIGTERM here stops it and records the run as
    interrupted. Its console output is kept in ``statdl.d/output.txt``: the first and the last
    MiB of it when it is larger, with a note of how much was left out.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "train.py")
    >>> _ = open(p, "w").write("import statdl\\nF = statdl.flags(units=8)\\n"
    ...                        "statdl.report(metrics={'loss': [1.0, 0.5]})\\n")
    >>> run = training_run(p, flags={"units": 16}, runs_dir=os.path.join(d, "runs"), echo=False)
    >>> run["status"], int(run["flag_units"]), float(run["metric_loss"])
    ('completed', 16, 0.5)
    """
    from ..run_folders.listing import run_info

    with sigterm_as_exit():
        result = execute_run(script, flags, runs_dir, args=args, echo=echo,
                             num_threads=num_threads, timeout=timeout)
    return run_info(result["run_dir"])
