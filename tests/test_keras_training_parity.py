"""Training against Keras 3 itself: the same start, the same batches, the same optimiser give
the same losses and the same weights after training (issue #15).

Each case is one expression list (``X.LSTM(6)`` with ``X`` bound to ``keras.layers`` in the
child process and to ``statdl.layers`` here) and one optimiser expression (``O`` bound to
``keras.optimizers`` / ``statdl.optimizers``). The starting weights are drawn here (statdl's
initialisation plus noise, so that biases, gammas and moving statistics are not their initial
constants) in Keras's layouts; one child process (``KERAS_BACKEND=jax``) copies them into each
Keras model with ``set_weights``, trains it with ``fit(shuffle=False)`` and writes the running
loss after each batch (Keras logs the mean of the epoch so far), the epoch losses and every
weight after training (``get_weights``: BatchNormalization's moving mean and variance too).
statdl then trains from the same weights on the same batches, with its fast paths on (the
default) and with all of them off (the dropout cases keep the CPU's 16-bit mask draws, whose
numbers Keras replays), and must agree to float32 rounding. The default tier runs the RMSprop
variants, the MLP with dropout and the BatchNormalization network (one Keras child of about
14 s of CPU); the recurrent and convolutional cases run with ``-m slow``.

Dropout draws its masks from each framework's own generator, so the streams differ. The
dropout cases therefore compare *with* dropout by handing Keras statdl's masks: statdl trains
first with a forward hook on each ``Dropout`` module that records its keep mask per batch; in
Keras each ``Dropout`` becomes a ``Multiply`` by an extra input holding those masks times
``1 / (1 - rate)`` (what inverted dropout multiplies by), fed batch by batch alongside ``x``.
A Dense network with dropout trains through statdl's Dense kernel, which draws its masks
without the Dropout module: its masks are recorded with the kernel off, and the kernel's run
must reproduce that run's weights from the same seed (the kernel draws the same numbers in the
same order, ``layers.dropout_masks.KeepMasks``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pytest

import statdl as sd
from statdl import fast_paths
from statdl import layers as L
from statdl.layers.core import DropoutModule

pytestmark = pytest.mark.skipif(importlib.util.find_spec("keras") is None
                                or importlib.util.find_spec("jax") is None,
                                reason="needs keras and jax (pip install keras jax)")


@dataclass(frozen=True)
class Case:
    layers: str            # a list expression over X (keras.layers or statdl.layers)
    shape: tuple           # input shape without the batch axis
    optimizer: str         # an expression over O (keras.optimizers or statdl.optimizers)
    loss: str = "mse"
    target: str = "regression"  # or "classes" (one-hot, 3) or "binary"
    outputs: int = 1       # regression targets' columns
    n: int = 32
    batch_size: int = 8
    epochs: int = 1
    dropout: bool = False  # replay statdl's dropout masks in Keras


CASES: dict[str, Case] = {
    # RMSprop's two variants the plain parity test (test_keras_parity) leaves out: 6 steps each
    "rmsprop_momentum": Case("[X.Dense(8, activation='tanh'), X.Dense(2)]", (5,),
                             "O.RMSprop(0.01, momentum=0.9)", outputs=2, n=48, batch_size=16,
                             epochs=2),
    "rmsprop_centered": Case("[X.Dense(8, activation='tanh'), X.Dense(2)]", (5,),
                             "O.RMSprop(0.01, centered=True)", outputs=2, n=48, batch_size=16,
                             epochs=2),
    "rmsprop_centered_momentum": Case("[X.Dense(8, activation='tanh'), X.Dense(2)]", (5,),
                                      "O.RMSprop(0.005, rho=0.8, momentum=0.5, centered=True)",
                                      outputs=2, n=48, batch_size=16, epochs=2),
    # recurrent layers: one epoch of 4 batches
    "lstm": Case("[X.LSTM(6), X.Dense(1)]", (5, 3), "O.RMSprop(0.01)"),
    "gru": Case("[X.GRU(6), X.Dense(1)]", (5, 3), "O.Adam(0.01)"),
    "simple_rnn": Case("[X.SimpleRNN(6), X.Dense(1)]", (5, 3), "O.RMSprop(0.01)"),
    "embedding_lstm": Case("[X.Embedding(12, 4), X.LSTM(5), X.Dense(1, activation='sigmoid')]",
                           (6,), "O.RMSprop(0.01)", loss="binary_crossentropy",
                           target="binary"),
    # the course's convolutional classifier with dropout after the pooling and after Flatten
    "conv2d_dropout": Case("[X.Conv2D(4, 3, activation='relu'), X.MaxPooling2D(2), "
                           "X.Dropout(0.25), X.Flatten(), X.Dropout(0.5), "
                           "X.Dense(3, activation='softmax')]", (8, 8, 1), "O.RMSprop(0.01)",
                           loss="categorical_crossentropy", target="classes", n=24,
                           dropout=True),
    # the course's MNIST multilayer perceptron (statdl's Dense kernel when fast paths are on)
    "mlp_dropout": Case("[X.Dense(16, activation='relu'), X.Dropout(0.4), "
                        "X.Dense(3, activation='softmax')]", (6,), "O.RMSprop(0.01)",
                        loss="categorical_crossentropy", target="classes", dropout=True),
    # batch statistics in training, moving mean and variance updated (momentum 0.99 and 0.9).
    # A bias before BatchNormalization has a gradient of 0 up to rounding, which Adam scales
    # up to steps of the learning rate's size (bias 1 of "batchnorm" then differed by 8e-4
    # from Keras's while everything else agreed): no bias there, as is usual
    "batchnorm": Case("[X.Dense(8, use_bias=False), X.BatchNormalization(), X.Activation('relu'), X.Dense(1)]",
                      (5,), "O.Adam(0.01)"),
    "conv2d_batchnorm": Case("[X.Conv2D(3, 3), X.BatchNormalization(momentum=0.9), "
                             "X.Activation('relu'), X.Flatten(), X.Dense(1)]", (6, 6, 2),
                             "O.SGD(0.05, momentum=0.9)", n=24),
}

KERAS_CHILD = r"""
import json, sys
import numpy as np
import keras
X, O = keras.layers, keras.optimizers

cases = json.loads(open(sys.argv[1]).read())
data = np.load(sys.argv[2])
out, info = {}, {}

class Running(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.losses = []
    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))

for name, case in cases.items():
    keras.utils.set_random_seed(0)
    x = data[f"{name}/x"]
    x = x.astype("int32") if x.dtype.kind == "i" else x  # jax's integers are 32-bit
    inputs = [keras.Input(tuple(case["shape"]), dtype=str(x.dtype))]
    h, masks = inputs[0], []
    for layer in eval(case["layers"]):
        if case["dropout"] and isinstance(layer, X.Dropout):
            mask = keras.Input(tuple(h.shape[1:]))  # statdl's masks times 1 / (1 - rate)
            inputs.append(mask)
            masks.append(data[f"{name}/mask{len(masks)}"])
            h = X.Multiply()([h, mask])
        else:
            h = layer(h)
    model = keras.Model(inputs, h)
    n_weights = case["n_weights"]
    model.set_weights([data[f"{name}/w{i}"] for i in range(n_weights)])
    model.compile(optimizer=eval(case["optimizer"]), loss=case["loss"])
    running = Running()
    history = model.fit([x, *masks] if masks else x, data[f"{name}/y"],
                        batch_size=case["batch_size"], epochs=case["epochs"], shuffle=False,
                        verbose=0, callbacks=[running])
    weights = model.get_weights()
    assert len(weights) == n_weights, (name, len(weights), n_weights)
    for i, w in enumerate(weights):
        out[f"{name}/w{i}"] = np.asarray(w)
    info[name] = {"running": running.losses, "epochs": list(history.history["loss"])}

np.savez(sys.argv[3], **out)
open(sys.argv[4], "w").write(json.dumps(info))
"""


def _data(name: str, case: Case) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(sorted(CASES).index(name))
    if case.layers.startswith("[X.Embedding"):
        x = rng.integers(0, 12, size=(case.n, *case.shape)).astype(np.int64)
    else:
        x = rng.normal(size=(case.n, *case.shape)).astype(np.float32)
    flat = x.reshape(case.n, -1).astype(np.float64)
    if case.target == "classes":
        labels = np.argmax(flat[:, :3] + rng.normal(scale=0.5, size=(case.n, 3)), axis=1)
        y = np.eye(3, dtype=np.float32)[labels]
    elif case.target == "binary":
        y = (flat.mean(axis=1, keepdims=True) > 5.5).astype(np.float32)
    else:
        y = flat @ rng.normal(size=(flat.shape[1], case.outputs)) / np.sqrt(flat.shape[1])
        y = y.astype(np.float32)
    return x, y


def _model(case: Case):
    return sd.Sequential(eval(case.layers, {"X": L}), input_shape=case.shape)


def _start(name: str, case: Case) -> list[np.ndarray]:
    """statdl's initialisation plus noise, layer by layer in Keras's layouts (moving
    variances kept positive), from a seed of its own per case."""
    sd.set_seed(sorted(CASES).index(name))
    model = _model(case)
    rng = np.random.default_rng(100 + sorted(CASES).index(name))
    weights = []
    for layer in model.layers:
        ws = [w + rng.normal(scale=0.2, size=w.shape).astype(w.dtype) for w in layer.get_weights()]
        if isinstance(layer, L.BatchNormalization):
            ws[-1] = np.abs(ws[-1]) + 0.5
        weights.extend(ws)
    return weights


def _fit(name: str, case: Case, start: list[np.ndarray], record: bool = False):
    """Train statdl from ``start``: (per-batch losses, epoch losses, weights, masks); with
    ``record``, per Dropout module, its keep mask and where its input was not 0 (all batches
    of the first epoch stacked)."""
    model = _model(case)
    model.set_weights(start)
    model.compile(optimizer=eval(case.optimizer, {"O": sd.optimizers}), loss=case.loss,
                  device="cpu")  # as Keras here (JAX_PLATFORMS=cpu), whatever GPU there is
    dropouts = [m for m in model.module.modules() if isinstance(m, DropoutModule)]
    recorded: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in dropouts]

    def hook(i):
        def keep(module, inputs, output):
            (x,) = inputs
            recorded[i].append(((output != 0).numpy().copy(), (x != 0).numpy().copy()))
        return keep

    hooks = [m.register_forward_hook(hook(i)) for i, m in enumerate(dropouts)] if record else []
    batch_losses: list[float] = []
    per_batch = sd.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_losses.append(logs["loss"]))
    x, y = _data(name, case)
    sd.set_seed(7)  # the dropout masks' stream
    try:
        history = model.fit(x, y, batch_size=case.batch_size, epochs=case.epochs,
                            shuffle=False, verbose=0, callbacks=[per_batch])
    finally:
        for h in hooks:
            h.remove()
    masks = []
    for r in recorded if record else []:
        first = r[:len(r) // case.epochs]
        masks.append((np.concatenate([k for k, _ in first]),
                      np.concatenate([live for _, live in first])))
        assert len(masks[-1][0]) == case.n
    return batch_losses, history.history["loss"], model.get_weights(), masks


def _masks(name: str, case: Case, start) -> list[tuple[np.ndarray, np.ndarray]]:
    """The keep masks statdl's ``fit`` draws from seed 7 and where each Dropout's input was
    not 0, recorded through the Dropout modules (so with the Dense kernel, which applies
    dropout itself, off)."""
    with fast_paths.off("dense_step"), fast_paths.on("dropout_16bit"):
        return _fit(name, case, start, record=True)[3]


def _replayed(keep: np.ndarray, live: np.ndarray, rate: float) -> np.ndarray:
    """What Keras multiplies by: 0 where dropped, else ``1 / (1 - rate)``. Where the input
    was 0 (after a relu) the entry counts as kept: output and gradient are 0 either way."""
    return (keep | ~live).astype(np.float32) * np.float32(1.0 / (1.0 - rate))


def _running_means(losses: list[float], case: Case) -> np.ndarray:
    """Keras's per-batch log: the mean loss of the epoch so far, weighted by batch size."""
    sizes = [min(case.batch_size, case.n - s) for s in range(0, case.n, case.batch_size)]
    out = []
    for e in range(case.epochs):
        chunk = np.asarray(losses[e * len(sizes):(e + 1) * len(sizes)])
        out.extend(np.cumsum(chunk * sizes) / np.cumsum(sizes))
    return np.asarray(out)


#: the default tier's cases (the Keras child costs about 14 s of CPU for these, 5 s of it
#: importing Keras); the recurrent and convolutional ones (about 40 s more, mostly jax
#: compiling each network's training step) run with -m slow
FAST = {"rmsprop_momentum", "rmsprop_centered", "rmsprop_centered_momentum", "mlp_dropout",
        "batchnorm"}
SLOW = sorted(set(CASES) - FAST)


def _run_keras(folder, names) -> tuple[dict, dict, dict]:
    """(what was handed to Keras, Keras's weights after training, Keras's losses) for
    ``names``, from one child process."""
    arrays, table = {}, {}
    for name in names:
        case = CASES[name]
        start = _start(name, case)
        x, y = _data(name, case)
        arrays.update({f"{name}/x": x, f"{name}/y": y})
        arrays.update({f"{name}/w{i}": w for i, w in enumerate(start)})
        if case.dropout:
            masks = _masks(name, case, start)
            for i, ((keep, live), rate) in enumerate(zip(masks, _rates(case), strict=True)):
                arrays[f"{name}/mask{i}"] = _replayed(keep, live, rate)
        table[name] = {"layers": case.layers, "shape": list(case.shape),
                       "optimizer": case.optimizer, "loss": case.loss,
                       "batch_size": case.batch_size, "epochs": case.epochs,
                       "dropout": case.dropout, "n_weights": len(start)}
    np.savez(folder / "data.npz", **arrays)
    (folder / "cases.json").write_text(json.dumps(table))
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KERAS_CHILD), str(folder / "cases.json"),
         str(folder / "data.npz"), str(folder / "out.npz"), str(folder / "info.json")],
        capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return arrays, dict(np.load(folder / "out.npz")), json.loads(
        (folder / "info.json").read_text())


@pytest.fixture(scope="module")
def keras_fast(tmp_path_factory):
    return _run_keras(tmp_path_factory.mktemp("keras_fast"), sorted(FAST))


@pytest.fixture(scope="module")
def keras_slow(tmp_path_factory):
    return _run_keras(tmp_path_factory.mktemp("keras_slow"), SLOW)


def _keras(request, name: str):
    return request.getfixturevalue("keras_fast" if name in FAST else "keras_slow")


def _rates(case: Case) -> list[float]:
    return [layer.rate for layer in eval(case.layers, {"X": L}) if isinstance(layer, L.Dropout)]


@contextmanager
def _all_off_but_the_mask_stream(case: Case):
    """Every fast path off, except for the dropout cases the CPU's 16-bit masks: with 32 bits
    per entry the masks are other numbers (same distribution) than the ones Keras replays."""
    with fast_paths.off():
        if case.dropout:
            with fast_paths.on("dropout_16bit"):
                yield
        else:
            yield


def _params(names):
    return [pytest.param(n, marks=() if n in FAST else pytest.mark.slow) for n in names]


@pytest.mark.parametrize("paths", ["on", "off"])
@pytest.mark.parametrize("name", _params(sorted(CASES)))
def test_training_matches_keras(name, paths, request):
    """Per-batch running losses, epoch losses and every weight after training."""
    arrays, theirs, info = _keras(request, name)
    case = CASES[name]
    start = [arrays[f"{name}/w{i}"] for i in range(len(_start(name, case)))]
    with fast_paths.on() if paths == "on" else _all_off_but_the_mask_stream(case):
        batch_losses, epoch_losses, weights, _ = _fit(name, case, start)
    assert len(batch_losses) == len(info[name]["running"])
    np.testing.assert_allclose(_running_means(batch_losses, case), info[name]["running"],
                               rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(epoch_losses, info[name]["epochs"], rtol=2e-5, atol=1e-6)
    assert len(weights) == len(start)
    for i, w in enumerate(weights):
        assert not np.array_equal(w, start[i]), f"weight {i} did not train"
        np.testing.assert_allclose(w, theirs[f"{name}/w{i}"], rtol=1e-4, atol=2e-5,
                                   err_msg=f"{name}: weight {i} of {len(weights)}")


@pytest.mark.parametrize("name", _params(n for n, c in CASES.items() if c.dropout))
def test_replayed_masks_are_dropout_masks_of_the_rate(name, request):
    """The masks handed to Keras are what statdl drew: the same again from the same seed,
    and each entry dropped with probability ``rate`` (binomial, 4 standard errors)."""
    arrays, _, _ = _keras(request, name)
    case = CASES[name]
    start = [arrays[f"{name}/w{i}"] for i in range(len(_start(name, case)))]
    again = _masks(name, case, start)
    for i, ((keep, live), rate) in enumerate(zip(again, _rates(case), strict=True)):
        np.testing.assert_array_equal(_replayed(keep, live, rate), arrays[f"{name}/mask{i}"])
        dropped = 1.0 - float(np.mean(keep[live]))
        se = np.sqrt(rate * (1 - rate) / live.sum())
        assert abs(dropped - rate) < 4 * se, (dropped, rate, se)
