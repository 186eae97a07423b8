"""training_run: run a script in a fresh Python process and record its run folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ..errors import ConfigError
from ._io import (
    ENV_DECLARE,
    ENV_FLAGS,
    ENV_RUN_DIR,
    ENV_THREADS,
    META,
    read_json,
    to_jsonable,
    utc_now,
    write_json,
    write_text,
)
from .runs import new_run_dir, release_lock, write_lock

__all__ = ["training_run", "declared_flags", "check_script", "execute_run", "child_env",
           "stop_active_runs"]

_ACTIVE: set[subprocess.Popen] = set()      # children of this process, to stop on Ctrl-C
_ACTIVE_LOCK = threading.Lock()
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])   # the folder holding `statdl`


def check_script(script: str | os.PathLike) -> Path:
    """Validate that ``script`` is an existing Python file; return its absolute path."""
    if not isinstance(script, str | os.PathLike):
        raise ConfigError(f"`script` must be a path to a .py file; got {script!r}.")
    path = Path(script).resolve()
    if not path.is_file():
        raise ConfigError(f"`script` {str(script)!r} does not exist or is not a file.")
    return path


def _check_flags(flags: Mapping[str, Any] | None) -> dict[str, Any]:
    if flags is None:
        return {}
    if not isinstance(flags, Mapping):
        raise ConfigError(f"`flags` must be a dict of flag name -> value; got {flags!r}.")
    out = {}
    for k, v in flags.items():
        v = to_jsonable(v)
        if isinstance(v, list | dict):
            raise ConfigError(f"`flags` of a single run must hold one value per flag; "
                              f"`{k}` got {v!r} (use tuning_run for several values).")
        out[str(k)] = v
    return out


def child_env(run: Path | None, flags: dict[str, Any] | None,
              num_threads: int | None) -> dict[str, str]:
    """The environment of a run's child process."""
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
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = _PACKAGE_ROOT + (os.pathsep + path if path else "")
    return env


def _command(script: Path, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "statdl.tuning._child", str(script), *map(str, args)]


def declared_flags(script: str | os.PathLike, timeout: float | None = 300) -> dict[str, dict]:
    """Ask a script which flags it declares, without training.

    The script runs with ``STATDL_DECLARE_FLAGS`` set; its ``statdl.flags(...)`` call writes
    the declaration and exits. A script that never calls ``flags()`` declares none.

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
    path = check_script(script)
    with tempfile.TemporaryDirectory(prefix="statdl-declare-") as tmp:
        target = Path(tmp) / "flags.json"
        env = child_env(None, None, 1)
        env[ENV_DECLARE] = str(target)
        proc = subprocess.run(_command(path, []), env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        declaration = read_json(target)
    if declaration is not None:
        return declaration
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise ConfigError(f"`script` {path.name} failed before declaring its flags "
                          f"(exit code {proc.returncode}):\n" + "\n".join(tail))
    return {}


def _snapshot_source(script: Path, run: Path) -> None:
    src = run / META / "source"
    src.mkdir(exist_ok=True)
    write_text(src / script.name, script.read_text(encoding="utf-8", errors="replace"))
    beside = script.parent / "flags.yml"
    if beside.is_file():
        write_text(src / "flags.yml", beside.read_text(encoding="utf-8", errors="replace"))


def _pump(stream: Any, sink: TextIO, echo: TextIO | None) -> None:
    for chunk in iter(lambda: stream.read1(65536), b""):
        text = chunk.decode("utf-8", errors="replace")
        sink.write(text)
        sink.flush()
        if echo is not None:
            echo.write(text)
            echo.flush()


def execute_run(script: str | os.PathLike, flags: Mapping[str, Any] | None = None,
                runs_dir: str | os.PathLike = "runs", args: list[str] | tuple = (),
                echo: bool = True, num_threads: int | None = None, context: str = "local",
                timeout: float | None = None, extra: dict[str, Any] | None = None) -> dict:
    """Run one training run and record it; return a small dict (run_dir, status, error).

    The building block of :func:`training_run` and of every tuning executor (it is what a
    Ray task calls). Never raises for a failing script: the failure is recorded.
    """
    path = check_script(script)
    flags = _check_flags(flags)
    run = new_run_dir(runs_dir)
    meta = run / META
    write_lock(run, [os.getpid()])
    request = {"script": str(path), "flags": flags, "args": list(map(str, args))}
    write_json(meta / "request.json", {**request, **(extra or {})})
    start = utc_now()
    props: dict[str, Any] = {
        "type": "training", "context": context, "script": path.name, "script_path": str(path),
        "start": start, "end": None, "completed": False, "status": "running",
        "host": socket.gethostname(), "python": sys.version.split()[0],
        "num_threads": num_threads,
    }
    write_json(meta / "properties.json", props)
    _snapshot_source(path, run)
    partial = meta / "output.txt.partial"
    t0 = time.perf_counter()
    returncode: int | None = None
    error: dict[str, Any] | None = None
    with open(partial, "w", encoding="utf-8") as sink:
        proc = subprocess.Popen(_command(path, list(args)), env=child_env(run, flags, num_threads),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        with _ACTIVE_LOCK:
            _ACTIVE.add(proc)
        write_lock(run, [os.getpid(), proc.pid])
        pump = threading.Thread(target=_pump, args=(proc.stdout, sink,
                                                    sys.stdout if echo else None), daemon=True)
        pump.start()
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            returncode = proc.wait()
            error = {"message": f"TimeoutError: the run took longer than {timeout} s and was "
                                "stopped", "type": "TimeoutError", "traceback": ""}
        except BaseException:
            proc.kill()
            proc.wait()
            pump.join(5)
            write_json(meta / "error.json", {"message": "KeyboardInterrupt: stopped by the user",
                                             "type": "KeyboardInterrupt", "traceback": ""})
            _finish(run, props, t0, 130, partial)
            raise
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(proc)
        pump.join()
    recorded = read_json(meta / "error.json")
    if error is None and recorded is None and returncode != 0:
        how = (f"killed by signal {-returncode}" if returncode < 0
               else f"exited with code {returncode}")
        error = {"message": f"ChildProcessError: the script {how}", "type": "ChildProcessError",
                 "traceback": ""}
    if error is not None:
        write_json(meta / "error.json", error)
    _finish(run, props, t0, returncode, partial)
    final_error = read_json(meta / "error.json")
    return {"run_dir": str(run), "status": "completed" if final_error is None else "failed",
            "error": None if final_error is None else final_error.get("message"),
            "returncode": returncode, "flags": flags}


def stop_active_runs() -> int:
    """Kill the training runs this process started that are still going; return how many."""
    with _ACTIVE_LOCK:
        procs = list(_ACTIVE)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    return len(procs)


def _finish(run: Path, props: dict, t0: float, returncode: int | None, partial: Path) -> None:
    meta = run / META
    if partial.exists():
        os.replace(partial, meta / "output.txt")
    failed = (meta / "error.json").exists()
    props.update(end=utc_now(), elapsed_s=round(time.perf_counter() - t0, 3),
                 returncode=returncode, completed=not failed,
                 status="failed" if failed else "completed")
    write_json(meta / "properties.json", props)
    release_lock(run)


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
        Seconds after which the run is stopped and recorded as failed.

    Returns
    -------
    pandas.Series
        The run as :func:`run_info` reads it back (``run_dir``, ``status``, ``metric_*`` ...).
        A failing script does not raise: look at ``status`` and ``error_message``.

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
    from .listing import run_info

    result = execute_run(script, flags, runs_dir, args=args, echo=echo,
                         num_threads=num_threads, timeout=timeout)
    return run_info(result["run_dir"])
