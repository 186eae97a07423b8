"""Training steps of two lab rows, statdl (fast paths on and off) against Keras-JAX.

The ``nyse-conv1d`` and ``imdb-bilstm@20`` rows of ``docs/results.md``, one model each:

* ``conv1d``: ``Conv1D(16, 3, relu)`` + ``Flatten`` + ``Dense(1)`` on the NYSE lab's (5, 3)
  windows (4,276 training days, 67 steps of 64 per epoch), RMSprop, mean squared error, the
  test days as validation data (``labs.nyse.run_conv1d``);
* ``bilstm``: ``Embedding(10000, 8)`` + ``Bidirectional(LSTM(32))`` + ``Dense(1, sigmoid)`` on
  the IMDB reviews cut to 20 words, batch 128, RMSprop, binary cross-entropy and accuracy,
  20% validation split (157 steps of 128 per epoch; ``labs.imdb_rnn``).

Frameworks: ``statdl`` (``fit`` as the lab calls it), ``statdl-autograd`` (the same with
``STATDL_FAST_PATHS=0``: every hand-written path off), ``keras-jax`` (Keras 3 on JAX). Each
runs in its own process: a 2-epoch warm-up (Keras compiles), then ``--repeats`` fits of
``--epochs`` epochs (the fastest counts), and one fit without validation data (``fit-only``:
the epoch's steps alone). ``--rounds`` takes the frameworks in turn and keeps each one's best.
``--background N`` runs every process while N busy processes compete for the cores. Needs the
ISLP NYSE data / the IMDB files (``--data-dir`` or ``STATDL_DATA``). Usage::

    python bench/lab_rows_speed.py --model conv1d --data-dir ../shared/data --background 1
    python bench/lab_rows_speed.py --model bilstm --data-dir ../shared/data --epochs 2
"""

# Measured 2026-12-01 (2 cores, under /tmp/team/benchlock; `--epochs 10 --repeats 3 --rounds 2`
# for conv1d, `--epochs 2 --repeats 2` for bilstm; ms per step of the epoch's steps alone):
# * conv1d, before the Conv1D prefix (06:10, a slow hour): statdl 0.985 (quiet) / 1.366 (1 busy)
#   against Keras-JAX 0.472 / 0.531. After (07:21): statdl 0.250 / 0.245, Keras 0.235 / 0.285,
#   STATDL_FAST_PATHS=0 0.740 / 0.704; epochs with validation statdl/Keras 0.86 quiet, 0.80 busy.
# * bilstm, before the BiLSTM prefix (06:12, slow hour): statdl 14.1 / 15.4 against Keras 9.5 /
#   11.6. After (07:24): statdl 4.69 / 7.13, Keras 4.78 / 4.90 (FAST_PATHS=0 10.7 / 11.9): per
#   step statdl matches Keras quiet (two threads) but not busy, where the governor leaves it one
#   thread and oneDNN's two directions run one after the other (Keras's XLA runs them at once).
#   The lab rows still come out ahead (Keras compiles its step): bench/reproduce.py
#   --labs imdb-bilstm@20 gave 12.7 s against 14.6 s busy, 8.4 against 12.0 s quiet.

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import time

from _background import busy_background, check_count

FRAMEWORKS = ["statdl", "statdl-autograd", "keras-jax"]
MODELS = {"conv1d": 64, "bilstm": 128}


def _data(model: str):
    import numpy as np

    with contextlib.redirect_stdout(io.StringIO()):
        if model == "conv1d":
            from statdl.labs.nyse import nyse_data

            data = nyse_data()
            tr, y, x = data["train"], data["y"].astype("float32"), data["windows"]
            x = x.astype("float32")
            return x[tr], y[tr], {"validation_data": (x[~tr], y[~tr])}
        import statdl as sd

        (x_tr, y_tr), _ = sd.datasets.imdb(num_words=10000)
        x_tr = sd.text.pad_sequences(x_tr, maxlen=20)
        return x_tr, np.asarray(y_tr, dtype="int64"), {"validation_split": 0.2}


def _statdl_model(model: str, shape):
    import statdl as sd
    from statdl import layers as L

    sd.set_seed(1)
    if model == "conv1d":
        net = sd.Sequential([L.Conv1D(16, 3, activation="relu"), L.Flatten(), L.Dense(1)],
                            input_shape=shape)
        net.compile(optimizer="rmsprop", loss="mse")
    else:
        net = sd.Sequential([L.Embedding(10000, 8), L.Bidirectional(L.LSTM(32)),
                             L.Dense(1, activation="sigmoid")], input_shape=shape)
        net.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return net


def _keras_model(model: str, shape):
    import keras
    from keras import layers as K

    keras.utils.set_random_seed(1)
    if model == "conv1d":
        net = keras.Sequential([keras.Input(shape), K.Conv1D(16, 3, activation="relu"),
                                K.Flatten(), K.Dense(1)])
        net.compile(optimizer="rmsprop", loss="mse")
    else:
        net = keras.Sequential([keras.Input(shape), K.Embedding(10000, 8),
                                K.Bidirectional(K.LSTM(32)), K.Dense(1, activation="sigmoid")])
        net.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return net


def child(framework: str, model: str, epochs: int, repeats: int) -> None:
    """Time ``repeats`` fits of ``epochs`` epochs in this process; print JSON."""
    x, y, val = _data(model)
    build = _statdl_model if framework.startswith("statdl") else _keras_model
    net = build(model, x.shape[1:])
    batch = MODELS[model]
    net.fit(x, y, epochs=2, batch_size=batch, verbose=0, **val)  # warm-up (Keras compiles)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        net.fit(x, y, epochs=epochs, batch_size=batch, verbose=0, **val)
        times.append(time.perf_counter() - start)
    # the steps alone: the same rows, no validation
    n_fit = int(len(x) * 0.8) if "validation_split" in val else len(x)
    start = time.perf_counter()
    net.fit(x[:n_fit], y[:n_fit], epochs=epochs, batch_size=batch, verbose=0)
    fit_only = time.perf_counter() - start
    steps = -(-n_fit // batch)
    threads = None
    if framework.startswith("statdl"):
        threads = net.history_.params.get("threads")
    print(json.dumps({"epoch_ms": [1000 * t / epochs for t in times], "steps": steps,
                      "fit_only_ms": 1000 * fit_only / epochs, "threads": threads}))


def run_child(framework: str, args) -> dict | None:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    if framework.startswith("keras"):
        env["KERAS_BACKEND"] = "jax"
    if framework == "statdl-autograd":
        env["STATDL_FAST_PATHS"] = "0"
    if args.data_dir:
        env["STATDL_DATA"] = args.data_dir
    proc = subprocess.run([sys.executable, __file__, "--child", framework, "--model",
                           args.model, "--epochs", str(args.epochs), "--repeats",
                           str(args.repeats)], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"{framework} failed:\n{proc.stderr[-2000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), required=False, default="conv1d")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--background", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.model, args.epochs, args.repeats)
        return
    check_count(args.background)
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = sorted(set(frameworks) - set(FRAMEWORKS))
    if unknown:
        parser.error(f"--frameworks: unknown {unknown}; choose from {FRAMEWORKS}")
    best: dict[str, dict] = {}
    for r in range(args.rounds):
        order = frameworks[r % len(frameworks):] + frameworks[:r % len(frameworks)]
        for fw in order:
            with busy_background(args.background):
                out = run_child(fw, args)
            if out is None:
                continue
            print(f"round {r + 1} {fw:16s} ms/epoch {', '.join(f'{t:.1f}' for t in out['epoch_ms'])}"
                  f"  fit-only {out['fit_only_ms']:.1f}  threads {out['threads']}", flush=True)
            b = best.setdefault(fw, {"epoch": float("inf"), "fit": float("inf")})
            b["epoch"] = min(b["epoch"], *out["epoch_ms"])
            b["fit"] = min(b["fit"], out["fit_only_ms"])
            b["steps"] = out["steps"]
    busy = f", {args.background} busy" if args.background else ", quiet"
    print(f"\n{args.model}: best ms per epoch ({MODELS[args.model]} per batch{busy}):")
    for fw, b in best.items():
        ratio = ""
        if "keras-jax" in best:
            k = best["keras-jax"]
            ratio = (f"  statdl/Keras epoch {b['epoch'] / k['epoch']:.2f}, "
                     f"steps {b['fit'] / k['fit']:.2f}")
        print(f"{fw:16s} {b['epoch']:7.1f} ms/epoch, steps only {b['fit']:7.1f} "
              f"({b['fit'] / max(b['steps'], 1):.3f} ms/step){ratio}")


if __name__ == "__main__":
    main()
