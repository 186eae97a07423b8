"""Training step of the NYSE lab's SimpleRNN: statdl (hand-written step and autograd) vs Keras-JAX.

The ``nyse-rnn`` row of ``docs/results.md``: ``SimpleRNN(12, dropout=0.1,
recurrent_dropout=0.1)`` + ``Dense(1)`` on the lab's (5, 3) windows of the NYSE series (4,276
training days, 67 steps of 64 per epoch), RMSprop, mean squared error, the test days as
validation data, as the lab and ``bench/reproduce.py``'s Keras model run it. Frameworks:

* ``statdl``: ``fit`` as the lab calls it (the SimpleRNN under the Dense step's hand-written
  step, ``training.dense_step``);
* ``statdl-autograd``: the same with the fast path ``dense_step`` off (the SimpleRNN's
  autograd node, the module calls and autograd's engine: the path before 2026-12-01);
* ``keras-jax``: Keras 3 on JAX (one compiled function per step).

Each runs in its own process: a 2-epoch warm-up (Keras compiles), then ``--repeats`` fits of
``--epochs`` epochs, of which the fastest counts; ``--rounds`` takes the frameworks in turn
(each round starting one later) and keeps each one's best. Prints ms per epoch and per step
and the ratio statdl / Keras (above 1: statdl slower). ``--background N`` runs every process
while N busy processes (``bench/_background.py``) compete for the cores. Needs the ISLP NYSE
data (``STATDL_DATA`` or ``--data-dir``). Usage::

    python bench/nyse_rnn_speed.py --data-dir ../shared/data --rounds 2
    python bench/nyse_rnn_speed.py --data-dir ../shared/data --background 1
"""

# Measured 2026-12-01 04:35 UTC (2 cores, quiet, under /tmp/team/benchlock;
# `python bench/nyse_rnn_speed.py --data-dir /work/shared/data --rounds 2`, best epoch of
# 2 rounds x 3 fits of 20 epochs): statdl 44.0 ms/epoch (0.656 ms/step), statdl-autograd 72.6
# (1.083), Keras-JAX 47.2 (0.705): statdl/Keras 0.93 (autograd path 1.54). The lab itself
# (`bench/reproduce.py --labs nyse-rnn --redo`, 200 epochs + predict): statdl 10.7 s against
# Keras 17.3 s quiet, 12.2 against 24.5 s with one busy process; same R2 0.4044 as before.
# With one busy process (04:51, `--background 1 --frameworks statdl,keras-jax --rounds 2
# --epochs 10`): statdl 48.2 ms/epoch (0.719 ms/step), Keras-JAX 55.1 (0.823): 0.87.

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
BATCH = 64


def _data():
    with contextlib.redirect_stdout(io.StringIO()):  # the lab's data summary line
        from statdl.labs.nyse import nyse_data

        data = nyse_data()
    train, y, x = data["train"], data["y"].astype("float32"), data["windows"].astype("float32")
    return x[train], y[train], x[~train], y[~train]


def child(framework: str, epochs: int, repeats: int) -> None:
    """Time ``repeats`` fits of ``epochs`` epochs in this process; print JSON."""
    x_tr, y_tr, x_te, y_te = _data()
    if framework.startswith("statdl"):
        import statdl as sd
        from statdl import layers as L

        sd.set_seed(1)
        model = sd.Sequential([L.SimpleRNN(12, dropout=0.1, recurrent_dropout=0.1),
                               L.Dense(1)], input_shape=x_tr.shape[1:])
    else:
        import keras
        from keras import layers as K

        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input(x_tr.shape[1:]),
                                  K.SimpleRNN(12, dropout=0.1, recurrent_dropout=0.1),
                                  K.Dense(1)])
    model.compile(optimizer="rmsprop", loss="mse")
    fit = {"batch_size": BATCH, "verbose": 0, "validation_data": (x_te, y_te)}
    model.fit(x_tr, y_tr, epochs=2, **fit)  # warm-up (Keras compiles its step)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(x_tr, y_tr, epochs=epochs, **fit)
        times.append(time.perf_counter() - start)
    steps = -(-len(x_tr) // BATCH)
    print(json.dumps({"epoch_ms": [1000 * t / epochs for t in times], "steps": steps}))


def run_child(framework: str, args) -> list[float] | None:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    if framework.startswith("keras"):
        env["KERAS_BACKEND"] = "jax"
    if framework == "statdl-autograd":
        env["STATDL_FAST_PATHS"] = "-dense_step"
    if args.data_dir:
        env["STATDL_DATA"] = args.data_dir
    proc = subprocess.run([sys.executable, __file__, "--child", framework, "--epochs",
                           str(args.epochs), "--repeats", str(args.repeats)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"{framework} failed:\n{proc.stderr[-2000:]}")
        return None
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["epoch_ms"], out["steps"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--background", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.epochs, args.repeats)
        return
    check_count(args.background)
    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = sorted(set(frameworks) - set(FRAMEWORKS))
    if unknown:
        parser.error(f"--frameworks: unknown {unknown}; choose from {FRAMEWORKS}")
    best: dict[str, float] = {}
    steps = 0
    for r in range(args.rounds):
        order = frameworks[r % len(frameworks):] + frameworks[:r % len(frameworks)]
        for fw in order:
            with busy_background(args.background):
                result = run_child(fw, args)
            if result is None:
                continue
            epoch_ms, steps = result
            print(f"round {r + 1} {fw:16s} ms/epoch {', '.join(f'{t:.1f}' for t in epoch_ms)}",
                  flush=True)
            best[fw] = min(best.get(fw, float("inf")), *epoch_ms)
    busy = f", {args.background} busy" if args.background else ", quiet"
    print(f"\nbest ms per epoch ({steps} steps of {BATCH}{busy}):")
    for fw, ms in best.items():
        ratio = f"  statdl/Keras {ms / best['keras-jax']:.2f}" if "keras-jax" in best else ""
        print(f"{fw:16s} {ms:7.1f} ms/epoch  {ms / max(steps, 1):.3f} ms/step{ratio}")


if __name__ == "__main__":
    main()
