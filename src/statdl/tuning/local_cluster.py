"""A small Ray cluster on this machine, started the normal way (``ray start``), for trying the
cluster recipe of docs/tuning_cluster.md and for the tests and benchmarks of the Ray backend.

Every node is a ``ray start`` process group of its own, with its own temp dir and CPU count,
and token authentication on (``RAY_AUTH_MODE=token``, one token file for every node and the
drivers, :attr:`LocalCluster.env`). :meth:`LocalCluster.kill_node` kills one node alone (what a
crashed machine looks like to the cluster); :meth:`LocalCluster.stop` stops every node by its
process group, never with ``ray stop`` (which stops every Ray of the machine).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["LocalCluster", "wait_for"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, seconds: float, message: str):
    """Poll ``what()`` every 0.2 s until it returns a true value (returned), or raise
    ``TimeoutError`` naming ``message`` after ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = what()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {message}")


class LocalCluster:
    """A head (no CPUs: it only coordinates) and worker nodes with the given CPU counts.

    Examples
    --------
    >>> cluster = LocalCluster(workers=(1, 1))          # doctest: +SKIP
    >>> cluster.address                                 # doctest: +SKIP
    '127.0.0.1:41234'
    >>> cluster.stop()                                  # doctest: +SKIP
    """

    def __init__(self, workers: tuple[int, ...] = (1, 2)) -> None:
        # short paths: Ray's unix sockets live in the temp dir (107-byte limit)
        self.root = Path(tempfile.mkdtemp(prefix="sdray-", dir="/tmp"))
        token = self.root / "token"
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
                    "RAY_USAGE_STATS_ENABLED": "0"}
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.groups: list[int] = []
        self._start("head", ["--head", f"--port={self.port}", "--num-cpus=0",
                             "--include-dashboard=false"])
        for i, cpus in enumerate(workers):
            self._start(f"w{i}", [f"--address={self.address}", f"--num-cpus={cpus}"])
        self.worker_groups = self.groups[1:]

    def _start(self, name: str, args: list[str]) -> None:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("ray")), "start", *args, "--node-ip-address=127.0.0.1",
                                 f"--temp-dir={self.root / name}", "--disable-usage-stats"],
                                env=self.env, start_new_session=True, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        self.groups.append(proc.pid)               # the node's daemons keep this group
        out, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            self.stop()
            raise RuntimeError(f"ray start {name} failed:\n{out[-3000:]}")

    def group_of_node(self, raylet_pid: int) -> int:
        return os.getpgid(raylet_pid)

    def kill_node(self, group: int) -> None:
        """SIGKILL a node's raylet and daemons (and, through the raylet's death, its
        workers): what a crashed or unplugged machine looks like to the cluster."""
        os.killpg(group, signal.SIGKILL)

    def stop(self) -> None:
        for group in reversed(self.groups):
            try:
                os.killpg(group, signal.SIGTERM)
            except ProcessLookupError:
                pass
        time.sleep(1.0)
        for group in self.groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Ray's worker processes are sessions of their own, children of the raylets: gone
        # with them (they exit when their raylet dies); wait so the next cluster starts clean
        wait_for(lambda: not _ray_workers_of(self.root), 30, "the cluster's workers to exit")
        shutil.rmtree(self.root, ignore_errors=True)

    def driver(self, code: str, log: Path) -> subprocess.Popen:
        """A driver process (``python -c code``) with the cluster's token."""
        return subprocess.Popen([sys.executable, "-c", code], env=self.env,
                                stdout=open(log, "w"), stderr=subprocess.STDOUT,
                                start_new_session=True)


def _ray_workers_of(root: Path) -> list[int]:
    """Pids of Ray worker processes whose command line names this cluster's temp dir."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(root) in cmd and "default_worker" in cmd:
                found.append(int(entry.name))
    return found
