"""Lab ``hitters-nn``: a single-hidden-layer network for log salary (course "Fitting in R").

Design matrix of ``Salary ~ . - 1`` (dummies for League, Division, NewLeague), scaled; response
log(Salary); the course's 30% test split (R's ``set.seed(1001); sample(1:n, round(0.3 n))``,
reproduced exactly by ``statdl.labs._rsample``). Dense(64, relu) + Dense(1), RMSprop, MSE loss, MAE metric.
The same split also fits a linear regression (least squares) and a lasso (coordinate descent,
lambda chosen by 10-fold cross-validation), compared with the network by paired tests.
"""

from __future__ import annotations

import argparse

import numpy as np

import statdl as sd
from statdl import layers as L

from ._common import Timer, headline, with_interval
from ._rsample import r_sample

COURSE_MSE, COURSE_MAE, TARGET_MSE = 0.3527897, 0.4151273, 0.36


def least_squares(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Intercept and slopes of the linear regression of ``y`` on ``x`` (numpy lstsq)."""
    design = np.column_stack([np.ones(len(x)), x])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    return float(coef[0]), coef[1:]


def lasso_path(x: np.ndarray, y: np.ndarray, lams: np.ndarray,
               n_iter: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Lasso fits for every lambda in ``lams`` at once, by accelerated proximal gradient (FISTA).

    Minimises ``mean((y - b0 - x b)^2) / 2 + lam * sum|b|`` (glmnet's objective, ``alpha = 1``)
    on centred data; every step is one small matrix product for all lambdas together.

    Returns
    -------
    (intercepts, slopes)
        Arrays of shape ``(len(lams),)`` and ``(len(lams), p)``.
    """
    xm, ym = x.mean(0), y.mean()
    xc = x - xm
    n, p = x.shape
    gram = xc.T @ xc / n
    cov = (xc.T @ (y - ym) / n)[:, None]
    step = 1.0 / max(np.linalg.eigvalsh(gram).max(), 1e-12)
    thresh = step * np.asarray(lams, dtype=float)[None, :]
    beta = np.zeros((p, len(lams)))
    z, t = beta.copy(), 1.0
    for _ in range(n_iter):
        g = z - step * (gram @ z - cov)
        new = np.sign(g) * np.maximum(np.abs(g) - thresh, 0.0)
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        z = new + (t - 1) / t_new * (new - beta)
        beta, t = new, t_new
    return ym - beta.T @ xm, beta.T


def lasso(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[float, np.ndarray]:
    """Lasso fit at one ``lam`` (see :func:`lasso_path`).

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(50, 3))
    >>> b0, b = lasso(x, x[:, 0] * 2.0, lam=1e9)
    >>> bool(np.all(b == 0))
    True
    """
    b0, b = lasso_path(x, y, np.array([lam]))
    return float(b0[0]), b[0]


def lasso_cv(x: np.ndarray, y: np.ndarray, folds: int = 10, n_lambda: int = 60,
             seed: int = 1) -> tuple[float, np.ndarray]:
    """Cross-validated lasso: the lambda of glmnet's path with the least mean CV error.

    Returns
    -------
    (lambda, cv_error)
    """
    xc = x - x.mean(0)
    lam_max = np.abs(xc.T @ (y - y.mean())).max() / len(y)
    lams = lam_max * np.logspace(0, -3, n_lambda)
    fold = np.random.default_rng(seed).permutation(len(y)) % folds
    errors = np.zeros((folds, n_lambda))
    for k in range(folds):
        tr, te = fold != k, fold == k
        b0, b = lasso_path(x[tr], y[tr], lams)
        errors[k] = np.mean((y[te][:, None] - b0[None, :] - x[te] @ b.T) ** 2, axis=0)
    cv = errors.mean(0)
    return float(lams[int(np.argmin(cv))]), cv


def run(args: argparse.Namespace, run) -> dict:
    """Train the Hitters network, report test MSE/MAE with intervals, compare with lm and lasso."""
    x, y = sd.datasets.hitters(response="log_salary")
    x = np.asarray(sd.scale(x).x, dtype="float32")            # the course scales, then splits
    y = np.asarray(y, dtype="float32")
    n = len(y)
    test = np.array(r_sample(n, round(n * 0.3), args.seed)) - 1   # R: set.seed; sample(1:n, ...)
    train = np.setdiff1d(np.arange(n), test)
    x_train, y_train, x_test, y_test = x[train], y[train], x[test], y[test]
    print(f"Hitters: {len(x_train)} training and {len(x_test)} test players, "
          f"{x_train.shape[1]} predictors (model.matrix, scaled), response log(Salary).")

    model = sd.Sequential([L.Dense(64, activation="relu"), L.Dense(1)],
                          input_shape=(x_train.shape[1],), name="hitters_nn")
    model.summary()
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"], device=args.device)
    timer = Timer()
    with timer:
        history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=32,
                            validation_data=(x_test, y_test), verbose=args.verbose)
        pred = model.predict(x_test)[:, 0]
    report = sd.regression_report(y_test, pred, seed=args.seed)
    print(f"\nNeural network, test set (course: MSE {COURSE_MSE:.3f}, MAE {COURSE_MAE:.3f}):")
    print(report)

    b0, b = least_squares(x_train, y_train)
    pred_lm = b0 + x_test @ b
    lam, _ = lasso_cv(x_train.astype(float), y_train.astype(float), seed=args.seed)
    l0, lb = lasso(x_train.astype(float), y_train.astype(float), lam)
    pred_lasso = l0 + x_test @ lb
    others = {"linear regression": pred_lm, f"lasso (lambda {lam:.4g}, {int((lb != 0).sum())} "
              "predictors)": pred_lasso}
    print("\nOn the same split:")
    for name, p in others.items():
        print(f"  {name}: test MSE {np.mean((y_test - p) ** 2):.4f}, "
              f"MAE {np.mean(np.abs(y_test - p)):.4f}")
    print("\nNetwork vs linear regression:")
    print(sd.compare_regressors(y_test, pred, pred_lm, names=("network", "linear")))
    print("\nNetwork vs lasso:")
    print(sd.compare_regressors(y_test, pred, pred_lasso, names=("network", "lasso")))

    run.figure(sd.plot_history(history), "history", "Loss (MSE) and MAE per epoch on the "
               "training players and on the test players (the course's validation data)")
    run.figure(sd.plot_predictions(y_test, pred, title="Hitters: predicted vs observed "
                                   "log(Salary), test set"), "predicted_vs_observed",
               f"The network's predicted against the observed log(Salary) of the {len(y_test)} "
               "test players")
    table = report.to_frame()
    evaluation: dict = {}
    for name, row in table.iterrows():               # MSE, RMSE, MAE, R-squared, as printed
        key = str(name).lower().replace("-", "_")
        evaluation.update(with_interval(key, row["estimate"], row["lower"], row["upper"]))
    results = {
        "headline": headline("MSE", report["MSE"], float(table.loc["MSE", "lower"]),
                             float(table.loc["MSE", "upper"]), COURSE_MSE, TARGET_MSE,
                             higher_is_better=False),
        "network": table.to_dict(orient="index"),
        "linear_regression": {"MSE": float(np.mean((y_test - pred_lm) ** 2)),
                              "MAE": float(np.mean(np.abs(y_test - pred_lm)))},
        "lasso": {"lambda": lam, "MSE": float(np.mean((y_test - pred_lasso) ** 2)),
                  "MAE": float(np.mean(np.abs(y_test - pred_lasso))),
                  "nonzero": int((lb != 0).sum())},
        "fit_seconds": timer.seconds,
    }
    run.record(results, history=history, model=model, evaluation=evaluation)
    return results
