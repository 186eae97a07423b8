"""Benchmark of ``statdl.cross_validate`` (not a timed test).

10-fold cross-validation of the course's Hitters network (Dense(64, relu) + Dense(1), RMSprop,
MSE, batch 32, the lab's scaled design matrix and log salary), or with ``--model mnist-mlp`` of
the course's MNIST MLP (Dense(512, relu), Dropout(0.4), Dense(256, relu), Dropout(0.3),
Dense(10, softmax), RMSprop, batch 128) on the 6,000 training digits shipped with statdl,
three ways, taken in turn in each round so that machine load hits all alike:

- ``loop``: a plain loop of ``fit`` calls on the same folds (seed, new model, fit, predict,
  RMSE), statdl's default thread policy;
- ``cv n_jobs=1``: ``cross_validate`` in this process (one torch thread, its default);
- ``cv n_jobs=1 auto``: the same with ``threads_per_job="auto"`` (statdl's thread policy);
- ``cv n_jobs=2``: ``cross_validate`` with two forked workers (one thread each).

All use the same per-resample seeds and rows. The two one-thread runs must give the same
metric per fold; the loop and ``auto`` use more threads, which changes the numbers of wider
layers slightly (printed). Prints median seconds over the rounds and the ratio to the loop.

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


def mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    (x, y), _ = sd.datasets.mnist_sample()
    return (x.reshape(len(x), -1) / 255.0).astype("float32"), sd.to_categorical(y, 10)


def hitters_net(n_in: int):
    model = sd.Sequential([L.Dense(64, activation="relu"), L.Dense(1)], input_shape=(n_in,))
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


def mnist_mlp(n_in: int):
    model = sd.Sequential([L.Dense(512, activation="relu"), L.Dropout(0.4),
                           L.Dense(256, activation="relu"), L.Dropout(0.3),
                           L.Dense(10, activation="softmax")], input_shape=(n_in,))
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


#: name -> (data, network, batch size, metric of cross_validate, default epochs)
MODELS = {"hitters": (hitters, hitters_net, 32, "RMSE", 30),
          "mnist-mlp": (mnist_sample, mnist_mlp, 128, "Accuracy", 2)}


def metric_value(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    """The metric computed here with numpy (not by statdl.resampling)."""
    if metric == "RMSE":
        return float(np.sqrt(np.mean((y.astype(float) - pred[:, 0].astype(float)) ** 2)))
    return float(np.mean(np.argmax(y, axis=1) == np.argmax(pred, axis=1)))


def plain_loop(x, y, folds, seed: int, epochs: int, model: str) -> list[float]:
    """What a user writes without cross_validate: one fit per fold, the metric on the held-out
    rows."""
    _, network, batch_size, metric, _ = MODELS[model]
    values = []
    for i, (_, train, test) in enumerate(folds):
        sd.set_seed(fold_seed(seed, i))
        net = network(x.shape[1])
        net.fit(x[train], y[train], epochs=epochs, batch_size=batch_size, verbose=0)
        values.append(metric_value(metric, y[test], net.predict(x[test])))
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="hitters")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: 30 for hitters, 2 for mnist-mlp")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    data, network, batch_size, metric, epochs = MODELS[args.model]
    args.epochs = epochs if args.epochs is None else args.epochs
    x, y = data()
    folds = make_folds(len(y), folds=args.folds, seed=args.seed)
    net = lambda: network(x.shape[1])  # noqa: E731
    fit = dict(epochs=args.epochs, batch_size=batch_size)

    def cv(n_jobs: int, threads=None) -> list[float]:
        return cross_validate(net, x, y, folds=folds, seed=args.seed, fit=fit, n_jobs=n_jobs,
                              metrics=metric, threads_per_job=threads).table[metric].tolist()

    ways = {"loop": lambda: plain_loop(x, y, folds, args.seed, args.epochs, args.model),
            "cv n_jobs=1": lambda: cv(1), "cv n_jobs=1 auto": lambda: cv(1, "auto"),
            "cv n_jobs=2": lambda: cv(2)}
    ways["loop"]()                                               # warm-up: imports, kernels
    times: dict[str, list[float]] = {k: [] for k in ways}
    results: dict[str, list[float]] = {}
    names = list(ways)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            results[name] = ways[name]()
            times[name].append(time.perf_counter() - t0)
    print(f"{args.model}, {args.folds}-fold CV, {args.epochs} epochs, {len(y)} rows; "
          f"median of {args.rounds} rounds")
    base = statistics.median(times["loop"])
    for name in names:
        t = statistics.median(times[name])
        print(f"  {name:17s} {t:7.2f} s   {t / base:5.2f} x loop")
    same = np.array_equal(results["cv n_jobs=1"], results["cv n_jobs=2"])
    print(f"  same {metric} per fold with n_jobs=1 and 2: {'yes' if same else 'NO'}; "
          f"loop and auto the same as those: {results['loop'] == results['cv n_jobs=1']}, "
          f"{results['cv n_jobs=1 auto'] == results['cv n_jobs=1']}")
    print(f"  mean {metric}: " + ", ".join(f"{k} {np.mean(v):.4f}" for k, v in results.items()))


if __name__ == "__main__":
    main()
