"""Warm starts of training runs: a process that imported torch and statdl once forks each run.

A run used to be a fresh Python process, and in a fresh process ``import torch`` alone takes
2.6 s on the 2-core machine this was written on (4.6 s of overhead a run in all: see
docs/tuning_scale.md). A *zygote* (``python -m statdl.tuning.warm``) imports torch and the
parts of statdl a run uses (:data:`PRELOAD`), runs no torch operation (GNU OpenMP cannot serve
a forked child once the parent used its thread pool), and then forks one child per run. The
child is the run's process, as before:

- its own process group (``setsid``), killed as a group on a timeout or a stop;
- its own output: the runner's pipe, received over a Unix socket (``SCM_RIGHTS``), as stdout
  and stderr;
- its own environment (the run folder, flags, thread settings), working directory and
  arguments, and fresh random state: Python's ``random`` reseeds itself after a fork, NumPy's
  and torch's global generators are reseeded from the OS, as a fresh process seeds them (the
  same draws in every run otherwise); statdl's thread policy notes the load again;
- its exit code and crash (a segfault is ``-11``) reach the runner; the zygote goes on.

It stops when the runner's process dies (the zygote watches its parent; a run, forked by the
zygote's one thread, gets SIGTERM by ``PR_SET_PDEATHSIG`` when the zygote dies), so a run
still never outlives what started it.

:class:`WarmPool` keeps one zygote per environment (runs of one grid share one) and falls
back to a fresh process when forking is not possible (not POSIX) or ``STATDL_WARM_RUNS=0``.
Strings hash as in the zygote (one ``PYTHONHASHSEED`` for its runs), a fixed hash seed where
fresh processes would each draw one.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from ..run_folders.files import ENV_DECLARE, ENV_FLAGS, ENV_PARENT, ENV_RUN_DIR, META, read_json

__all__ = ["WarmPool", "WarmProcess", "warm_runs_enabled", "PRELOAD", "ENV_WARM"]

ENV_WARM = "STATDL_WARM_RUNS"
# what a run of a Keras-style script imports; torch first, after statdl (statdl notes torch's
# default thread count as it loads, as in a fresh run)
PRELOAD = ("statdl", "torch", "numpy", "statdl.model", "statdl.training.callbacks",
           "statdl.tuning", "statdl.tuning._child", "statdl.tuning.fit_hook",
           "statdl.tuning.schedulers", "statdl.run_folders.recording")
# a run's own entries of the environment; the rest is the zygote's, the same for all its runs
PER_RUN = (ENV_RUN_DIR, ENV_FLAGS, ENV_DECLARE, ENV_PARENT)
START_TIMEOUT_S = 300.0
_HEADER = struct.Struct("!I")


def warm_runs_enabled() -> bool:
    """Whether runs are forked from a warm zygote here (POSIX with ``fork`` and Unix sockets,
    and ``STATDL_WARM_RUNS`` not ``0``).

    Examples
    --------
    >>> isinstance(warm_runs_enabled(), bool)
    True
    """
    return (os.name == "posix" and hasattr(os, "fork") and hasattr(socket, "AF_UNIX")
            and hasattr(socket, "send_fds")
            and os.environ.get(ENV_WARM, "1").strip() not in ("0", "false", "no"))


# -- the runner's side ---------------------------------------------------------------------

class WarmProcess:
    """A run forked by a zygote, driven like a ``subprocess.Popen`` (``pid``, ``stdout``,
    ``wait``, ``poll``, ``kill``, ``returncode``). The zygote tells its exit code over the
    run's connection; a zygote that dies first takes the run with it (``-SIGKILL``)."""

    def __init__(self, pid: int, conn: socket.socket, stdout: Any) -> None:
        self.pid, self.stdout, self.returncode = pid, stdout, None
        self._conn, self._done = conn, threading.Event()
        threading.Thread(target=self._read_exit, daemon=True,
                         name=f"statdl-warm-run-{pid}").start()

    def _read_exit(self) -> None:
        data = b""
        with contextlib.suppress(OSError):
            while b"\n" not in data:
                chunk = self._conn.recv(64)
                if not chunk:
                    break
                data += chunk
        self._conn.close()
        words = data.split()
        self.returncode = (int(words[1]) if len(words) == 2 and words[0] == b"exit"
                           else -signal.SIGKILL)
        self._done.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(f"run {self.pid}", timeout)
        return self.returncode            # type: ignore[return-value]

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)


class _Zygote:
    """One zygote process: started at once, ready once it has imported what it preloads."""

    def __init__(self, env: dict[str, str]) -> None:
        self.dir = tempfile.mkdtemp(prefix="statdl-warm-")      # 0700: only this user
        self.address = os.path.join(self.dir, "socket")
        zenv = {k: v for k, v in env.items() if k not in PER_RUN}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "statdl.tuning.warm", self.address, str(os.getpid())],
            env=zenv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            start_new_session=True)
        self._ready: bool | None = None
        self._lock = threading.Lock()

    def wait_ready(self) -> None:
        """Wait until it serves (the first caller reads its "ready" line); OSError if not."""
        with self._lock:
            if self._ready is None:
                ready = select.select([self.proc.stdout], [], [], START_TIMEOUT_S)[0]
                line = self.proc.stdout.readline() if ready else b""
                self.proc.stdout.close()
                self._ready = line.strip() == b"ready"
        if not self._ready:
            raise OSError(f"the warm run process did not start (exit code {self.proc.poll()})")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def launch(self, argv: list[str], env: dict[str, str], cwd: str) -> WarmProcess:
        """Fork a run of ``python -m statdl.tuning._child *argv`` with ``env`` in ``cwd``."""
        request = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode()
        read_end, write_end = os.pipe()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self.address)
            socket.send_fds(conn, [_HEADER.pack(len(request))], [write_end])
            conn.sendall(request)
            os.close(write_end)
            write_end = -1
            line = b""
            while not line.endswith(b"\n"):
                chunk = conn.recv(1)
                if not chunk:
                    raise OSError("the warm run process closed the connection")
                line += chunk
            pid = int(line.split()[1])
        except BaseException:
            conn.close()
            os.close(read_end)
            if write_end >= 0:
                os.close(write_end)
            raise
        return WarmProcess(pid, conn, os.fdopen(read_end, "rb"))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdout.close()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(OSError):
            os.unlink(self.address)
        with contextlib.suppress(OSError):
            os.rmdir(self.dir)


class WarmPool:
    """Zygotes of this process, one per environment (less a run's own entries), started on
    the first run that needs one; :meth:`launch` returns ``None`` where a run must be a fresh
    process (warm runs off, its zygote cannot start, or the pool is dormant).

    A zygote costs an ``import torch``, which a script that never loads torch does not pay in
    a fresh process, so a pool for such a script starts *dormant* (``active=False``): its runs
    are fresh processes until one of them turns out to have loaded torch (:meth:`learn`).
    """

    def __init__(self, active: bool = True) -> None:
        self._zygotes: dict[str, _Zygote] = {}
        self._lock = threading.Lock()
        self._broken = not warm_runs_enabled()
        self.active = active

    def learn(self, run_dir: str | os.PathLike) -> None:
        """After a fresh run: become active when it loaded torch (it then recorded its
        threads, :func:`statdl.tuning._child._record_threads`)."""
        if not self.active:
            facts = read_json(os.path.join(run_dir, META, "properties_reported.json"), {})
            self.active = "threads" in (facts or {}) or "thread_error" in (facts or {})

    def _zygote(self, env: dict[str, str]) -> _Zygote:
        key = json.dumps(sorted((k, v) for k, v in env.items() if k not in PER_RUN))
        with self._lock:        # one start per environment, however many runs ask at once
            zygote = self._zygotes.get(key)
            if zygote is not None and not zygote.alive():
                zygote.close()
                zygote = None
            if zygote is None:
                zygote = self._zygotes[key] = _Zygote(env)
            return zygote

    def prestart(self, env: dict[str, str]) -> None:
        """Start the zygote for runs with ``env`` now, without waiting for it (``tuning_run``
        starts it while the script declares its flags, and closes the pool if the script
        turns out not to load torch)."""
        if not self._broken and self.active:
            self._zygote(env)

    def launch(self, argv: list[str], env: dict[str, str]) -> WarmProcess | None:
        if self._broken or not self.active:
            return None
        zygote = self._zygote(env)
        try:
            zygote.wait_ready()
        except OSError as exc:
            print(f"statdl: warm runs are off ({exc}); each run starts a fresh process",
                  file=sys.stderr)
            self._broken = True
            return None
        try:
            return zygote.launch(argv, env, os.getcwd())
        except OSError:          # the zygote died meanwhile: this run starts fresh
            return None

    def close(self) -> None:
        with self._lock:
            zygotes, self._zygotes = list(self._zygotes.values()), {}
        for zygote in zygotes:
            zygote.close()


# -- the zygote's side ---------------------------------------------------------------------

def _receive(conn: socket.socket) -> tuple[dict, int]:
    data, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 1)
    if len(fds) != 1:
        for fd in fds:
            os.close(fd)
        raise OSError("a request came without its output pipe")
    while len(data) < _HEADER.size:
        more = conn.recv(_HEADER.size - len(data))
        if not more:
            raise OSError("the request was cut short")
        data += more
    (size,) = _HEADER.unpack(data)
    body = b""
    while len(body) < size:
        more = conn.recv(size - len(body))
        if not more:
            os.close(fds[0])
            raise OSError("the request was cut short")
        body += more
    return json.loads(body), fds[0]


class _Serve:
    """The zygote's loop: fork a run per connection, tell each connection its run's exit."""

    def __init__(self, address: str) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(address)
        self.listener.listen(64)
        self.runs: dict[int, socket.socket] = {}
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def loop(self) -> tuple[dict, int]:
        """Serve until the runner goes (:func:`_watch_runner` ends the process); in a forked
        run, return its request and output fd."""
        while True:
            ready = select.select([self.listener, self.wake_r], [], [], 1.0)[0]
            if self.wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self.wake_r, 4096)
            self._reap()
            if self.listener in ready:
                forked = self._accept()
                if forked is not None:
                    return forked

    def _accept(self) -> tuple[dict, int] | None:
        conn, _ = self.listener.accept()
        try:
            request, out = _receive(conn)
        except (OSError, ValueError):
            conn.close()
            return None
        sys.stdout.flush()
        sys.stderr.flush()
        zygote = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._become_run(conn)
            request["env"][ENV_PARENT] = str(zygote)
            return request, out
        os.close(out)
        try:
            conn.sendall(f"pid {pid}\n".encode())
        except OSError:           # the runner went: its run must not go on alone
            os.kill(pid, signal.SIGKILL)
        self.runs[pid] = conn
        return None

    def _become_run(self, conn: socket.socket) -> None:
        """In the forked child: drop the zygote's sockets, signals and watcher."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for sock in (conn, self.listener, *self.runs.values()):
            sock.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        os.setsid()

    def _reap(self) -> None:
        while self.runs:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.runs.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                conn.close()


def _watch_runner(runner: int) -> None:
    """End the zygote when the process that started it is gone (polled: a parent-death
    signal would follow the starting *thread*, and runners start zygotes from pool threads)."""
    def watch() -> None:
        while os.getppid() == runner:
            time.sleep(0.2)
        os._exit(0)          # its runs get SIGTERM (parent-death signal) and stop their groups

    threading.Thread(target=watch, daemon=True, name="statdl-warm-watch").start()


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _run(request: dict, out: int) -> None:
    """In a forked child: become the run (output, environment, cwd, seeds) and run it."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    for fd in (devnull, out):
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = request["cwd"]       # as `python -m` in the run's directory
    # fresh random state, drawn from the OS as a fresh process draws it (Python's `random`
    # reseeds itself after a fork); else every run would repeat the zygote's unseeded draws
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.seed()
    from .. import threads
    from . import _child

    threads.prepare()                 # the load now, not at the zygote's start
    _exit_now(_child.main(request["argv"], _torch_use_watch(threads)))


def _exit_now(code: int) -> None:
    """End a run as Python ends a program, less the teardown of every module: that teardown
    touches each object the zygote loaded (torch's), copying their pages, and took 5.4 s of
    a busy 2-core machine against 0.18 s for this (a forked child, measured 2026-12-01).

    As at a normal exit: other threads that are not daemons are waited for, ``atexit``
    handlers run, the script's objects are collected (files it left open are flushed and
    closed), the output is flushed. Not done: objects still held by modules are not
    finalized (Python does not promise that at exit either).
    """
    import atexit
    import gc

    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    gc.collect()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code & 0xFF if isinstance(code, int) else 1)    # as the exit status of sys.exit


def _torch_use_watch(threads: Any):
    """A warm run has torch loaded whatever its script does: it counts as using torch when
    the script imports torch (an ``import`` statement) or statdl fitted or predicted."""
    import builtins

    seen = [False]
    original = builtins.__import__

    def watching(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "torch" or name.startswith("torch."):
            seen[0] = True
        return original(name, *args, **kwargs)

    builtins.__import__ = watching
    return lambda: seen[0] or threads._last_used is not None


def main(argv: list[str]) -> int:
    """``python -m statdl.tuning.warm SOCKET RUNNER_PID``: preload, serve, or be a run (which
    ends the process itself)."""
    address, runner = argv[0], int(argv[1])
    if os.getppid() != runner:
        return 0
    _watch_runner(runner)
    _preload()
    # what the zygote loaded stays out of the runs' garbage collections: they neither scan
    # it nor write to its pages (which a fork shares until written)
    import gc

    gc.collect()
    gc.freeze()
    serve = _Serve(address)
    print("ready", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    _run(*serve.loop())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
