"""Where the runs of a grid execute: local processes (threads driving subprocesses) or Ray."""

from __future__ import annotations

import os
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, wait
from typing import Any

from ..errors import ConfigError, choice_error
from .runner import execute_run, stop_active_runs

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
    """Run up to ``n_jobs`` training runs at once, each in its own Python process."""

    def __init__(self, n_jobs: int = 1) -> None:
        self.n_jobs = n_jobs
        self._pool = ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="statdl-run")
        self._futures: list[Future] = []
        self._stopping = False

    def _run(self, kwargs: dict[str, Any]) -> dict:
        if self._stopping:
            raise CancelledError("the tuning run is being stopped")
        return execute_run(context="local", **kwargs)

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


def _ray_run(kwargs: dict[str, Any]) -> dict:
    return execute_run(context="ray", **kwargs)


class RayExecutor:
    """Run each training run as a Ray task (on ``address``, or a local Ray started on demand).

    The runs directory must be reachable at the same path by every Ray worker (a shared file
    system on a real cluster); the layout is the same as for local runs.
    """

    def __init__(self, n_jobs: int = 1, address: str | None = None,
                 num_cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("backend='ray' needs Ray: pip install 'statdl[ray]' "
                              "(or pip install 'ray[default]').") from None
        self.ray = ray
        if not ray.is_initialized():
            init: dict[str, Any] = {"ignore_reinit_error": True, "include_dashboard": False,
                                    "log_to_driver": False}
            if address is not None:
                init["address"] = address
            else:
                init["num_cpus"] = os.cpu_count() or 1
            ray.init(**init)
            self._started = True
        else:
            self._started = False
        self.num_cpus = num_cpus or 1
        self._remote = ray.remote(num_cpus=self.num_cpus, max_retries=0)(_ray_run)
        self._refs: list[Any] = []

    def submit(self, **kwargs: Any) -> Future:
        kwargs["echo"] = False
        ref = self._remote.remote(kwargs)
        self._refs.append(ref)
        return ref.future()

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            for ref in self._refs:
                self.ray.cancel(ref, force=True)
        if self._started:
            self.ray.shutdown()


def make_executor(backend: str, n_jobs: int, address: str | None, threads: int):
    """Build the executor for ``backend`` (``"local"`` or ``"ray"``)."""
    if backend == "local":
        if address is not None:
            raise ConfigError("`address` is only used with backend='ray'; got "
                              f"address={address!r} with backend='local'.")
        return LocalExecutor(n_jobs)
    if backend == "ray":
        return RayExecutor(n_jobs, address=address, num_cpus=threads)
    raise choice_error("backend", backend, ["local", "ray"])
