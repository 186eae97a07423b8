"""Benchmark of the tuning runner (not a timed test).

1. Overhead per run: wall time of ``training_run`` minus the training time the script itself
   measured (process start, imports of statdl, recording, listing the run back). Target < 2 s.
2. A grid of small real torch trainings (~2-3 s of CPU each) run sequentially (n_jobs=1, all
   cores per run) and 2-way parallel (n_jobs=2, cores split). Target: parallel <= 0.65 x
   sequential.

3. ``--backends``: the same grid of small torch trainings (threads fixed at 1 a run) with
   the local backend (``n_jobs=2``) and on a Ray cluster started the normal way on this
   machine (``statdl.tuning.local_cluster``: a head and two 1-CPU worker nodes, token auth;
   ``n_jobs=2``), each with fresh processes (``STATDL_WARM_RUNS=0``: every run imports torch)
   and with warm runs (forked from a process that imported torch and statdl once:
   ``statdl.tuning.warm``), the four taken in turn in each round, after one warm-up grid of
   each (Ray starts its worker processes then). Per run: the wall time of the grid x 2 slots
   / runs, minus the training time the script measured, is the overhead beyond training
   (process start, imports, recording, and on Ray the task's dispatch); ``elapsed -
   training`` is the part inside the run's own folder's lifetime. Target < 2 s each. A local
   grid starts its warm process once (while the script declares its flags), so its figure
   includes that start; on Ray each worker process keeps its warm process across grids.

Run: ``python bench/tuning_overhead.py`` (about a minute on 2 cores);
``python bench/tuning_overhead.py --backends`` (about 6 minutes; ``--backends local`` or
``--backends ray`` for one of them).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import statdl
from statdl.tuning.warm import ENV_WARM

HERE = Path(__file__).resolve().parents[1]
FAKE = HERE / "tests" / "fixtures" / "tuning" / "fake_train.py"
TORCH = HERE / "tests" / "fixtures" / "tuning" / "torch_train.py"


def overhead(repeats: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        statdl.training_run(FAKE, runs_dir=tmp, echo=False)           # warm imports
        walls = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            statdl.training_run(FAKE, runs_dir=tmp, echo=False)
            walls.append(time.perf_counter() - t0)
        print(f"pure-python script: runner wall per run median {statistics.median(walls):.3f} s "
              f"(training ~0 s) -> overhead {statistics.median(walls):.3f} s")
        walls, over = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            run = statdl.training_run(TORCH, runs_dir=tmp, echo=False)
            wall = time.perf_counter() - t0
            walls.append(wall)
            over.append(wall - float(run["metric_train_seconds"]
                                     if "metric_train_seconds" in run else run["train_seconds"]))
        print(f"torch script: wall median {statistics.median(walls):.3f} s, overhead beyond "
              f"training median {statistics.median(over):.3f} s (includes `import torch`)")


def parallel(n_runs: int = 6) -> None:
    grid = [{"hidden": 256, "seed": s} for s in range(n_runs)]
    times = {}
    for jobs in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            runs = statdl.tuning_run(TORCH, grid, runs_dir=tmp, n_jobs=jobs, progress=False)
            times[jobs] = time.perf_counter() - t0
            train = runs["train_seconds"].astype(float)
            print(f"n_jobs={jobs}: {n_runs} runs in {times[jobs]:.2f} s; training per run "
                  f"mean {train.mean():.2f} s with {int(runs['torch_threads'].iloc[0])} threads; "
                  f"failed {runs.attrs['n_failed']}")
    print(f"parallel / sequential = {times[2] / times[1]:.3f} (target <= 0.65) on "
          f"{os.cpu_count()} cores")


def _grid_pass(grid: list[dict], **kw) -> tuple[float, float, float]:
    """(wall per run x 2 slots, mean training s, mean elapsed s of the run's process)."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        runs = statdl.tuning_run(TORCH, grid, runs_dir=tmp, n_jobs=2, num_threads=1,
                                 progress=False, **kw)
        wall = time.perf_counter() - t0
        assert set(runs["status"]) == {"completed"}, runs["status"].tolist()
        elapsed = [json.loads((Path(r) / "statdl.d" / "properties.json").read_text())
                   ["elapsed_s"] for r in runs["run_dir"]]
        return (wall * 2 / len(grid), float(runs["train_seconds"].astype(float).mean()),
                statistics.mean(elapsed))


def backends(n_runs: int = 8, rounds: int = 2, which: tuple[str, ...] = ("local", "ray")) -> None:
    import contextlib
    import io

    from statdl.tuning.local_cluster import LocalCluster

    cluster = LocalCluster(workers=(1, 1)) if "ray" in which else None
    if cluster is not None:   # before Ray is imported: it reads its token settings once
        os.environ.update({k: v for k, v in cluster.env.items() if k.startswith("RAY_")})
        import ray
    quiet = contextlib.redirect_stdout(io.StringIO())
    modes = [(backend, warm) for backend in which for warm in ("0", "1")]
    rows: dict[tuple[str, str], list[tuple[float, float, float]]] = {m: [] for m in modes}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))     # a timeout still stops it
    try:
        on_ray = {}
        if cluster is not None:
            ray.init(address=cluster.address, log_to_driver=False)
            on_ray = {"backend": "ray", "address": cluster.address}
        with quiet:
            for backend, warm in modes:                      # warm-up: Ray starts its workers
                os.environ[ENV_WARM] = warm
                _grid_pass([{"epochs": 1, "seed": s} for s in range(2)],
                           **(on_ray if backend == "ray" else {}))
            for r in range(rounds):                          # taken in turn, each round
                grid = [{"hidden": 256, "seed": 100 * r + s} for s in range(n_runs)]
                for backend, warm in modes:
                    os.environ[ENV_WARM] = warm
                    rows[backend, warm].append(
                        _grid_pass(grid, **(on_ray if backend == "ray" else {})))
    finally:
        os.environ.pop(ENV_WARM, None)
        if cluster is not None:
            ray.shutdown()
            cluster.stop()
    imports = {}
    for what in ("pass", "import statdl", "import torch"):
        walls = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", what], check=True)
            walls.append(time.perf_counter() - t0)
        imports[what] = statistics.median(walls)
    print("a fresh Python process: " + ", ".join(f"`{k}` {v:.2f} s" for k, v in imports.items()))
    print(f"{n_runs} runs a grid, n_jobs=2, 1 thread a run, {rounds} rounds taken in turn; "
          f"Ray: head + 2 worker nodes of 1 CPU on this machine")
    print(f"{'backend':<8}{'runs':<7}{'wall/run x2 (s)':>17}{'training (s)':>14}"
          f"{'overhead (s)':>14}{'in-process (s)':>16}")
    for (name, warm), values in rows.items():
        wall = statistics.median(v[0] for v in values)
        train = statistics.median(v[1] for v in values)
        inproc = statistics.median(v[2] - v[1] for v in values)
        print(f"{name:<8}{'warm' if warm == '1' else 'fresh':<7}{wall:>17.2f}{train:>14.2f}"
              f"{wall - train:>14.2f}{inproc:>16.2f}")


if __name__ == "__main__":
    if "--backends" in sys.argv:      # --backends [local|ray]: both by default
        chosen = tuple(b for b in ("local", "ray") if b in sys.argv[1:])
        backends(which=chosen or ("local", "ray"))
    else:
        overhead()
        parallel()
