"""Training speed of the course's 784-100-784 tanh autoencoder: statdl vs Keras 3 (JAX).

Both train the same model (Dense(100, tanh) -> Dense(784), Adam, MSE) on real MNIST scaled
to [0, 1] for ``--epochs`` epochs at batch ``--batch-size`` (course: 10 epochs, 256), with
shuffling and no progress output. Prints samples per second over all epochs (what a user
waits for, Keras's JIT compilation included) and over epochs 2.. (steady state), the ratio
statdl / Keras (target >= 1.0) and the load average, since the machine may be shared.

MNIST is read from ``--data`` (a folder with the four IDX files; default
``$STATDL_DATA/mnist`` or ``../shared/data/mnist``). Keras is skipped with a message when
``keras`` and ``jax`` are not installed (``pip install keras jax``).

On a shared 2-core machine torch's default of 2 intra-op threads can be several times slower
than 1 thread (threads spin while the other core is busy); ``--threads 1`` shows the
difference.

Run ``python bench/autoencoder_speed.py [--epochs 10] [--batch-size 256] [--samples 60000]
[--threads 1]``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

import statdl as sd
from statdl.autoencoders import Autoencoder
from statdl.training.callbacks import Callback

REPO = Path(__file__).resolve().parents[1]


class EpochTimer(Callback):
    """Wall time at the end of each epoch (statdl)."""

    def __init__(self):
        self.ends: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(time.perf_counter())


def rates(start: float, ends: list[float], n: int) -> tuple[float, float]:
    total = n * len(ends) / (ends[-1] - start)
    steady = n * (len(ends) - 1) / (ends[-1] - ends[0]) if len(ends) > 1 else total
    return total, steady


def run_statdl(x: np.ndarray, epochs: int, batch_size: int) -> tuple[float, float, float]:
    sd.set_seed(0)
    ae = Autoencoder(784, 100)
    ae.compile(optimizer="adam", loss="mse")
    timer = EpochTimer()
    start = time.perf_counter()
    h = ae.fit(x, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[timer])
    return (*rates(start, timer.ends, len(x)), h.history["loss"][-1])


def run_keras(x: np.ndarray, epochs: int, batch_size: int):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
        print(f"Keras skipped: cannot import keras with the JAX backend ({exc}); "
              "`pip install keras jax` to compare.")
        return None
    ends: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            ends.append(time.perf_counter())

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(100, activation="tanh"),
                              keras.layers.Dense(784)])
    model.compile(optimizer="adam", loss="mse")
    start = time.perf_counter()
    h = model.fit(x, x, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[Timer()])
    return (*rates(start, ends, len(x)), h.history["loss"][-1], keras.backend.backend())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--data", default=None)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads for statdl (default: torch's choice)")
    parser.add_argument("--skip-keras", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = args.data or (Path(os.environ["STATDL_DATA"]) / "mnist" if "STATDL_DATA" in
                         os.environ else REPO.parent / "shared" / "data" / "mnist")
    (x, _), _ = sd.datasets.mnist(path=data)
    x = (x[: args.samples].reshape(-1, 784) / 255.0).astype("float32")
    print(f"784-100-784 tanh autoencoder, {len(x)} MNIST images, {args.epochs} epochs, "
          f"batch {args.batch_size}; load average before: {os.getloadavg()}")
    ours = run_statdl(x, args.epochs, args.batch_size)
    print(f"statdl (torch {torch.__version__}, {torch.get_num_threads()} threads): {ours[0]:,.0f} samples/s overall, "
          f"{ours[1]:,.0f} steady; final loss {ours[2]:.5f}")
    if args.skip_keras:
        return
    theirs = run_keras(x, args.epochs, args.batch_size)
    if theirs is None:
        return
    print(f"Keras 3 ({theirs[3]}): {theirs[0]:,.0f} samples/s overall, {theirs[1]:,.0f} steady;"
          f" final loss {theirs[2]:.5f}")
    print(f"ratio statdl / Keras: {ours[0] / theirs[0]:.2f} overall, "
          f"{ours[1] / theirs[1]:.2f} steady (target >= 1.0); "
          f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
