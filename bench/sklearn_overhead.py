"""What the scikit-learn wrapper costs: ``NetClassifier.fit`` vs a direct statdl ``fit``, and
vs skorch's ``NeuralNetClassifier`` with the same torch network and settings.

The network is the course's MNIST MLP (784-512-256-10, ReLU, dropout 0.4/0.3, softmax),
trained with RMSprop (learning rate 0.001, rho 0.9, epsilon 1e-7) at batch 128 for
``--epochs`` epochs on MNIST digits (statdl's shipped 6,000-digit sample by default; ``--data
full`` takes the first ``--samples`` of the 60,000 from ``$STATDL_DATA`` or the cache),
flattened and scaled to [0, 1], integer labels. Each timed call starts from a new model, as a
user's call does, and includes what that call does before training:

* ``statdl``   ``sd.set_seed``, ``Sequential``, ``compile(loss="sparse_categorical_crossentropy")``,
  ``fit``: the loss the wrapper picks for integer labels;
* ``wrapper``  ``NetClassifier(layers, ...).fit(x, y)``: input checks (``validate_data``),
  label encoding, the seeded build and compile, the same ``fit``;
* ``skorch``   ``NeuralNetClassifier(module, criterion=NLLLoss, optimizer=torch.optim.RMSprop,
  lr=0.001, optimizer__alpha=0.9, optimizer__eps=1e-7, batch_size=128, train_split=None,
  iterator_train__shuffle=True).fit(x, y)`` on the same network in torch (skorch takes the log
  of the softmax outputs for its NLLLoss; no validation split, as in the others).

All three run in one process, in turn, ``--rounds`` times (each round starts one framework
later), so they see the same machine; the table gives each one's median and best seconds per
fit, and the wrapper's overhead as the median over rounds of (wrapper / statdl - 1) in the same
round. ``--background N`` runs the whole measurement while N busy processes of the
benchmark's own compete for the cores (``bench/_background.py``); statdl then trains on the
cores left free (``statdl.threads``), skorch on torch's default count. Usage::

    python bench/sklearn_overhead.py                      # quiet machine, 5 rounds
    python bench/sklearn_overhead.py --background 1       # one competing process
    python bench/sklearn_overhead.py --data full --samples 12000 --epochs 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _background import busy_background, check_count

BATCH = 128
FRAMEWORKS = ("statdl", "wrapper", "skorch")


def load_digits(data: str, samples: int) -> tuple[np.ndarray, np.ndarray]:
    import statdl as sd

    if data == "sample":
        (x, y), _ = sd.datasets.mnist_sample()
    else:
        (x, y), _ = sd.datasets.mnist()
    x, y = x[:samples], y[:samples]
    return x.reshape(len(x), -1).astype("float32") / 255, y.astype("int64")


def statdl_layers():
    from statdl import layers as L

    return [L.Dense(512, activation="relu"), L.Dropout(0.4), L.Dense(256, activation="relu"),
            L.Dropout(0.3), L.Dense(10, activation="softmax")]


def fit_statdl(x, y, epochs: int) -> None:
    import statdl as sd

    sd.set_seed(0)
    net = sd.Sequential(statdl_layers(), input_shape=(784,))
    net.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    net.fit(x, y, epochs=epochs, batch_size=BATCH, verbose=0)


def fit_wrapper(x, y, epochs: int) -> None:
    from statdl.sklearn import NetClassifier

    NetClassifier(statdl_layers(), epochs=epochs, batch_size=BATCH, seed=0).fit(x, y)


def fit_skorch(x, y, epochs: int) -> None:
    import torch
    from skorch import NeuralNetClassifier
    from torch import nn

    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.4),
                           nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.3),
                           nn.Linear(256, 10), nn.Softmax(dim=-1))
    NeuralNetClassifier(module, criterion=nn.NLLLoss, optimizer=torch.optim.RMSprop, lr=0.001,
                        optimizer__alpha=0.9, optimizer__eps=1e-7, max_epochs=epochs,
                        batch_size=BATCH, train_split=None, iterator_train__shuffle=True,
                        verbose=0, device="cpu").fit(x, y)


RUNNERS = {"statdl": fit_statdl, "wrapper": fit_wrapper, "skorch": fit_skorch}


def measure(x, y, epochs: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per fit of each framework, ``rounds`` times, the order rotating each round."""
    small = slice(0, 4 * BATCH)
    for name in FRAMEWORKS:  # warm-up: imports, first allocations, thread pools
        RUNNERS[name](x[small], y[small], 1)
    times: dict[str, list[float]] = {name: [] for name in FRAMEWORKS}
    for r in range(rounds):
        order = FRAMEWORKS[r % 3:] + FRAMEWORKS[:r % 3]
        for name in order:
            t0 = time.perf_counter()
            RUNNERS[name](x, y, epochs)
            times[name].append(time.perf_counter() - t0)
    return times


def report(times: dict[str, list[float]], n: int, epochs: int) -> str:
    lines = [f"{'framework':<10} {'median s':>9} {'best s':>8} {'samples/s (best)':>17}"]
    for name, values in times.items():
        best = min(values)
        lines.append(f"{name:<10} {statistics.median(values):>9.3f} {best:>8.3f} "
                     f"{n * epochs / best:>17,.0f}")
    overhead = [w / s - 1 for w, s in zip(times["wrapper"], times["statdl"], strict=True)]
    vs_skorch = [k / w for k, w in zip(times["skorch"], times["wrapper"], strict=True)]
    lines.append(f"wrapper overhead vs direct statdl fit: median {statistics.median(overhead):+.1%}"
                 f" (rounds: {', '.join(f'{v:+.1%}' for v in overhead)}); goal within 3%")
    lines.append(f"wrapper speed vs skorch (skorch s / wrapper s): median "
                 f"{statistics.median(vs_skorch):.2f}x (rounds: "
                 f"{', '.join(f'{v:.2f}' for v in vs_skorch)}); goal >= 1.0x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["sample", "full"], default="sample")
    parser.add_argument("--samples", type=int, default=6000, help="training digits used")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timed fit")
    parser.add_argument("--rounds", type=int, default=5, help="fits of each framework")
    parser.add_argument("--background", type=int, default=0,
                        help="busy processes competing for the cores while measuring")
    args = parser.parse_args()
    background = check_count(args.background)
    x, y = load_digits(args.data, args.samples)
    print(f"MNIST MLP 784-512-256-10, RMSprop, batch {BATCH}, {args.epochs} epoch(s) per fit, "
          f"{len(x)} digits ({args.data}), {args.rounds} rounds, background {background}")
    with busy_background(background):
        times = measure(x, y, args.epochs, args.rounds)
    print(report(times, len(x), args.epochs))


if __name__ == "__main__":
    main()
