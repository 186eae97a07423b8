"""Where the runs of a grid execute: local processes (threads driving subprocesses) or Ray."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from ..errors import ConfigError, choice_error
from ..run_folders.files import META, read_json
from ..validation import message
from .runner import execute_run, stop_active_runs
from .warm import WarmPool, warm_runs_enabled

__all__ = ["make_executor", "LocalExecutor", "RayExecutor", "threads_per_run"]


def threads_per_run(n_jobs: int, cores: int | None = None) -> int:
    """Split the machine's cores among ``n_jobs`` parallel runs (at least one each).

    Examples
    --------
    >>> threads_per_run(2, cores=8), threads_per_run(4, cores=2)
    (4, 1)
    """
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, n_jobs))


class LocalExecutor:
    """Run up to ``n_jobs`` training runs at once, each in its own Python process (forked
    from a warm process that imported torch and statdl once: :mod:`statdl.tuning.warm`)."""

    def __init__(self, n_jobs: int = 1, pool: WarmPool | None = None) -> None:
        self.n_jobs = n_jobs
        self._own = pool is None          # a pool given by the caller is the caller's to close
        self._warm = WarmPool() if pool is None else pool
        self._pool = ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="statdl-run")
        self._futures: list[Future] = []
        self._stopping = False

    def _run(self, kwargs: dict[str, Any]) -> dict:
        if self._stopping:
            raise CancelledError("the tuning run is being stopped")
        return execute_run(context="local", pool=self._warm, **kwargs)

    def capacity(self, n_jobs: int | None) -> int:
        """Runs at once."""
        return n_jobs or self.n_jobs

    def check(self) -> None:
        """Nothing to check: a local run's death is seen by its own thread."""

    def submit(self, **kwargs: Any) -> Future:
        future = self._pool.submit(self._run, kwargs)
        self._futures.append(future)
        return future

    def shutdown(self, cancel: bool = False) -> None:
        """Wait for the runs; with ``cancel``, drop the queued ones and stop those going
        (until every worker is done, so none starts after the stop)."""
        if cancel:
            self._stopping = True
            for future in self._futures:
                future.cancel()
            while True:
                stop_active_runs()
                _, running = wait(self._futures, timeout=0.2)
                if not running:
                    break
        self._pool.shutdown(wait=True)
        if self._own:
            self._warm.close()


# Ray's failures of the machinery rather than of the script: the run is lost, not failed
_LOST = ("NodeDiedError", "WorkerCrashedError", "LocalRayletDiedError", "ObjectLostError",
         "OwnerDiedError", "TaskUnschedulableError", "RaySystemError", "TaskCancelledError")
NODE_CHECK_S = 5.0       # how often the driver asks Ray which nodes are alive (one GCS call)


_RAY_WARM: WarmPool | None = None      # in a Ray worker process: its zygote, kept across tasks


def _ray_run(kwargs: dict[str, Any]) -> dict:
    """A run as a Ray task: on a node that sees the runs directory, record it there.

    The Ray worker process keeps a zygote (:mod:`statdl.tuning.warm`) for the runs it is
    given, so only its first run pays for ``import torch``; the zygote ends with the worker.
    """
    import socket

    import ray

    node = ray.get_runtime_context().get_node_id()
    host = socket.gethostname()
    if not Path(kwargs["run_folder"]).is_dir():
        return _unrecorded(kwargs, f"the runs directory {kwargs['runs_dir']} is not visible on "
                           f"{host} (Ray node {node[:12]}): every node must see it at the same "
                           "path (a shared file system; see docs/tuning_cluster.md)")
    global _RAY_WARM
    warm = kwargs.pop("warm")      # None: no warm runs; False: once a run loaded torch
    if warm is not None and _RAY_WARM is None:
        _RAY_WARM = WarmPool(active=warm)
    if warm and _RAY_WARM is not None:
        _RAY_WARM.active = True
    try:
        return execute_run(context="ray", facts={"ray_node": node, "ray_host": host},
                           pool=_RAY_WARM if warm is not None else None, **kwargs)
    except Exception as exc:       # e.g. the script is missing on this node: told the driver
        return _unrecorded(kwargs, f"{type(exc).__name__} on {host}: {exc}")


def _unrecorded(kwargs: dict[str, Any], error: str, status: str = "failed") -> dict:
    """The result of a run that could not record itself (the driver records it)."""
    return {"run_dir": kwargs["run_folder"], "status": status, "returncode": None,
            "flags": kwargs["flags"], "error": error, "unrecorded": True}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class RayExecutor:
    """Run each training run as a Ray task (on ``address``, or a local Ray started on demand).

    The runs directory must be reachable at the same path by every Ray worker (a shared file
    system on a real cluster); the layout is the same as for local runs. A run whose node or
    worker process dies is *lost*: its future gives ``status="lost"`` with Ray's reason
    (``tuning_run`` records it and redoes the combination elsewhere). Ray reports most deaths
    itself; as a fallback the driver asks every :data:`NODE_CHECK_S` s which nodes are alive
    and gives up the runs whose node (recorded in the run as ``ray_node``) is dead.
    """

    def __init__(self, n_jobs: int | None = 1, address: str | None = None,
                 num_cpus: int | None = None, warm: bool = False) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("backend='ray' needs Ray: pip install 'statdl[ray]' "
                              "(or pip install 'ray[default]').") from None
        self.ray = ray
        self._started = False
        if not ray.is_initialized():
            _ray_init(ray, address)
            self._started = True
        self.num_cpus = num_cpus or 1
        # the driver's STATDL_WARM_RUNS decides; True: the script is known to load torch
        self.warm = warm if warm_runs_enabled() else None
        self._remote = ray.remote(num_cpus=self.num_cpus, max_retries=0)(_ray_run)
        self._tasks: dict[Future, tuple[Any, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._checked = time.monotonic()

    def capacity(self, n_jobs: int | None) -> int:
        """Runs at once: ``n_jobs``, or (None) as many as the cluster's CPUs allow."""
        if n_jobs is not None:
            return n_jobs
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        return max(1, cpus // self.num_cpus)

    def submit(self, **kwargs: Any) -> Future:
        kwargs.update(echo=False, warm=self.warm)
        ref = self._remote.remote(kwargs)
        out: Future = Future()
        with self._lock:
            self._tasks[out] = (ref, kwargs)

        def _done(done: Future) -> None:
            try:
                result = done.result()
            except BaseException as exc:      # noqa: BLE001 - every outcome becomes a result
                result = self._failure(kwargs, exc)
            self._resolve(out, result)

        ref.future().add_done_callback(_done)
        return out

    def _failure(self, kwargs: dict[str, Any], exc: BaseException) -> dict:
        lost = type(exc).__name__ in _LOST or not isinstance(exc, self.ray.exceptions.RayError)
        lost = lost and not isinstance(exc, self.ray.exceptions.RayTaskError)
        return _unrecorded(kwargs, _first_line(exc), "lost" if lost else "failed")

    def _resolve(self, out: Future, result: dict) -> None:
        with self._lock:
            if out.done():
                return
            self._tasks.pop(out, None)
            out.set_result(result)

    def check(self) -> None:
        """Give up the runs whose Ray node is dead (when Ray has not said so itself)."""
        if not self._tasks or time.monotonic() - self._checked < NODE_CHECK_S:
            return
        self._checked = time.monotonic()
        alive = {n["NodeID"] for n in self.ray.nodes() if n.get("Alive")}
        with self._lock:
            tasks = list(self._tasks.items())
        for out, (ref, kwargs) in tasks:
            props = read_json(Path(kwargs["run_folder"]) / META / "properties.json", {}) or {}
            node = props.get("ray_node")
            if node and node not in alive:
                self.ray.cancel(ref, force=True)
                self._resolve(out, _unrecorded(
                    kwargs, f"NodeDiedError: its Ray node {node[:12]} "
                    f"({props.get('ray_host', '?')}) is dead", "lost"))

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            with self._lock:
                refs = [ref for ref, _ in self._tasks.values()]
            for ref in refs:
                self.ray.cancel(ref, force=True)
        if self._started:
            self.ray.shutdown()


def _ray_init(ray: Any, address: str | None) -> None:
    """Connect to the cluster at ``address`` (or start a local Ray), naming the fix of a
    refused token."""
    init: dict[str, Any] = {"ignore_reinit_error": True, "include_dashboard": False,
                            "log_to_driver": False}
    if address is not None:
        init["address"] = address
    else:
        init["num_cpus"] = os.cpu_count() or 1
    try:
        ray.init(**init)
    except (ConnectionError, RuntimeError) as exc:
        chain, cause = [], exc
        while cause is not None:
            chain.append(str(cause))
            cause = cause.__cause__
        if any("InvalidAuthToken" in text or "token" in text.lower() for text in chain):
            raise ConfigError(
                f"the Ray cluster at {address!r} refused this process's token (InvalidAuthToken)."
                " Give the driver the token every node of the cluster has: export "
                "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN_PATH=<the cluster's token file> (or "
                "copy it to ~/.ray/auth_token); see docs/tuning_cluster.md.") from exc
        if address is not None:
            raise ConfigError(message(
                "address", "the host:port of a running Ray cluster", address, "tuning_run",
                f"No Ray cluster answered there ({_first_line(exc)}). Start one with "
                "`ray start --head --port=6379` on the head machine and give its host:port; "
                "its port must be reachable from here.")) from exc
        raise


def make_executor(backend: str, n_jobs: int | None, address: str | None, threads: int,
                  pool: WarmPool | None = None, uses_torch: bool = True):
    """Build the executor for ``backend`` (``"local"`` or ``"ray"``); ``n_jobs`` None: as
    many runs at once as the Ray cluster has CPUs for. ``pool``: the local runs' warm
    processes (:mod:`statdl.tuning.warm`; by default the executor's own); ``uses_torch``:
    whether the script is known to load torch (each Ray worker's pool is then active from
    its first run, else from its first run that loaded torch)."""
    if backend == "local":
        if address is not None:
            raise ConfigError(message("address", "None with backend='local' (it is only used "
                                      "with backend='ray')", address, "tuning_run"))
        return LocalExecutor(n_jobs or 1, pool)
    if backend == "ray":
        return RayExecutor(n_jobs, address=address, num_cpus=threads, warm=uses_torch)
    raise choice_error("backend", backend, ["local", "ray"])
