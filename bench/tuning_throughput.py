"""Tuning throughput: runs per hour of the course's MNIST grid with n_jobs=1 and n_jobs=2.

``tuning_run`` splits the cores between parallel runs (``threads_per_run``): on 2 cores,
n_jobs=1 trains one run at a time with 2 torch threads, n_jobs=2 two runs with 1 thread each.
This benchmark runs the same fixed subset of the course's grid (``statdl lab mnist-tune``:
nodes1, nodes2, dropout1, dropout2, optimizer, lr_annealing; script
``statdl/labs/mnist_tune_script.py``) both ways in turn and prints the runs per hour of each
and their ratio; the ideal on 2 cores is 2.0. The epochs are cut (``--epochs``, default 2) so
that a round takes about a minute; process start, imports and data loading are inside the time,
as they are for a user's grid.

Data: full MNIST (60,000 digits) when it is found locally (``$STATDL_DATA/mnist``, the cache),
else the 6,000-digit sample shipped with statdl (the script's ``quick`` flag); ``--data``
chooses. ``--background N`` runs everything while N busy processes of the benchmark's own
compete for the cores (``bench/_background.py``).

Usage::

    STATDL_DATA=../shared/data python bench/tuning_throughput.py
    python bench/tuning_throughput.py --runs 6 --epochs 2 --rounds 2 --background 1
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import random
import statistics
import tempfile
import time
from typing import Any

from _background import busy_background, check_count

from statdl.labs.mnist_tune import GRID, SCRIPT
from statdl.tuning import tuning_run


def grid_subset(n_runs: int, epochs: int, quick: bool, seed: int = 1001) -> list[dict[str, Any]]:
    """``n_runs`` combinations of the course's grid, drawn once with ``seed`` (the same for
    every n_jobs and round), with the bench's epochs and data."""
    names = list(GRID)
    combos = [dict(zip(names, values)) for values in itertools.product(*GRID.values())]
    chosen = random.Random(seed).sample(combos, n_runs)
    return [{**c, "epochs": epochs, "quick": quick, "seed": seed} for c in chosen]


def full_mnist_found() -> bool:
    """Whether full MNIST is on this machine (no download)."""
    from statdl.datasets._files import find_local
    from statdl.datasets.mnist import MNIST_FILES

    return all(find_local(spec, download_ok=False) is not None for spec in MNIST_FILES)


def measure(combos: list[dict[str, Any]], n_jobs: int, background: int) -> dict[str, Any]:
    """Wall time of the grid with ``n_jobs`` (under ``background`` busy processes)."""
    with tempfile.TemporaryDirectory(prefix="statdl-tput-") as tmp, \
            busy_background(background):
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):     # its per-run lines
            runs = tuning_run(SCRIPT, combos, runs_dir=tmp, n_jobs=n_jobs, progress=False,
                              check_flags=False)
        wall = time.perf_counter() - t0
    failed = runs.attrs["n_failed"]
    if failed:
        raise SystemExit(f"{failed} of {len(combos)} runs failed with n_jobs={n_jobs}: "
                         f"{runs['error_message'].dropna().iloc[0]}")
    out = {"wall": wall, "runs_per_hour": len(combos) * 3600 / wall,
           "run_s": statistics.mean(runs["elapsed_s"].astype(float))}
    # what each run trained with, as its metadata records it (statdl.threads)
    if "threads" in runs.columns:
        out["threads"] = "/".join(str(int(t)) for t in sorted(set(runs["threads"].dropna())))
    if "thread_wait" in runs.columns:
        out["wait"] = "/".join(sorted(set(runs["thread_wait"].dropna())))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=6, help="combinations of the grid (default 6)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per run (default 2)")
    p.add_argument("--rounds", type=int, default=1,
                   help="measure n_jobs=1 and 2 this many times in turn; report each one's best")
    p.add_argument("--data", choices=["auto", "full", "sample"], default="auto",
                   help="full MNIST, the shipped sample, or full when found (default)")
    p.add_argument("--background", type=int, default=0,
                   help="busy processes competing for the cores while the grid runs")
    p.add_argument("--jobs", default="1,2", help="the n_jobs values to compare (default 1,2)")
    args = p.parse_args()
    for name in ("runs", "epochs", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be an int >= 1; got {getattr(args, name)}")
    try:
        check_count(args.background)
        jobs = [int(j) for j in args.jobs.split(",")]
    except ValueError as exc:
        p.error(str(exc))
    quick = args.data == "sample" or (args.data == "auto" and not full_mnist_found())
    combos = grid_subset(args.runs, args.epochs, quick)
    print(f"course MNIST grid ({SCRIPT.name}): {args.runs} of 324 combinations, "
          f"{args.epochs} epochs, {'the 6,000-digit sample' if quick else 'full MNIST'}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, "
          f"{args.background} busy background processes", flush=True)
    best: dict[int, dict[str, Any]] = {}
    for round_ in range(args.rounds):
        for n_jobs in jobs:
            m = measure(combos, n_jobs, args.background)
            extra = "".join(f", {k} {m[k]}" for k in ("threads", "wait") if k in m)
            print(f"n_jobs={n_jobs}: {args.runs} runs in {m['wall']:6.1f} s = "
                  f"{m['runs_per_hour']:5.0f} runs/hour; a run took {m['run_s']:.1f} s on "
                  f"average{extra}" + (f"  (round {round_ + 1})" if args.rounds > 1 else ""),
                  flush=True)
            if n_jobs not in best or m["runs_per_hour"] > best[n_jobs]["runs_per_hour"]:
                best[n_jobs] = m
    base = best[jobs[0]]["runs_per_hour"]
    print("\nn_jobs  runs/hour  ratio to n_jobs=" + str(jobs[0]))
    for n_jobs in jobs:
        print(f"{n_jobs:6d}  {best[n_jobs]['runs_per_hour']:9.0f}  "
              f"{best[n_jobs]['runs_per_hour'] / base:5.2f}")


if __name__ == "__main__":
    main()
