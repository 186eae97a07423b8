"""Inference throughput: ``predict`` and ``evaluate`` of statdl vs a plain torch loop vs Keras 3.

The course models of ``bench/train_speed.py`` (untrained: speed does not depend on the weights),
on random data of the course's shapes:

* ``mlp``  MNIST-shaped: 784-512-256-10 with dropout, softmax, categorical cross-entropy
* ``cnn``  MNIST images (28, 28, 1): the course's CNN (485,066 parameters)
* ``lstm`` IMDB-shaped: Embedding(10000, 8) + LSTM(32) + Dense(1, sigmoid), length 500

and the same models fed other input types, to show that memory stays bounded whatever comes:
``mlp-f64`` (float64 numpy), ``mlp-pandas`` (a float64 DataFrame) and ``lstm-int32``.

Frameworks, each measured at its own ``predict`` default batch size:

* ``statdl``: ``model.predict(x)`` and ``model.evaluate(x, y)`` (batches of 1024);
* ``torch``: a plain ``torch.no_grad()`` loop over the same architecture, batches of 1024
  converted one at a time, outputs joined with ``torch.cat``; evaluate sums the loss and the
  correct predictions batch by batch;
* ``keras-jax``: Keras 3 on JAX, ``predict(x, verbose=0)`` / ``evaluate(x, y, verbose=0)`` at
  Keras's default batch of 32, and ``keras-jax-1024`` at batch 1024. The faster of the two is
  the Keras peer.

Each (model, framework) runs in its own process after a warm-up (which also compiles Keras's
functions for both batch shapes), so that peak memory is that job's own: ``peak RSS`` is the
process's peak, ``+predict`` / ``+evaluate`` the growth of the peak during the timed calls above
the memory held before them (data and model included), from ``VmHWM`` (Linux). ``--rounds N``
takes the frameworks in turn N times (statdl, torch, Keras, statdl, ...) and keeps each one's
best; the ratio column is statdl / the fastest peer. ``--background N`` runs every process
while N busy processes compete for the cores (``bench/_background.py``). Usage::

    python bench/infer_speed.py                        # all models and frameworks
    python bench/infer_speed.py --models mlp,cnn --rounds 3
    python bench/infer_speed.py --models lstm --frameworks statdl,torch --background 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np
from _background import busy_background, check_count
from memory import peak, reset_peak, rss  # VmHWM helpers (same folder)
from train_speed import _statdl_cnn, keras_available, keras_net, make_data, torch_net

SAMPLES = {"mlp": 20_000, "cnn": 4_000, "lstm": 2_000}
VARIANTS = {  # benchmark name -> (course model, input form)
    "mlp": ("mlp", "float32"), "cnn": ("cnn", "float32"), "lstm": ("lstm", "int64"),
    "mlp-f64": ("mlp", "float64"), "mlp-pandas": ("mlp", "pandas"),
    "lstm-int32": ("lstm", "int32"),
}
FRAMEWORKS = ("statdl", "torch", "keras-jax", "keras-jax-1024")
TORCH_BATCH = 1024  # statdl's predict batch: the torch loop runs at the same size
MB = 2**20


def make_inputs(name: str, n: int):
    """``x`` in the variant's input form and ``y`` for the course model."""
    model, form = VARIANTS[name]
    x, y = make_data(model, n)
    if form == "float64":
        x = x.astype(np.float64)
    elif form == "int32":
        x = x.astype(np.int32)
    elif form == "pandas":
        import pandas as pd

        x = pd.DataFrame(x.astype(np.float64), columns=[f"p{i}" for i in range(x.shape[1])])
    return x, y


def _rows(x, start: int, stop: int):
    return x.iloc[start:stop] if hasattr(x, "iloc") else x[start:stop]


# ---------------------------------------------------------------- statdl
def statdl_model(model: str):
    import statdl as sd
    from statdl import layers as L

    sd.set_seed(0)
    if model == "mlp":
        net = sd.Sequential([L.Dense(512, activation="relu"), L.Dropout(0.4),
                             L.Dense(256, activation="relu"), L.Dropout(0.3),
                             L.Dense(10, activation="softmax")], input_shape=(784,))
        net.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
    elif model == "cnn":
        net = sd.Sequential(_statdl_cnn(L), input_shape=(28, 28, 1))
        net.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
    else:
        net = sd.Sequential([L.Embedding(10_000, 8), L.LSTM(32), L.Dense(1, activation="sigmoid")],
                            input_shape=(500,))
        net.compile("rmsprop", "binary_crossentropy", ["accuracy"])
    return lambda x: net.predict(x), lambda x, y: net.evaluate(x, y)


# ---------------------------------------------------------------- plain torch
def torch_model(model: str):
    import torch
    from torch import nn
    from torch.nn import functional as F

    net = torch_net(model)
    if model == "cnn":
        class Channels(nn.Module):  # Keras layout (n, h, w, c) in, as the user's data comes
            def forward(self, x):
                return x.permute(0, 3, 1, 2)

        net = nn.Sequential(Channels(), net)
    net.eval()
    classes = model != "lstm"

    def batch(x, start):
        part = np.asarray(_rows(x, start, start + TORCH_BATCH))
        return torch.from_numpy(part).long() if model == "lstm" else \
            torch.from_numpy(part.astype(np.float32, copy=False))

    def predict(x):
        outs = []
        with torch.no_grad():
            for start in range(0, len(x), TORCH_BATCH):
                logits = net(batch(x, start))
                outs.append(logits.softmax(1) if classes else logits.sigmoid())
        return torch.cat(outs).numpy()

    def evaluate(x, y):
        target = torch.from_numpy(y.argmax(1) if classes else y)
        loss_sum, correct = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.long)
        with torch.no_grad():
            for start in range(0, len(x), TORCH_BATCH):
                logits, t = net(batch(x, start)), target[start:start + TORCH_BATCH]
                if classes:
                    loss_sum += F.cross_entropy(logits, t, reduction="sum").double()
                    correct += (logits.argmax(1) == t).sum()
                else:
                    loss_sum += F.binary_cross_entropy_with_logits(logits, t, reduction="sum")
                    correct += ((logits > 0).float() == t).sum()
        return {"loss": float(loss_sum) / len(x), "accuracy": int(correct) / len(x)}

    return predict, evaluate


# ---------------------------------------------------------------- Keras 3
def keras_model(model: str, batch_size: int | None):

    net = keras_net(model)
    return (lambda x: net.predict(x, batch_size=batch_size, verbose=0),
            lambda x, y: net.evaluate(x, y, batch_size=batch_size, verbose=0))


# ---------------------------------------------------------------- one process
def child(name: str, framework: str, n: int, repeats: int) -> dict:
    model = VARIANTS[name][0]
    x, y = make_inputs(name, n)
    if framework == "statdl":
        predict, evaluate = statdl_model(model)
        batch = 1024
    elif framework == "torch":
        predict, evaluate = torch_model(model)
        batch = TORCH_BATCH
    else:
        batch = 1024 if framework.endswith("-1024") else 32
        predict, evaluate = keras_model(model, batch if batch != 32 else None)
    # Warm-up on full batches and a last one of the timed calls' size (Keras compiles per shape).
    warm = min(n, 2 * batch + n % batch)
    predict(_rows(x, 0, warm))
    evaluate(_rows(x, 0, warm), y[:warm])
    result = {"n": n}
    for op, call in (("predict", lambda: predict(x)), ("evaluate", lambda: evaluate(x, y))):
        base = rss()
        reset_peak()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        result[op] = n / min(times)
        result[f"{op}_growth_mb"] = (peak() - base) / MB
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["data_mb"] = (x.memory_usage().sum() if hasattr(x, "memory_usage") else x.nbytes) / MB
    return result


def _run_child(name: str, fw: str, repeats: int) -> dict | None:
    n = SAMPLES[VARIANTS[name][0]]
    env = dict(os.environ)
    if fw.startswith("keras"):
        env["KERAS_BACKEND"] = "jax"
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, fw, str(n), "--repeats", str(repeats)],
        env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"{name}/{fw} failed:\n{proc.stderr[-2000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _report(rows: dict[str, dict[str, dict]]) -> None:
    for op in ("predict", "evaluate"):
        print(f"\n{op} samples/s (best of rounds); +MB: growth of peak RSS in the calls (largest)")
        print(f"{'model':11s} {'data MB':>7s} " + " ".join(f"{fw:>20s}" for fw in FRAMEWORKS)
              + "  statdl/best-peer")
        for name, results in rows.items():
            cells = []
            for fw in FRAMEWORKS:
                r = results.get(fw)
                cells.append(f"{r[op]:10.0f} {r[op + '_growth_mb']:+7.0f}MB" if r else " " * 20)
            peers = [r[op] for fw, r in results.items() if fw != "statdl"]
            ratio = results["statdl"][op] / max(peers) if "statdl" in results and peers else None
            data_mb = next(iter(results.values()))["data_mb"]
            print(f"{name:11s} {data_mb:7.0f} " + " ".join(cells)
                  + (f"  {ratio:16.2f}" if ratio else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(VARIANTS),
                        help=f"comma-separated, from {', '.join(VARIANTS)}")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per process")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the frameworks this many times in turn; report each one's best")
    parser.add_argument("--background", type=int, default=0,
                        help="busy processes competing for the cores while each framework runs")
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "FRAMEWORK", "N"))
    args = parser.parse_args()
    for name in ("repeats", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be an int >= 1; got {getattr(args, name)}")
    try:
        check_count(args.background)
    except ValueError as err:
        parser.error(str(err))
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], int(args.child[2]), args.repeats)))
        return
    models, frameworks = args.models.split(","), args.frameworks.split(",")
    for value, known, option in ((models, VARIANTS, "--models"),
                                 (frameworks, FRAMEWORKS, "--frameworks")):
        unknown = [v for v in value if v not in known]
        if unknown:
            parser.error(f"{option}: unknown {unknown}; choose from {', '.join(known)}")
    if any(f.startswith("keras") for f in frameworks) and not keras_available("jax"):
        print("keras-jax: keras or jax is not installed; skipped")
        frameworks = [f for f in frameworks if not f.startswith("keras")]
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{os.getloadavg()[0]:.2f}, {args.background} busy background processes")
    rows: dict[str, dict[str, dict]] = {}
    for name in models:
        results = rows.setdefault(name, {})
        for round_ in range(args.rounds):
            for fw in frameworks:
                with busy_background(args.background):
                    r = _run_child(name, fw, args.repeats)
                if r is None:
                    continue
                print(f"{name:11s} {fw:15s} predict {r['predict']:8.0f}/s "
                      f"({r['predict_growth_mb']:+5.0f} MB)  evaluate {r['evaluate']:8.0f}/s "
                      f"({r['evaluate_growth_mb']:+5.0f} MB)  peak RSS {r['peak_mb']:5.0f} MB"
                      + (f"  (round {round_ + 1})" if args.rounds > 1 else ""), flush=True)
                best = results.setdefault(fw, dict(r))
                for op in ("predict", "evaluate"):  # fastest call, largest memory growth
                    best[op] = max(best[op], r[op])
                    best[f"{op}_growth_mb"] = max(best[f"{op}_growth_mb"], r[f"{op}_growth_mb"])
    _report(rows)


if __name__ == "__main__":
    main()
