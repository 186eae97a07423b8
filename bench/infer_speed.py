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
  2,048 rows, ``statdl.training.data.INFERENCE_ROWS``, fewer where an activation is wide: 775
  for the CNN; on a busy machine the dense and convolutional models' batches go to worker
  threads, smaller so that each worker gets about two). Unlike the torch loop, statdl checks
  every input row for NaN and infinity;
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

# Measured 2026-12-01 12:46-13:00 UTC (2 cores; every model, --frameworks
# statdl,torch,keras-jax-1024 --rounds 2 --scale 0.5 --repeats 2, then the same with
# --background 1; samples/s, best call of >= 1 s of calls, best of the 2 rounds; +MB: peak
# growth in the calls; ratio: statdl / fastest peer). Keras-JAX at its default batch of 32 was
# left out for time (3.5-18x slower than at 1,024 in earlier runs). Since the table of 10:37
# (git history): Dense layers through oneDNN's product (onednn_dense), the CNN's second
# convolution on the input its pooling reads (conv_pool), accuracy from t.max(-1), DataFrame
# batches converted by torch's copy.
#
# | model      | op       | machine | statdl             | torch              | Keras-JAX 1024     | ratio |
# |------------|----------|---------|--------------------|--------------------|--------------------|-------|
# | logit      | predict  | quiet   |   4,114,548   +1MB |   2,066,678   +2MB |   1,509,445  +65MB |  1.99 |
# | logit      | predict  | busy    |   2,996,219   +9MB |   1,135,886   +2MB |   1,439,644  +66MB |  2.08 |
# | logit      | evaluate | quiet   |   3,121,341   +0MB |   1,869,452   +0MB |   1,502,475  +49MB |  1.67 |
# | logit      | evaluate | busy    |   2,129,110   +0MB |   1,065,269   +0MB |   1,082,665  +55MB |  1.97 |
# | mlp        | predict  | quiet   |     189,177   +4MB |     146,696   +1MB |     160,135  +40MB |  1.18 |
# | mlp        | predict  | busy    |     137,566  +56MB |      80,322   +8MB |     117,815  +34MB |  1.17 |
# | mlp        | evaluate | quiet   |     181,115   +0MB |     144,584   +1MB |     154,341  +36MB |  1.17 |
# | mlp        | evaluate | busy    |     137,639   +7MB |      83,081   +8MB |      90,868  +12MB |  1.51 |
# | cnn        | predict  | quiet   |      26,922   +0MB |      10,098 +128MB |      26,181  +29MB |  1.03 |
# | cnn        | predict  | busy    |      21,197  +74MB |       4,332 +150MB |      20,081  +26MB |  1.06 |
# | cnn        | evaluate | quiet   |      26,339  +16MB |      11,236 +133MB |      28,266  +21MB |  0.93 |
# | cnn        | evaluate | busy    |      20,561  +30MB |       4,557 +173MB |      20,365  +21MB |  1.01 |
# | embed      | predict  | quiet   |  24,385,272   +2MB |  14,031,232  +21MB |   5,377,822   +6MB |  1.74 |
# | embed      | predict  | busy    |  18,534,534   +1MB |   2,903,453  +17MB |   2,946,201   +5MB |  6.29 |
# | embed      | evaluate | quiet   |  12,404,141   +2MB |  11,791,140   +2MB |   4,795,645   +0MB |  1.05 |
# | embed      | evaluate | busy    |   9,371,678   +2MB |   1,990,768   -0MB |   2,951,736   +0MB |  3.17 |
# | rnn        | predict  | quiet   |     345,404   +2MB |     102,612  +58MB |     157,399  +78MB |  2.19 |
# | rnn        | predict  | busy    |     212,722   +2MB |      30,382  +60MB |     139,100  +45MB |  1.53 |
# | rnn        | evaluate | quiet   |     341,338   +1MB |     104,810  +27MB |     151,961   +3MB |  2.25 |
# | rnn        | evaluate | busy    |     215,366   +5MB |      44,536   +0MB |     143,944   +1MB |  1.50 |
# | rnn3       | predict  | quiet   |      75,974   +1MB |      31,876  +94MB |      29,518  +59MB |  2.38 |
# | rnn3       | predict  | busy    |      47,211  +32MB |       9,885  +80MB |      24,280  +68MB |  1.94 |
# | rnn3       | evaluate | quiet   |      74,671  +14MB |      31,707  +48MB |      30,151  +58MB |  2.36 |
# | rnn3       | evaluate | busy    |      46,557   +0MB |       8,844 +104MB |      23,221  +60MB |  2.00 |
# | gru        | predict  | quiet   |      90,228   +0MB |      32,461 +103MB |      15,887  +88MB |  2.78 |
# | gru        | predict  | busy    |      51,448   +0MB |      13,988  +99MB |       9,776  +92MB |  3.68 |
# | gru        | evaluate | quiet   |      88,428   +0MB |      31,009  +91MB |      16,324  +92MB |  2.85 |
# | gru        | evaluate | busy    |      51,726   +0MB |      14,648  +75MB |      10,672  +82MB |  3.53 |
# | lstm       | predict  | quiet   |      14,406   +6MB |       9,155 +123MB |      11,118  +96MB |  1.30 |
# | lstm       | predict  | busy    |       8,660   +4MB |       4,917 +122MB |       6,290 +110MB |  1.38 |
# | lstm       | evaluate | quiet   |      14,204   +0MB |       9,033 +122MB |      11,162  +95MB |  1.27 |
# | lstm       | evaluate | busy    |       8,823   +0MB |       4,732 +122MB |       6,419 +105MB |  1.37 |
# | bilstm     | predict  | quiet   |      40,616   +2MB |      17,632  +79MB |      24,231  +64MB |  1.68 |
# | bilstm     | predict  | busy    |      22,521  +14MB |       6,503  +77MB |      14,397  +57MB |  1.56 |
# | bilstm     | evaluate | quiet   |      40,710   +8MB |      17,091  +76MB |      25,214  +67MB |  1.61 |
# | bilstm     | evaluate | busy    |      22,529   +0MB |       7,884  +76MB |      14,590  +66MB |  1.54 |
# | mlp-f64    | predict  | quiet   |     178,308   +4MB |     163,687   +8MB |     161,601  +88MB |  1.09 |
# | mlp-f64    | predict  | busy    |     134,529  +27MB |      75,909   +6MB |     107,474 +106MB |  1.25 |
# | mlp-f64    | evaluate | quiet   |     175,968   +0MB |     153,653   +8MB |     146,778   -0MB |  1.15 |
# | mlp-f64    | evaluate | busy    |     130,015   +5MB |      80,700   +8MB |      94,342   +7MB |  1.38 |
# | mlp-pandas | predict  | quiet   |     170,116   +2MB |     149,644   +0MB |     146,694  +96MB |  1.14 |
# | mlp-pandas | predict  | busy    |     125,069  +27MB |      73,510   +2MB |     100,515 +104MB |  1.24 |
# | mlp-pandas | evaluate | quiet   |     170,760   +0MB |     152,828   +0MB |     144,640  +18MB |  1.12 |
# | mlp-pandas | evaluate | busy    |     117,622   +2MB |      71,327   +0MB |      86,908  +83MB |  1.35 |
# | lstm-int32 | predict  | quiet   |      13,176   +0MB |       9,159 +160MB |      11,338  +98MB |  1.16 |
# | lstm-int32 | predict  | busy    |       8,933  +13MB |       5,108 +137MB |       6,683  +96MB |  1.34 |
# | lstm-int32 | evaluate | quiet   |      10,495   +0MB |       8,924 +153MB |      11,678  +92MB |  0.90 |
# | lstm-int32 | evaluate | busy    |       8,837   +0MB |       3,240 +149MB |       6,626 +101MB |  1.33 |
#
# The host was noisy this hour (load ~1.7 with nothing of ours running): the same statdl op
# moved by 20% between rounds (lstm-int32 evaluate 10,495 then 9,733; 14,438 in a rerun), and
# the busy rows' peers moved as much (torch's embed predict 14.0M quiet, 2.9M busy). A rerun
# of the two quiet rows below 1 (13:06, --models cnn,lstm-int32 --frameworks
# statdl,keras-jax-1024 --rounds 3): cnn predict 25,805 against 26,352 (0.98), evaluate
# 26,820 against 29,040 (0.92); lstm-int32 1.21 and 1.26.
#
# Below the fastest peer: the CNN's quiet evaluate against Keras-JAX (0.92-0.93; its predict
# 0.98-1.03 and, busy, 1.01-1.06). Its time is convolution: oneDNN's kernels take 71% of an
# evaluate, the max pooling 8%, the Dense layers 11%. XLA fuses each convolution with its
# ReLU and pooling into one YNNPACK kernel (the HLO's `__ynn_fusion`; the second convolution
# + ReLU + pooling on 800 images in 15.7 ms, against oneDNN's 16.4 ms for the cropped
# convolution alone plus 1.5 for the pooling), and this torch build has neither XNNPACK nor
# a working NNPACK. Tried and measured slower than the present slices for the first
# convolution (one input channel; 7.5 ms on 800 images): a 4 x 4 stride-2 convolution with 128
# outputs, the same after a space-to-depth, four stride-2 convolutions, im2col with MKL's or
# oneDNN's product (8.6-29 ms). Keras-JAX's evaluate is itself 7-10% faster than its predict,
# statdl's the same as its predict.

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
