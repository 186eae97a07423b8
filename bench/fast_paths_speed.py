"""What each fast path of ``statdl.fast_paths`` buys: one epoch with the path on and off.

For every registered path a model that takes it (an MNIST-sized MLP on one-hot targets for the
Dense paths, an IMDB-sized Embedding + recurrent network for the others, on synthetic data)
trains one epoch with the path on, then off, in turn, ``--rounds`` times in one process; the
best epoch of each is kept and the ratio off/on printed (above 1: the path saves time). LSTM's
row times ``predict`` too (its pass serves inference). Run it alone on the machine:

    flock -x /tmp/team/cpu.lock python bench/fast_paths_speed.py --rounds 3
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

import numpy as np

import statdl as sd
from statdl import fast_paths
from statdl import layers as L


def _mlp_task(n: int):
    rng = np.random.default_rng(0)
    x = rng.random((n, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]

    def build():
        net = sd.Sequential([L.Dense(256, activation="relu"), L.Dropout(0.4),
                             L.Dense(128, activation="relu"), L.Dropout(0.3),
                             L.Dense(10, activation="softmax")], input_shape=(784,))
        net.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
        return net
    return build, x, y


def _rnn_task(kind: str, n: int, maxlen: int = 100):
    rng = np.random.default_rng(1)
    x = rng.integers(1, 10000, (n, maxlen))
    y = rng.integers(0, 2, (n, 1)).astype(np.float32)

    def build():
        net = sd.Sequential([L.Embedding(10000, 32), getattr(L, kind)(32),
                             L.Dense(1, activation="sigmoid")], input_shape=(maxlen,))
        net.compile("rmsprop", "binary_crossentropy", ["accuracy"])
        return net
    return build, x, y


TASKS = {
    "dense_step": "mlp", "dense_narrow_layout": "mlp", "dense_closed_form_loss": "mlp",
    "fused_optimizer": "mlp", "dropout_16bit": "mlp", "metric_chunks": "mlp",
    "onehot_as_index": "mlp", "embedding_index_add": "SimpleRNN",
    "simple_rnn_pass": "SimpleRNN", "gru_pass": "GRU", "lstm_pass": "LSTM",
    "torch_rnn_ops": "GRU",
}


def _epoch(build, x, y, predict: bool) -> float:
    sd.set_seed(0)
    net = build()
    net.fit(x[:256], y[:256], epochs=1, batch_size=128, verbose=0)  # warm up
    start = time.perf_counter()
    net.fit(x, y, epochs=1, batch_size=128, verbose=0)
    if predict:
        net.predict(x, batch_size=1024)
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--paths", default=",".join(fast_paths.names()))
    parser.add_argument("--mlp-samples", type=int, default=8192)
    parser.add_argument("--rnn-samples", type=int, default=1024)
    args = parser.parse_args(argv)
    tasks = {"mlp": _mlp_task(args.mlp_samples)}
    print(f"{'path':24s} {'on s':>8s} {'off s':>8s} {'off/on':>7s}  model")
    for name in args.paths.split(","):
        kind = TASKS.get(name)
        if kind is None:
            print(f"{name:24s} (no benchmark model)")
            continue
        if kind not in tasks:
            tasks[kind] = _rnn_task(kind, args.rnn_samples)
        build, x, y = tasks[kind]
        without = ("gru_pass",) if name == "torch_rnn_ops" else ()
        best = {True: float("inf"), False: float("inf")}
        for r in range(args.rounds):
            for on in ((True, False) if r % 2 == 0 else (False, True)):
                with fast_paths.off(*without) if without else nullcontext(), \
                        (fast_paths.on if on else fast_paths.off)(name):
                    best[on] = min(best[on], _epoch(build, x, y, predict=kind == "LSTM"))
        label = "MLP 784-256-128-10" if kind == "mlp" else f"Embedding + {kind}(32), 100 steps"
        print(f"{name:24s} {best[True]:8.3f} {best[False]:8.3f} {best[False] / best[True]:7.2f}"
              f"  {label}")


if __name__ == "__main__":
    main()
