"""Lab ``mnist-tune``: the course's tfruns grid search ("Network Tuning").

The grid: nodes1, nodes2 in (64, 128, 256), dropout1, dropout2 in (0.2, 0.3, 0.4), optimizer in
(rmsprop, adam), lr_annealing in (0.1, 0.05): 324 combinations, of which a random 5%
(``--sample``, 17 runs) are trained by ``mnist_tune_script.py`` (35 epochs, early stopping with
patience 5, ReduceLROnPlateau). The best run by validation loss is then evaluated once on the
test digits (caret statistics). ``--quick`` trains a 1% sample (4 runs) on the shipped sample.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import statdl as sd
from statdl.tuning import best_run, evaluate_best, tuning_run

from ._common import Timer, headline, mnist_data, with_interval

GRID = {"nodes1": [64, 128, 256], "nodes2": [64, 128, 256], "dropout1": [0.2, 0.3, 0.4],
        "dropout2": [0.2, 0.3, 0.4], "optimizer": ["rmsprop", "adam"],
        "lr_annealing": [0.1, 0.05]}
SCRIPT = Path(__file__).with_name("mnist_tune_script.py")


def run(args: argparse.Namespace, run) -> dict:
    """Run the sampled grid, pick the best run by val_loss, evaluate it on the test digits."""
    sample = min(args.sample, 0.01) if args.quick else args.sample
    grid = {**GRID, "epochs": [args.epochs], "quick": [bool(args.quick)], "seed": [args.seed]}
    runs_dir = run.path / "tuning"
    timer = Timer()
    with timer:
        runs = tuning_run(SCRIPT, flags=grid, sample=sample, seed=args.seed, runs_dir=runs_dir)
    cols = [c for c in ("metric_val_loss", "metric_val_accuracy", "flag_nodes1", "flag_nodes2",
                        "flag_dropout1", "flag_dropout2", "flag_optimizer",
                        "flag_lr_annealing", "epochs_completed") if c in runs.columns]
    print(f"\n{len(runs)} runs of {runs.attrs.get('n_combinations', 324)} combinations:")
    print(runs.sort_values("metric_val_loss")[cols].to_string(index=False))
    best = best_run(runs_dir, "val_loss", "min")
    print("\nBest run by validation loss:")
    print(best[[c for c in best.index if c.startswith(("metric_", "flag_"))
                or c in ("run_dir", "epochs_completed")]].to_string())
    _, _, x_test, y_test = mnist_data(args)
    evaluate_best(runs_dir, x_test, sd.to_categorical(y_test, 10), force=True)
    model = sd.load_model(str(Path(best["run_dir"]) / "model.statdl"))
    cm = sd.confusion_matrix(model.predict_classes(x_test), y_test)
    print("\nThe best run's network on the test digits:")
    print(cm)
    run.figure(cm.plot(data="test"), "confusion_matrix", "Confusion matrix of the best run's "
               "network on the test digits, predicted against true class")
    results = {
        "headline": headline("accuracy", cm.accuracy, float(cm.overall["AccuracyLower"]),
                             float(cm.overall["AccuracyUpper"])),
        "best_run": str(best["run_dir"]), "n_runs": len(runs),
        "best_flags": {c[5:]: best[c] for c in best.index if c.startswith("flag_")},
        "best_val_loss": float(best["metric_val_loss"]), "fit_seconds": timer.seconds,
    }
    run.record(results, evaluation={**with_interval("accuracy", cm.accuracy,
                                                    cm.overall["AccuracyLower"],
                                                    cm.overall["AccuracyUpper"]),
                                    "kappa": cm.kappa,
                                    "best_val_loss": float(best["metric_val_loss"])})
    return results
