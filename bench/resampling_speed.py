"""Benchmark of ``statdl.cross_validate`` (not a timed test).

10-fold cross-validation of the course's Hitters network (Dense(64, relu) + Dense(1), RMSprop,
MSE, batch 32, the lab's scaled design matrix and log salary) three ways, taken in turn in each
round so that machine load hits all alike:

- ``loop``: a plain loop of ``fit`` calls on the same folds (seed, new model, fit, predict,
  RMSE), statdl's default thread policy;
- ``cv n_jobs=1``: ``cross_validate`` in this process (threads fixed at the cores' count);
- ``cv n_jobs=2``: ``cross_validate`` with two forked workers (threads split between them).

The loop uses the same per-resample seeds and rows, so all three must give the same RMSEs
(printed as a check). Prints median seconds over the rounds and the ratio to the loop.

Run: ``flock -x /tmp/team/cpu.lock python bench/resampling_speed.py`` (about a minute on 2
cores with the defaults; ``--epochs 200`` is the lab's length).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import statdl as sd
from statdl import layers as L
from statdl.resampling import cross_validate, fold_seed, make_folds


def hitters() -> tuple[np.ndarray, np.ndarray]:
    x, y = sd.datasets.hitters(response="log_salary")
    return np.asarray(sd.scale(x).x, dtype="float32"), np.asarray(y, dtype="float32")


def network(n_in: int):
    model = sd.Sequential([L.Dense(64, activation="relu"), L.Dense(1)], input_shape=(n_in,))
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


def plain_loop(x, y, folds, seed: int, epochs: int) -> list[float]:
    """What a user writes without cross_validate: one fit per fold, RMSE on the held-out rows."""
    rmse = []
    for i, (_, train, test) in enumerate(folds):
        sd.set_seed(fold_seed(seed, i))
        model = network(x.shape[1])
        model.fit(x[train], y[train], epochs=epochs, batch_size=32, verbose=0)
        pred = model.predict(x[test])[:, 0].astype(float)
        rmse.append(float(np.sqrt(np.mean((y[test].astype(float) - pred) ** 2))))
    return rmse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    x, y = hitters()
    folds = make_folds(len(y), folds=args.folds, seed=args.seed)
    net = lambda: network(x.shape[1])  # noqa: E731
    fit = dict(epochs=args.epochs, batch_size=32)

    def cv(n_jobs: int) -> list[float]:
        return cross_validate(net, x, y, folds=folds, seed=args.seed, fit=fit, n_jobs=n_jobs,
                              metrics="RMSE").table["RMSE"].tolist()

    ways = {"loop": lambda: plain_loop(x, y, folds, args.seed, args.epochs),
            "cv n_jobs=1": lambda: cv(1), "cv n_jobs=2": lambda: cv(2)}
    ways["loop"]()                                               # warm-up: imports, kernels
    times: dict[str, list[float]] = {k: [] for k in ways}
    results: dict[str, list[float]] = {}
    names = list(ways)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            results[name] = ways[name]()
            times[name].append(time.perf_counter() - t0)
    print(f"Hitters network, {args.folds}-fold CV, {args.epochs} epochs, {len(y)} rows; "
          f"median of {args.rounds} rounds")
    base = statistics.median(times["loop"])
    for name in names:
        t = statistics.median(times[name])
        print(f"  {name:12s} {t:7.2f} s   {t / base:5.2f} x loop")
    same = all(np.array_equal(results["loop"], results[k]) for k in names[1:])
    print(f"  same RMSE per fold in all three: {'yes' if same else 'NO'} "
          f"(mean RMSE {np.mean(results['loop']):.4f})")


if __name__ == "__main__":
    main()
