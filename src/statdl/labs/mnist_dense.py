"""Labs ``mnist-logit``, ``mnist-mlp``, ``mnist-mlp2`` and ``mnist-compare`` (course "Classification"
and "Multilayer Neural Networks").

Digits flattened to 784 values in [0, 1], one-hot labels; RMSprop, categorical cross-entropy,
15 epochs, batch 128, the last 20% of the training digits for validation. Test-set results are
caret's ``confusionMatrix`` statistics.
"""

from __future__ import annotations

import argparse

import statdl as sd
from statdl import layers as L

from ._common import Timer, classification_report, mnist_data, with_interval

COURSE = {"logit": 0.9282, "mlp": 0.9818, "mlp2": 0.9825}
TARGET = {"logit": 0.925, "mlp": 0.980, "mlp2": 0.982}


def build(model: str, dropout: bool = True) -> sd.Sequential:
    """The course's networks: ``logit`` (softmax regression), ``mlp`` (512), ``mlp2`` (512-256)."""
    if model == "logit":
        layers = [L.Dense(10, activation="softmax")]
    elif model == "mlp":
        layers = [L.Dense(512, activation="relu"), L.Dense(10, activation="softmax")]
    else:
        layers = [L.Dense(512, activation="relu"), L.Dropout(0.4),
                  L.Dense(256, activation="relu"), L.Dropout(0.3),
                  L.Dense(10, activation="softmax")]
        if not dropout:
            layers = [layer for layer in layers if not isinstance(layer, L.Dropout)]
    return sd.Sequential(layers, input_shape=(784,), name=f"mnist_{model}")


def fit_one(args: argparse.Namespace, run, model_name: str, data: tuple, dropout: bool = True,
            prefix: str = "") -> dict:
    """Build, train and evaluate one network; print and record its statistics."""
    x_train, y_train, x_test, y_test = data
    model = build(model_name, dropout)
    model.summary()
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"],
                  device=args.device)
    timer = Timer()
    with timer:
        history = model.fit(x_train, sd.to_categorical(y_train, 10), epochs=args.epochs,
                            batch_size=128, validation_split=0.2, verbose=args.verbose)
    course = COURSE[model_name] if dropout else None
    return classification_report(run, model, history, x_test, y_test, timer, course,
                                 TARGET[model_name] if dropout else None, prefix)


def run(args: argparse.Namespace, run) -> dict:
    """One of the three networks (``args.model``), with ``--no-dropout`` for ``mlp2``."""
    dropout = not getattr(args, "no_dropout", False)
    results = fit_one(args, run, args.model, mnist_data(args), dropout)
    results.pop("predictions")
    return results


def run_compare(args: argparse.Namespace, run) -> dict:
    """Fit logit, MLP and MLP2 on the same data; compare them pairwise on the same test digits."""
    data = mnist_data(args)
    preds, out = {}, {}
    for name in ("logit", "mlp", "mlp2"):
        print(f"\n=== {name} ===")
        res = fit_one(args, run, name, data, prefix=f"{name}_")
        preds[name] = res.pop("predictions")
        out[name] = res["headline"]
    y_test = data[3]
    comparisons = {}
    for a, b in (("mlp", "logit"), ("mlp2", "logit"), ("mlp2", "mlp")):
        cmp = sd.compare_classifiers(preds[a], preds[b], y_test, names=(a, b))
        print(f"\n{a} vs {b}:\n{cmp}")
        comparisons[f"{a}_vs_{b}"] = {"difference": cmp.difference, "lower": cmp.lower,
                                      "upper": cmp.upper, "p_value": cmp.p_value}
    results = {"models": out, "comparisons": comparisons,
               "headline": out["mlp2"], "fit_seconds": None}
    run.record(results, evaluation={
        k: v for name, c in comparisons.items()
        for k, v in with_interval(f"{name}_difference", c["difference"], c["lower"],
                                  c["upper"]).items()})
    return results
