"""Functional models against Keras 3 itself (slow tier; needs ``pip install keras jax``).

The same graph is declared in both; Keras's weights are copied into ours through
``get_weights``/``set_weights``; then parameter counts, layer order, the summary table,
forward outputs and one epoch of training on two outputs must agree.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")

import statdl as sd  # noqa: E402
from statdl import layers as L  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
K = keras.layers


def _graph(lib, merge: str = "concatenate"):
    """Two inputs, a shared Dense, a merge, two outputs; ``lib`` is ``(Input, Model, layers)``.
    """
    Input, Model, layers = lib
    a = Input((5,), name="num")
    b = Input((4,), name="more")
    shared = layers.Dense(6, activation="tanh", name="shared")
    h1 = shared(a)
    h2 = shared(layers.Dense(5, name="proj")(b))
    merged = {"concatenate": lambda: layers.Concatenate(name="merge")([h1, h2]),
              "add": lambda: layers.Add(name="merge")([h1, h2]),
              "multiply": lambda: layers.Multiply(name="merge")([h1, h2])}[merge]()
    hidden = layers.Dense(7, activation="relu", name="hidden")(merged)
    out1 = layers.Dense(1, name="reg")(hidden)
    out2 = layers.Dense(3, activation="softmax", name="cls")(merged)
    return Model([a, b], [out1, out2], name="graph")


def _pair(merge="concatenate"):
    keras.utils.set_random_seed(0)
    theirs = _graph((keras.Input, keras.Model, K), merge)
    ours = _graph((sd.Input, sd.Model, L), merge)
    for klayer in theirs.layers:
        weights = klayer.get_weights()
        if weights:
            ours.get_layer(klayer.name).set_weights(weights)
    return ours, theirs


def _inputs(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, 5)).astype(np.float32), rng.normal(size=(n, 4)).astype(np.float32)]


@pytest.mark.parametrize("merge", ["concatenate", "add", "multiply"])
def test_graph_counts_order_and_outputs_match_keras(merge):
    ours, theirs = _pair(merge)
    assert ours.count_params() == theirs.count_params()
    assert [x.name for x in ours.layers] == [x.name for x in theirs.layers]
    x = _inputs()
    for mine, ref in zip(ours.predict(x), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(mine, np.asarray(ref), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("columns", ["120", "90"])
def test_graph_summary_matches_keras_3(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", columns)
    ours, theirs = _pair()
    captured = []
    theirs.summary(print_fn=captured.append)
    expected = "\n".join(line.rstrip() for line in "".join(captured).splitlines())
    assert ours.summary(print_fn=None, style="keras3") == expected


def test_course_autoencoder_summary_matches_keras_3(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    layers_k = [K.Dense(100, activation="tanh", name="dense"), K.Dense(784, name="dense_1")]
    layers_s = [L.Dense(100, activation="tanh", name="dense"), L.Dense(784, name="dense_1")]
    models = []
    for Input, Model, (enc, dec) in ((keras.Input, keras.Model, layers_k),
                                     (sd.Input, sd.Model, layers_s)):
        inp = Input(shape=(784,), name="input_layer")
        models.append(Model(inp, dec(enc(inp)), name="functional"))
    captured = []
    models[0].summary(print_fn=captured.append)
    expected = "\n".join(line.rstrip() for line in "".join(captured).splitlines())
    assert models[1].summary(print_fn=None, style="keras3") == expected


def test_one_epoch_on_two_outputs_matches_keras():
    ours, theirs = _pair()
    rng = np.random.default_rng(3)
    x = _inputs(48, seed=3)
    y = [rng.normal(size=(48, 1)).astype(np.float32), rng.integers(0, 3, 48)]
    kw = {"loss": ["mse", "sparse_categorical_crossentropy"], "loss_weights": [1.0, 0.5]}
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), **kw)
    ours.compile(optimizer=sd.optimizers.SGD(0.05), **kw)
    khist = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    hist = ours.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert sorted(hist.history) == sorted(khist.history)
    for key in khist.history:   # float32 tolerance: the same sums in another order
        np.testing.assert_allclose(hist.history[key], khist.history[key], rtol=2e-6,
                                   err_msg=key)
    for klayer in theirs.layers:
        for kw_, w in zip(klayer.get_weights(), ours.get_layer(klayer.name).get_weights()):
            np.testing.assert_allclose(w, kw_, rtol=1e-5, atol=1e-6)
    kev = theirs.evaluate(x, y, verbose=0)
    ev = ours.evaluate(x, y, return_dict=False)
    np.testing.assert_allclose(ev, kev, rtol=2e-6)      # the values, in Keras's order
    assert ours.metrics_names == theirs.metrics_names


def test_nested_models_summary_matches_keras_3(monkeypatch):
    """The Keras VAE example's shape: an encoder with three outputs used inside a model."""
    monkeypatch.setenv("COLUMNS", "120")
    texts = []
    for Input, Model, layers in ((keras.Input, keras.Model, K), (sd.Input, sd.Model, L)):
        inp = Input((12,), name="x")
        h = layers.Dense(8, activation="relu", name="h")(inp)
        mean, log_var = layers.Dense(2, name="mean")(h), layers.Dense(2, name="log_var")(h)
        encoder = Model(inp, [mean, log_var, layers.Add(name="z")([mean, log_var])],
                        name="encoder")
        outer_in = Input((12,), name="outer_x")
        z = encoder(outer_in)[2]
        model = Model(outer_in, layers.Dense(12, name="recon")(z), name="outer")
        captured = []
        if Model is keras.Model:
            encoder.summary(print_fn=captured.append)
            model.summary(print_fn=captured.append)
            texts.append("\n".join(line.rstrip() for line in "".join(captured).splitlines()))
        else:
            texts.append(encoder.summary(print_fn=None, style="keras3") + "\n"
                         + model.summary(print_fn=None, style="keras3"))
    assert texts[1] == texts[0]


def _declarations(lib):
    """Models declared alike in Keras and statdl: ``lib`` is ``(Input, Model, Sequential,
    layers)``; each yields (label, model)."""
    Input, Model, Sequential, layers = lib
    x = Input((4,), name="x")
    one = Model(x, layers.Dense(3, name="d")(x))
    yield "one input", one
    yield "sub-model", Model(one.input, one.get_layer("d").output)
    outer_in = Input((4,), name="outer_in")
    yield "nested", Model(outer_in, one(outer_in))
    yield "sequential with Input", Sequential([Input((4,)), layers.Dense(3)])
    a, b = Input((3,), name="a"), Input((2,), name="b")
    yield "lists", Model([a, b], [layers.Dense(4, name="h")(a), layers.Dense(1, name="y")(b)])
    yield "dicts", Model({"a": a, "b": b},
                         {"h": layers.Dense(4, name="h2")(layers.Concatenate()([a, b]))})
    seq = Input((None, 5), name="seq")
    yield "unknown length", Model(seq, layers.Conv1D(2, 3, name="c")(seq))
    img = Input((8, 8, 1), name="img")
    conv = layers.Conv2D(4, 3, name="conv")(img)
    yield "two outputs of images", Model(img, [conv, layers.Flatten(name="f")(conv)])


def _batch_shapes(value):
    """Keras's shapes of a tensor or a list or dict of them: statdl's ``SymbolicTensor.shape``
    is one sample's (no batch axis), its repr and ``model.input_shape`` add Keras's ``None``."""
    if isinstance(value, dict):
        return {k: _batch_shapes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_batch_shapes(v) for v in value]
    shape = tuple(value.shape)
    return shape if isinstance(value, keras.KerasTensor) else (None, *shape)


def test_input_and_output_shapes_and_tensors_match_keras():
    theirs = dict(_declarations((keras.Input, keras.Model, keras.Sequential, K)))
    ours = dict(_declarations((sd.Input, sd.Model, sd.Sequential, L)))
    assert list(ours) == list(theirs)
    for label, model in ours.items():
        ref = theirs[label]
        assert model.input_shape == ref.input_shape, label
        assert model.output_shape == ref.output_shape, label
        # Keras's Sequential has `inputs` but raises for `input` until called; statdl's gives it
        attrs = ("inputs", "outputs") if label.startswith("sequential") else \
            ("inputs", "outputs", "input", "output")
        for attr in attrs:
            assert _batch_shapes(getattr(model, attr)) == _batch_shapes(getattr(ref, attr)), \
                (label, attr)
    # a Sequential given its input shape otherwise: Keras's build((None, 4)), statdl's
    # input_shape=(4,) (one sample's shape, as the constructor has always taken it)
    keras_seq = keras.Sequential([K.Dense(3)])
    keras_seq.build((None, 4))
    ours_seq = sd.Sequential([L.Dense(3)], input_shape=(4,))
    assert (ours_seq.input_shape, ours_seq.output_shape) == \
        (keras_seq.input_shape, keras_seq.output_shape)


def _one_output_pair():
    """Two inputs, a Dense branch, a merge, one sigmoid output (not a chain: the graph module
    trains it), with Keras's weights copied into ours."""
    keras.utils.set_random_seed(1)
    models = []
    for Input, Model, layers in ((keras.Input, keras.Model, K), (sd.Input, sd.Model, L)):
        a, b = Input((5,), name="num"), Input((3,), name="more")
        merged = layers.Concatenate(name="cat")([a, layers.Dense(4, activation="tanh",
                                                                 name="h")(b)])
        models.append(Model([a, b], layers.Dense(1, activation="sigmoid", name="p")(merged),
                            name="wide"))
    theirs, ours = models
    for klayer in theirs.layers:
        if klayer.get_weights():
            ours.get_layer(klayer.name).set_weights(klayer.get_weights())
    return ours, theirs


@pytest.mark.parametrize("weighting", ["class_weight", "sample_weight"])
def test_validation_split_callbacks_and_weights_on_a_graph_match_keras(weighting):
    """``validation_split``, a callback that stops training and class or sample weights work
    on a graph model as Keras runs them: same History, same epoch of stopping, same weights."""
    ours, theirs = _one_output_pair()
    rng = np.random.default_rng(5)
    x = [rng.normal(size=(64, 5)).astype(np.float32), rng.normal(size=(64, 3)).astype(np.float32)]
    y = (x[0][:, 0] + x[1][:, 1] > 0.5).astype(np.float32)
    weights = {"class_weight": {0: 1.0, 1: 3.0}} if weighting == "class_weight" else \
        {"sample_weight": rng.uniform(0.5, 2.0, 64).astype(np.float32)}
    histories = []
    for model, lib in ((theirs, keras), (ours, sd)):
        model.compile(optimizer=lib.optimizers.SGD(0.3), loss="binary_crossentropy",
                      metrics=["accuracy"])
        stop = lib.callbacks.EarlyStopping(monitor="val_loss", min_delta=0.02, patience=0)
        histories.append(model.fit(x, y, batch_size=16, epochs=30, shuffle=False,
                                   validation_split=0.25, callbacks=[stop], verbose=0,
                                   **weights).history)
    khist, hist = histories
    assert sorted(hist) == sorted(khist)
    assert len(hist["loss"]) == len(khist["loss"]) < 30       # stopped, at the same epoch
    for key in khist:
        np.testing.assert_allclose(hist[key], khist[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for klayer in theirs.layers:
        for kw_, w in zip(klayer.get_weights(), ours.get_layer(klayer.name).get_weights()):
            np.testing.assert_allclose(w, kw_, rtol=1e-5, atol=1e-6)
