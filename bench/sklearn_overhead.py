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

How it measures. One fit of a few seconds on a shared machine varies by 10-20% from one call
to the next (other processes, frequency changes, the garbage collector), far more than the
few milliseconds the wrapper adds, so a handful of rounds cannot show a 3% bound. Instead:

1. ``--pairs`` pairs of fits, wrapper and direct, one right after the other, the order
   alternating from pair to pair (so that neither is always first); the garbage collector
   runs before each timed call, outside the timing, and the thread count is fixed
   (``--threads``, for statdl and torch alike) so that statdl's thread governor does not pick
   a different count for two fits of a pair. The overhead is the median over pairs of
   ``wrapper / direct - 1``, with a 95% bootstrap interval (pairs resampled, 10,000 times)
   and the geometric mean with its t interval on the log ratios.
2. The fixed cost per fit, measured apart: ``--tiny-pairs`` pairs on one batch of 128 digits
   for one epoch (the training is then a few ms, so the difference is the wrapper's own
   work: checks, label encoding, seeding), as a median difference in ms with its bootstrap
   interval; and the part that grows with the data, ``validate_data`` and the label
   encoding of the full ``x`` and ``y`` (``_checked_data``), timed alone.
3. ``--skorch-pairs`` pairs of skorch and wrapper fits, alternating likewise: the median of
   ``skorch s / wrapper s`` with its bootstrap interval.

``--background N`` runs the whole measurement while N busy processes of the benchmark's own
compete for the cores (``bench/_background.py``). Usage::

    python bench/sklearn_overhead.py                       # 30 pairs, 3 epochs, 1 thread
    python bench/sklearn_overhead.py --pairs 40 --epochs 5
    python bench/sklearn_overhead.py --threads 2 --background 1
    python bench/sklearn_overhead.py --data full --samples 12000 --epochs 2
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
from _background import busy_background, check_count

BATCH = 128
BOOTSTRAP = 10_000
GOAL = 0.03


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


Fit = Callable[[np.ndarray, np.ndarray, int], None]


def timed(fit: Fit, x, y, epochs: int) -> float:
    gc.collect()  # garbage of the previous fit is collected here, outside the timing
    t0 = time.perf_counter()
    fit(x, y, epochs)
    return time.perf_counter() - t0


def pairs(first: Fit, second: Fit, x, y, epochs: int, n: int) -> tuple[list[float], list[float]]:
    """``n`` pairs of timed fits, ``first`` and ``second`` one after the other, the order
    alternating from pair to pair."""
    a, b = [], []
    for i in range(n):
        if i % 2 == 0:
            a.append(timed(first, x, y, epochs))
            b.append(timed(second, x, y, epochs))
        else:
            b.append(timed(second, x, y, epochs))
            a.append(timed(first, x, y, epochs))
    return a, b


def bootstrap_median(values: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the median of ``values`` (resampled with
    replacement ``BOOTSTRAP`` times)."""
    v = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    medians = np.median(v[rng.integers(0, len(v), (BOOTSTRAP, len(v)))], axis=1)
    low, high = np.quantile(medians, [0.025, 0.975])
    return float(low), float(high)


def geometric_mean_interval(ratios: Sequence[float]) -> tuple[float, float, float]:
    """The geometric mean of ``ratios`` and its 95% t interval (on the log ratios)."""
    from scipy import stats

    logs = np.log(np.asarray(ratios, dtype=float))
    mean = float(logs.mean())
    if len(logs) < 2:
        return math.exp(mean), math.nan, math.nan
    half = float(stats.t.ppf(0.975, len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs)))
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def data_checks_ms(x: np.ndarray, y: np.ndarray, repeats: int = 20) -> float:
    """Median ms of the wrapper's work on the whole data before training (``validate_data``
    and the label encoding, ``NetEstimator._checked_data``), timed alone."""
    from statdl.sklearn import NetClassifier

    est = NetClassifier()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        est._checked_data(x, y, fresh=True)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def fix_threads(n: int) -> None:
    import torch

    import statdl as sd

    sd.set_threads(n)
    torch.set_num_threads(n)  # skorch trains with torch's count


def measure(x, y, args) -> dict:
    small = slice(0, 4 * BATCH)
    for fit in (fit_statdl, fit_wrapper, fit_skorch):  # imports, first allocations, pools
        fit(x[small], y[small], 1)
    tiny = slice(0, BATCH)
    out = {"tiny": pairs(fit_wrapper, fit_statdl, x[tiny], y[tiny], 1, args.tiny_pairs),
           "data_ms": data_checks_ms(x, y),
           "main": pairs(fit_wrapper, fit_statdl, x, y, args.epochs, args.pairs)}
    if args.skorch_pairs:
        out["skorch"] = pairs(fit_skorch, fit_wrapper, x, y, args.epochs, args.skorch_pairs)
    return out


def _seconds(name: str, values: Sequence[float], n: int, epochs: int) -> str:
    best = min(values)
    return (f"{name:<10} {statistics.median(values):>9.3f} {best:>8.3f} "
            f"{n * epochs / best:>17,.0f}")


def report(results: dict, n: int, epochs: int) -> str:
    wrapper, direct = results["main"]
    lines = [f"{'framework':<10} {'median s':>9} {'best s':>8} {'samples/s (best)':>17}",
             _seconds("statdl", direct, n, epochs), _seconds("wrapper", wrapper, n, epochs)]
    if "skorch" in results:
        lines.append(_seconds("skorch", results["skorch"][0], n, epochs))

    ratios = [w / d for w, d in zip(wrapper, direct, strict=True)]
    low, high = bootstrap_median(ratios)
    geo, glow, ghigh = geometric_mean_interval(ratios)
    within = high - 1 <= GOAL  # the goal bounds the cost: a faster wrapper is noise
    lines.append(
        f"wrapper overhead vs direct statdl fit ({len(ratios)} pairs): median "
        f"{statistics.median(ratios) - 1:+.2%} (95% bootstrap {low - 1:+.2%} to {high - 1:+.2%});"
        f" geometric mean {geo - 1:+.2%} (95% t {glow - 1:+.2%} to {ghigh - 1:+.2%}); pairs "
        f"from {min(ratios) - 1:+.1%} to {max(ratios) - 1:+.1%}; goal at most +{GOAL:.0%}: "
        f"{'shown' if within else 'not shown'}")

    tw, td = results["tiny"]
    diff_ms = [1000 * (w - d) for w, d in zip(tw, td, strict=True)]
    dlow, dhigh = bootstrap_median(diff_ms)
    lines.append(
        f"fixed cost per fit ({len(diff_ms)} pairs of 1-batch fits): median "
        f"{statistics.median(diff_ms):+.1f} ms (95% bootstrap {dlow:+.1f} to {dhigh:+.1f} ms; "
        f"direct fit {1000 * statistics.median(td):.1f} ms); checks and label encoding of the "
        f"full data {results['data_ms']:.1f} ms; together "
        f"{(statistics.median(diff_ms) + results['data_ms']) / 1000 / statistics.median(direct):+.2%}"
        f" of the direct fit")

    if "skorch" in results:
        sk, wr = results["skorch"]
        speed = [s / w for s, w in zip(sk, wr, strict=True)]
        slow, shigh = bootstrap_median(speed)
        lines.append(
            f"wrapper speed vs skorch (skorch s / wrapper s, {len(speed)} pairs): median "
            f"{statistics.median(speed):.2f}x (95% bootstrap {slow:.2f} to {shigh:.2f}); "
            f"goal >= 1.0x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["sample", "full"], default="sample")
    parser.add_argument("--samples", type=int, default=6000, help="training digits used")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timed fit")
    parser.add_argument("--pairs", type=int, default=30,
                        help="pairs of wrapper and direct fits")
    parser.add_argument("--tiny-pairs", type=int, default=60,
                        help="pairs of one-batch fits for the fixed cost")
    parser.add_argument("--skorch-pairs", type=int, default=6,
                        help="pairs of skorch and wrapper fits (0: skip skorch)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of every fit (statdl and torch)")
    parser.add_argument("--background", type=int, default=0,
                        help="busy processes competing for the cores while measuring")
    args = parser.parse_args()
    background = check_count(args.background)
    for name in ("pairs", "tiny_pairs", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
    if args.skorch_pairs < 0:
        parser.error(f"--skorch-pairs must be >= 0; got {args.skorch_pairs}")
    x, y = load_digits(args.data, args.samples)
    fix_threads(args.threads)
    print(f"MNIST MLP 784-512-256-10, RMSprop, batch {BATCH}, {args.epochs} epoch(s) per fit, "
          f"{len(x)} digits ({args.data}), {args.pairs} pairs, {args.threads} thread(s), "
          f"background {background}")
    with busy_background(background):
        results = measure(x, y, args)
    print(report(results, len(x), args.epochs))


if __name__ == "__main__":
    main()
