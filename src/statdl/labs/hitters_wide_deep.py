"""Lab ``hitters-wide-deep``: a two-input graph model for log salary, against the course's network.

The course's ``hitters-nn`` network sees the 20 columns of ``model.matrix(Salary ~ . - 1)``
(the 16 numeric columns and the 0/1 dummies of League, Division and NewLeague), scaled. The
wide-and-deep model built here with ``statdl.Input`` / ``statdl.Model`` takes them apart:

- the 16 numeric columns, scaled as the course scales them, into ``Dense(64, relu)``;
- the three categorical columns as integer codes (League A/N -> 0/1, Division E/W -> 2/3,
  NewLeague A/N -> 4/5: one id space) through ``Embedding(6, 2)`` and ``Flatten``: each level
  gets two learnt coordinates instead of a scaled dummy;
- both branches concatenated into ``Dense(1)``.

Both models train on the course's split (R's ``set.seed(1001); sample(1:n, round(0.3 n))``) with
the course's settings (RMSprop, MSE, batch 32, 200 epochs) and are compared on the same test
players with :func:`statdl.compare_regressors` (paired t and Wilcoxon tests).
"""

from __future__ import annotations

import argparse

import numpy as np

import statdl as sd
from statdl import layers as L

from ._common import Timer, headline, with_interval
from ._rsample import r_sample

CATEGORICAL = ("League", "Division", "NewLeague")
# model.matrix dummies of each categorical column (1 = the second level)
DUMMY = {"League": "LeagueN", "Division": "DivisionW", "NewLeague": "NewLeagueN"}


def hitters_parts(seed: int) -> dict[str, np.ndarray]:
    """The course's design (scaled), the numeric part, the categorical codes, and the split.

    Returns a dict with ``x`` (263, 20) scaled as the course scales it, ``numeric`` (263, 16)
    (the same scaled numeric columns), ``codes`` (263, 3) int64 in ``0..5`` (League 0/1,
    Division 2/3, NewLeague 4/5), ``y`` (log salary) and the ``train`` / ``test`` rows.
    """
    raw, y = sd.datasets.hitters(response="log_salary")
    x = sd.scale(raw).x
    numeric_cols = [c for c in raw.columns if c not in ("LeagueA", *DUMMY.values())]
    codes = np.column_stack([raw[DUMMY[c]].to_numpy().astype(np.int64) + 2 * i
                             for i, c in enumerate(CATEGORICAL)])
    n = len(y)
    test = np.array(r_sample(n, round(n * 0.3), seed)) - 1        # R: set.seed; sample(1:n, ...)
    return {"x": np.asarray(x, dtype="float32"),
            "numeric": np.asarray(x[numeric_cols], dtype="float32"),
            "codes": codes, "y": np.asarray(y, dtype="float32"),
            "train": np.setdiff1d(np.arange(n), test), "test": test}


def wide_and_deep(n_numeric: int = 16, n_levels: int = 6, embed_dim: int = 2) -> sd.Model:
    """Numeric columns into Dense(64, relu), categorical codes through an Embedding, concatenated.

    Examples
    --------
    >>> m = wide_and_deep()
    >>> m.input_names, m.count_params()     # 16*64+64, 6*2, (64+6)*1+1
    (['numeric', 'categorical'], 1171)
    """
    numeric = sd.Input((n_numeric,), name="numeric")
    categorical = sd.Input((len(CATEGORICAL),), dtype="int64", name="categorical")
    deep = L.Dense(64, activation="relu", name="deep")(numeric)
    embedded = L.Flatten(name="flatten")(L.Embedding(n_levels, embed_dim, name="embedding")(
        categorical))
    merged = L.Concatenate(name="concatenate")([deep, embedded])
    return sd.Model([numeric, categorical], L.Dense(1, name="salary")(merged),
                    name="hitters_wide_deep")


def course_network(n_features: int = 20) -> sd.Sequential:
    """The course's ``hitters-nn`` network: Dense(64, relu) + Dense(1) on all 20 columns."""
    return sd.Sequential([L.Dense(64, activation="relu"), L.Dense(1)],
                         input_shape=(n_features,), name="hitters_nn")


def _fit_predict(model, x_train, y_train, x_test, y_test, args, timer: Timer):
    model.summary()
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"], device=args.device)
    with timer:
        history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=32,
                            validation_data=(x_test, y_test), verbose=args.verbose)
        pred = model.predict(x_test)[:, 0]
    return history, pred


def run(args: argparse.Namespace, run) -> dict:
    """Train both models on the course's split; test MSE of each and their paired comparison."""
    d = hitters_parts(args.seed)
    tr, te = d["train"], d["test"]
    y_train, y_test = d["y"][tr], d["y"][te]
    print(f"Hitters: {len(tr)} training and {len(te)} test players; numeric branch "
          f"{d['numeric'].shape[1]} columns, categorical branch {', '.join(CATEGORICAL)}.")
    timer = Timer()
    print("\n=== wide-and-deep (functional, two inputs) ===")
    wd = wide_and_deep(d["numeric"].shape[1])
    wd_history, pred_wd = _fit_predict(
        wd, [d["numeric"][tr], d["codes"][tr]], y_train, [d["numeric"][te], d["codes"][te]],
        y_test, args, timer)
    print("\n=== the course's network (Sequential, 20 columns) ===")
    sd.set_seed(args.seed)                      # the same seed for both models' weights
    seq = course_network(d["x"].shape[1])
    seq_history, pred_seq = _fit_predict(seq, d["x"][tr], y_train, d["x"][te], y_test, args,
                                         timer)
    report = sd.regression_report(y_test, pred_wd, seed=args.seed)
    print("\nWide-and-deep, test set:")
    print(report)
    mse_seq = float(np.mean((y_test - pred_seq) ** 2))
    print(f"Course's network, test set: MSE {mse_seq:.4f}, "
          f"MAE {float(np.mean(np.abs(y_test - pred_seq))):.4f}")
    comparison = sd.compare_regressors(y_test, pred_wd, pred_seq,
                                       names=("wide-and-deep", "sequential"))
    print("\nWide-and-deep vs the course's network, same test players:")
    print(comparison)

    run.figure(sd.plot_history(wd_history), "history", "Wide-and-deep model: loss (MSE) and "
               "MAE per epoch on the training players and on the test players")
    run.figure(sd.plot_predictions(y_test, pred_wd, title="Hitters wide-and-deep: predicted vs "
                                   "observed log(Salary), test set"), "predicted_vs_observed",
               f"The wide-and-deep model's predicted against the observed log(Salary) of the "
               f"{len(y_test)} test players")
    table = report.to_frame()
    evaluation: dict = {"sequential_mse": mse_seq}
    for name, row in table.iterrows():
        key = str(name).lower().replace("-", "_")
        evaluation.update(with_interval(key, row["estimate"], row["lower"], row["upper"]))
    results = {
        "headline": headline("MSE", report["MSE"], float(table.loc["MSE", "lower"]),
                             float(table.loc["MSE", "upper"]), higher_is_better=False),
        "wide_and_deep": table.to_dict(orient="index"),
        "sequential": {"MSE": mse_seq, "MAE": float(np.mean(np.abs(y_test - pred_seq)))},
        "comparison": comparison.table.to_dict(orient="index"),
        "params": {"wide_and_deep": wd.count_params(), "sequential": seq.count_params()},
        "fit_seconds": timer.seconds,
    }
    results["sequential"]["final_val_loss"] = seq_history.history["val_loss"][-1]
    run.record(results, history=wd_history, model=wd, evaluation=evaluation)
    return results
