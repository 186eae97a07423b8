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

# Measured 2026-12-01 10:37-10:49 UTC (2 cores; every model, --frameworks
# statdl,torch,keras-jax-1024 --rounds 2 --scale 0.5 --repeats 2, then the same with
# --background 1; samples/s, best call of >= 1 s of calls, best of the 2 rounds; +MB: peak
# growth in the calls; ratio: statdl / fastest peer). Keras-JAX at its default batch of 32 was
# left out for time (3.5-18x slower than at 1,024 in earlier runs). Busy: predict and evaluate
# of the dense and convolutional models ran their batches on worker threads
# (statdl.training.batch_workers; before them, in the same hour: MLP predict 0.83, CNN 0.67,
# softmax regression 0.81, float64 MLP 0.78 of the fastest peer).
#
# | model      | op       | machine | statdl            | torch             | Keras-JAX 1024    | ratio |
# |------------|----------|---------|-------------------|-------------------|-------------------|-------|
# | logit      | predict  | quiet   |  2,031,268   +2MB |  2,188,828   +2MB |  2,077,034  +59MB |  0.93 |
# | logit      | predict  | busy    |  1,374,089   +6MB |  1,392,914   +2MB |  1,188,435  +71MB |  0.99 |
# | logit      | evaluate | quiet   |  1,765,887   +0MB |  1,961,229   +0MB |  1,594,383  +37MB |  0.90 |
# | logit      | evaluate | busy    |  1,065,044   +0MB |  1,123,877   -0MB |    984,753  +49MB |  0.95 |
# | mlp        | predict  | quiet   |    178,521  +10MB |    176,553   +8MB |    177,250  +35MB |  1.01 |
# | mlp        | predict  | busy    |    118,920  +16MB |     92,459   +8MB |    112,911  +32MB |  1.05 |
# | mlp        | evaluate | quiet   |    176,304   +0MB |    171,884   +6MB |    167,060  +16MB |  1.03 |
# | mlp        | evaluate | busy    |    113,876   +2MB |     80,339   +2MB |     98,450   +9MB |  1.16 |
# | cnn        | predict  | quiet   |     25,473   +7MB |     11,138 +128MB |     28,144  +28MB |  0.91 |
# | cnn        | predict  | busy    |     18,616 +113MB |      5,035 +144MB |     19,941  +28MB |  0.93 |
# | cnn        | evaluate | quiet   |     25,553  +14MB |     11,124 +128MB |     27,879  +19MB |  0.92 |
# | cnn        | evaluate | busy    |     19,033  +27MB |      5,006 +128MB |     16,817  +20MB |  1.13 |
# | embed      | predict  | quiet   | 26,229,164   +3MB | 14,203,997  +20MB |  5,221,972   +5MB |  1.85 |
# | embed      | predict  | busy    | 17,058,134   +2MB | 14,399,408  +20MB |  3,652,144   +4MB |  1.18 |
# | embed      | evaluate | quiet   | 14,497,801   +0MB | 11,761,889   -0MB |  4,643,758   +1MB |  1.23 |
# | embed      | evaluate | busy    | 10,885,832   +0MB |  9,338,791   +0MB |  3,241,882   +1MB |  1.17 |
# | rnn        | predict  | quiet   |    357,751   +2MB |    108,963  +76MB |    164,940  +30MB |  2.17 |
# | rnn        | predict  | busy    |    211,934   +1MB |     48,491  +50MB |    139,027  +21MB |  1.52 |
# | rnn        | evaluate | quiet   |    349,337   +1MB |    109,748  +37MB |    162,752   +1MB |  2.15 |
# | rnn        | evaluate | busy    |    207,483   +1MB |     26,916  +25MB |    137,623   +1MB |  1.51 |
# | rnn3       | predict  | quiet   |     80,316  +16MB |     32,781  +97MB |     31,044  +62MB |  2.45 |
# | rnn3       | predict  | busy    |     46,904  +32MB |     12,265  +65MB |     22,773  +62MB |  2.06 |
# | rnn3       | evaluate | quiet   |     78,848  +15MB |     31,813  +50MB |     32,323  +62MB |  2.44 |
# | rnn3       | evaluate | busy    |     47,256  +32MB |      7,425  +37MB |     23,004  +60MB |  2.05 |
# | gru        | predict  | quiet   |     91,015  +10MB |     33,236 +101MB |     15,839  +81MB |  2.74 |
# | gru        | predict  | busy    |     51,288   +0MB |     15,776  +99MB |     10,805  +89MB |  3.25 |
# | gru        | evaluate | quiet   |     90,551   +0MB |     33,118  +98MB |     16,316  +95MB |  2.73 |
# | gru        | evaluate | busy    |     50,877   +0MB |     13,686  +75MB |      9,953  +95MB |  3.72 |
# | lstm       | predict  | quiet   |     14,384  +13MB |     10,322 +122MB |     11,378  +95MB |  1.26 |
# | lstm       | predict  | busy    |      8,915   +0MB |      5,247 +122MB |      6,371  +98MB |  1.40 |
# | lstm       | evaluate | quiet   |     14,416   +0MB |      9,804 +122MB |     11,143  +93MB |  1.29 |
# | lstm       | evaluate | busy    |      8,886  +15MB |      5,230 +122MB |      6,454  +91MB |  1.38 |
# | bilstm     | predict  | quiet   |     41,631   +9MB |     19,968  +77MB |     24,982  +58MB |  1.67 |
# | bilstm     | predict  | busy    |     22,296   +0MB |      7,092  +76MB |     14,899  +61MB |  1.50 |
# | bilstm     | evaluate | quiet   |     41,607   +0MB |     19,867  +78MB |     26,489  +57MB |  1.57 |
# | bilstm     | evaluate | busy    |     22,544   +0MB |      8,277  +76MB |     14,676  +64MB |  1.54 |
# | mlp-f64    | predict  | quiet   |    169,136   +6MB |    168,385  +10MB |    166,466 +104MB |  1.00 |
# | mlp-f64    | predict  | busy    |    120,204  +26MB |     73,607   +2MB |    104,290  +91MB |  1.15 |
# | mlp-f64    | evaluate | quiet   |    164,972   +2MB |    164,922   +5MB |    154,643  +24MB |  1.00 |
# | mlp-f64    | evaluate | busy    |    114,337   +3MB |     78,897   +5MB |     88,978   +6MB |  1.28 |
# | lstm-int32 | predict  | quiet   |     14,613  +15MB |     10,292 +168MB |     12,181 +103MB |  1.20 |
# | lstm-int32 | predict  | busy    |      8,943  +13MB |      5,346 +153MB |      7,221  +98MB |  1.24 |
# | lstm-int32 | evaluate | quiet   |     14,522  +15MB |      9,856 +137MB |     11,807 +106MB |  1.23 |
# | lstm-int32 | evaluate | busy    |      8,948   +0MB |      5,215 +122MB |      6,883  +92MB |  1.30 |
#
# Then (11:39-11:42 UTC, --models logit,mlp,cnn, same settings) after the softmax and the
# cross-entropy over few classes became elementwise passes (torch's CPU kernels are slow for a
# last axis under 16 values; few_class_softmax, few_class_cross_entropy):
#
# | model | op       | quiet: statdl / torch / Keras-JAX   | ratio | busy: statdl / torch / Keras-JAX | ratio |
# |-------|----------|-------------------------------------|-------|----------------------------------|-------|
# | logit | predict  | 2,303,813 / 2,125,337 / 1,765,034   |  1.08 | 1,524,698 / 1,136,905 / 1,363,749 |  1.12 |
# | logit | evaluate | 1,892,381 / 1,906,343 / 1,623,579   |  0.99 | 1,343,091 / 1,083,126 / 1,079,621 |  1.24 |
# | mlp   | predict  |   175,462 /   171,483 /   165,911   |  1.02 |   117,309 /    82,867 /   110,188 |  1.06 |
# | mlp   | evaluate |   172,175 /   167,678 /   163,995   |  1.03 |   109,355 /    82,608 /   100,045 |  1.09 |
# | cnn   | predict  |    24,548 /    10,500 /    28,295   |  0.87 |    17,675 /     4,982 /    19,347 |  0.91 |
# | cnn   | evaluate |    24,428 /    10,398 /    28,762   |  0.85 |    17,966 /     4,639 /    20,206 |  0.89 |
#
# Below the fastest peer: the CNN against Keras-JAX (0.85-0.93 over these runs; 1.13 once for
# the busy evaluate), and the softmax regression's quiet evaluate at the plain torch loop's speed
# (0.99; its accuracy's argmax over 10 values is the same slow kind of kernel, 76 us a batch,
# left as it is because a comparison with the true class's logit would count ties as correct).
# The CNN's time is oneDNN's convolution (68% of a predict, ~82 G multiply-adds/s on the 2
# cores), its max pooling (14%) and the Dense layers (12%); its batch size does not matter (400
# to 2,000 rows within 3%), and two quiet workers of one thread each were slower than torch's
# two threads (22,300 against 23,800 images/s).
#
# Earlier runs (another machine of the same kind, about half as fast; see git history for their
# tables):
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
