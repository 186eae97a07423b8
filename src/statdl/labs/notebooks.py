"""The labs as Jupyter notebooks: ``statdl lab NAME --notebook PATH``, ``statdl notebooks DIR``.

Each notebook is the worked example written with statdl's public API, as a student would write
it (never a call into ``statdl.labs``): the lab's prose, a parameter cell tagged
``parameters`` (quick-sized settings that papermill or an edit can override), then the data,
the model, training, the statistics and the figures, and a last cell whose value is a dict of
the headline figures. Those figures are the lab's own at the same settings:
``tests/test_notebooks.py`` executes every notebook in a Jupyter kernel and compares them with
``run_lab``.

nbformat is an optional extra (``pip install statdl[jupyter]``); it is imported only when a
notebook is written.

Examples
--------
>>> "hitters-nn" in NOTEBOOKS
True
"""

from __future__ import annotations

import importlib
import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..validation import message
from ._registry import LABS, Lab, get_lab

__all__ = ["NOTEBOOKS", "CHECKS", "notebook", "write_notebook", "write_notebooks",
           "not_expressed"]

Cell = tuple[str, str]  # ("markdown" | "code", source)


def md(text: str) -> Cell:
    return ("markdown", textwrap.dedent(text).strip())


def code(text: str, **subs: str) -> Cell:
    """A code cell; ``$name`` is replaced by ``subs[name]``, whose further lines take the
    indentation of the line the name is on."""
    lines = []
    for line in textwrap.dedent(text).strip().splitlines():
        indent = line[:len(line) - len(line.lstrip())]
        for key, value in subs.items():
            line = line.replace(f"${key}", str(value).replace("\n", "\n" + indent))
        lines.append(line)
    return ("code", "\n".join(lines))


# ------------------------------------------------------------------ shared cells
def _parameters(lab: Lab, **extra: Any) -> Cell:
    lines = [
        "# Parameters (this cell is tagged `parameters`: papermill or an edit overrides them).",
        f"epochs = {lab.quick_epochs}  # quick-sized; the course: {lab.epochs}",
        "seed = 1001",
        "quick = True  # True: a small subset (the MNIST sample shipped with statdl); "
        "False: all the data",
        f"threads = {lab.threads!r}  # torch threads; None follows the cores other "
        "processes leave free",
        'device = "auto"',
        "verbose = 1  # 0 silent, 1 progress bar, 2 one line per epoch",
        "data_dir = None  # folder with the data (mnist/, aclImdb...); default "
        "$STATDL_DATA or the cache",
    ]
    lines += [f"{name} = {value!r}" for name, value in extra.items()]
    return ("code", "\n".join(lines))


SETUP = code("""
    import os

    import numpy as np

    import statdl as sd
    from statdl import layers as L

    if data_dir is not None:
        os.environ["STATDL_DATA"] = os.path.abspath(data_dir)
    if threads:
        sd.set_threads(threads)  # a fixed count, as `statdl lab` does for tiny models
    sd.set_seed(seed)  # the seed of the weights, the shuffles and the splits
""")

MNIST_FLAT = code("""
    if quick:  # 6,000 training and 1,000 test digits, shipped with statdl
        (x_train, y_train), (x_test, y_test) = sd.datasets.mnist_sample()
    else:
        (x_train, y_train), (x_test, y_test) = sd.datasets.mnist()
    x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255
    x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
    y_train, y_test = y_train.astype("int64"), y_test.astype("int64")
    x_train.shape, x_test.shape
""")

MNIST_IMAGE = code(MNIST_FLAT[1].replace("784)", "28, 28, 1)"))

CLASSIFY = code("""
    pred = model.predict_classes(x_test)
    cm = sd.confusion_matrix(pred, y_test)  # caret's confusionMatrix statistics
    cm
""")

CURVES = code("sd.plot_history(history)  # loss and accuracy per epoch, training and validation")


def _intro(lab: Lab, extra: str = "") -> list[Cell]:
    """The title, the lab module's docstring (the course's prose) and where the notebook came
    from."""
    module = importlib.import_module(f"statdl.labs.{lab.module}")
    doc = textwrap.dedent(module.__doc__ or "").strip()
    first, _, rest = doc.partition("\n")
    prose = (first.strip() + "\n" + textwrap.dedent(rest).strip()).replace("``", "`")
    origin = (f"This notebook was written by `statdl lab {lab.name} --notebook`. `statdl lab "
              f"{lab.name}` runs the same example from the command line and records a run "
              "folder (results, figures, an HTML report); at the same settings it prints the "
              "same figures.")
    return [("markdown", f"# Lab `{lab.name}`: {lab.summary}\n\n{prose}"),
            ("markdown", f"{origin} {extra}".strip())]


# ------------------------------------------------------------------ the labs
def _hitters(lab: Lab) -> list[Cell]:
    return [
        *_intro(lab, "The lab also fits a cross-validated lasso on the same split; this "
                     "notebook keeps the network and the linear regression."),
        _parameters(lab),
        SETUP,
        md("""
            ## Data: `Salary ~ . - 1`, scaled, and the course's 30% test split

            `r_sample` draws what R's `set.seed(seed); sample(1:n, round(0.3 * n))` draws.
        """),
        code("""
            from statdl.rsample import r_sample

            x, y = sd.datasets.hitters(response="log_salary")
            x = np.asarray(sd.scale(x).x, dtype="float32")  # the course scales, then splits
            y = np.asarray(y, dtype="float32")
            n = len(y)
            test = r_sample(n, round(n * 0.3), seed=seed) - 1  # R's positions are 1-based
            train = np.setdiff1d(np.arange(n), test)
            x_train, y_train, x_test, y_test = x[train], y[train], x[test], y[test]
            x_train.shape, x_test.shape
        """),
        md("## The network: Dense(64, relu) + Dense(1), RMSprop, MSE loss"),
        code("""
            model = sd.Sequential([L.Dense(64, activation="relu"), L.Dense(1)],
                                  input_shape=(x_train.shape[1],), name="hitters_nn")
            model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"], device=device)
            model
        """),
        code("""
            history = model.fit(x_train, y_train, epochs=epochs, batch_size=32,
                                validation_data=(x_test, y_test), verbose=verbose)
            history
        """),
        md("## Test MSE and MAE, with bootstrap intervals"),
        code("""
            pred = model.predict(x_test)[:, 0]
            report = sd.regression_report(y_test, pred, seed=seed)
            report
        """),
        md("## Against a linear regression on the same split (paired tests)"),
        code("""
            design = np.column_stack([np.ones(len(x_train)), x_train])
            coef = np.linalg.lstsq(design, y_train, rcond=None)[0]
            pred_lm = coef[0] + x_test @ coef[1:]
            sd.compare_regressors(y_test, pred, pred_lm, names=("network", "linear"))
        """),
        code("""
            sd.plot_predictions(y_test, pred,
                                title="Hitters: predicted vs observed log(Salary), test set")
        """),
        md("## The figures this lab is judged by"),
        code("""
            {"MSE": report["MSE"], "MAE": report["MAE"],
             "linear_MSE": float(np.mean((y_test - pred_lm) ** 2))}
        """),
    ]


_HITTERS_SPLIT = code("""
    from statdl.rsample import r_sample

    raw, y = sd.datasets.hitters(response="log_salary")
    x = sd.scale(raw).x  # the course scales, then splits
    y = np.asarray(y, dtype="float32")
    n = len(y)
    test = r_sample(n, round(n * 0.3), seed=seed) - 1  # R's positions are 1-based
    train = np.setdiff1d(np.arange(n), test)
    y_train, y_test = y[train], y[test]
    len(train), len(test)
""")


def _hitters_wide_deep(lab: Lab) -> list[Cell]:
    return [
        *_intro(lab), _parameters(lab), SETUP,
        md("## Data: the numeric columns scaled, the three factors as integer codes"),
        _HITTERS_SPLIT,
        code("""
            dummies = {"League": "LeagueN", "Division": "DivisionW", "NewLeague": "NewLeagueN"}
            numeric = np.asarray(x[[c for c in raw.columns
                                    if c not in ("LeagueA", *dummies.values())]], dtype="float32")
            # one id space: League 0/1, Division 2/3, NewLeague 4/5
            codes = np.column_stack([raw[d].to_numpy().astype("int64") + 2 * i
                                     for i, d in enumerate(dummies.values())])
            numeric.shape, codes[:3]
        """),
        md("## The wide-and-deep model (functional API, two inputs)"),
        code("""
            numeric_in = sd.Input((numeric.shape[1],), name="numeric")
            categorical_in = sd.Input((3,), dtype="int64", name="categorical")
            deep = L.Dense(64, activation="relu", name="deep")(numeric_in)
            embedded = L.Flatten(name="flatten")(
                L.Embedding(6, 2, name="embedding")(categorical_in))
            merged = L.Concatenate(name="concatenate")([deep, embedded])
            wd = sd.Model([numeric_in, categorical_in], L.Dense(1, name="salary")(merged),
                          name="hitters_wide_deep")
            wd.compile(optimizer="rmsprop", loss="mse", metrics=["mae"], device=device)
            wd
        """),
        code("""
            wd_history = wd.fit([numeric[train], codes[train]], y_train, epochs=epochs,
                                batch_size=32, validation_data=([numeric[test], codes[test]], y_test),
                                verbose=verbose)
            pred_wd = wd.predict([numeric[test], codes[test]])[:, 0]
            wd_history
        """),
        md("## The course's network on all 20 columns, from the same seed"),
        code("""
            sd.set_seed(seed)  # the same seed for both models' weights
            seq = sd.Sequential([L.Dense(64, activation="relu"), L.Dense(1)],
                                input_shape=(x.shape[1],), name="hitters_nn")
            seq.compile(optimizer="rmsprop", loss="mse", metrics=["mae"], device=device)
            x32 = np.asarray(x, dtype="float32")
            seq_history = seq.fit(x32[train], y_train, epochs=epochs, batch_size=32,
                                  validation_data=(x32[test], y_test), verbose=verbose)
            pred_seq = seq.predict(x32[test])[:, 0]
        """),
        md("## Test players: the wide-and-deep model, and the two compared"),
        code("""
            report = sd.regression_report(y_test, pred_wd, seed=seed)
            report
        """),
        code("""
            sd.compare_regressors(y_test, pred_wd, pred_seq, names=("wide-and-deep", "sequential"))
        """),
        code("""
            sd.plot_predictions(y_test, pred_wd, title="Hitters wide-and-deep: predicted vs "
                                "observed log(Salary), test set")
        """),
        md("## The figures this lab is judged by"),
        code("""
            {"MSE": report["MSE"], "sequential_MSE": float(np.mean((y_test - pred_seq) ** 2))}
        """),
    ]


def _hitters_cv(lab: Lab) -> list[Cell]:
    return [
        *_intro(lab, "This notebook writes out part 1 for the network and least squares (the "
                     "lab's lasso and its conformal intervals and importance are in "
                     "`statdl lab hitters-cv`); `quick` runs one repeat of the 10 folds."),
        _parameters(lab),
        SETUP,
        md("## Data: all 263 players, the design scaled"),
        code("""
            from statdl.resampling import cross_validate, make_folds, resamples

            x_df, y = sd.datasets.hitters(response="log_salary", standardize=True)
            x = np.asarray(x_df, dtype="float32")
            y = np.asarray(y, dtype="float32")
            folds = make_folds(len(y), folds=10, repeats=1 if quick else 3, seed=seed)
            folds.description
        """),
        md("## The network and least squares on the same folds"),
        code("""
            def network():
                model = sd.Sequential([L.Dense(64, activation="relu"), L.Dense(1)],
                                      input_shape=(x.shape[1],), name="hitters_nn")
                model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"], device=device)
                return model


            class LinearRegression:
                \"\"\"Least squares with an intercept, as a model cross_validate can resample.\"\"\"

                def fit(self, x, y, **kwargs):
                    design = np.column_stack([np.ones(len(x)), np.asarray(x, float)])
                    self.coef = np.linalg.lstsq(design, np.asarray(y, float), rcond=None)[0]

                def predict(self, x):
                    return self.coef[0] + np.asarray(x, float) @ self.coef[1:]


            nn = cross_validate(network, x, y, folds=folds, seed=seed,
                                fit=dict(epochs=epochs, batch_size=32))
            lm = cross_validate(LinearRegression, x, y, folds=folds)
            nn
        """),
        md("## caret's `resamples`: summary, paired differences (corrected t-tests), plots"),
        code("""
            res = resamples({"network": nn, "linear": lm})
            res.summary()
        """),
        code("res.diff()"),
        code('res.plot_dot(metric=["RMSE", "Rsquared"])'),
        md("## The figures this lab is judged by"),
        code("""
            {"network_cv_rmse": float(res.results["network"].summary().loc["RMSE", "mean"]),
             "linear_cv_rmse": float(res.results["linear"].summary().loc["RMSE", "mean"])}
        """),
    ]


_MNIST_LAYERS = {
    "logit": '[L.Dense(10, activation="softmax")]',
    "mlp": '[L.Dense(512, activation="relu"), L.Dense(10, activation="softmax")]',
    "mlp2": ('[L.Dense(512, activation="relu"), L.Dropout(0.4),\n'
             ' L.Dense(256, activation="relu"), L.Dropout(0.3),\n'
             ' L.Dense(10, activation="softmax")]'),
}


def _mnist_fit(kind: str) -> list[Cell]:
    return [
        code("""
            model = sd.Sequential(
                $layers,
                input_shape=(784,), name="mnist_$kind")
            model.compile(optimizer="rmsprop", loss="categorical_crossentropy",
                          metrics=["accuracy"], device=device)
            model
        """, layers=_MNIST_LAYERS[kind], kind=kind),
        code("""
            history = model.fit(x_train, sd.to_categorical(y_train, 10), epochs=epochs,
                                batch_size=128, validation_split=0.2, verbose=verbose)
            history
        """),
    ]


def _mnist_dense(lab: Lab) -> list[Cell]:
    kind = lab.defaults["model"]
    return [
        *_intro(lab, "`--no-dropout` of `mnist-mlp2` is the same network without its "
                     "Dropout layers." if kind == "mlp2" else ""),
        _parameters(lab),
        SETUP,
        md("## Data: digits flattened to 784 values in [0, 1]"),
        MNIST_FLAT,
        md("## The network, trained with RMSprop on one-hot labels, 20% held out for "
           "validation"),
        *_mnist_fit(kind),
        md("## Test digits: caret's statistics"),
        CLASSIFY,
        code("sd.plot_confusion_matrix(cm, data=\"test\")"),
        md("## The figures this lab is judged by"),
        code('{"accuracy": cm.accuracy, "kappa": cm.kappa}'),
    ]


def _mnist_compare(lab: Lab) -> list[Cell]:
    cells = [*_intro(lab), _parameters(lab), SETUP, MNIST_FLAT,
             md("## The three networks, one after the other, on the same digits"),
             code("preds = {}")]
    for kind in ("logit", "mlp", "mlp2"):
        cells += [md(f"### {kind}"), *_mnist_fit(kind),
                  code(f'preds["{kind}"] = model.predict_classes(x_test)\n'
                       f'sd.confusion_matrix(preds["{kind}"], y_test)')]
    cells += [
        md("## Pairwise comparisons on the same test digits (exact McNemar, Newcombe CI)"),
        code("""
            comparisons = {f"{a}_vs_{b}": sd.compare_classifiers(preds[a], preds[b], y_test,
                                                                names=(a, b))
                           for a, b in (("mlp", "logit"), ("mlp2", "logit"), ("mlp2", "mlp"))}
            comparisons["mlp2_vs_mlp"]
        """),
        md("## The figures this lab is judged by"),
        code("""
            {name: c.difference for name, c in comparisons.items()}
        """),
    ]
    return cells


def _mnist_cnn(lab: Lab) -> list[Cell]:
    return [
        *_intro(lab, "The lab's variants (`--padding same`, `--no-pooling`, `--augment`) "
                     "change the layers below in the obvious way."),
        _parameters(lab),
        SETUP,
        md("## Data: digits as 28 x 28 x 1 images in [0, 1]"),
        MNIST_IMAGE,
        md("## The course's convolutional network"),
        code("""
            model = sd.Sequential([
                L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
                L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
                L.Conv2D(64, (3, 3), activation="relu"),
                L.Flatten(),
                L.Dense(512, activation="relu"), L.Dropout(0.4),
                L.Dense(256, activation="relu"), L.Dropout(0.2),
                L.Dense(10, activation="softmax")], input_shape=(28, 28, 1), name="mnist_convnet")
            model.compile(optimizer="rmsprop", loss="categorical_crossentropy",
                          metrics=["accuracy"], device=device)
            model
        """),
        code("""
            history = model.fit(x_train, sd.to_categorical(y_train, 10), epochs=epochs,
                                batch_size=128, validation_split=0.2, verbose=verbose)
            history
        """),
        CLASSIFY,
        md("## What the first convolution learned: its filters, and one digit's feature maps "
           "before and after pooling"),
        code("sd.plot_filters(model, 0)"),
        code("sd.plot_feature_maps(model, x_test[0], 0, pooled_layer=1)"),
        md("## The figures this lab is judged by"),
        code('{"accuracy": cm.accuracy, "kappa": cm.kappa}'),
    ]


def _mnist_uncertainty(lab: Lab) -> list[Cell]:
    return [
        *_intro(lab), _parameters(lab), SETUP,
        md("## Data, and the course's MLP2 (512-256, dropout 0.4/0.3)"),
        MNIST_FLAT,
        code("""
            def network():
                model = sd.Sequential(
                    [L.Dense(512, activation="relu"), L.Dropout(0.4),
                     L.Dense(256, activation="relu"), L.Dropout(0.3),
                     L.Dense(10, activation="softmax")], input_shape=(784,), name="mnist_mlp2")
                model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                              metrics=["accuracy"], device=device)
                return model


            passes, members = (30, 3) if quick else (100, 5)
            model = network()
            history = model.fit(x_train, y_train, epochs=epochs, batch_size=128, verbose=verbose)
            accuracy = float(np.mean(model.predict_classes(x_test) == y_test))
            accuracy
        """),
        md("## MC dropout and a deep ensemble: predictive probabilities and their spread"),
        code("""
            mc = sd.predict_uncertainty(model, x_test, passes=passes, seed=seed)
            ensemble = sd.Ensemble(network, n=members, seeds=[seed + 1 + i for i in range(members)])
            ensemble.fit(x_train, y_train, epochs=epochs, batch_size=128, verbose=0)
            ens = sd.predict_uncertainty(ensemble, x_test, method="ensemble")
            sd.accuracy_by_uncertainty(mc, y_test, bins=5)  # accuracy by fifths of entropy
        """),
        code('sd.plot_accuracy_by_uncertainty(ens, y_test, data="test")'),
        code("""
            worst = np.argsort(-mc["entropy"].to_numpy())[:16]
            sd.plot_images(x_test[worst].reshape(-1, 28, 28),
                           labels=[f"{t} -> {p}" for t, p in
                                   zip(y_test[worst], mc["prediction"].iloc[worst])],
                           title="Most uncertain test digits (MC dropout)")
        """),
        md("## Conformal prediction sets at 90%, calibrated on half of the test digits"),
        code("""
            half = len(x_test) // 2
            calibration = (x_test[:half], y_test[:half])
            coverage = {}
            for method, options in (("lac", {}), ("aps", {"randomize": True, "seed": seed})):
                sets = sd.predict_set(model, x_test[half:], level=0.9, method=method,
                                      calibration=calibration, **options)
                report = sd.coverage_report(sets, y_test[half:])
                print(report)
                coverage[method] = report.coverage
            sd.plot_set_sizes(sets, y_test[half:], data="test")
        """),
        md("The guarantee is about the average over calibration sets: 200 random halvings."),
        code("""
            from statdl.intervals import conformal_sets

            probabilities = model.predict(x_test)
            rng = np.random.default_rng(seed)
            cover = []
            for i in range(200):
                order = rng.permutation(len(y_test))
                cal, test = order[:half], order[half:]
                sets_i, _ = conformal_sets(probabilities[cal], y_test[cal], probabilities[test],
                                           0.9, "lac", randomize=False, seed=seed + i)
                cover.append(sets_i[np.arange(len(test)), y_test[test]].mean())
            lac_coverage_200 = float(np.mean(cover))
            lac_coverage_200
        """),
        md("## What the network looks at: saliency (gradient x input)"),
        code("""
            images = x_test[:8].reshape(-1, 28, 28, 1)
            viewer = sd.Sequential([L.Flatten(), *model.layers], input_shape=(28, 28, 1))
            maps = sd.saliency(viewer, images, kind="gradient_x_input")
            sd.plot_saliency(images, maps, labels=[f"digit {d}" for d in y_test[:8]])
        """),
        md("## The figures this lab is judged by"),
        code("""
            {"test_accuracy": accuracy,
             "mc_dropout_accuracy": float(np.mean(mc["prediction"].to_numpy() == y_test)),
             "ensemble_accuracy": float(np.mean(ens["prediction"].to_numpy() == y_test)),
             "lac_coverage": coverage["lac"], "aps_coverage": coverage["aps"],
             "lac_coverage_200_splits": lac_coverage_200}
        """),
    ]


def _transfer(lab: Lab) -> list[Cell]:
    return [
        *_intro(lab, "The ImageNet path is left out here."),
        _parameters(lab, train_size=1000),
        SETUP,
        md("## Data: MNIST digits to pretrain, a small Fashion-MNIST subset to fine-tune"),
        MNIST_IMAGE,
        code("""
            x_mnist, y_mnist = x_train, y_train
            (x_tr, y_tr), (x_te, y_te) = sd.datasets.fashion_mnist()
            x_tr = x_tr.reshape(-1, 28, 28, 1).astype("float32") / 255
            x_te = x_te.reshape(-1, 28, 28, 1).astype("float32") / 255
            y_tr, y_te = y_tr.astype("int64"), y_te.astype("int64")
            keep = np.random.default_rng(seed).choice(len(x_tr), train_size, replace=False)
            x_small, y_small = x_tr[keep], y_tr[keep]
            if quick:
                x_te, y_te = x_te[:2000], y_te[:2000]
            x_small.shape, x_te.shape
        """),
        code("""
            def cnn():
                return sd.Sequential([
                    L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
                    L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
                    L.Conv2D(64, (3, 3), activation="relu"),
                    L.Flatten(),
                    L.Dense(512, activation="relu"), L.Dropout(0.4),
                    L.Dense(256, activation="relu"), L.Dropout(0.2),
                    L.Dense(10, activation="softmax")], input_shape=(28, 28, 1),
                    name="mnist_convnet")


            def fit(model, x, y, epochs):
                model.compile(optimizer="rmsprop", loss="categorical_crossentropy",
                              metrics=["accuracy"], device=device)
                return model.fit(x, sd.to_categorical(y, 10), epochs=epochs, batch_size=128,
                                 validation_split=0.2, verbose=verbose)
        """),
        md("## 1. The CNN trained on MNIST digits; 2. its convolutions frozen, the dense head "
           "fine-tuned on Fashion-MNIST"),
        code("""
            pretrained = cnn()
            fit(pretrained, x_mnist, y_mnist, epochs)
            flatten = next(i for i, layer in enumerate(pretrained.layers)
                           if isinstance(layer, L.Flatten))
            pretrained.freeze(up_to=flatten)
            history_ft = fit(pretrained, x_small, y_small, max(epochs, 5))
            pretrained
        """),
        md("## 3. The same network from scratch on the subset, and the two compared"),
        code("""
            scratch = cnn()
            history_sc = fit(scratch, x_small, y_small, max(epochs, 5))
            pred_ft, pred_sc = pretrained.predict_classes(x_te), scratch.predict_classes(x_te)
            cmp = sd.compare_classifiers(pred_ft, pred_sc, y_te, names=("fine-tuned", "scratch"))
            cmp
        """),
        md("## The figures this lab is judged by"),
        code("""
            {"accuracy": float(np.mean(pred_ft == y_te)),
             "scratch_accuracy": float(np.mean(pred_sc == y_te)), "difference": cmp.difference}
        """),
    ]


def _vae_keras(lab: Lab) -> list[Cell]:
    return [
        *_intro(lab), _parameters(lab), SETUP, MNIST_FLAT,
        md("## The example's `Sampling` layer and `VAE` model subclass"),
        code("""
            import torch


            class Sampling(L.Layer):
                \"\"\"z = z_mean + exp(z_log_var / 2) * eps; the mean outside training.\"\"\"

                def call(self, inputs, training=None):
                    z_mean, z_log_var = inputs
                    if not training:
                        return z_mean
                    return z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)


            def vae_losses(encoder, decoder, data):
                z_mean, z_log_var, z = encoder(data)
                reconstruction_loss = (data - decoder(z)).square().mean()
                kl = -0.5 * (1 + z_log_var - z_mean.square() - torch.exp(z_log_var))
                return reconstruction_loss, kl.sum(dim=1).mean()


            class VAE(sd.Model):
                \"\"\"train_step returns the losses to log (loss = reconstruction + KL / 784).\"\"\"

                def __init__(self, encoder, decoder, **kwargs):
                    super().__init__(**kwargs)
                    self.encoder, self.decoder = encoder, decoder
                    self.kl_weight = 1.0 / encoder.inputs[0].shape[0]

                def train_step(self, data):
                    reconstruction_loss, kl_loss = vae_losses(self.encoder, self.decoder, data)
                    return {"loss": reconstruction_loss + self.kl_weight * kl_loss,
                            "reconstruction_loss": reconstruction_loss, "kl_loss": kl_loss}

                def reconstruct(self, x):
                    return self.decoder.predict(self.encoder.predict(x)[0])
        """),
        md("## Encoder (three outputs) and decoder models"),
        code("""
            encoder_inputs = sd.Input((784,), name="encoder_input")
            h = L.Dense(256, activation="relu", name="encoder_hidden")(encoder_inputs)
            z_mean = L.Dense(2, name="z_mean")(h)
            z_log_var = L.Dense(2, name="z_log_var")(h)
            z = Sampling(name="z")([z_mean, z_log_var])
            encoder = sd.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
            latent_inputs = sd.Input((2,), name="z_sampling")
            h = L.Dense(256, activation="relu", name="decoder_hidden")(latent_inputs)
            decoder_outputs = L.Dense(784, activation="sigmoid", name="decoder_output")(h)
            decoder = sd.Model(latent_inputs, decoder_outputs, name="decoder")
            encoder
        """),
        code("""
            vae = VAE(encoder, decoder, name="vae")
            vae.compile(optimizer="adam", device=device)
            history = vae.fit(x_train, epochs=epochs, batch_size=256, verbose=verbose)
            history
        """),
        md("## The same model from `statdl.autoencoders` (the `mnist-vae` lab), same seed"),
        code("""
            from statdl.autoencoders import Autoencoder

            sd.set_seed(seed)
            ae = Autoencoder(784, 2, hidden=(256,), activation="relu", variational=True,
                             output_activation="sigmoid")
            ae.compile(optimizer="adam", loss="mse", device=device)
            ae_history = ae.fit(x_train, epochs=epochs, batch_size=256, verbose=verbose)
        """),
        md("## Test reconstructions, and digits generated from N(0, I) codings"),
        code("""
            mse = float(((x_test - vae.reconstruct(x_test)) ** 2).mean())
            ae_mse = float(((x_test - ae.reconstruct(x_test).reshape(x_test.shape)) ** 2).mean())
            z = np.random.default_rng(seed).standard_normal((16, 2)).astype("float32")
            sd.plot_images(decoder.predict(z), ncol=8, title="Digits generated from N(0, I) codings")
        """),
        md("## The figures this lab is judged by"),
        code("""
            {"keras_style_mse": mse, "statdl_autoencoders_mse": ae_mse,
             "final_loss": history.history["loss"][-1]}
        """),
    ]


def _mnist_tune(lab: Lab) -> list[Cell]:
    script = (Path(__file__).with_name("mnist_tune_script.py").read_text()
              .replace("run by ``statdl lab mnist-tune`` (or by\n``statdl tune "
                       "src/statdl/labs/mnist_tune_script.py", "run by the cells below (or "
                       "by\n``statdl tune mnistnn.py"))
    return [
        *_intro(lab), _parameters(lab, sample=0.05),
        SETUP,
        md("## The training script (the course's `mnistnn.R`), saved next to the notebook"),
        ("code", "%%writefile mnistnn.py\n" + script.strip()),
        md("## The grid, a random sample of it, one run of the script per combination"),
        code("""
            import tempfile

            from statdl.tuning import best_run, evaluate_best, tuning_run

            grid = {"nodes1": [64, 128, 256], "nodes2": [64, 128, 256],
                    "dropout1": [0.2, 0.3, 0.4], "dropout2": [0.2, 0.3, 0.4],
                    "optimizer": ["rmsprop", "adam"], "lr_annealing": [0.1, 0.05],
                    "epochs": [epochs], "quick": [bool(quick)], "seed": [seed]}
            runs_dir = tempfile.mkdtemp(prefix="mnist-tune-", dir=".")  # a fresh folder per run
            runs = tuning_run("mnistnn.py", flags=grid, sample=min(sample, 0.01) if quick else sample,
                              seed=seed, runs_dir=runs_dir)
            runs.sort_values("metric_val_loss")[["metric_val_loss", "metric_val_accuracy",
                                                 "flag_nodes1", "flag_nodes2", "flag_dropout1",
                                                 "flag_dropout2", "flag_optimizer",
                                                 "flag_lr_annealing"]]
        """),
        md("## The best run by validation loss, evaluated once on the test digits"),
        code("""
            best = best_run(runs_dir, "val_loss", "min")
            if quick:
                (_, _), (x_test, y_test) = sd.datasets.mnist_sample()
            else:
                (_, _), (x_test, y_test) = sd.datasets.mnist()
            x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255
            y_test = y_test.astype("int64")
            evaluate_best(runs_dir, x_test, sd.to_categorical(y_test, 10), force=True)
            model = sd.load_model(os.path.join(best["run_dir"], "model.statdl"))
            cm = sd.confusion_matrix(model.predict_classes(x_test), y_test)
            cm
        """),
        md("## The figures this lab is judged by"),
        code("""
            {"accuracy": cm.accuracy, "n_runs": len(runs),
             "best_val_loss": float(best["metric_val_loss"])}
        """),
    ]


_NYSE_DATA = code("""
    import pandas as pd

    from statdl.timeseries import chronological_split, lag_matrix, windows

    columns, lags = ["DJ_return", "log_volume", "log_volatility"], 5
    nyse = sd.datasets.islp("NYSE")  # the ISLP package, or NYSE.csv under $STATDL_DATA/islp
    z = sd.scale(nyse[columns]).x  # the whole series, as R's scale()
    x, y = lag_matrix(z, lags=lags, columns=columns, response="log_volume")
    day = pd.get_dummies(nyse["day_of_week"].iloc[lags:], dtype=float)  # mon ... fri
    train = nyse["train"].to_numpy()[lags:]  # R: istrain[-(1:5)]
    w = windows(z, lags=lags, columns=columns)  # (days, 5 lags, 3 series), as Keras's RNNs
    x, y = x.to_numpy(), y.to_numpy(dtype=float)
    y_test = y[~train]
    x.shape, w.shape, int(train.sum()), int((~train).sum())
""")

_NYSE_R2 = code("""
    def r2(y, pred):
        \"\"\"Test R-squared as ISLR2 computes it: 1 - mean((pred - y)^2) / var(y), R's var.\"\"\"
        y, pred = np.asarray(y, float), np.asarray(pred, float).reshape(-1)
        return float(1 - np.mean((pred - y) ** 2) / np.var(y, ddof=1))


    def least_squares_predict(x, y, train):
        design = np.column_stack([np.ones(len(x)), x])
        coef = np.linalg.lstsq(design[train], y[train], rcond=None)[0]
        return design[~train] @ coef
""")


def _nyse(lab: Lab) -> list[Cell]:
    cells = [*_intro(lab, "`sd.regression_report(y_test, pred)` gives the bootstrap intervals "
                          "(its R-squared uses the denominator n, as ISLP's `score()`)."),
             _parameters(lab), SETUP,
             md("## Data: five lags of the three standardized series; the book's training days"),
             _NYSE_DATA, _NYSE_R2]
    kind = lab.name
    if kind == "nyse-ar":
        cells += [
            md("## Linear AR(5) by least squares, without and with `day_of_week`"),
            code("""
                pred = least_squares_predict(x, y, train)
                # R's lm on the factor: an intercept and 4 dummies (the first level is the baseline)
                pred_day = least_squares_predict(np.column_stack([x, day.to_numpy()[:, 1:]]), y,
                                                 train)
                sd.regression_report(y_test, pred_day, seed=seed)
            """),
            md("## The figures this lab is judged by (the book: 0.413 and 0.460)"),
            code('{"linear": r2(y_test, pred), "linear_day": r2(y_test, pred_day)}'),
        ]
    elif kind == "nyse-rnn":
        cells += [
            md("## SimpleRNN(12) with dropout 0.1 and recurrent dropout 0.1"),
            code("""
                (w_tr, y_tr), (w_te, y_te) = chronological_split(w, y.astype("float32"),
                                                                 train=train)
                model = sd.Sequential([L.SimpleRNN(12, dropout=0.1, recurrent_dropout=0.1),
                                       L.Dense(1)], input_shape=(lags, len(columns)),
                                      name="nyse_rnn")
                model.compile(optimizer="rmsprop", loss="mse", device=device)
                history = model.fit(w_tr, y_tr, epochs=epochs, batch_size=64,
                                    validation_data=(w_te, y_te), verbose=verbose)
                pred = model.predict(w_te)[:, 0]
                history
            """),
            code("sd.regression_report(y_te, pred, seed=seed)"),
            md("## The figures this lab is judged by (the book: about 0.416)"),
            code('{"rnn": r2(y_te, pred), "linear": r2(y_te, least_squares_predict(x, y, train))}'),
        ]
    else:
        cells += [
            md("## The book's nonlinear AR model, and a Conv1D network over the windows"),
            code("""
                flat = np.column_stack([x, day.to_numpy()]).astype("float32")  # model.matrix(~ . - 1)
                (f_tr, y_tr), (f_te, y_te) = chronological_split(flat, y.astype("float32"),
                                                                 train=train)
                (w_tr, _), (w_te, _) = chronological_split(w, y, train=train)
                dense = sd.Sequential([L.Dense(32, activation="relu"), L.Dropout(0.5), L.Dense(1)],
                                      input_shape=(flat.shape[1],), name="nyse_dense")
                conv = sd.Sequential([L.Conv1D(16, 3, activation="relu"), L.Flatten(), L.Dense(1)],
                                     input_shape=(lags, len(columns)), name="nyse_conv1d")
                preds = {}
                for model, (x_tr, x_te), batch in ((dense, (f_tr, f_te), 32),
                                                   (conv, (w_tr, w_te), 64)):
                    model.compile(optimizer="rmsprop", loss="mse", device=device)
                    model.fit(x_tr, y_tr, epochs=epochs, batch_size=batch,
                              validation_data=(x_te, y_te), verbose=verbose)
                    preds[model.name] = model.predict(x_te)[:, 0]
                sd.plot_predictions(y_te, preds["nyse_conv1d"], title="Conv1D, test days")
            """),
            md("## The figures this lab is judged by (the book's nonlinear AR: 0.466 in ISLP)"),
            code('{"conv1d": r2(y_te, preds["nyse_conv1d"]), '
                 '"dense": r2(y_te, preds["nyse_dense"])}'),
        ]
    return cells


_RECONSTRUCTION = code("""
    errors = ((x_test.reshape(len(x_test), -1) - recon.reshape(len(x_test), -1)) ** 2).mean(1)
    mse = float(errors.mean())
    half = 1.96 * float(errors.std(ddof=1)) / np.sqrt(len(errors))
    print(f"Test reconstruction MSE: {mse:.5f} (95% CI {mse - half:.5f}-{mse + half:.5f})")
    sd.plot_reconstructions(x_test[:10], recon[:10], data="test")
""")

_AUTOENCODERS = {
    "stacked": "Autoencoder(784, 64, hidden=(256, 128))  # 784-256-128-64-128-256-784",
    "sparse": "Autoencoder(784, 100, sparsity_l1=1e-5)  # L1 penalty on the codings",
    "contractive": "Autoencoder(784, 100, contractive=1e-4)",
    "variational": ('Autoencoder(784, 2, hidden=(256,), activation="relu", variational=True,\n'
                    '            output_activation="sigmoid")'),
    "convolutional": "ConvAutoencoder((28, 28, 1), filters=(16, 8))",
}


def _mnist_autoencoder(lab: Lab) -> list[Cell]:
    kind = lab.defaults["kind"]
    cells = [*_intro(lab), _parameters(lab), SETUP,
             md("## Data: the digits, without their labels"),
             MNIST_IMAGE if kind == "convolutional" else MNIST_FLAT]
    if kind == "basic":
        cells += [
            md("""
                ## The course's autoencoder, line by line (functional API)

                `en` and `auto_encode` share the encoder's weights: after training
                `auto_encode`, `en.predict` gives the codings.
            """),
            code("""
                input_layer = sd.Input(784)
                encoder = L.Dense(100, activation="tanh")(input_layer)
                en = sd.Model(input_layer, encoder)  # to extract the codings
                decoder = L.Dense(784)(encoder)
                auto_encode = sd.Model(input_layer, decoder)
                auto_encode.compile(loss="mean_squared_error", optimizer="adam", device=device)
                auto_encode
            """),
            code("""
                history = auto_encode.fit(x_train, x_train, epochs=epochs, batch_size=256,
                                          validation_split=0.1, verbose=verbose)
                encoded_imgs = en.predict(x_test)
                encoded_imgs[:10, :5]  # R: encoded_imgs[1:10, 1:5]
            """),
            code("recon = auto_encode.predict(x_test)"),
        ]
    else:
        cells += [
            md("## The autoencoder (`statdl.autoencoders`), Adam, MSE, batch 256"),
            code("""
                from statdl.autoencoders import Autoencoder, ConvAutoencoder

                ae = $builder
                ae.compile(optimizer="adam", loss="mse", device=device)
                ae.summary()
                history = ae.fit(x_train, epochs=epochs, batch_size=256, validation_split=0.1,
                                 verbose=verbose)
            """, builder=_AUTOENCODERS[kind]),
        ]
        if kind != "convolutional":
            cells.append(code("ae.codings(x_test)[:10, :5]  # the first codings"))
        if kind == "variational":
            cells.append(code('sd.plot_images(ae.sample(16, seed=seed), ncol=8, '
                              'title="Digits generated from N(0, I) codings")'))
        cells.append(code("recon = ae.reconstruct(x_test)"))
    cells += [md("## Reconstructions of the test digits"), CURVES, _RECONSTRUCTION,
              md("## The figure this lab is judged by"),
              code('{"reconstruction_mse": mse}')]
    return cells


def _mnist_denoising(lab: Lab) -> list[Cell]:
    return [
        *_intro(lab), _parameters(lab), SETUP, MNIST_FLAT,
        md("## Two corruptions of a test digit: on/off imputation and Gaussian noise"),
        code("""
            from statdl.autoencoders import Autoencoder, corrupt

            examples = [x_test[:1], corrupt(x_test[:1], "masking", 0.3, seed=seed),
                        corrupt(x_test[:1], "gaussian", 0.3, seed=seed)]
            sd.plot_images(np.concatenate(examples),
                           ["original", "on/off imputation", "Gaussian noise"], ncol=3)
        """),
        md("## A denoising autoencoder for each: trained on corrupted copies of the digits"),
        code("""
            denoising_mse = {}
            for kind in ("masking", "gaussian"):
                ae = Autoencoder(784, 100, corruption=kind, corruption_rate=0.3)
                ae.compile(optimizer="adam", loss="mse", device=device)
                history = ae.fit(x_train, epochs=epochs, batch_size=256, validation_split=0.1,
                                 verbose=verbose)
                noisy = corrupt(x_test[:10], kind, 0.3, seed=seed)
                sd.plot_reconstructions(x_test[:10], ae.reconstruct(noisy), corrupted=noisy,
                                        data="test")
                test_noisy = corrupt(x_test, kind, 0.3, seed=seed)
                denoising_mse[kind] = float(((ae.reconstruct(test_noisy) - x_test) ** 2).mean())
        """),
        md("## The figures this lab is judged by"),
        code("denoising_mse"),
    ]


def _mnist_anomaly(lab: Lab) -> list[Cell]:
    return [
        *_intro(lab), _parameters(lab), SETUP, MNIST_FLAT,
        md("## Reconstruction errors of the training digits, and the 10 worst"),
        code("""
            from statdl.autoencoders import AnomalyDetector, Autoencoder

            fit = {"epochs": epochs, "batch_size": 256, "verbose": verbose}
            ae = Autoencoder(784, 100)
            ae.compile(optimizer="adam", loss="mse", device=device)
            detector = AnomalyDetector(ae, quantile=0.99).fit(x_train, **fit)
            detector.plot_errors()
        """),
        code("""
            detector.plot_worst(x_train, 10, labels=y_train, data="training")
            idx, worst = detector.worst(x_train, 10)
            idx + 1, worst  # R's 1-based rows and their reconstruction MSE
        """),
        md("## Refit on the cleanest 75% of the training digits; flag test digits"),
        code("""
            ae2 = Autoencoder(784, 100)
            ae2.compile(optimizer="adam", loss="mse", device=device)
            clean = AnomalyDetector(ae2, quantile=0.99, refit_on_clean=0.75).fit(x_train, **fit)
            flagged = clean.predict(x_test)
            clean.plot_errors(x_test, data="test")
        """),
        md("## The figures this lab is judged by"),
        code('{"test_flagged": float(flagged.mean()), "threshold": clean.threshold_}'),
    ]


def _imdb_tokenizer(lab: Lab) -> list[Cell]:
    return [
        *_intro(lab),
        code("""
            # Parameters (this cell is tagged `parameters`: papermill or an edit overrides them).
            samples = ["The cat sat on the mat.", "The dog ate my homework."]
            num_words = 1000  # the tokenizer keeps the most common words
        """),
        code("""
            from statdl.text import Tokenizer

            tokenizer = Tokenizer(num_words=num_words)
            tokenizer.fit_on_texts(samples)
            sequences = tokenizer.texts_to_sequences(samples)
            sequences
        """),
        code("""
            one_hot = tokenizer.texts_to_matrix(samples, mode="binary")
            one_hot.shape, int(one_hot.sum())
        """),
        code("""
            word_index = dict(tokenizer.word_index)
            print(f"Found {len(word_index)} unique tokens.")
            word_index
        """),
        md("## The figures this lab is judged by"),
        code('{"unique_tokens": len(word_index), "sequences": sequences}'),
    ]


_IMDB_HEADS = {
    "embed": "L.Flatten()",
    "rnn": "L.SimpleRNN(32)",
    "rnn3": ("L.SimpleRNN(32, return_sequences=True),\n"
             "L.SimpleRNN(32, return_sequences=True), L.SimpleRNN(32)"),
    "lstm": "L.LSTM(32)",
    "gru": "L.GRU(32)",
    "bilstm": "L.Bidirectional(L.LSTM(32))",
}

_IMDB_DATA = code("""
    from statdl.text import pad_sequences

    (x_train, y_train), (x_test, y_test) = sd.datasets.imdb(num_words=10000)
    if quick:  # a random 4,000 training and 2,000 test reviews
        rng = np.random.default_rng(seed)
        tr = rng.choice(len(x_train), 4000, replace=False)
        te = rng.choice(len(x_test), 2000, replace=False)
        x_train, y_train, x_test, y_test = x_train[tr], y_train[tr], x_test[te], y_test[te]
    x_train = pad_sequences(x_train, maxlen=maxlen)  # the last maxlen words of each review
    x_test = pad_sequences(x_test, maxlen=maxlen)
    y_train = np.asarray(y_train, dtype="int64")
    y_test = np.asarray(y_test, dtype="int64")
    x_train.shape, x_test.shape
""")


def _imdb_cells(lab: Lab, layers: str, name: str, batch: int, maxlen: int, embed_dim: int,
                extra: str = "") -> list[Cell]:
    return [
        *_intro(lab, extra),
        _parameters(lab, maxlen=maxlen, embed_dim=embed_dim),
        SETUP,
        md("## Data: the 10,000 most frequent words, each review cut to its last `maxlen` "
           "words"),
        _IMDB_DATA,
        md("## The network"),
        code("""
            model = sd.Sequential([
                L.Embedding(10000, embed_dim),
                $layers,
                L.Dense(1, activation="sigmoid")], input_shape=(maxlen,), name="$name")
            model.compile(optimizer="rmsprop", loss="binary_crossentropy",
                          metrics=["accuracy"], device=device)
            model
        """, layers=layers, name=name),
        code("""
            history = model.fit(x_train, y_train, epochs=epochs, batch_size=$batch,
                                validation_split=0.2, verbose=verbose)
            history
        """, batch=batch),
        md("## Test reviews: caret's statistics"),
        CLASSIFY,
        md("## The figures this lab is judged by"),
        code('{"accuracy": cm.accuracy, "kappa": cm.kappa}'),
    ]


def _imdb(lab: Lab) -> list[Cell]:
    kind = lab.defaults["model"]
    return _imdb_cells(lab, _IMDB_HEADS[kind], f"imdb_{kind}", 32 if kind == "embed" else 128,
                       20, 8, "The lab's options (`--maxlen`, `--embed-dim`, `--dropout`, "
                       "`--recurrent-dropout`) are parameters or layer arguments here.")


def _imdb_conv1d(lab: Lab) -> list[Cell]:
    return _imdb_cells(lab, 'L.Conv1D(32, 7, activation="relu"),\nL.GlobalMaxPooling1D()',
                       "imdb_conv1d", 128, 500, 32)


#: lab name -> the function writing its cells
NOTEBOOKS: dict[str, Callable[[Lab], list[Cell]]] = {
    "hitters-nn": _hitters,
    "hitters-wide-deep": _hitters_wide_deep,
    "hitters-cv": _hitters_cv,
    "mnist-logit": _mnist_dense, "mnist-mlp": _mnist_dense, "mnist-mlp2": _mnist_dense,
    "mnist-compare": _mnist_compare,
    "mnist-cnn": _mnist_cnn,
    "mnist-uncertainty": _mnist_uncertainty,
    "transfer": _transfer,
    "mnist-vae-keras": _vae_keras,
    "mnist-tune": _mnist_tune,
    "nyse-ar": _nyse, "nyse-rnn": _nyse, "nyse-conv1d": _nyse,
    "imdb-tokenizer": _imdb_tokenizer,
    **{f"imdb-{k}": _imdb for k in ("embed", "rnn", "rnn3", "lstm", "gru", "bilstm")},
    "imdb-conv1d": _imdb_conv1d,
    **{name: _mnist_autoencoder for name in ("mnist-autoencoder", "mnist-stacked-ae",
                                             "mnist-sparse-ae", "mnist-conv-ae", "mnist-vae",
                                             "mnist-contractive-ae")},
    "mnist-denoising": _mnist_denoising,
    "mnist-anomaly": _mnist_anomaly,
}

#: lab name -> {key of the notebook's last value: path into run_lab's results}
CHECKS: dict[str, dict[str, tuple]] = {
    "hitters-nn": {"MSE": ("network", "MSE", "estimate"), "MAE": ("network", "MAE", "estimate"),
                   "linear_MSE": ("linear_regression", "MSE")},
    "hitters-wide-deep": {"MSE": ("wide_and_deep", "MSE", "estimate"),
                          "sequential_MSE": ("sequential", "MSE")},
    "hitters-cv": {"network_cv_rmse": ("cv", "network", "RMSE", "mean"),
                   "linear_cv_rmse": ("cv", "linear", "RMSE", "mean")},
    **{name: {"accuracy": ("headline", "value"),
              "kappa": ("confusion_matrix", "overall", "Kappa")}
       for name in ("mnist-logit", "mnist-mlp", "mnist-mlp2", "mnist-cnn", "imdb-embed",
                    "imdb-rnn", "imdb-rnn3", "imdb-lstm", "imdb-gru", "imdb-bilstm",
                    "imdb-conv1d")},
    "mnist-compare": {f"{a}_vs_{b}": ("comparisons", f"{a}_vs_{b}", "difference")
                      for a, b in (("mlp", "logit"), ("mlp2", "logit"), ("mlp2", "mlp"))},
    "mnist-uncertainty": {k: (k,) for k in ("test_accuracy", "mc_dropout_accuracy",
                                             "ensemble_accuracy", "lac_coverage",
                                             "aps_coverage", "lac_coverage_200_splits")},
    "transfer": {"accuracy": ("headline", "value"), "scratch_accuracy": ("scratch_accuracy",),
                 "difference": ("difference",)},
    "mnist-vae-keras": {"keras_style_mse": ("test_mse", "keras_style"),
                        "statdl_autoencoders_mse": ("test_mse", "statdl_autoencoders"),
                        "final_loss": ("final_loss", "keras_style", "loss")},
    "mnist-tune": {"accuracy": ("headline", "value"), "n_runs": ("n_runs",),
                   "best_val_loss": ("best_val_loss",)},
    "nyse-ar": {"linear": ("linear", "r2"), "linear_day": ("linear_day", "r2")},
    "nyse-rnn": {"rnn": ("rnn", "r2"), "linear": ("linear", "r2")},
    "nyse-conv1d": {"conv1d": ("conv1d", "r2"), "dense": ("dense", "r2")},
    "imdb-tokenizer": {"unique_tokens": ("unique_tokens",), "sequences": ("sequences",)},
    **{name: {"reconstruction_mse": ("headline", "value")}
       for name in ("mnist-autoencoder", "mnist-stacked-ae", "mnist-sparse-ae",
                    "mnist-conv-ae", "mnist-vae", "mnist-contractive-ae")},
    "mnist-denoising": {"masking": ("masking", "denoising_mse"),
                        "gaussian": ("gaussian", "denoising_mse")},
    "mnist-anomaly": {"test_flagged": ("headline", "value"), "threshold": ("threshold",)},
}


def not_expressed() -> list[str]:
    """The registered labs that have no notebook of their own yet (``statdl notebooks``
    writes a notebook that runs them through ``statdl.labs.run_lab`` instead)."""
    return [name for name in LABS if name not in NOTEBOOKS]


def _runner(lab: Lab) -> list[Cell]:
    return [
        *_intro(lab, "This lab is not yet written out cell by cell: the cell below runs it "
                     "as `statdl lab` does (its code is the lab's module in `statdl.labs`)."),
        _parameters(lab),
        code("""
            from statdl.labs import run_lab

            results = run_lab($name, epochs=epochs, seed=seed, quick=quick,
                              threads=threads, device=device, verbose=verbose,
                              data_dir=data_dir, no_view=True)
            results.get("headline")
        """, name=repr(lab.name)),
    ]


def notebook(name: str) -> Any:
    """The notebook of lab ``name`` (an ``nbformat`` v4 notebook, not yet written).

    Examples
    --------
    >>> nb = notebook("imdb-tokenizer")          # doctest: +SKIP
    >>> nb.cells[0].source.splitlines()[0]       # doctest: +SKIP
    "# Lab `imdb-tokenizer`: the course's tokenizer example (word index, sequences, one-hot)"
    """
    nbformat = _nbformat()
    lab = get_lab(name)
    cells = NOTEBOOKS.get(name, _runner)(lab)
    nb = nbformat.v4.new_notebook()
    for kind, source in cells:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            cell = nbformat.v4.new_code_cell(source)
            if source.startswith("# Parameters"):
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["statdl"] = {"lab": name, "written_out": name in NOTEBOOKS}
    return nb


def write_notebook(name: str, path: str | os.PathLike) -> Path:
    """Write lab ``name`` as a notebook to ``path`` (a ``.ipynb`` file, or a folder: then
    ``<folder>/<name>.ipynb``); return the file. Needs ``statdl[jupyter]`` (nbformat).

    Examples
    --------
    >>> try:
    ...     write_notebook("hitters-nn", "notes.txt")
    ... except ConfigError as exc:
    ...     print(exc)
    `path` of write_notebook must be a .ipynb file or an existing folder; got 'notes.txt'.
    """
    return _write(name, path, ("path", "write_notebook"))


def write_notebooks(directory: str | os.PathLike) -> list[Path]:
    """Write every lab as ``<directory>/<name>.ipynb`` (the folder is created); return the
    files."""
    return _write_all(directory, ("directory", "write_notebooks"))


# Where a path came from, for its errors: ("path", "write_notebook") in Python,
# ("--notebook", "statdl lab") and ("DIR", "statdl notebooks") on the command line.
Where = tuple[str, str]


def _write(name: str, path: Any, where: Where) -> Path:
    from ..utils import atomic_write

    target = _given_path(path, where)
    if target.is_dir():
        target = target / f"{name}.ipynb"
    elif target.suffix != ".ipynb":
        raise ConfigError(message(where[0], "a .ipynb file or an existing folder", path,
                                  where[1], shown=repr(os.fspath(path))))
    _writable(target.parent, path, where)
    nbformat = _nbformat()
    nb = notebook(name)
    nbformat.validate(nb)
    try:
        with atomic_write(target, "w") as fh:
            nbformat.write(nb, fh)
    except OSError as exc:
        raise _unwritable(target.parent, path, where, exc) from None
    return target


def _write_all(directory: Any, where: Where) -> list[Path]:
    folder = _given_path(directory, where)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(message(where[0], "a folder", directory, where[1],
                                  shown=f"{os.fspath(directory)!r}, a file"))
    _writable(folder, directory, where)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(folder, directory, where, exc) from None
    return [_write(name, folder / f"{name}.ipynb", where) for name in LABS]


def _given_path(path: Any, where: Where) -> Path:
    """``path`` as a Path; an empty one is refused (``Path("")`` is the current folder, where
    ``--notebook=`` would otherwise write without being asked)."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(message(where[0], "a path (str or os.PathLike)", path, where[1],
                                shown=type(path).__name__))
    if not os.fspath(path).strip():
        example = "lab.ipynb" if where[0] in ("--notebook", "path") else "notebooks/"
        raise ConfigError(message(where[0], "a path", path, where[1], shown="an empty path",
                                  fix=f"Give one, e.g. {example}."))
    return Path(path).expanduser()


def _writable(folder: Path, path: Any, where: Where) -> None:
    """Refuse a folder that cannot be made because a file stands on its way (``mkdir`` would
    say only "File exists")."""
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                raise ConfigError(message(where[0], "a path inside folders", path, where[1],
                                          shown=f"{os.fspath(path)!r}, inside the file "
                                          f"{str(part)!r}"))
            return


def _unwritable(folder: Path, path: Any, where: Where, exc: OSError) -> ConfigError:
    reason = exc.strerror or type(exc).__name__
    shown = f"{os.fspath(path)!r} ({folder} refused a new file: {reason})"
    return ConfigError(message(where[0], "a path where a notebook can be written", path,
                               where[1], shown=shown, fix="Choose a folder you can write to."))


def _nbformat():
    try:
        import nbformat
    except ModuleNotFoundError:
        raise ConfigError("writing notebooks needs nbformat: pip install 'statdl[jupyter]' "
                          "(or pip install nbformat).") from None
    return nbformat
