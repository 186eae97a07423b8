"""Reproduce the course's figures: statdl labs and the same models in Keras 3, side by side.

Runs labs at the course's settings on the real data and, in the same run, the same model in
Keras 3 (JAX backend, in a separate process) when ``keras`` and ``jax`` are installed
(``pip install keras jax``; not a statdl dependency). Writes ``docs/results.md``: the course's
figure, statdl's with its 95% interval, Keras 3's, and the seconds of training + prediction of
each. Rows are written as each lab finishes, so an interrupted run still leaves a valid table;
running again skips rows already measured (``--redo`` measures them again).

``--spread ROWS --seeds N`` reruns the chosen rows with N seeds (1001, 1002, ..., the first being
the course's ``set.seed(1001)``) for statdl and for Keras 3, on the same data, and writes a
second table: mean, sd and range over the seeds on each side, how many seeds meet the target,
and Welch's t-test of the two means. Only the seed of the weights, the shuffling and dropout
changes; the data and the splits stay the course's (Hitters keeps its ``set.seed(1001)`` test
split for every seed). Per-seed results are kept in the state block too, so an interrupted
spread resumes and a larger N only runs the missing seeds.

``--background N`` measures the chosen rows again while N busy processes of the benchmark's own
(``bench/_background.py``: pure Python loops, one core each) compete for the cores: statdl and
then Keras 3, each with fresh busy processes, so both see the same load. Those timings go to
columns of their own ("statdl s, 1 busy", "Keras 3 s, 1 busy" and their ratio) and to a
separate key of the state block: the quiet rows are kept, and a quiet run keeps the busy ones.

Usage::

    python bench/reproduce.py --data-dir ../shared/data                  # everything
    python bench/reproduce.py --labs hitters-nn,mnist-logit --no-keras   # a selection
    python bench/reproduce.py --spread hitters-nn,imdb-bilstm@20 --seeds 5 --data-dir ...
    python bench/reproduce.py --background 1 --data-dir ...     # timings with 1 busy process
    python bench/reproduce.py --list                                     # the row keys
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _background import busy_background, check_count

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results.md"
_STATE = re.compile(r"<!-- reproduce-state\n(.*?)\n-->", re.S)
_HEADER = re.compile(r"^Machine: (.*)\. Last updated: (.*)\.$", re.M)
COURSE_SEED = 1001      # the course's set.seed(1001): the single-run table and the first seed
SPREAD = "_spread"      # state key of the seed-spread results (row keys never start with "_")
BUSY = "_busy"          # state key of the timings under load: {"1": {"rows": {key: ...}}}


@dataclass(frozen=True)
class Row:
    """One line of the table: a lab at given options, the course's figure and the target."""

    key: str
    lab: str
    options: dict[str, Any] = field(default_factory=dict)
    course: str = ""
    target: float | None = None
    metric: str = "accuracy"
    note: str = ""
    result: str = ""        # the results key whose "headline" is this row's figure (NYSE labs)
    keras: bool = True      # False: no Keras 3 model to run (resampling, intervals)
    book: tuple[str, str] | None = None     # ("ISLR2's", "0.416"): held against the CI

    @property
    def lower_is_better(self) -> bool:
        return self.metric in ("MSE", "RMSE")


ROWS = [
    Row("hitters-nn", "hitters-nn", {}, "MSE 0.353", 0.36, "MSE"),
    Row("mnist-logit", "mnist-logit", {}, "0.9282", 0.925),
    Row("mnist-mlp", "mnist-mlp", {}, "0.9818", 0.980),
    Row("mnist-mlp2", "mnist-mlp2", {}, "0.9825", 0.982),
    Row("imdb-embed@20", "imdb-embed", {"maxlen": 20}, "0.760", 0.75),
    Row("imdb-rnn@20", "imdb-rnn", {"maxlen": 20}, "0.72", 0.70),
    Row("imdb-rnn3@20", "imdb-rnn3", {"maxlen": 20}, "0.70", None),
    Row("imdb-lstm@20", "imdb-lstm", {"maxlen": 20}, "0.76", 0.75),
    Row("imdb-gru@20", "imdb-gru", {"maxlen": 20}, "-", None),
    Row("imdb-bilstm@20", "imdb-bilstm", {"maxlen": 20}, "0.75", 0.74),
    Row("mnist-cnn", "mnist-cnn", {}, "0.9905", 0.990),
    Row("imdb-rnn@100", "imdb-rnn", {"maxlen": 100}, "0.80", None),
    Row("imdb-lstm@100", "imdb-lstm", {"maxlen": 100}, "0.82", 0.82),
    Row("imdb-bilstm@100", "imdb-bilstm", {"maxlen": 100}, "0.83", 0.82),
    Row("imdb-lstm@500", "imdb-lstm", {"maxlen": 500}, "-", None,
        note="informational: the course's model (Embedding(10000, 8), validation_split 0.2) "
             "at 500 words, for which the course reports no figure; the 0.87 and the target "
             ">= 0.86 once shown here come from the ISLR2 textbook's model, measured in the "
             "row imdb-lstm@500-textbook"),
    Row("imdb-lstm@500-textbook", "imdb-lstm",
        {"maxlen": 500, "embed_dim": 32, "validation": "test"}, "0.87 (textbook)", 0.86,
        note="the ISLR2 textbook lab: Embedding(10000, 32), LSTM(32), all 25,000 training "
             "reviews, the test set as validation_data (watched only)"),
    Row("imdb-conv1d", "imdb-conv1d", {}, "-", 0.87,
        note="not in the course (issue #14's target): 500 words, Embedding(10000, 32), "
             "Conv1D(32, 7, relu), GlobalMaxPooling1D, Dense(1), 8 epochs, validation_split 0.2"),
    Row("nyse-ar", "nyse-ar", {}, "0.4132 (ISLR2)", None, "R2", book=("ISLR2's", "0.4132"),
        note="linear AR(5) by least squares; ISLR2's figure is its R code's (lm, deterministic), "
             "ISLP's 0.4129 is the same fit with R2's denominator n; no Keras model"),
    Row("nyse-ar+day", "nyse-ar", {}, "0.4599 (ISLR2)", None, "R2", result="linear_day",
        book=("ISLR2's", "0.4599"),
        note="the same with day_of_week; 0.4599 is what ISLR2's R code gives when run in R "
             "(lm, deterministic), ISLP 0.4596; a 0.4632 once quoted for it would also lie "
             "inside the interval; no Keras model"),
    Row("nyse-rnn", "nyse-rnn", {}, "0.416 (ISLR2)", None, "R2", result="rnn",
        book=("ISLR2's", "0.416"),
        note="SimpleRNN(12), dropout 0.1/0.1, RMSprop, 200 epochs, batch 64; ISLP's torch run "
             "0.4150"),
    Row("nyse-dense", "nyse-conv1d", {}, "0.4660 (ISLP)", None, "R2", result="dense",
        book=("ISLP's", "0.4660"),
        note="the nonlinear AR model: 15 lags + 5 day_of_week dummies, Dense(32, relu), "
             "Dropout(0.5), 100 epochs, batch 32 (ISLP: 20 epochs, batch 64)"),
    Row("nyse-conv1d", "nyse-conv1d", {}, "-", None, "R2", result="conv1d",
        book=("ISLR2's RNN figure", "0.416"),
        note="not in the book (no published figure for a Conv1D): Conv1D(16, 3, relu), "
             "Flatten, Dense(1) on the (5, 3) windows, 100 epochs, batch 64"),
    Row("hitters-cv", "hitters-cv", {}, "-", None, "RMSE", keras=False,
        note="issue #16: the course's network by 3 x 10-fold CV on all 263 players (200 epochs "
             "per fold), mean RMSE of log salary with the Nadeau-Bengio corrected 95% interval; "
             "linear regression, the lasso, corrected t-tests and conformal intervals in "
             "'Statistical inference labs' below; no Keras model"),
    Row("mnist-uncertainty", "mnist-uncertainty", {}, "-", 0.88, "coverage", keras=False,
        note="issue #16: 90% LAC conformal sets of the MLP2 (15 epochs), mean coverage over "
             "200 random calibration/test halvings of the 10,000 test digits; MC dropout, the "
             "ensemble and set sizes in 'Statistical inference labs' below; no Keras model"),
]
BY_KEY = {r.key: r for r in ROWS}


# ----------------------------------------------------------------------------- statdl side
@contextmanager
def course_split(row: Row) -> Iterator[None]:
    """Keep the course's Hitters test split (``set.seed(1001)``) whatever ``--seed`` the lab gets.

    The lab's ``--seed`` seeds both the weights and R's ``sample()`` of the test players; a seed
    spread must vary the weights only, so the split is pinned to the course's seed here.
    """
    if row.lab != "hitters-nn":
        yield
        return
    from statdl.labs import hitters

    original = hitters.r_sample
    hitters.r_sample = lambda n, size, seed: original(n, size, COURSE_SEED)
    try:
        yield
    finally:
        hitters.r_sample = original


def run_statdl(row: Row, data_dir: str | None, runs_dir: str, seed: int = COURSE_SEED,
               quiet: bool = False) -> dict[str, Any]:
    """Run the row's lab with ``seed``; ``quiet``: no epoch lines, no HTML report (spreads)."""
    from statdl.labs import run_lab

    t0 = time.perf_counter()
    with course_split(row):
        res = run_lab(row.lab, data_dir=data_dir, runs_dir=runs_dir, seed=seed,
                      verbose=0 if quiet else 2, no_view=quiet, **row.options)
    head = res[row.result]["headline"] if row.result else res["headline"]
    # a lab training several models (nyse-conv1d: the Dense and the Conv1D network) gives each
    # model's seconds with its result, so the row compares one model with Keras's one model
    seconds = (res[row.result].get("fit_seconds") if row.result else None) \
        or res.get("fit_seconds")
    out = {"value": head["value"], "lower": head["lower"], "upper": head["upper"],
           "seconds": seconds, "wall_seconds": time.perf_counter() - t0,
           "run_dir": res["run_dir"]}
    if row.lab in DETAILS and not quiet:
        details = DETAILS[row.lab](res, _evaluation(res["run_dir"]))
        out["details"] = json.loads(json.dumps(details, default=_plain))
    return out


# ------------------------------------------------------- statistical inference labs (#16)
def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, for the state block."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _evaluation(run_dir: str) -> dict[str, Any]:
    """The run folder's recorded evaluation (values with their intervals)."""
    path = Path(run_dir) / "statdl.d" / "evaluation.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _hitters_cv_details(res: dict[str, Any], ev: dict[str, Any]) -> dict[str, Any]:
    """hitters-cv's key numbers: each model's resampled RMSE (mean, corrected SE and 95%
    interval, R2), the paired RMSE differences with the corrected t-test, conformal coverage."""
    models = [{"model": name, **{k: table["RMSE"][k] for k in
                                 ("mean", "se", "se_corrected", "lower", "upper", "n")},
               "rsquared": table["Rsquared"]["mean"]} for name, table in res["cv"].items()]
    diffs = [{k: d[k] for k in ("model_1", "model_2", "estimate", "lower_corrected",
                                "upper_corrected", "p_corrected", "p_value")}
             for d in res["differences"] if d["metric"] == "RMSE"]
    inf = res["inference"]
    return {"resampling": res["resampling"], "models": models, "differences": diffs,
            "cv_seconds_network": res["cv_seconds_network"],
            "conformal": {"level": inf["conformal_level"], "coverage": inf["conformal_coverage"],
                          "lower": ev.get("conformal_coverage_lower"),
                          "upper": ev.get("conformal_coverage_upper"),
                          "mean_width": inf["conformal_mean_width"]},
            "top_variables": inf["top_variables"],
            "figures": ["resamples_dot", "conformal_intervals", "permutation_importance"]}


def _mnist_uncertainty_details(res: dict[str, Any], ev: dict[str, Any]) -> dict[str, Any]:
    """mnist-uncertainty's key numbers: accuracy of one network, of MC dropout and of the
    ensemble (and on their most uncertain fifth), conformal coverage and set sizes."""
    sets = {m: {"coverage": res[f"{m}_coverage"], "lower": ev.get(f"{m}_coverage_lower"),
                "upper": ev.get(f"{m}_coverage_upper"),
                "mean_size": res[f"{m}_mean_set_size"], "sizes": res[f"{m}_set_sizes"],
                "coverage_200_splits": res[f"{m}_coverage_200_splits"]}
            for m in ("lac", "aps")}
    return {"test_accuracy": res["test_accuracy"], "fit_seconds": res["fit_seconds"],
            "epochs": res.get("epochs"),
            "uncertainty": {m: {"accuracy": res[f"{m}_accuracy"],
                                "most_uncertain_fifth": ev.get(
                                    f"{m}_accuracy_most_uncertain_fifth")}
                            for m in ("mc_dropout", "ensemble")},
            "sets": sets,
            "figures": ["mc_dropout_accuracy_by_entropy", "ensemble_accuracy_by_entropy",
                        "lac_set_sizes", "aps_set_sizes", "most_uncertain_digits", "saliency"]}


#: lab -> its key numbers beyond the headline, for the section below the table
DETAILS = {"hitters-cv": _hitters_cv_details, "mnist-uncertainty": _mnist_uncertainty_details}


def publish_figures(row: Row, side: dict[str, Any], out: Path) -> None:
    """Copy the lab's figures named in its details from the run folder to
    ``<out's folder>/results/<row key>/``, recording their paths (relative to ``out``) and
    captions; the run folder may be a temporary one."""
    details = side.get("details")
    if not details or not side.get("run_dir"):
        return
    plots = Path(side["run_dir"]) / "plots"
    captions_file = plots / "captions.json"
    captions = (json.loads(captions_file.read_text(encoding="utf-8"))
                if captions_file.exists() else {})
    target = out.parent / "results" / row.key
    target.mkdir(parents=True, exist_ok=True)
    published = []
    for name in details["figures"]:
        source = plots / f"{name}.png"
        if not source.exists():
            continue
        (target / source.name).write_bytes(source.read_bytes())
        published.append({"path": f"results/{row.key}/{source.name}",
                          "caption": captions.get(name, captions.get(source.name, name))})
    details["published"] = published


def _ci(d: dict[str, Any], digits: int = 4) -> str:
    if d.get("lower") is None:
        return ""
    return f" ({d['lower']:.{digits}f}, {d['upper']:.{digits}f})"


def _hitters_cv_lines(d: dict[str, Any]) -> list[str]:
    lines = [f"{d['resampling']}, the same folds for the three models; the network's folds took "
             f"{d['cv_seconds_network']:.0f} s in all. RMSE of log salary: mean over the "
             "resamples, its standard error (naive and Nadeau-Bengio corrected for the overlap "
             "of training sets) and the corrected 95% interval.",
             "", "| model | RMSE | SE | corrected SE | corrected 95% CI | R2 |",
             "|---|---|---|---|---|---|"]
    for m in d["models"]:
        lines.append(f"| {m['model']} | {m['mean']:.4f} | {m['se']:.4f} | "
                     f"{m['se_corrected']:.4f} | ({m['lower']:.4f}, {m['upper']:.4f}) | "
                     f"{m['rsquared']:.4f} |")
    lines += ["", "Paired differences of RMSE on the same resamples (first minus second), "
              "corrected resampled t-test (Nadeau and Bengio 2003) and caret's naive t-test; "
              "p-values Bonferroni-adjusted as caret's `diff` does.",
              "", "| difference | estimate | corrected 95% CI | corrected p | naive p |",
              "|---|---|---|---|---|"]
    for x in d["differences"]:
        lines.append(f"| {x['model_1']} - {x['model_2']} | {x['estimate']:+.4f} | "
                     f"({x['lower_corrected']:+.4f}, {x['upper_corrected']:+.4f}) | "
                     f"{x['p_corrected']:.3f} | {x['p_value']:.3f} |")
    c = d["conformal"]
    lines += ["", f"Split-conformal {c['level']:.0%} prediction intervals of the course's test "
              f"players (network refitted on two thirds of the others, calibrated on the last "
              f"third): coverage {c['coverage']:.4f}{_ci(c)} (exact 95% interval), mean width "
              f"{c['mean_width']:.3f} in log salary. Most important variables (permutation "
              f"importance on the test players): {', '.join(d['top_variables'])}."]
    return lines


def _mnist_uncertainty_lines(d: dict[str, Any]) -> list[str]:
    u = d["uncertainty"]
    lines = [f"One MLP2 ({d['epochs']} epochs, {d['fit_seconds']:.0f} s to train): test "
             f"accuracy {d['test_accuracy']:.4f}. Mean of the MC-dropout passes: "
             f"{u['mc_dropout']['accuracy']:.4f} (on the fifth of the digits with the highest "
             f"predictive entropy: {u['mc_dropout']['most_uncertain_fifth']:.4f}); deep "
             f"ensemble: {u['ensemble']['accuracy']:.4f} (most uncertain fifth: "
             f"{u['ensemble']['most_uncertain_fifth']:.4f}). Neither carries a coverage "
             "guarantee.",
             "", "Conformal prediction sets at 90%, calibrated on the first 5,000 test digits "
             "and judged on the other 5,000 (coverage with its exact 95% interval), and the "
             "mean coverage over 200 random halvings (the average the guarantee is about):",
             "", "| sets | coverage (95% CI) | mean set size | sizes (count) | "
             "coverage, 200 halvings |", "|---|---|---|---|---|"]
    for m, x in d["sets"].items():
        sizes = ", ".join(f"{k}: {v}" for k, v in sorted(x["sizes"].items(),
                                                          key=lambda kv: int(kv[0])))
        lines.append(f"| {m.upper()} | {x['coverage']:.4f}{_ci(x)} | {x['mean_size']:.3f} | "
                     f"{sizes} | {x['coverage_200_splits']:.4f} |")
    return lines


LINES = {"hitters-cv": _hitters_cv_lines, "mnist-uncertainty": _mnist_uncertainty_lines}


def details_section(state: dict[str, Any]) -> list[str]:
    """The Markdown of the statistical inference labs' key numbers and figures (empty when
    none was measured)."""
    lines: list[str] = []
    for row in ROWS:
        details = state.get(row.key, {}).get("statdl", {}).get("details")
        if not details or row.lab not in LINES:
            continue
        lines += ["", f"### {row.key}", "", *LINES[row.lab](details)]
        for fig in details.get("published", []):
            lines += ["", f"![{row.key}: {fig['caption']}]({fig['path']})"]
    if not lines:
        return []
    return ["", "## Statistical inference labs", "",
            "Generated by `python bench/reproduce.py --labs hitters-cv,mnist-uncertainty`: "
            "resampled errors, corrected t-tests, conformal intervals and sets, MC dropout and "
            "ensembles (issue #16), with the labs' figures (copied from their run folders).",
            *lines]


# ----------------------------------------------------------------------------- Keras side
def keras_available() -> bool:
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run([sys.executable, "-c", "import keras, jax"], env=env,
                          capture_output=True, check=False)
    return proc.returncode == 0


def keras_backend(row: Row, background: int = 0) -> str:
    """Keras's faster backend for the row: JAX everywhere but the quiet CNN, where the torch
    backend is faster here. Under load JAX is the faster one for the CNN too (one busy process,
    `bench/train_speed.py --models cnn --frameworks keras-torch,keras-jax --background 1`: 379
    against 514 samples/s), since the torch backend's spinning threads stall as statdl's did."""
    return "torch" if row.lab == "mnist-cnn" and not background else "jax"


def run_keras(row: Row, data_dir: str | None, seed: int = COURSE_SEED,
              background: int = 0) -> dict[str, Any]:
    env = {**os.environ, "KERAS_BACKEND": keras_backend(row, background)}
    if data_dir:
        env["STATDL_DATA"] = data_dir
    proc = subprocess.run([sys.executable, __file__, "--keras-worker", row.key,
                           "--keras-seed", str(seed)], env=env,
                          capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        return {"error": " | ".join(tail)}
    return json.loads(lines[-1])


def _keras_worker(key: str, seed: int = COURSE_SEED) -> None:
    """Train the row's model in Keras 3 on the same data; print a JSON line.

    ``seed`` seeds the weights, shuffling and dropout; the Hitters split stays the course's.
    """
    import keras
    import numpy as np
    from keras import layers as K

    import statdl as sd

    row = BY_KEY[key]
    keras.utils.set_random_seed(seed)
    if row.lab == "hitters-nn":
        from statdl.labs._rsample import r_sample

        x, y = sd.datasets.hitters(response="log_salary")
        x = np.asarray(sd.scale(x).x, dtype="float32")
        y = np.asarray(y, dtype="float32")
        te = np.array(r_sample(len(y), round(len(y) * 0.3), COURSE_SEED)) - 1
        tr = np.setdiff1d(np.arange(len(y)), te)
        model = keras.Sequential([keras.Input((x.shape[1],)), K.Dense(64, activation="relu"),
                                  K.Dense(1)])
        model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
        t0 = time.perf_counter()
        model.fit(x[tr], y[tr], epochs=200, batch_size=32, verbose=0,
                  validation_data=(x[te], y[te]))
        pred = model.predict(x[te], verbose=0)[:, 0]
        seconds = time.perf_counter() - t0
        print(json.dumps({"value": float(np.mean((y[te] - pred) ** 2)), "seconds": seconds}))
        return
    if row.lab.startswith("mnist"):
        (x_tr, y_tr), (x_te, y_te) = sd.datasets.mnist()
        shape = (28, 28, 1) if row.lab == "mnist-cnn" else (784,)
        x_tr = x_tr.reshape(-1, *shape).astype("float32") / 255
        x_te = x_te.reshape(-1, *shape).astype("float32") / 255
        body = {
            "mnist-logit": [K.Dense(10, activation="softmax")],
            "mnist-mlp": [K.Dense(512, activation="relu"), K.Dense(10, activation="softmax")],
            "mnist-mlp2": [K.Dense(512, activation="relu"), K.Dropout(0.4),
                           K.Dense(256, activation="relu"), K.Dropout(0.3),
                           K.Dense(10, activation="softmax")],
            "mnist-cnn": [K.Conv2D(32, 3, activation="relu"), K.MaxPooling2D(2),
                          K.Conv2D(64, 3, activation="relu"), K.MaxPooling2D(2),
                          K.Conv2D(64, 3, activation="relu"), K.Flatten(),
                          K.Dense(512, activation="relu"), K.Dropout(0.4),
                          K.Dense(256, activation="relu"), K.Dropout(0.2),
                          K.Dense(10, activation="softmax")],
        }[row.lab]
        model = keras.Sequential([keras.Input(shape), *body])
        model.compile(optimizer="rmsprop", loss="categorical_crossentropy",
                      metrics=["accuracy"])
        t0 = time.perf_counter()
        model.fit(x_tr, keras.utils.to_categorical(y_tr, 10), epochs=15, batch_size=128,
                  validation_split=0.2, verbose=2)
        pred = model.predict(x_te, verbose=0).argmax(-1)
        seconds = time.perf_counter() - t0
        print(json.dumps({"value": float(np.mean(pred == y_te)), "seconds": seconds}))
        return
    if row.lab == "imdb-conv1d":
        _keras_imdb_conv1d()
        return
    if row.lab.startswith("nyse-"):
        _keras_nyse(row)
        return
    maxlen = row.options["maxlen"]
    (x_tr, y_tr), (x_te, y_te) = sd.datasets.imdb(num_words=10000)
    x_tr = sd.text.pad_sequences(x_tr, maxlen=maxlen)
    x_te = sd.text.pad_sequences(x_te, maxlen=maxlen)
    kind = row.lab.split("-", 1)[1]
    body = {
        "embed": [K.Flatten()],
        "rnn": [K.SimpleRNN(32)],
        "rnn3": [K.SimpleRNN(32, return_sequences=True), K.SimpleRNN(32, return_sequences=True),
                 K.SimpleRNN(32)],
        "lstm": [K.LSTM(32)],
        "gru": [K.GRU(32)],
        "bilstm": [K.Bidirectional(K.LSTM(32))],
    }[kind]
    embed_dim = row.options.get("embed_dim", 8)
    validation = ({"validation_data": (x_te, y_te)} if row.options.get("validation") == "test"
                  else {"validation_split": 0.2})
    model = keras.Sequential([keras.Input((maxlen,)), K.Embedding(10000, embed_dim), *body,
                              K.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x_tr, y_tr, epochs=10, batch_size=32 if kind == "embed" else 128,
              verbose=2, **validation)
    pred = (model.predict(x_te, verbose=0)[:, 0] > 0.5).astype(int)
    seconds = time.perf_counter() - t0
    print(json.dumps({"value": float(np.mean(pred == y_te)), "seconds": seconds}))


def _keras_imdb_conv1d() -> None:
    """The ``imdb-conv1d`` lab's network and settings in Keras 3 (seeded by the caller)."""
    import keras
    import numpy as np
    from keras import layers as K

    import statdl as sd
    from statdl.labs import get_lab
    from statdl.labs.imdb_conv1d import EMBED_DIM, FILTERS, KERNEL, MAXLEN

    (x_tr, y_tr), (x_te, y_te) = sd.datasets.imdb(num_words=10000)
    x_tr = sd.text.pad_sequences(x_tr, maxlen=MAXLEN)
    x_te = sd.text.pad_sequences(x_te, maxlen=MAXLEN)
    model = keras.Sequential([keras.Input((MAXLEN,)), K.Embedding(10000, EMBED_DIM),
                              K.Conv1D(FILTERS, KERNEL, activation="relu"),
                              K.GlobalMaxPooling1D(), K.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x_tr, np.asarray(y_tr), epochs=get_lab("imdb-conv1d").epochs, batch_size=128,
              validation_split=0.2, verbose=2)
    pred = (model.predict(x_te, verbose=0)[:, 0] > 0.5).astype(int)
    seconds = time.perf_counter() - t0
    print(json.dumps({"value": float(np.mean(pred == np.asarray(y_te))), "seconds": seconds}))


def _keras_nyse(row: Row) -> None:
    """The NYSE labs' networks in Keras 3 on the lab's own arrays (seeded by the caller)."""
    import keras
    import numpy as np
    from keras import layers as K

    from statdl.labs.nyse import nyse_data

    if not row.result or row.result.startswith("linear"):
        print(json.dumps({"value": None, "seconds": None}))   # least squares: no network
        return
    data = nyse_data()
    tr, y = data["train"], data["y"].astype("float32")
    if row.result == "dense":
        x = np.column_stack([data["x"], data["day"]]).astype("float32")
        body, batch, epochs = [K.Dense(32, activation="relu"), K.Dropout(0.5), K.Dense(1)], 32, 100
    else:
        x = data["windows"]
        body = ([K.SimpleRNN(12, dropout=0.1, recurrent_dropout=0.1), K.Dense(1)]
                if row.result == "rnn" else
                [K.Conv1D(16, 3, activation="relu"), K.Flatten(), K.Dense(1)])
        batch, epochs = 64, 200 if row.result == "rnn" else 100
    model = keras.Sequential([keras.Input(x.shape[1:]), *body])   # (20,) or (LAGS, 3)
    model.compile(optimizer="rmsprop", loss="mse")
    t0 = time.perf_counter()
    model.fit(x[tr], y[tr], epochs=epochs, batch_size=batch, verbose=0,
              validation_data=(x[~tr], y[~tr]))
    pred = model.predict(x[~tr], verbose=0)[:, 0]
    seconds = time.perf_counter() - t0
    y_te = y[~tr].astype(float)
    r2 = 1 - np.mean((pred - y_te) ** 2) / np.var(y_te, ddof=1)    # ISLR2's 1 - MSE / V0
    print(json.dumps({"value": float(r2), "seconds": seconds}))


# ----------------------------------------------------------------------------- the table
def _read_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    m = _STATE.search(path.read_text(encoding="utf-8"))
    return json.loads(m.group(1)) if m else {}


def _fmt(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if metric == "MSE" else f"{value:.4f}"


def _meets(row: Row, value: float) -> bool:
    assert row.target is not None
    return value <= row.target if row.lower_is_better else value >= row.target


def _verdict(row: Row, s: dict[str, Any], k: dict[str, Any],
             spread: dict[str, Any] | None = None) -> str:
    notes = []
    value = s.get("value")
    if row.target is not None and value is not None:
        sign = "<=" if row.lower_is_better else ">="
        notes.append(f"target {sign} {row.target}: {'met' if _meets(row, value) else '**missed**'}")
        stats = spread_stats(row, spread) if spread else None
        if stats and stats["statdl"]["n"]:
            notes.append(f"{stats['statdl']['meets']} of {stats['statdl']['n']} seeds meet it "
                         "(seed spread below)")
    if row.book is not None and s.get("lower") is not None and s.get("upper") is not None:
        notes.append(_book_note(row.book, s["lower"], s["upper"]))
    if s.get("seconds") and k.get("seconds"):
        ratio = s["seconds"] / k["seconds"]
        notes.append(f"time ratio statdl/Keras {ratio:.2f}"
                     + ("" if ratio <= 1 else " (**slower**)"))
    if k.get("error"):
        notes.append(f"Keras failed: {k['error'][:80]}")
    if keras_backend(row) != "jax":
        notes.append(f"Keras on its {keras_backend(row)} backend")
    if row.note:
        notes.append(row.note)
    return "; ".join(notes)


def _book_note(book: tuple[str, str], lower: float, upper: float) -> str:
    """Where a published figure lies against statdl's 95% interval (#17: "within the
    bootstrap interval, or by how much it misses")."""
    label, printed = book
    value = float(printed)
    if lower <= value <= upper:
        return f"{label} {printed} inside the 95% interval"
    side, gap = ("above", value - upper) if value > upper else ("below", lower - value)
    return f"{label} {printed} outside the 95% interval: {gap:.4f} {side} it"


def write_table(path: Path, state: dict[str, Any], meta: dict[str, Any]) -> None:
    """Rewrite ``docs/results.md`` from ``state`` (atomic: temporary file, then rename)."""
    lines = [
        "# Reproducing the course",
        "",
        "Generated by `python bench/reproduce.py` (do not edit by hand). Test-set figures: "
        "accuracy (MNIST, IMDB), MSE of log salary (Hitters) or R2 of log volume (NYSE: "
        "ISLR2's 1 - MSE/var(y)), at the course's or textbook's settings on the real data; "
        "hitters-cv's RMSE is resampled (cross-validation) and mnist-uncertainty's figure is "
        "a conformal coverage (details below the table). "
        "statdl's 95% interval: Clopper-Pearson for accuracy (caret), percentile bootstrap for "
        "MSE and R2. Keras 3 runs the same model on the same arrays (JAX backend, own "
        "process). Seconds: training + test prediction, on the machine below; the CPU is shared "
        "with other jobs, so timings are noisy.",
        "",
        f"Machine: {meta.get('machine', '?')}. Last updated: {meta.get('updated', '?')}.",
        *busy_intro(state),
        "",
        "| lab | course | statdl (95% CI) | Keras 3 | statdl s | Keras 3 s | "
        + "".join(f"{h} | " for h in busy_headers(state)) + "notes |",
        "|---|---|---|---|---|---|" + "---|" * len(busy_headers(state)) + "---|",
    ]
    for row in ROWS:
        entry = state.get(row.key)
        busy = "".join(f"{c} | " for c in busy_cells(row, state))
        if entry is None:
            lines.append(f"| {row.key} | {row.course} | not run in this session | - | - | - | "
                         f"{busy}"
                         f"{'target ' + ('<= ' if row.lower_is_better else '>= ') + str(row.target) if row.target is not None else ''} |")
            continue
        s, k = entry.get("statdl", {}), entry.get("keras", {})
        if s.get("error"):
            value = f"failed: {s['error'][:60]}"
        else:
            ci = (f" ({_fmt(s.get('lower'), row.metric)}, {_fmt(s.get('upper'), row.metric)})"
                  if s.get("lower") is not None else "")
            value = _fmt(s.get("value"), row.metric) + ci
        keras_value = ("-" if not row.keras else "not run" if not k
                       else "failed" if k.get("error") else _fmt(k.get("value"), row.metric))
        spread = state.get(SPREAD, {}).get("rows", {}).get(row.key)
        lines.append(f"| {row.key} | {row.course} | {value} | {keras_value} | "
                     f"{_seconds(s)} | {_seconds(k)} | {busy}{_verdict(row, s, k, spread)} |")
    lines += details_section(state)
    lines += spread_table(state.get(SPREAD, {}))
    lines += ["", "<!-- reproduce-state", json.dumps(state, indent=1, sort_keys=True), "-->", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    os.replace(tmp, path)


def _seconds(side: dict[str, Any]) -> str:
    """Seconds of one side for the table: one decimal below 10 s, where 0 and 1 say little."""
    sec = side.get("seconds")
    if not sec:
        return "failed" if side.get("error") else "-"
    return f"{sec:.1f}" if sec < 10 else f"{sec:.0f}"


# ----------------------------------------------------------------------------- under load
def busy_levels(state: dict[str, Any]) -> list[str]:
    """The background loads measured (numbers of busy processes, as state keys), ascending."""
    return sorted((n for n, v in state.get(BUSY, {}).items() if v.get("rows")), key=int)


def _busy_label(n: str) -> str:
    return f"{n} busy"


def busy_headers(state: dict[str, Any]) -> list[str]:
    """Three columns per load measured: statdl's seconds, Keras 3's, and their ratio."""
    return [h for n in busy_levels(state)
            for h in (f"statdl s, {_busy_label(n)}", f"Keras 3 s, {_busy_label(n)}",
                      f"statdl/Keras, {_busy_label(n)}")]


def busy_cells(row: Row, state: dict[str, Any]) -> list[str]:
    """The row's cells of :func:`busy_headers` ("-" where the row was not measured)."""
    cells = []
    for n in busy_levels(state):
        entry = state[BUSY][n]["rows"].get(row.key)
        if entry is None:
            cells += ["-", "-", "-"]
            continue
        s, k = entry.get("statdl", {}), entry.get("keras", {})
        ratio = "-"
        if s.get("seconds") and k.get("seconds"):
            r = s["seconds"] / k["seconds"]
            ratio = f"{r:.2f}" + ("" if r <= 1 else " (**slower**)")
        cells += [_seconds(s), _seconds(k), ratio]
    return cells


def busy_intro(state: dict[str, Any]) -> list[str]:
    """The paragraph explaining the busy columns (none when no load was measured)."""
    levels = busy_levels(state)
    if not levels:
        return []
    updated = "; ".join(f"{_busy_label(n)}: {state[BUSY][n].get('updated', '?')}"
                        for n in levels)
    return ["", "Columns marked \"busy\" (`python bench/reproduce.py --background N`): the same "
            "run while N processes of the benchmark's own keep one core each busy (pure Python "
            "loops, `bench/_background.py`), statdl and Keras 3 in turn, each with fresh busy "
            "processes; a ratio above 1 means statdl was slower. Under load Keras runs the CNN "
            "on JAX, its faster backend there (the torch backend's threads stall as statdl's "
            f"used to). Last updated: {updated}."]


def measure_row(row: Row, data_dir: str | None, runs_dir: str, keras_ok: bool,
                background: int = 0) -> dict[str, Any]:
    """statdl's and Keras 3's run of ``row``, each while ``background`` busy processes run."""
    print(f"\n##### {row.key} (statdl" + (f", {background} busy" if background else "") + ")",
          flush=True)
    with busy_background(background):
        try:
            s = run_statdl(row, data_dir, runs_dir)
        except Exception as exc:  # noqa: BLE001 - a failed lab is a row, not a crash
            s = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"statdl's run failed: {s['error']}", file=sys.stderr, flush=True)
    k: dict[str, Any] = {}
    if keras_ok and row.keras:
        print(f"##### {row.key} (Keras 3, {keras_backend(row, background)}"
              + (f", {background} busy" if background else "") + ")", flush=True)
        with busy_background(background):
            k = run_keras(row, data_dir, background=background)
    return {"statdl": s, "keras": k}


# ----------------------------------------------------------------------------- seed spread
def spread_seeds(n: int) -> list[int]:
    """The seeds of a spread of ``n`` runs: the course's 1001, then 1002, 1003 ... (fixed in
    advance, the same for statdl and Keras; never chosen by their results)."""
    return [COURSE_SEED + i for i in range(n)]


def _values(side: dict[str, Any]) -> list[float]:
    return [r["value"] for _, r in sorted(side.items(), key=lambda kv: int(kv[0]))
            if r.get("value") is not None]


def _summary(row: Row, values: list[float]) -> dict[str, Any]:
    import numpy as np

    v = np.asarray(values, dtype=float)
    return {"n": len(v), "mean": float(v.mean()) if len(v) else None,
            "sd": float(v.std(ddof=1)) if len(v) > 1 else None,
            "min": float(v.min()) if len(v) else None, "max": float(v.max()) if len(v) else None,
            "meets": (sum(_meets(row, x) for x in values) if row.target is not None else None)}


def spread_stats(row: Row, entry: dict[str, Any]) -> dict[str, Any]:
    """Summaries of both sides and Welch's t-test of statdl's mean against Keras's.

    Welch's unequal-variance t-test (two-sided), with the 95% interval of the difference of
    means statdl - Keras; the seeds are not paired (the same number seeds different generators
    in the two frameworks), so the test is the unpaired one.
    """
    sv, kv = _values(entry.get("statdl", {})), _values(entry.get("keras", {}))
    out: dict[str, Any] = {"statdl": _summary(row, sv), "keras": _summary(row, kv),
                           "errors": sum(bool(r.get("error")) for side in ("statdl", "keras")
                                         for r in entry.get(side, {}).values())}
    if len(sv) > 1 and len(kv) > 1 and (max(sv) > min(sv) or max(kv) > min(kv)):
        from scipy import stats

        test = stats.ttest_ind(sv, kv, equal_var=False)
        ci = test.confidence_interval(0.95)
        out["welch"] = {"t": float(test.statistic), "df": float(test.df),
                        "p": float(test.pvalue), "diff": float(sum(sv) / len(sv)
                                                               - sum(kv) / len(kv)),
                        "lower": float(ci.low), "upper": float(ci.high)}
    return out


def spread_table(spread: dict[str, Any]) -> list[str]:
    """The Markdown of the seed-spread section (empty when no spread was run)."""
    rows = spread.get("rows", {})
    if not rows:
        return []
    lines = [
        "",
        "## Seed spread",
        "",
        "Generated by `python bench/reproduce.py --spread ROWS --seeds N`. Each chosen row is run "
        "again with N seeds fixed in advance (1001, 1002, ...; 1001 is the course's "
        "`set.seed(1001)` and the seed of the table above), for statdl and for Keras 3 with the "
        "same seeds on the same data. A seed sets the initial weights, the shuffling of the "
        "batches and dropout; the data and the splits do not change (Hitters keeps the course's "
        "`set.seed(1001)` test split of 79 players for every seed). The two frameworks draw "
        "different random numbers from the same seed, so the runs are not paired: statdl - "
        "Keras is the difference of the means with Welch's 95% interval (for MSE a negative "
        "difference favours statdl, for accuracy a positive one), and p is Welch's "
        "two-sided t-test of equal means. With a handful of seeds per side, only differences "
        "of the order of the seed-to-seed sd can be detected. The course's figures come from "
        "one run each whose weights R's `set.seed()` did not fix (keras draws them in Python), "
        "so each is itself one draw from such a distribution.",
        "",
        f"Last updated: {spread.get('updated', '?')}.",
        "",
        "| lab | course | target | seeds | statdl mean (sd) | statdl range | statdl seeds "
        "meeting target | Keras 3 mean (sd) | Keras 3 range | Keras 3 seeds meeting target | "
        "statdl - Keras 3 (95% CI) | Welch p |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in ROWS:
        entry = rows.get(row.key)
        if entry is None:
            continue
        st = spread_stats(row, entry)
        seeds = sorted({int(x) for side in ("statdl", "keras") for x in entry.get(side, {})})
        seed_text = (f"{len(seeds)} ({seeds[0]}-{seeds[-1]})" if seeds else "-")
        if st["errors"]:
            seed_text += f", {st['errors']} failed"
        target = ("-" if row.target is None
                  else f"{'<=' if row.lower_is_better else '>='} {row.target}")
        cells = []
        for side in ("statdl", "keras"):
            sm = st[side]
            if not sm["n"]:
                cells += ["not run", "-", "-"]
                continue
            sd = f" ({_fmt(sm['sd'], row.metric)})" if sm["sd"] is not None else ""
            cells += [_fmt(sm["mean"], row.metric) + sd,
                      f"{_fmt(sm['min'], row.metric)}-{_fmt(sm['max'], row.metric)}",
                      "-" if sm["meets"] is None else f"{sm['meets']} of {sm['n']}"]
        w = st.get("welch")
        if w:
            cells += [f"{w['diff']:+.{3 if row.metric == 'MSE' else 4}f} "
                      f"({w['lower']:+.{3 if row.metric == 'MSE' else 4}f}, "
                      f"{w['upper']:+.{3 if row.metric == 'MSE' else 4}f})",
                      f"{w['p']:.2f}"]
        else:
            cells += ["-", "-"]
        lines.append(f"| {row.key} | {row.course} | {target} | {seed_text} | "
                     + " | ".join(cells) + " |")
    return lines


def run_spread(rows: list[Row], n_seeds: int, args: argparse.Namespace, state: dict[str, Any],
               meta: dict[str, Any], out: Path, keras_ok: bool, runs_dir: str) -> None:
    """Measure the seeds of each row not yet in ``state`` (all of them with ``--redo``)."""
    spread = state.setdefault(SPREAD, {})
    entries = spread.setdefault("rows", {})
    for row in rows:
        entry = entries.setdefault(row.key, {"statdl": {}, "keras": {}})
        for seed in spread_seeds(n_seeds):
            key = str(seed)
            sides = [("statdl", True), ("keras", keras_ok and row.keras)]
            for side, enabled in sides:
                done = entry[side].get(key)
                if not enabled or (done and not done.get("error") and not args.redo):
                    continue
                print(f"\n##### spread {row.key}, seed {seed} ({side})", flush=True)
                if side == "statdl":
                    try:
                        r = run_statdl(row, args.data_dir, runs_dir, seed=seed, quiet=True)
                        r.pop("run_dir", None)
                    except Exception as exc:  # noqa: BLE001 - a failed seed is recorded
                        r = {"error": f"{type(exc).__name__}: {exc}"}
                else:
                    r = run_keras(row, args.data_dir, seed=seed)
                entry[side][key] = r
                spread["updated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
                write_table(out, state, meta)
                print(f"spread {row.key} seed {seed} {side}: {r.get('value', r.get('error'))}",
                      flush=True)
        st = spread_stats(row, entry)
        print(f"spread {row.key}: statdl {st['statdl']}, Keras {st['keras']}, "
              f"Welch {st.get('welch')}", flush=True)


def rows_measured(state: dict[str, Any], background: int) -> dict[str, Any]:
    """Where the rows measured with ``background`` busy processes live in ``state`` (created
    on demand): the state itself for a quiet machine, else its own key under ``_busy``."""
    if not background:
        return state
    return state.setdefault(BUSY, {}).setdefault(str(background), {}).setdefault("rows", {})


def _select(spec: str | None) -> list[Row]:
    if not spec:
        return list(ROWS)
    out = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        matches = [r for r in ROWS if r.key == item or r.lab == item]
        if not matches:
            raise SystemExit(f"reproduce.py: unknown lab {item!r}; rows are "
                             f"{', '.join(BY_KEY)} (a lab name selects all its rows)")
        out += [m for m in matches if m not in out]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--labs", help="comma-separated row keys or lab names (default: all)")
    p.add_argument("--no-keras", action="store_true", help="skip the Keras 3 side")
    p.add_argument("--data-dir", default=os.environ.get("STATDL_DATA"),
                   help="folder with mnist/ and aclImdb_labeled.tar.gz (default $STATDL_DATA)")
    p.add_argument("--out", default=str(OUT), help="the Markdown table to write")
    p.add_argument("--runs-dir", default=None, help="lab run folders (default: a temp folder)")
    p.add_argument("--redo", action="store_true", help="measure rows again even if present")
    p.add_argument("--list", action="store_true", help="list the row keys and exit")
    p.add_argument("--spread", metavar="ROWS",
                   help="comma-separated row keys or lab names to rerun with --seeds seeds, "
                        "statdl and Keras, for the seed-spread table (alone, it runs only "
                        "the spread; add --labs to measure single-run rows too)")
    p.add_argument("--seeds", type=int, default=5,
                   help="seeds per side in a spread: 1001, 1002, ... (default 5)")
    p.add_argument("--background", type=int, default=0, metavar="N",
                   help="measure the rows' timings while N busy processes compete for the "
                        "cores; stored in columns of their own (default 0: the quiet table)")
    p.add_argument("--keras-worker", help=argparse.SUPPRESS)
    p.add_argument("--keras-seed", type=int, default=COURSE_SEED, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.keras_worker:
        _keras_worker(args.keras_worker, args.keras_seed)
        return 0
    if args.seeds < 2:
        raise SystemExit("reproduce.py: --seeds must be >= 2 (a spread needs two runs a side)")
    try:
        check_count(args.background)
    except ValueError as exc:
        raise SystemExit(f"reproduce.py: {exc}") from None
    if args.background and args.spread:
        raise SystemExit("reproduce.py: --background times the single-run rows (--labs); it "
                         "does not apply to --spread, whose seeds compare accuracy only. Run "
                         "them separately.")
    if args.list:
        for r in ROWS:
            print(f"{r.key:<24} lab {r.lab} {r.options or ''} course {r.course}")
        return 0
    rows = _select(args.labs) if args.labs or not args.spread else []
    spread_rows = _select(args.spread) if args.spread else []
    out = Path(args.out)
    state = _read_state(out)
    keras_ok = not args.no_keras and keras_available()
    if not args.no_keras and not keras_ok:
        print("Keras 3 with JAX is not installed (pip install keras jax): Keras column skipped.")
    import platform

    import torch

    machine = (f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
               f"Python {platform.python_version()}")
    meta = {"machine": machine}
    header = _HEADER.search(out.read_text(encoding="utf-8")) if out.exists() else None
    if header and header.group(2) != "?":
        # Until a single-run row is measured again, its machine and date stay those of the file.
        meta = {"machine": header.group(1), "updated": header.group(2)}
    runs_dir = args.runs_dir or tempfile.mkdtemp(prefix="statdl-reproduce-")
    table = rows_measured(state, args.background)
    for row in rows:
        if row.key in table and not args.redo and not table[row.key].get("statdl", {}).get(
                "error"):
            print(f"{row.key}: already in {out}" + (f" with {args.background} busy"
                                                    if args.background else "")
                  + " (use --redo to measure again)")
            continue
        table[row.key] = measure_row(row, args.data_dir, runs_dir, keras_ok, args.background)
        publish_figures(row, table[row.key]["statdl"], out)
        now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        meta["machine"], meta["updated"] = machine, now
        if args.background:
            state[BUSY][str(args.background)]["updated"] = now
        write_table(out, state, meta)
        s, k = table[row.key]["statdl"], table[row.key]["keras"]
        print(f"{row.key}: statdl {s.get('value')} ({s.get('seconds')} s), Keras {k.get('value')}"
              f" ({k.get('seconds')} s)" + (f" with {args.background} busy"
                                           if args.background else "") + f"; table: {out}",
              flush=True)
    if spread_rows:
        run_spread(spread_rows, args.seeds, args, state, meta, out, keras_ok, runs_dir)
    if not rows or all(r.key in table for r in rows):
        meta.setdefault("updated", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        write_table(out, state, meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
