"""Benchmark of the tuning runner (not a timed test).

1. Overhead per run: wall time of ``training_run`` minus the training time the script itself
   measured (process start, imports of statdl, recording, listing the run back). Target < 2 s.
2. A grid of small real torch trainings (~2-3 s of CPU each) run sequentially (n_jobs=1, all
   cores per run) and 2-way parallel (n_jobs=2, cores split). Target: parallel <= 0.65 x
   sequential.

Run: ``python bench/tuning_overhead.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import statdl

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


if __name__ == "__main__":
    overhead()
    parallel()
