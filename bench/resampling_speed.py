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

``--intervals`` measures instead what an interval or set costs next to one ``predict`` of the
same rows, for the Hitters network with the textbook's Dropout(0.4) after its hidden layer (the
lab's 79 test players; 123 players fit it, 61 calibrate) and the MNIST MLP (trained on the
6,000 shipped digits; the 1,000 test digits tiled to ``--rows`` rows, 10,000 like the lab's
test set; 500 other digits calibrate): ``mc_dropout`` with 100 passes, split ``conformal``
(``predict_set(method="lac")`` for MNIST) and an ``ensemble`` of 5 members
(``predict_interval`` for Hitters, ``predict_uncertainty``/``predict_set`` for MNIST), and,
as the baseline of MC dropout, a Python loop of 100 forward passes of all rows with dropout on
(what one writes by hand), and MC dropout running every layer in every pass (``mc whole
passes``: ``statdl.intervals.stochastic.HEAD_ONCE = False``; by default the layers before the
first dropout run once per batch). Each is timed in turn per round; medians over the rounds.

Run: ``flock -x /tmp/team/cpu.lock python bench/resampling_speed.py`` (about a minute on 2
cores with the defaults; ``--epochs 200`` is the lab's length); ``... --intervals`` (about a
minute).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import statdl as sd
from statdl import layers as L
from statdl.intervals import (
    Ensemble,
    predict_interval,
    predict_set,
    predict_uncertainty,
    stochastic,
)
from statdl.intervals.stochastic import dropout_modules
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


def hitters_dropout_net(n_in: int):
    """The textbook's Hitters network (ISLR2 10.9.1): a Dropout(0.4) after the hidden layer,
    which MC dropout needs."""
    model = sd.Sequential([L.Dense(64, activation="relu"), L.Dropout(0.4), L.Dense(1)],
                          input_shape=(n_in,))
    model.compile(optimizer="rmsprop", loss="mse")
    return model


def hand_mc_dropout(model, x: np.ndarray, passes: int) -> np.ndarray:
    """MC dropout as written by hand: ``passes`` forward passes of all rows, dropout on."""
    module = model.module
    module.eval()
    for m in dropout_modules(module):
        m.train()
    try:
        with torch.inference_mode():
            xt = torch.from_numpy(x)
            return np.stack([module(xt).numpy() for _ in range(passes)])
    finally:
        module.eval()


def whole_passes(fn):
    """``fn`` with MC dropout running every layer in every pass (``HEAD_ONCE`` off)."""
    def run():
        stochastic.HEAD_ONCE = False
        try:
            return fn()
        finally:
            stochastic.HEAD_ONCE = True
    return run


def interval_cases(rows: int, passes: int) -> dict[str, dict]:
    """name -> {"predict": fn, method: fn, ...}: fitted models and what each method runs."""
    sd.set_seed(1)
    x, y = hitters()
    order = np.random.default_rng(1).permutation(len(y))
    test, cal, fit_rows = order[:79], order[79:140], order[140:]
    net = hitters_dropout_net(x.shape[1])
    net.fit(x[fit_rows], y[fit_rows], epochs=30, batch_size=32, verbose=0)
    ens = Ensemble(lambda: hitters_dropout_net(x.shape[1]), n=5)
    ens.fit(x[fit_rows], y[fit_rows], epochs=30, batch_size=32, verbose=0)
    xt, calibration = x[test], (x[cal], y[cal])
    cases = {"hitters": {
        "predict": lambda: net.predict(xt),
        "mc_dropout": lambda: predict_interval(net, xt, method="mc_dropout", passes=passes,
                                               seed=0),
        "mc whole passes": whole_passes(lambda: predict_interval(
            net, xt, method="mc_dropout", passes=passes, seed=0)),
        "hand loop": lambda: hand_mc_dropout(net, xt, passes),
        "conformal": lambda: predict_interval(net, xt, method="conformal",
                                              calibration=calibration),
        "ensemble of 5": lambda: predict_interval(ens, xt, method="ensemble"),
    }}
    (xm, ym), (xm_test, ym_test) = sd.datasets.mnist_sample()
    xm = (xm.reshape(len(xm), -1) / 255.0).astype("float32")
    xm_test = (xm_test.reshape(len(xm_test), -1) / 255.0).astype("float32")
    def sparse_mlp():
        model = mnist_mlp(xm.shape[1])
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
        return model

    mlp = sparse_mlp()
    mlp.fit(xm[500:], ym[500:], epochs=1, batch_size=128, verbose=0)
    members = Ensemble(sparse_mlp, n=5)
    members.fit(xm[500:], ym[500:], epochs=1, batch_size=128, verbose=0)
    xr = np.resize(xm_test, (rows, xm_test.shape[1]))        # the test digits, tiled
    mcal = (xm[:500], ym[:500])
    cases["mnist-mlp"] = {
        "predict": lambda: mlp.predict(xr),
        "mc_dropout": lambda: predict_uncertainty(mlp, xr, passes=passes, seed=0),
        "mc whole passes": whole_passes(lambda: predict_uncertainty(mlp, xr, passes=passes,
                                                                    seed=0)),
        "hand loop": lambda: hand_mc_dropout(mlp, xr, passes),
        "conformal": lambda: predict_set(mlp, xr, method="lac", calibration=mcal),
        "ensemble of 5": lambda: predict_uncertainty(members, xr, method="ensemble"),
    }
    return cases


def intervals_main(args: argparse.Namespace) -> None:
    cases = interval_cases(args.rows, args.passes)
    for name, ways in cases.items():
        for fn in ways.values():                                 # warm-up
            fn()
        times: dict[str, list[float]] = {k: [] for k in ways}
        names = list(ways)
        for r in range(args.rounds):
            for way in names[r % len(names):] + names[:r % len(names)]:
                t0 = time.perf_counter()
                ways[way]()
                times[way].append(time.perf_counter() - t0)
        rows = 79 if name == "hitters" else args.rows
        print(f"{name}: {rows} rows, {args.passes} passes; median of {args.rounds} rounds, "
              f"{torch.get_num_threads()} torch threads")
        base = statistics.median(times["predict"])
        for way in names:
            t = statistics.median(times[way])
            print(f"  {way:14s} {t * 1e3:9.1f} ms   {t / base:7.1f} x predict")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", action="store_true",
                        help="time predict_interval / predict_set / predict_uncertainty "
                             "against one predict instead of cross-validation")
    parser.add_argument("--rows", type=int, default=10000,
                        help="--intervals: MNIST rows predicted (default 10,000)")
    parser.add_argument("--passes", type=int, default=100,
                        help="--intervals: MC-dropout passes (default 100)")
    parser.add_argument("--model", choices=sorted(MODELS), default="hitters")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: 30 for hitters, 2 for mnist-mlp")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.intervals:
        intervals_main(args)
        return
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
