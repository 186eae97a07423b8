"""Reproduce the course's figures: statdl labs and the same models in Keras 3, side by side.

Runs labs at the course's settings on the real data and, in the same run, the same model in
Keras 3 (JAX backend, in a separate process) when ``keras`` and ``jax`` are installed
(``pip install keras jax``; not a statdl dependency). Writes ``docs/results.md``: the course's
figure, statdl's with its 95% interval, Keras 3's, and the seconds of training + prediction of
each. Rows are written as each lab finishes, so an interrupted run still leaves a valid table;
running again skips rows already measured (``--redo`` measures them again).

Usage::

    python bench/reproduce.py --data-dir ../shared/data                  # everything
    python bench/reproduce.py --labs hitters-nn,mnist-logit --no-keras   # a selection
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results.md"
_STATE = re.compile(r"<!-- reproduce-state\n(.*?)\n-->", re.S)


@dataclass(frozen=True)
class Row:
    """One line of the table: a lab at given options, the course's figure and the target."""

    key: str
    lab: str
    options: dict[str, Any] = field(default_factory=dict)
    course: str = ""
    target: float | None = None
    metric: str = "accuracy"

    @property
    def lower_is_better(self) -> bool:
        return self.metric == "MSE"


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
    Row("imdb-lstm@500", "imdb-lstm", {"maxlen": 500}, "0.87 (textbook)", 0.86),
]
BY_KEY = {r.key: r for r in ROWS}


# ----------------------------------------------------------------------------- statdl side
def run_statdl(row: Row, data_dir: str | None, runs_dir: str) -> dict[str, Any]:
    from statdl.labs import run_lab

    t0 = time.perf_counter()
    res = run_lab(row.lab, data_dir=data_dir, runs_dir=runs_dir, verbose=2, **row.options)
    head = res["headline"]
    return {"value": head["value"], "lower": head["lower"], "upper": head["upper"],
            "seconds": res.get("fit_seconds"), "wall_seconds": time.perf_counter() - t0,
            "run_dir": res["run_dir"]}


# ----------------------------------------------------------------------------- Keras side
def keras_available() -> bool:
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run([sys.executable, "-c", "import keras, jax"], env=env,
                          capture_output=True, check=False)
    return proc.returncode == 0


def keras_backend(row: Row) -> str:
    """JAX everywhere but the CNN, where Keras's torch backend is the faster peer here."""
    return "torch" if row.lab == "mnist-cnn" else "jax"


def run_keras(row: Row, data_dir: str | None) -> dict[str, Any]:
    env = {**os.environ, "KERAS_BACKEND": keras_backend(row)}
    if data_dir:
        env["STATDL_DATA"] = data_dir
    proc = subprocess.run([sys.executable, __file__, "--keras-worker", row.key], env=env,
                          capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        return {"error": " | ".join(tail)}
    return json.loads(lines[-1])


def _keras_worker(key: str) -> None:
    """Train the row's model in Keras 3 on the same data; print a JSON line."""
    import keras
    import numpy as np
    from keras import layers as K

    import statdl as sd

    row = BY_KEY[key]
    keras.utils.set_random_seed(1001)
    if row.lab == "hitters-nn":
        from statdl.labs._rsample import r_sample

        x, y = sd.datasets.hitters(response="log_salary")
        x = np.asarray(sd.scale(x).x, dtype="float32")
        y = np.asarray(y, dtype="float32")
        te = np.array(r_sample(len(y), round(len(y) * 0.3), 1001)) - 1
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
    model = keras.Sequential([keras.Input((maxlen,)), K.Embedding(10000, 8), *body,
                              K.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    model.fit(x_tr, y_tr, epochs=10, batch_size=32 if kind == "embed" else 128,
              validation_split=0.2, verbose=2)
    pred = (model.predict(x_te, verbose=0)[:, 0] > 0.5).astype(int)
    seconds = time.perf_counter() - t0
    print(json.dumps({"value": float(np.mean(pred == y_te)), "seconds": seconds}))


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


def _verdict(row: Row, s: dict[str, Any], k: dict[str, Any]) -> str:
    notes = []
    value = s.get("value")
    if row.target is not None and value is not None:
        ok = value <= row.target if row.lower_is_better else value >= row.target
        sign = "<=" if row.lower_is_better else ">="
        notes.append(f"target {sign} {row.target}: {'met' if ok else '**missed**'}")
    if s.get("seconds") and k.get("seconds"):
        ratio = s["seconds"] / k["seconds"]
        notes.append(f"time ratio statdl/Keras {ratio:.2f}"
                     + ("" if ratio <= 1 else " (**slower**)"))
    if k.get("error"):
        notes.append(f"Keras failed: {k['error'][:80]}")
    if keras_backend(row) != "jax":
        notes.append(f"Keras on its {keras_backend(row)} backend")
    return "; ".join(notes)


def write_table(path: Path, state: dict[str, Any], meta: dict[str, Any]) -> None:
    """Rewrite ``docs/results.md`` from ``state`` (atomic: temporary file, then rename)."""
    lines = [
        "# Reproducing the course",
        "",
        "Generated by `python bench/reproduce.py` (do not edit by hand). Test-set figures: "
        "accuracy (MNIST, IMDB) or MSE of log salary (Hitters), at the course's settings on the "
        "real data. statdl's 95% interval: Clopper-Pearson for accuracy (caret), percentile "
        "bootstrap for MSE. Keras 3 runs the same model on the same arrays (JAX backend, own "
        "process). Seconds: training + test prediction, on the machine below; the CPU is shared "
        "with other jobs, so timings are noisy.",
        "",
        f"Machine: {meta.get('machine', '?')}. Last updated: {meta.get('updated', '?')}.",
        "",
        "| lab | course | statdl (95% CI) | Keras 3 | statdl s | Keras 3 s | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in ROWS:
        entry = state.get(row.key)
        if entry is None:
            lines.append(f"| {row.key} | {row.course} | not run in this session | - | - | - | "
                         f"{'target ' + ('<= ' if row.lower_is_better else '>= ') + str(row.target) if row.target is not None else ''} |")
            continue
        s, k = entry.get("statdl", {}), entry.get("keras", {})
        if s.get("error"):
            value = f"failed: {s['error'][:60]}"
        else:
            ci = (f" ({_fmt(s.get('lower'), row.metric)}, {_fmt(s.get('upper'), row.metric)})"
                  if s.get("lower") is not None else "")
            value = _fmt(s.get("value"), row.metric) + ci
        keras_value = ("not run" if not k else "failed" if k.get("error")
                       else _fmt(k.get("value"), row.metric))
        sec = f"{s['seconds']:.0f}" if s.get("seconds") else "-"
        ksec = f"{k['seconds']:.0f}" if k.get("seconds") else "-"
        lines.append(f"| {row.key} | {row.course} | {value} | {keras_value} | {sec} | {ksec} | "
                     f"{_verdict(row, s, k)} |")
    lines += ["", "<!-- reproduce-state", json.dumps(state, indent=1, sort_keys=True), "-->", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    os.replace(tmp, path)


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
    p.add_argument("--keras-worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.keras_worker:
        _keras_worker(args.keras_worker)
        return 0
    if args.list:
        for r in ROWS:
            print(f"{r.key:<18} lab {r.lab} {r.options or ''} course {r.course}")
        return 0
    rows = _select(args.labs)
    out = Path(args.out)
    state = _read_state(out)
    keras_ok = not args.no_keras and keras_available()
    if not args.no_keras and not keras_ok:
        print("Keras 3 with JAX is not installed (pip install keras jax): Keras column skipped.")
    import platform

    import torch

    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, torch "
                       f"{torch.__version__}, Python {platform.python_version()}"}
    runs_dir = args.runs_dir or tempfile.mkdtemp(prefix="statdl-reproduce-")
    for row in rows:
        if row.key in state and not args.redo and not state[row.key].get("statdl", {}).get(
                "error"):
            print(f"{row.key}: already in {out} (use --redo to measure again)")
            continue
        print(f"\n##### {row.key} (statdl)", flush=True)
        try:
            s = run_statdl(row, args.data_dir, runs_dir)
        except Exception as exc:  # noqa: BLE001 - a failed lab is a row, not a crash
            s = {"error": f"{type(exc).__name__}: {exc}"}
        k: dict[str, Any] = {}
        if keras_ok:
            print(f"##### {row.key} (Keras 3, JAX)", flush=True)
            k = run_keras(row, args.data_dir)
        state[row.key] = {"statdl": s, "keras": k}
        meta["updated"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        write_table(out, state, meta)
        print(f"{row.key}: statdl {s.get('value')} ({s.get('seconds')} s), Keras {k.get('value')}"
              f" ({k.get('seconds')} s); table: {out}", flush=True)
    if not rows or all(r.key in state for r in rows):
        meta.setdefault("updated", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        write_table(out, state, meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
