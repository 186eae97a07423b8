"""Bootstrap of a training run's child process: ``python -m statdl.tuning._child SCRIPT ARGS``.

It limits torch's threads (``STATDL_NUM_THREADS``) without importing torch itself, runs the
script as ``__main__`` (as the script's command line: ``--help-flags`` prints the flags and a
declaration asked for by ``declared_flags`` stops the script, both with exit code 0),
records an uncaught exception (message and traceback) in ``statdl.d/error.json``, saves any
matplotlib figures left open into ``plots/``, and records the thread count and OpenMP wait policy the script trained with (``threads``,
``thread_wait`` ... in ``statdl.d/properties_reported.json``, when it loaded torch).

It also makes sure a run does not outlive its runner (``STATDL_PARENT_PID``): on Linux the
kernel sends it SIGTERM when the runner dies (``prctl(PR_SET_PDEATHSIG)``), and on every
platform a watcher thread checks twice a second that its parent is still the runner. Either
way it then kills its own process group, so what the script started stops too.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..run_folders.files import (
    ENV_DECLARE,
    ENV_PARENT,
    ENV_RUN_DIR,
    ENV_THREADS,
    META,
    record_thread_settings,
    write_json,
)
from ..threads import when_torch_loads

_PR_SET_PDEATHSIG = 1


def limit_torch_threads(n: int) -> None:
    """Make torch use ``n`` intra-op threads, now if imported, else as soon as it is."""
    when_torch_loads(lambda torch: torch.set_num_threads(n))


def _save_open_figures(run: Path) -> None:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None or not plt.get_fignums():
        return
    plots = run / "plots"
    plots.mkdir(exist_ok=True)
    for i, num in enumerate(plt.get_fignums(), start=1):
        target = plots / f"figure{i:03d}.png"
        if not target.exists():
            plt.figure(num).savefig(target, dpi=96)


def _torch_loaded() -> bool:
    return "torch" in sys.modules


def _record_threads(run: Path | None, torch_used: Callable[[], bool] = _torch_loaded) -> None:
    """Record :func:`statdl.threads.thread_settings` as the run ends, if the script used torch
    (in a fresh process: loaded it; a warm run, forked with torch loaded, says otherwise).

    Keys: ``threads`` (the count the last fit or predict used), ``thread_mode`` ("auto" or
    "fixed"), ``thread_cores`` (the most it would use), ``thread_wait`` (how idle OpenMP
    threads wait) and ``thread_source``; anything the script reported itself is kept.
    """
    if run is None or "statdl.threads" not in sys.modules or not torch_used():
        return
    record_thread_settings(run)


def _record_error(run: Path | None, exc: BaseException) -> None:
    if run is None:
        return
    write_json(run / META / "error.json", {
        "message": f"{type(exc).__name__}: {exc}",
        "type": type(exc).__name__,
        "traceback": "".join(traceback.format_exception(exc)),
    })


def _run_callbacks() -> list:
    from .fit_hook import run_callbacks  # loads torch: only once the script fits a model

    return run_callbacks()


def _stop_group() -> None:
    """Kill this run: its whole process group when it leads one, else itself."""
    if hasattr(os, "killpg") and os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(143)


def _on_sigterm(leader: int) -> None:
    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != leader:        # a forked worker of the script: default behaviour
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        _stop_group()

    signal.signal(signal.SIGTERM, handler)


def _set_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):    # no prctl: the watcher thread still stops the run
        pass


def watch_parent(parent: int, interval: float = 0.5) -> None:
    """Stop this run (and its process group) as soon as process ``parent`` is gone."""
    if hasattr(signal, "SIGTERM"):
        _on_sigterm(os.getpid())
    _set_parent_death_signal()
    if os.getppid() != parent:          # the runner died before the signal was set
        _stop_group()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        _stop_group()

    threading.Thread(target=watch, daemon=True, name="statdl-parent-watch").start()


def main(argv: list[str], torch_used: Callable[[], bool] = _torch_loaded) -> int:
    """Run ``argv[0]`` as ``__main__`` with ``argv[1:]`` as its arguments; return the exit code.

    ``torch_used`` tells, as the run ends, whether the script used torch (its thread settings
    are then recorded)."""
    if not argv:
        print("usage: python -m statdl.tuning._child SCRIPT [ARGS...]", file=sys.stderr)
        return 2
    parent = os.environ.pop(ENV_PARENT, "")
    if parent.isdigit():
        watch_parent(int(parent))
    threads = os.environ.get(ENV_THREADS)
    if threads and threads.isdigit() and int(threads) > 0:
        limit_torch_threads(int(threads))
    os.environ.setdefault("MPLBACKEND", "Agg")
    value = os.environ.get(ENV_RUN_DIR)
    run = Path(value) if value else None
    if run is not None:  # every fit of the script records its epochs into the run folder
        from ..models.hooks import register_fit_callback_factory

        register_fit_callback_factory(_run_callbacks)
    declare_to = os.environ.get(ENV_DECLARE)
    if declare_to:  # declared_flags(): the script's flags() hands its declaration here
        from .flagset import on_declare

        on_declare(lambda declaration: _declared(declare_to, declaration))
    script = os.path.abspath(argv[0])
    sys.argv = [script, *argv[1:]]
    sys.path.insert(0, os.path.dirname(script))
    try:
        return _run_script(script, run)
    finally:
        _record_threads(run, torch_used)


class _Declared(BaseException):
    """Stops a script once its flags are declared (not an error: outside ``except Exception``)."""


def _declared(path: str, declaration: dict) -> None:
    # whether torch is loaded by then tells tuning_run to fork its runs from a warm process
    write_json(path, {"flags": declaration, "torch": "torch" in sys.modules})
    raise _Declared


def _help_requested(exc: BaseException) -> bool:
    flagset = sys.modules.get("statdl.tuning.flagset")
    return flagset is not None and isinstance(exc, flagset.FlagsHelpRequested)


def _run_script(script: str, run: Path | None) -> int:
    """Run ``script`` as ``__main__``; record how it failed, if it did; return the exit code.

    This is the command line of the script: a declaration asked for, or ``--help-flags``
    (printed here), ends the script with exit code 0.
    """
    try:
        runpy.run_path(script, run_name="__main__")
    except _Declared:
        return 0
    except SystemExit as exc:
        if os.environ.get(ENV_DECLARE) or exc.code in (None, 0):
            code = 0
        else:
            _record_error(run, exc)
            code = exc.code if isinstance(exc.code, int) else 1
            if not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        if code:
            return code
    except BaseException as exc:  # the run failed: record why, show the traceback, exit 1
        if _help_requested(exc):
            print(exc.help)
            return 0
        _record_error(run, exc)
        traceback.print_exc()
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    if run is not None:
        _save_open_figures(run)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
