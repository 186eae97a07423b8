"""Lab ``mnist-uncertainty`` (#16): how sure is the course's MNIST network (512-256 with dropout
0.4/0.3) about each digit?

MC dropout (100 passes; 30 with ``--quick``) and a deep ensemble of 5 networks (3) give
predictive probabilities with their spread; accuracy is shown as a function of predictive
entropy, with the most uncertain test digits. Conformal prediction sets (LAC and randomised
APS at 90%) are calibrated on the first half of the test digits and judged on the second half
(coverage with its exact interval, set sizes), and over 200 random halvings of the test
digits (the average the guarantee is about). Saliency maps (gradient x input) show what the
network looks at. MC dropout and ensembles carry no coverage guarantee; conformal sets do.
"""

from __future__ import annotations

import argparse

import numpy as np

import statdl as sd

from ._common import Timer, headline, mnist_data, with_interval
from .mnist_dense import build

LEVEL = 0.9
SPLITS = 200


def _repeated_splits(p: np.ndarray, y: np.ndarray, method: str, randomize: bool,
                     seed: int) -> tuple[float, float]:
    """Mean coverage and set size of conformal sets over random halvings of the test digits
    into calibration and evaluation digits (the guarantee is on this average)."""
    from ..intervals import conformal_sets

    rng = np.random.default_rng(seed)
    half = len(y) // 2
    cover, size = [], []
    for i in range(SPLITS):
        order = rng.permutation(len(y))
        cal, test = order[:half], order[half:]
        sets, _ = conformal_sets(p[cal], y[cal], p[test], LEVEL, method, randomize=randomize,
                                 seed=seed + i)
        cover.append(sets[np.arange(len(test)), y[test]].mean())
        size.append(sets.sum(axis=1).mean())
    return float(np.mean(cover)), float(np.mean(size))


def _network(device: str):
    model = build("mlp2")
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], device=device)
    return model


def run(args: argparse.Namespace, run) -> dict:
    """Fit the network and the ensemble; uncertainty, conformal sets and saliency figures."""
    from ..explain import saliency
    from ..intervals import (
        Ensemble,
        accuracy_by_uncertainty,
        coverage_report,
        predict_set,
        predict_uncertainty,
    )
    from ..plots.explain import plot_saliency
    from ..plots.intervals import plot_accuracy_by_uncertainty, plot_set_sizes

    x_train, y_train, x_test, y_test = mnist_data(args)
    passes, members = (30, 3) if args.quick else (100, 5)
    model = _network(args.device)
    timer = Timer()
    with timer:
        history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=128,
                            verbose=args.verbose)
    accuracy = float(np.mean(model.predict_classes(x_test) == y_test))
    print(f"\nTest accuracy of one network: {accuracy:.4f}")

    results: dict = {"fit_seconds": timer.seconds, "test_accuracy": accuracy}
    evaluation: dict = {"accuracy": accuracy}
    mc = predict_uncertainty(model, x_test, passes=passes, seed=args.seed)
    ensemble = Ensemble(lambda: _network(args.device), n=members,
                        seeds=[args.seed + 1 + i for i in range(members)])
    ensemble.fit(x_train, y_train, epochs=args.epochs, batch_size=128, verbose=0)
    ens = predict_uncertainty(ensemble, x_test, method="ensemble")
    for name, frame in (("mc_dropout", mc), ("ensemble", ens)):
        table = accuracy_by_uncertainty(frame, y_test, bins=5)
        acc = float(np.mean(frame["prediction"].to_numpy() == y_test))
        print(f"\n{name}: accuracy {acc:.4f}; accuracy by fifths of predictive entropy:\n"
              f"{table.to_string(index=False)}")
        results[f"{name}_accuracy"] = acc
        results[f"{name}_accuracy_by_entropy"] = table.to_dict(orient="list")
        evaluation[f"{name}_accuracy"] = acc
        evaluation[f"{name}_accuracy_most_uncertain_fifth"] = float(table["accuracy"].iloc[-1])
        run.figure(plot_accuracy_by_uncertainty(frame, y_test, data="test"),
                   f"{name}_accuracy_by_entropy",
                   f"{name}: test accuracy in tenths of the digits ordered by predictive "
                   "entropy, with exact 95% intervals")
    worst = np.argsort(-mc["entropy"].to_numpy())[:16]
    run.figure(sd.plot_images(x_test[worst].reshape(-1, 28, 28),
                              labels=[f"{y} -> {p}" for y, p in
                                      zip(y_test[worst], mc["prediction"].iloc[worst])],
                              title="Most uncertain test digits (MC dropout)"),
               "most_uncertain_digits",
               "the 16 test digits with the highest MC-dropout predictive entropy: true -> "
               "predicted class")

    half = len(x_test) // 2
    calibration = (x_test[:half], y_test[:half])
    for method, options in (("lac", {}), ("aps", {"randomize": True, "seed": args.seed})):
        sets = predict_set(model, x_test[half:], level=LEVEL, method=method,
                           calibration=calibration, **options)
        report = coverage_report(sets, y_test[half:])
        print(f"\n{report}")
        results[f"{method}_coverage"] = report.coverage
        results[f"{method}_mean_set_size"] = report.mean_width
        results[f"{method}_set_sizes"] = {int(k): int(v) for k, v in
                                          sets["size"].value_counts().sort_index().items()}
        evaluation.update(with_interval(f"{method}_coverage", report.coverage, *report.ci))
        evaluation[f"{method}_mean_set_size"] = report.mean_width
        run.figure(plot_set_sizes(sets, y_test[half:], data="test"), f"{method}_set_sizes",
                   f"{method.upper()} conformal sets at {LEVEL:.0%}, calibrated on {half} test "
                   f"digits: set sizes of the other {len(x_test) - half}, coverage by size")

    probabilities = model.predict(x_test)
    for method, randomize in (("lac", False), ("aps", True)):
        cover, size = _repeated_splits(probabilities, y_test, method, randomize, args.seed)
        print(f"{method.upper()} over {SPLITS} random calibration/test splits of the test "
              f"digits: mean coverage {cover:.4f}, mean set size {size:.3f}")
        results[f"{method}_coverage_{SPLITS}_splits"] = cover
        evaluation[f"{method}_coverage_{SPLITS}_splits"] = cover

    images = x_test[:8].reshape(-1, 28, 28, 1)
    viewer = sd.Sequential([sd.layers.Flatten(), *model.layers], input_shape=(28, 28, 1))
    maps = saliency(viewer, images, kind="gradient_x_input")
    run.figure(plot_saliency(images, maps, labels=[f"digit {d}" for d in y_test[:8]],
                             title="Saliency (gradient x input) of the predicted class"),
               "saliency", "red: ink that raises the predicted class's score, blue: ink that "
               "lowers it")
    results["headline"] = headline(f"LAC {LEVEL:.0%} coverage, mean of {SPLITS} splits",
                                   results[f"lac_coverage_{SPLITS}_splits"],
                                   target=LEVEL - 0.02)
    run.record(results, history=history, model=model, evaluation=evaluation)
    return results
