"""Tuning at scale: the course's MNIST grid, in full and with ASHA, Hyperband, random and TPE.

The grid is the course's tfruns example (``statdl lab mnist-tune``): nodes1 and nodes2 in
64/128/256, dropout1 and dropout2 in 0.2/0.3/0.4, lr_annealing 0.1/0.05, optimizer
rmsprop/adam: 324 combinations. To fit this 2-core machine each run trains on ``--n-train``
digits (default 1,000) of the sample shipped with statdl and is validated on 2,000 others, for
``--epochs`` epochs (default 9: with reduction 3 ASHA then has rungs at epochs 1 and 3);
``--subset N`` runs a seeded random N of the 324 combinations instead (the same N for every
part). Script: ``bench/tuning_scale_script.py``.

Parts (each can run alone, under the exclusive CPU lock, and resumes where it stopped: the
runs directories persist in ``--dir``; each call adds its wall time):

* ``grid``: every combination, ``max_epochs`` each;
* ``asha``, ``hyperband``: the same combinations, stopped early on ``val_accuracy``
  (grace 1 epoch, reduction 3);
* ``random``, ``tpe``: ``--budget`` runs (default 30) over the full 324-combination space;
* ``table``: the figures of every part run so far, as one table;
* ``decision``: the cost of one scheduler decision inside a run (lock, read, decide, write).

Usage::

    flock -x /tmp/team/cpu.lock python bench/tuning_scale.py grid --subset 81
    flock -x /tmp/team/cpu.lock python bench/tuning_scale.py asha --subset 81
    python bench/tuning_scale.py table --subset 81
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import random
import time
from pathlib import Path
from typing import Any

from statdl.tuning import ls_runs, tuning_run

SCRIPT = Path(__file__).with_name("tuning_scale_script.py")
GRID = {"nodes1": [64, 128, 256], "nodes2": [64, 128, 256], "dropout1": [0.2, 0.3, 0.4],
        "dropout2": [0.2, 0.3, 0.4], "lr_annealing": [0.1, 0.05],
        "optimizer": ["rmsprop", "adam"]}
PARTS = ("grid", "asha", "hyperband", "random", "tpe")


def combinations(subset: int, seed: int = 1001) -> list[dict[str, Any]]:
    """A seeded random ``subset`` of the grid's combinations (0: all of them), in a seeded
    random order: an asynchronous scheduler's decisions depend on the order runs reach a rung,
    and the grid's own order (optimizer varying fastest) would deal it sorted runs."""
    names = list(GRID)
    combos = [dict(zip(names, v, strict=True)) for v in itertools.product(*GRID.values())]
    return random.Random(seed).sample(combos, subset or len(combos))


def part_name(part: str, args: argparse.Namespace) -> str:
    """A part's runs directory (and record) name; a scheduler part at another reduction than
    3 gets its own (``hyperband-r4-324``), so both can sit beside one grid."""
    tag = f"-r{args.reduction}" if part in ("asha", "hyperband") and args.reduction != 3 else ""
    return f"{part}{tag}-{args.subset or 324}"


def run_part(part: str, args: argparse.Namespace) -> None:
    fixed = {"epochs": args.epochs, "n_train": args.n_train}
    runs_dir = Path(args.dir) / part_name(part, args)
    common: dict[str, Any] = {"runs_dir": runs_dir, "n_jobs": args.jobs, "progress": False}
    if part in ("grid", "asha", "hyperband"):
        flags = [{**c, **fixed} for c in combinations(args.subset)]
        if part != "grid":
            common.update(scheduler=part, metric="val_accuracy", max_epochs=args.epochs,
                          grace_epochs=args.grace, reduction=args.reduction)
    else:
        flags = {**GRID, **{k: [v] for k, v in fixed.items()}}
        common.update(search=part, n_runs=args.budget, seed=args.seed, metric="val_accuracy")
    t0 = time.perf_counter()
    try:       # a call cut short (timeout's SIGTERM) still adds its time; the next resumes
        with contextlib.redirect_stdout(io.StringIO()):
            tuning_run(SCRIPT, flags, **common)
    finally:
        wall = time.perf_counter() - t0
        record = Path(args.dir) / f"{part_name(part, args)}.json"
        before = (json.loads(record.read_text()) if record.exists()
                  else {"wall_s": 0.0, "calls": 0})
        record.write_text(json.dumps({"wall_s": before["wall_s"] + wall,
                                      "calls": before["calls"] + 1}))
        print(f"{part}: {wall:.1f} s this call")


def figures(part: str, args: argparse.Namespace) -> dict[str, Any] | None:
    name = part_name(part, args)
    record = Path(args.dir) / f"{name}.json"
    if not record.exists():
        return None
    runs = ls_runs(Path(args.dir) / name)
    done = runs[runs["status"] == "completed"]
    return {"runs": len(runs), "stopped": int((runs["status"] == "stopped").sum()),
            "failed": int((runs["status"] == "failed").sum()),
            # cut short when a part's exclusive hold ended; redone by its next call
            "redone": int((runs["status"] == "interrupted").sum()),
            "epochs": int(runs["epochs_completed"].sum()),
            "wall_s": json.loads(record.read_text())["wall_s"],
            "best": 100 * float(done["metric_val_accuracy"].max()) if len(done) else float("nan")}


def table(args: argparse.Namespace) -> None:
    rows = {p: figures(p, args) for p in PARTS}
    grid = rows["grid"]
    print(f"MNIST grid of the course, {args.subset or 324} of 324 combinations"
          f"{' (seeded random subset)' if args.subset else ''}; {args.n_train} training "
          f"digits, 2,000 validation digits, {args.epochs} epochs a full run, n_jobs={args.jobs}; "
          f"random and TPE: {args.budget} runs over the 324-combination space")
    print(f"{'search':<10}{'runs':>6}{'stopped':>9}{'failed':>8}{'redone':>8}{'epochs':>8}"
          f"{'% grid':>8}{'wall s':>9}{'best val acc %':>16}{'vs grid':>9}")
    for part, row in rows.items():
        if row is None:
            print(f"{part:<10}  (not run)")
            continue
        share = f"{100 * row['epochs'] / grid['epochs']:.0f}" if grid else "-"
        gap = f"{row['best'] - grid['best']:+.2f}" if grid else "-"
        print(f"{part:<10}{row['runs']:>6}{row['stopped']:>9}{row['failed']:>8}"
              f"{row['redone']:>8}{row['epochs']:>8}{share:>8}{row['wall_s']:>9.1f}{row['best']:>16.2f}{gap:>9}")


def decision_cost(n_runs: int = 324, repeats: int = 300) -> float:
    """Milliseconds of one scheduler decision inside a run (lock, read and write the state of
    ``n_runs`` runs, decide), measured on a temporary runs directory."""
    import tempfile

    from statdl.run_folders.files import write_json
    from statdl.run_folders.folders import new_run_dir
    from statdl.tuning.schedulers import SchedulerSpec, decide_in_run

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / ".statdl-schedulers" / "median.json"
        spec = SchedulerSpec("median", "val_accuracy", "max", 9, state=str(state))
        rng = random.Random(0)
        write_json(state, {"curves": {f"r{i}": [rng.random() for _ in range(9)]
                                      for i in range(n_runs)}})
        run = new_run_dir(tmp)
        write_json(run / "statdl.d" / "scheduler.json", spec.to_dict())
        t0 = time.perf_counter()
        for i in range(repeats):
            decide_in_run(run, 1 + i % 9, {"val_accuracy": 0.99})
        return 1000 * (time.perf_counter() - t0) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=[*PARTS, "table", "decision"])
    parser.add_argument("--subset", type=int, default=0,
                        help="a seeded random N of the 324 combinations (0: all)")
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--grace", type=int, default=1, help="the schedulers' grace epochs")
    parser.add_argument("--reduction", type=int, default=3, help="the schedulers' reduction")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", default="/tmp/statdl-tuning-scale")
    args = parser.parse_args()
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    if args.part == "table":
        table(args)
    elif args.part == "decision":
        print(f"one median-rule decision over 324 runs' curves: {decision_cost():.2f} ms")
    else:
        run_part(args.part, args)


if __name__ == "__main__":
    main()
