"""Lab ``hitters-cv``: the course's Hitters network resampled, compared and explained (#16).

1. Repeated 10-fold cross-validation of the network (Dense(64, relu) + Dense(1), RMSprop, MSE,
   batch 32) on all 263 players, against least squares and the lasso (lambda chosen by 10-fold
   CV inside each fold's training rows) on the same folds: caret's ``resamples`` table, a dot
   plot and a box plot of the fold RMSEs, paired differences with caret's t-test and the
   Nadeau-Bengio corrected resampled t-test.
2. The network fitted on the players outside the course's 30% test split (two thirds fit,
   one third calibration), then split-conformal 90% intervals for the test players with their
   coverage, permutation importance (League, Division, NewLeague dummies permuted as one
   variable) and partial dependence of the top variables (``labs._inference``).
"""

from __future__ import annotations

import argparse

import numpy as np

import statdl as sd
from statdl import layers as L

from ..resampling import cross_validate, make_folds, resamples
from ._common import headline, with_interval
from ._inference import inference_section
from ._rsample import r_sample
from .hitters import lasso, lasso_cv, least_squares

FOLDS, REPEATS, QUICK_REPEATS = 10, 3, 1


class LinearRegression:
    """Least squares with an intercept, as a model ``cross_validate`` can resample."""

    def fit(self, x, y, **kwargs):
        self.b0, self.b = least_squares(np.asarray(x, float), np.asarray(y, float))

    def predict(self, x):
        return self.b0 + np.asarray(x, float) @ self.b


class Lasso:
    """The lasso with lambda chosen by 10-fold CV on the rows it is fitted on (nested CV)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def fit(self, x, y, **kwargs):
        x, y = np.asarray(x, float), np.asarray(y, float)
        self.lam, _ = lasso_cv(x, y, seed=self.seed)
        self.b0, self.b = lasso(x, y, self.lam)

    def predict(self, x):
        return self.b0 + np.asarray(x, float) @ self.b


def _network(n_in: int, device: str):
    model = sd.Sequential([L.Dense(64, activation="relu"), L.Dense(1)], input_shape=(n_in,),
                          name="hitters_nn")
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"], device=device)
    return model


def _n_jobs(device: str) -> int:
    """Folds at once: one per core (each a one-thread process, best for this tiny network;
    see the ``threads`` of the hitters labs), one on a GPU."""
    if device != "cpu" and sd.utils.resolve_device(device).type != "cpu":
        return 1
    return max(1, min(4, sd.threads.available_cores()))


def run(args: argparse.Namespace, run) -> dict:
    """Resample the network, linear regression and the lasso; then intervals and importance."""
    x_df, y = sd.datasets.hitters(response="log_salary", standardize=True)
    x = np.asarray(x_df, dtype="float32")
    y = np.asarray(y, dtype="float32")
    n = len(y)
    repeats = QUICK_REPEATS if args.quick else REPEATS
    folds = make_folds(n, folds=FOLDS, repeats=repeats, seed=args.seed)
    jobs = _n_jobs(args.device)
    print(f"Hitters: {n} players, {x.shape[1]} predictors (model.matrix, scaled), response "
          f"log(Salary); {folds.description}, {jobs} folds at a time.")

    nn = cross_validate(lambda: _network(x.shape[1], args.device), x, y, folds=folds,
                        seed=args.seed, fit=dict(epochs=args.epochs, batch_size=32),
                        n_jobs=jobs, threads_per_job=1 if jobs > 1 else None)
    lm = cross_validate(LinearRegression, x, y, folds=folds, n_jobs=jobs)
    la = cross_validate(lambda: Lasso(args.seed), x, y, folds=folds, n_jobs=jobs)
    print(f"\nNeural network, {args.epochs} epochs per fold:")
    print(nn)
    res = resamples({"network": nn, "linear": lm, "lasso": la})
    print()
    print(res.summary())
    diff = res.diff()
    print(diff)
    run.figure(res.plot_dot(metric=["RMSE", "Rsquared"]), "resamples_dot",
               f"mean RMSE and R-squared of each model over the {len(folds)} resamples with "
               "95% corrected resampled t intervals (Nadeau-Bengio); grey: each resample")
    run.figure(res.plot_box(metric=["RMSE", "Rsquared"]), "resamples_box",
               f"RMSE and R-squared of each model on the {len(folds)} resamples (same folds)")

    # the network once more, for intervals and importance on the course's test players
    test = np.array(r_sample(n, round(n * 0.3), args.seed)) - 1
    rest = np.random.default_rng(args.seed).permutation(np.setdiff1d(np.arange(n), test))
    cal, fit_rows = rest[:len(rest) // 3], rest[len(rest) // 3:]
    sd.set_seed(args.seed)
    model = _network(x.shape[1], args.device)
    model.fit(x[fit_rows], y[fit_rows], epochs=args.epochs, batch_size=32, verbose=0)
    print(f"\nThe network refitted on {len(fit_rows)} players; {len(cal)} calibrate the "
          f"conformal intervals of the course's {len(test)} test players.")
    inference = inference_section(run, model, calibration=(x_df.iloc[cal], y[cal]),
                                  test=(x_df.iloc[test], y[test]), data=sd.datasets.hitters(),
                                  level=0.9, top=3, seed=args.seed)

    summaries = {name: r.summary() for name, r in res.results.items()}
    s = summaries["network"].loc["RMSE"]
    evaluation: dict = {}
    for name, table in summaries.items():
        for metric in ("RMSE", "Rsquared", "MAE"):
            row = table.loc[metric]
            evaluation.update(with_interval(f"{name}_cv_{metric.lower()}", row["mean"],
                                            row["lower"], row["upper"]))
    results = {
        "headline": headline("CV RMSE", s["mean"], float(s["lower"]), float(s["upper"]),
                             higher_is_better=False),
        "resampling": folds.description,
        "cv": {name: table.to_dict(orient="index") for name, table in summaries.items()},
        "differences": diff.table.to_dict(orient="records"),
        "cv_seconds_network": float(nn.table["seconds"].sum()),
        "inference": inference,
    }
    run.record(results, model=model, evaluation=evaluation)
    return results
