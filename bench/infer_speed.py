"""Inference throughput: ``predict`` and ``evaluate`` of statdl vs a plain torch loop vs Keras 3.

Every course model (untrained: speed does not depend on the weights; statdl builds the labs'
own networks from ``statdl.labs``), on random data of the course's shapes:

* ``logit``  mnist-logit: Dense(10, softmax) on 784 pixels
* ``mlp``    mnist-mlp2: 784-512-256-10 with dropout, softmax (``train_speed.py``'s mlp)
* ``cnn``    mnist-cnn: MNIST images (28, 28, 1), the course's CNN (485,066 parameters)
* ``embed``  imdb-embed: Embedding(10000, 8) + Flatten + Dense(1, sigmoid), 20 words
* ``rnn``    imdb-rnn: Embedding(10000, 8) + SimpleRNN(32) + Dense(1, sigmoid), 100 words
* ``rnn3``   imdb-rnn3: three stacked SimpleRNN(32), 100 words
* ``gru``    imdb-gru: GRU(32), 100 words
* ``lstm``   imdb-lstm: LSTM(32), 500 words (the textbook's length)
* ``bilstm`` imdb-bilstm: Bidirectional(LSTM(32)), 100 words

(IMDB lengths: the course's longer setting, 100, and 20 for the embedding model, as in the
labs.) The same models fed other input types show that memory stays bounded whatever comes:
``mlp-f64`` (float64 numpy), ``mlp-pandas`` (a float64 DataFrame) and ``lstm-int32``.

Frameworks:

* ``statdl``: ``model.predict(x)`` and ``model.evaluate(x, y)`` (automatic batches: up to
  2,048 rows, ``statdl.training.data.INFERENCE_ROWS``, fewer where an activation is wide: 193
  for the CNN). Unlike the torch loop, statdl checks every input row for NaN and infinity;
* ``torch``: a plain ``torch.no_grad()`` loop over the same architecture (``nn.RNN``,
  ``nn.GRU``, ``nn.LSTM``, bidirectional and 3-layer where the model is) in statdl's batches
  (the same rows per batch, ``statdl_batch``), each converted from numpy on its own (float32
  or int64, as statdl converts them), float32 outputs joined with ``torch.cat`` into one numpy
  array; evaluate sums the loss and the correct predictions batch by batch;
* ``keras-jax``: Keras 3 on JAX, ``predict(x, verbose=0)`` / ``evaluate(x, y, verbose=0)`` at
  Keras's default batch of 32, and ``keras-jax-1024`` at batch 1024. The faster of the two is
  the Keras peer.

Each (model, framework) runs in its own process after a warm-up (which also compiles Keras's
functions for both batch shapes), so that peak memory is that job's own: ``peak RSS`` is the
process's peak; each op is timed over at least ``--repeats`` calls and 1 s (``MIN_SECONDS``),
and its best call counts; ``+predict`` / ``+evaluate`` the growth of the peak during the timed calls above
the memory held before them (data and model included), from ``VmHWM`` (Linux). ``--rounds N``
takes the frameworks in turn N times (statdl, torch, Keras, statdl, ...) and keeps each one's
best; the ratio column is statdl / the fastest peer. ``--background N`` runs every process
while N busy processes compete for the cores (``bench/_background.py``). Usage::

    python bench/infer_speed.py                        # all models and frameworks
    python bench/infer_speed.py --models mlp,cnn --rounds 3
    python bench/infer_speed.py --models lstm --frameworks statdl,torch --background 1
    python bench/infer_speed.py --models gru,rnn --scale 0.1   # a tenth of the samples
"""

# Measured 2026-12-01 00:56-01:26 UTC (2 cores; --frameworks statdl,torch,keras-jax-1024
# --scale 0.5 --repeats 2, then the same with --background 1; samples/s, best call of >= 1 s of
# calls; +MB: peak growth in the calls; ratio: statdl / fastest peer. Keras-JAX at its default
# batch of 32 was left out for time: 3.5-18x slower than at 1,024 in the earlier run. The
# machine's speed drifts by up to 1.8x within the hour, so compare within a row, not across):
#
# | model  | op       | machine | statdl           | torch            | Keras-JAX 1024   | ratio |
# |--------|----------|---------|------------------|------------------|------------------|-------|
# | logit  | predict  | quiet   | 1,208,403   +1 MB | 1,513,542   +2 MB |   875,355  +62 MB |  0.80 |
# | logit  | predict  | busy    |   765,760   +1 MB |   841,584   +1 MB |   726,625  +58 MB |  0.91 |
# | logit  | evaluate | quiet   | 1,059,246   +0 MB | 1,363,541   +0 MB |   841,434   +9 MB |  0.78 |
# | logit  | evaluate | busy    |   618,191   +0 MB |   894,229   +0 MB |   534,874  +43 MB |  0.69 |
# | mlp    | predict  | quiet   |   101,008   +4 MB |   117,992   +1 MB |    91,625  +35 MB |  0.86 |
# | mlp    | predict  | busy    |    72,743   +8 MB |    62,945   +8 MB |    74,593  +38 MB |  0.98 |
# | mlp    | evaluate | quiet   |    98,846   +0 MB |   115,252   +1 MB |   103,280   +4 MB |  0.86 |
# | mlp    | evaluate | busy    |    71,942   +0 MB |    64,156   +7 MB |    71,027   +7 MB |  1.01 |
# | embed  | predict  | quiet   | 5,398,610   +0 MB | 7,124,156  +16 MB | 2,994,494   +4 MB |  0.76 |
# | embed  | predict  | busy    | 5,689,333   +3 MB | 4,922,173  +20 MB | 2,337,626   +5 MB |  1.16 |
# | embed  | evaluate | quiet   | 3,861,141   +1 MB | 5,250,405   +0 MB | 3,019,833   +0 MB |  0.74 |
# | embed  | evaluate | busy    | 4,029,601   +3 MB | 5,152,736   +0 MB | 1,771,292   +0 MB |  0.78 |
# | cnn    | predict  | quiet   |    12,317   +0 MB |     4,612  +50 MB |    16,787  +23 MB |  0.73 |
# | cnn    | predict  | busy    |     7,962   +0 MB |     3,053  +20 MB |     9,382  +23 MB |  0.85 |
# | cnn    | evaluate | quiet   |    13,004   +0 MB |     4,207   +8 MB |    15,758  +24 MB |  0.83 |
# | cnn    | evaluate | busy    |     7,931   +0 MB |     2,622  +20 MB |     8,881  +23 MB |  0.89 |
# | rnn    | predict  | quiet   |    75,889  +12 MB |    52,153  +50 MB |   105,424  +43 MB |  0.72 |
# | rnn    | predict  | busy    |    58,317  +25 MB |    14,170  +25 MB |    89,125  +22 MB |  0.65 |
# | rnn    | evaluate | quiet   |   123,148  +13 MB |    61,748   +0 MB |    89,307   +0 MB |  1.38 |
# | rnn    | evaluate | busy    |    46,817  +25 MB |    17,777  +15 MB |    76,491   +0 MB |  0.61 |
# | rnn3   | predict  | quiet   |    23,997   +0 MB |    18,904  +79 MB |    19,451  +57 MB |  1.23 |
# | rnn3   | predict  | busy    |    12,437  +32 MB |     5,157  +80 MB |    16,503  +59 MB |  0.75 |
# | rnn3   | evaluate | quiet   |    24,945  +16 MB |    18,782  +17 MB |    20,024  +57 MB |  1.25 |
# | rnn3   | evaluate | busy    |    15,726  +32 MB |     3,839  +41 MB |    14,245  +51 MB |  1.10 |
# | gru    | predict  | quiet   |    40,224   +0 MB |    15,073  +97 MB |    10,491  +83 MB |  2.67 |
# | gru    | predict  | busy    |    32,177   +0 MB |     5,427  +75 MB |     6,277  +70 MB |  5.13 |
# | gru    | evaluate | quiet   |    42,761   +0 MB |    15,499  +97 MB |    10,395  +78 MB |  2.76 |
# | gru    | evaluate | busy    |    32,582   +0 MB |     4,819  +75 MB |     6,334  +82 MB |  5.14 |
# | lstm   | predict  | quiet   |     6,059   +0 MB |     4,035 +122 MB |     6,148  +92 MB |  0.99 |
# | lstm   | predict  | busy    |     3,277   +0 MB |     1,155 +123 MB |     3,839 +105 MB |  0.85 |
# | lstm   | evaluate | quiet   |     6,842   +0 MB |     3,938 +122 MB |     6,095  +92 MB |  1.12 |
# | lstm   | evaluate | busy    |     3,199   +0 MB |       943 +122 MB |     3,897  +92 MB |  0.82 |
# | bilstm | predict  | quiet   |    19,224   +0 MB |     8,156  +76 MB |    14,239  +53 MB |  1.35 |
# | bilstm | predict  | busy    |     7,704   +0 MB |     2,478  +77 MB |     8,239  +46 MB |  0.94 |
# | bilstm | evaluate | quiet   |    22,601   +0 MB |     8,061 +127 MB |    15,139  +53 MB |  1.49 |
# | bilstm | evaluate | busy    |     7,719   +0 MB |     2,785  +76 MB |     8,451  +47 MB |  0.91 |
#
# A later quiet run (01:30, statdl and torch only, after the finite check below) on a faster
# hour of the same machine: logit predict 2,168,814 vs 2,466,270 (0.88), evaluate 1,708,881
# vs 2,057,523 (0.83); embed 8,028,760 vs 9,463,530 (0.85), 5,424,134 vs 7,887,304 (0.69);
# mlp 145,204 vs 142,095 (1.02), 143,010 vs 144,265 (0.99).
#
# Not at the fastest peer: logit, embed (quiet) and cnn/rnn against Keras-JAX. For logit the
# forward pass itself matches the plain loop (20,000 rows, p25 of 60 interleaved calls in one
# process: the torch loop 2.30M; statdl's ops written out (column-major kernel copy per
# batch, addmm, softmax into a preallocated output) 2.30M; plus the finite check 2.15M with
# torch.isfinite, 2.28M with math.isfinite; the full predict 1.84M): what is left is per call
# (threads.governed, the malloc scope, input checks, module.eval: ~0.35 ms on 1 row) and per
# batch (the InputRows generator, inference.forward's dispatch, the output copy). Until 2026-12-01 the torch loop ran
# batches of 1,024 against statdl's 2,048 and each op was timed twice (a 10 ms call: best of
# 2 ranged 1.25M-2.0M for the same torch loop), so the older ratios (logit 0.86, embed 0.98,
# mlp 0.84 quiet) are not comparable with these.
#
# 2026-12-01 04:38-04:45 UTC, after the per-call kernel copy (`--models logit,embed,mlp,cnn
# --frameworks statdl,torch,keras-jax-1024 --scale 0.5 --repeats 2`, quiet, one round, noisy:
# Ray processes of other jobs were running): predict statdl/best peer logit 0.75, embed 0.69,
# mlp 0.67 (its predict below its own evaluate: noise), cnn 0.96; evaluate 0.98, 1.09, 0.97,
# 0.93. Not at the target; the gap is per batch (logit, 20,000 rows, p25 of 60 calls in turn:
# torch loop 1.15M, inference.forward loop 1.01M, with the kernel copied once 1.08M, predict
# 1.02M), not the ~0.2 ms fixed per call (1-row predict 245 us against 32 us for the module).
#
# Changes measured here (same machine, interleaved): the malloc trimming thread woken only
# when it sleeps without a deadline: predict of 2,048 rows of the MNIST softmax regression
# 5.2 -> 2.1 ms (the wake-up cost ~1.3 ms of every call); math.isfinite instead of
# torch.isfinite on a batch's 0-d sum: 2.19M -> 2.28M samples/s (p25) for the forward loop.

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
from train_speed import _statdl_cnn, keras_available, keras_net, torch_net

# course model -> (samples timed, words per review for the IMDB models)
MODELS = {"logit": (40_000, None), "mlp": (20_000, None), "cnn": (4_000, None),
          "embed": (100_000, 20), "rnn": (20_000, 100), "rnn3": (8_000, 100),
          "gru": (8_000, 100), "lstm": (2_000, 500), "bilstm": (8_000, 100)}
IMDB = ("embed", "rnn", "rnn3", "gru", "lstm", "bilstm")
VARIANTS = {name: (name, "int64" if name in IMDB else "float32") for name in MODELS}
VARIANTS.update({"mlp-f64": ("mlp", "float64"), "mlp-pandas": ("mlp", "pandas"),
                 "lstm-int32": ("lstm", "int32")})  # benchmark name -> (model, input form)
FRAMEWORKS = ("statdl", "torch", "keras-jax", "keras-jax-1024")
MB = 2**20
MIN_SECONDS = 1.0  # each timed op repeats until its calls took this long (best call kept)


def make_data(model: str, n: int):
    """Random inputs of the course's shapes and one-hot (MNIST) or 0/1 (IMDB) targets."""
    rng = np.random.default_rng(0)
    if model in IMDB:
        x = rng.integers(1, 10_000, (n, MODELS[model][1]))
        return x, rng.integers(0, 2, (n, 1)).astype(np.float32)
    x = rng.random((n, 28, 28, 1) if model == "cnn" else (n, 784), dtype=np.float32)
    return x, np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]


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
    """``predict`` and ``evaluate`` of the lab's network (``statdl_net``)."""
    net = statdl_net(model)
    return lambda x: net.predict(x), lambda x, y: net.evaluate(x, y)


def statdl_batch(model: str) -> int:
    """Rows per batch of statdl's automatic ``predict``/``evaluate`` for ``model`` (the plain
    torch loop runs the same batches)."""
    from statdl.training.data import inference_batch

    x, _ = make_data(model, 1)
    return inference_batch(statdl_net(model), None, x.shape[1:])


def statdl_net(model: str):
    """The lab's own network (``statdl.labs``), compiled with the lab's loss."""
    import statdl as sd
    from statdl import layers as L
    from statdl.labs import imdb_rnn, mnist_dense

    sd.set_seed(0)
    if model in IMDB:
        net = imdb_rnn.build(model, MODELS[model][1])
        net.compile("rmsprop", "binary_crossentropy", ["accuracy"])
    else:
        if model == "cnn":
            net = sd.Sequential(_statdl_cnn(L), input_shape=(28, 28, 1))
        else:  # the lab's "mlp2" is the two-layer MLP of train_speed.py
            net = mnist_dense.build("logit" if model == "logit" else "mlp2")
        net.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
    return net


# ---------------------------------------------------------------- plain torch
def imdb_torch_net(model: str):
    """Embedding(10000, 8), the head, Dense(1) (logits) as a plain torch module, seeded."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    maxlen = MODELS[model][1]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10_000, 8)
            width = 32
            if model == "embed":
                self.rnn, width = None, 8 * maxlen
            elif model in ("rnn", "rnn3"):
                self.rnn = nn.RNN(8, 32, num_layers=3 if model == "rnn3" else 1,
                                  batch_first=True)
            elif model == "gru":
                self.rnn = nn.GRU(8, 32, batch_first=True)
            else:
                self.rnn = nn.LSTM(8, 32, batch_first=True, bidirectional=model == "bilstm")
                width = 64 if model == "bilstm" else 32
            self.out = nn.Linear(width, 1)

        def forward(self, ids):
            e = self.emb(ids)
            if self.rnn is None:
                return self.out(e.flatten(1))
            _, h = self.rnn(e)
            h = h[0] if isinstance(h, tuple) else h              # LSTM: (h_n, c_n)
            last = torch.cat([h[-2], h[-1]], 1) if model == "bilstm" else h[-1]
            return self.out(last)

    return Net()


def torch_model(model: str, rows: int):
    """``predict`` and ``evaluate`` of a plain ``no_grad`` loop over batches of ``rows``."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    if model in IMDB:
        net = imdb_torch_net(model)
    elif model == "logit":
        torch.manual_seed(0)
        net = nn.Linear(784, 10)
    else:
        net = torch_net(model)
    if model == "cnn":
        class Channels(nn.Module):  # Keras layout (n, h, w, c) in, as the user's data comes
            def forward(self, x):
                return x.permute(0, 3, 1, 2)

        net = nn.Sequential(Channels(), net)
    net.eval()
    classes = model not in IMDB

    def batch(x, start):
        part = np.asarray(_rows(x, start, start + rows))
        return torch.from_numpy(part).long() if not classes else \
            torch.from_numpy(part.astype(np.float32, copy=False))

    def predict(x):
        outs = []
        with torch.no_grad():
            for start in range(0, len(x), rows):
                logits = net(batch(x, start))
                outs.append(logits.softmax(1) if classes else logits.sigmoid())
        return torch.cat(outs).numpy()

    def evaluate(x, y):
        target = torch.from_numpy(y.argmax(1) if classes else y)
        loss_sum, correct = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.long)
        with torch.no_grad():
            for start in range(0, len(x), rows):
                logits, t = net(batch(x, start)), target[start:start + rows]
                if classes:
                    loss_sum += F.cross_entropy(logits, t, reduction="sum").double()
                    correct += (logits.argmax(1) == t).sum()
                else:
                    loss_sum += F.binary_cross_entropy_with_logits(logits, t, reduction="sum")
                    correct += ((logits > 0).float() == t).sum()
        return {"loss": float(loss_sum) / len(x), "accuracy": int(correct) / len(x)}

    return predict, evaluate


# ---------------------------------------------------------------- Keras 3
def keras_course_net(model: str):
    """The course model in Keras 3, seeded and compiled (RMSprop, its loss, accuracy)."""
    import keras
    from keras import layers as K

    if model in ("mlp", "cnn"):
        return keras_net(model)
    keras.utils.set_random_seed(0)
    if model == "logit":
        net = keras.Sequential([keras.Input((784,)), K.Dense(10, activation="softmax")])
        net.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
        return net
    heads = {"embed": [K.Flatten()], "rnn": [K.SimpleRNN(32)],
             "rnn3": [K.SimpleRNN(32, return_sequences=True),
                      K.SimpleRNN(32, return_sequences=True), K.SimpleRNN(32)],
             "gru": [K.GRU(32)], "lstm": [K.LSTM(32)], "bilstm": [K.Bidirectional(K.LSTM(32))]}
    net = keras.Sequential([keras.Input((MODELS[model][1],)), K.Embedding(10_000, 8),
                            *heads[model], K.Dense(1, activation="sigmoid")])
    net.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return net


def keras_model(model: str, batch_size: int | None):
    net = keras_course_net(model)
    return (lambda x: net.predict(x, batch_size=batch_size, verbose=0),
            lambda x, y: net.evaluate(x, y, batch_size=batch_size, verbose=0))


# ---------------------------------------------------------------- one process
def child(name: str, framework: str, n: int, repeats: int) -> dict:
    model = VARIANTS[name][0]
    x, y = make_inputs(name, n)
    if framework == "statdl":
        predict, evaluate = statdl_model(model)
        batch = statdl_batch(model)
    elif framework == "torch":
        batch = statdl_batch(model)  # the same batches as statdl
        predict, evaluate = torch_model(model, batch)
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
        while len(times) < repeats or sum(times) < MIN_SECONDS:  # short calls: more of them
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        result[op] = n / min(times)
        result[f"{op}_growth_mb"] = (peak() - base) / MB
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["data_mb"] = (x.memory_usage().sum() if hasattr(x, "memory_usage") else x.nbytes) / MB
    return result


def _run_child(name: str, fw: str, repeats: int, scale: float = 1.0) -> dict | None:
    n = max(1, round(scale * MODELS[VARIANTS[name][0]][0]))
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
    parser.add_argument("--repeats", type=int, default=2,
                        help=f"timed calls per process (at least; more until {MIN_SECONDS:g} s)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the frameworks this many times in turn; report each one's best")
    parser.add_argument("--background", type=int, default=0,
                        help="busy processes competing for the cores while each framework runs")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply each model's sample count (quick checks: 0.1)")
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
                    r = _run_child(name, fw, args.repeats, args.scale)
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
