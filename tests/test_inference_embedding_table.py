"""``predict``/``evaluate`` of Embedding -> Flatten -> Dense through one lookup table
(``inference._table_logits``, the ``embedding_table`` fast path), checked against the model's
definition computed in float64 numpy from its weights, and against the plain path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import fast_paths
from statdl import layers as L
from statdl.errors import ShapeError
from statdl.training import inference


def _model(words=50, width=4, steps=6, units=1, activation="sigmoid", use_bias=True, tail=()):
    sd.set_seed(3)
    model = sd.Sequential([L.Embedding(words, width), L.Flatten(),
                           L.Dense(units, activation=activation, use_bias=use_bias), *tail],
                          input_shape=(steps,))
    rng = np.random.default_rng(1)  # weights away from Keras's small initial values
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _definition(model, ids, activation):
    """Embedding rows, flattened row-major, times the Dense kernel, plus its bias: float64."""
    weights = [w.astype(np.float64) for w in model.get_weights()]
    embeddings, kernel = weights[0], weights[1]
    z = embeddings[ids].reshape(len(ids), -1) @ kernel
    if len(weights) > 2:
        z = z + weights[2]
    return activation(z)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _taken(model, x, **kwargs):
    """Whether predict built a table (one entry in the call's copies holds it)."""
    seen = []
    real = inference._lookup_table

    def watch(*args):
        out = real(*args)
        seen.append(out is not False)
        return out

    inference._lookup_table = watch  # a spy around statdl's own function, which still runs
    try:
        out = model.predict(x, **kwargs)
    finally:
        inference._lookup_table = real
    return out, any(seen)


@pytest.mark.parametrize("units,activation,reference,use_bias", [
    (1, "sigmoid", _sigmoid, True), (3, "softmax", _softmax, True),
    (2, "linear", lambda z: z, False)])
def test_predict_equals_the_definition(units, activation, reference, use_bias):
    model = _model(units=units, activation=activation, use_bias=use_bias)
    ids = np.random.default_rng(2).integers(0, 50, (500, 6))
    with fast_paths.on("embedding_table"):
        got, taken = _taken(model, ids, batch_size=64)  # several batches, a short last one
    assert taken
    np.testing.assert_allclose(got, _definition(model, ids, reference), rtol=1e-5, atol=1e-6)
    with fast_paths.off("embedding_table"):
        plain, taken = _taken(model, ids, batch_size=64)
    assert not taken
    np.testing.assert_allclose(got, plain, rtol=1e-5, atol=1e-6)


def test_float64_table_equals_the_definition_to_rounding():
    model = _model(units=2, activation="linear")
    module = model.module.double()
    ids = torch.as_tensor(np.random.default_rng(4).integers(0, 50, (300, 6)))
    with torch.inference_mode(), inference.kernel_copies(rows=300):
        z = inference.forward(module, ids)
    want = _definition(model, ids.numpy(), lambda v: v)
    np.testing.assert_allclose(z.numpy(), want, rtol=1e-12, atol=1e-12)


def test_evaluate_equals_the_definition():
    model = _model()
    model.compile("rmsprop", "binary_crossentropy", ["accuracy"])
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 50, (400, 6))
    y = rng.integers(0, 2, (400, 1)).astype(np.float32)
    p = np.clip(_definition(model, ids, _sigmoid), 1e-7, 1 - 1e-7)  # Keras's epsilon
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    with fast_paths.on("embedding_table"):
        got = model.evaluate(ids, y, batch_size=128, return_dict=True)
    assert got["loss"] == pytest.approx(loss, rel=1e-5)
    assert got["accuracy"] == pytest.approx(np.mean((p > 0.5) == (y == 1)))


def test_layers_after_the_dense_layer_still_run():
    model = _model(units=5, activation="relu", tail=(L.Dense(2, activation="softmax"),))
    ids = np.random.default_rng(6).integers(0, 50, (300, 6))
    weights = [w.astype(np.float64) for w in model.get_weights()]
    hidden = _definition(model, ids, lambda z: np.maximum(z, 0))  # uses the first 3 arrays
    want = _softmax(hidden @ weights[3] + weights[4])
    with fast_paths.on("embedding_table"):
        got, taken = _taken(model, ids)
    assert taken
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rows", [1, 49])
def test_small_calls_keep_the_plain_path(rows):
    """Fewer rows than words x units: building the table would cost more than it saves."""
    model = _model()
    ids = np.random.default_rng(7).integers(0, 50, (rows, 6))
    with fast_paths.on("embedding_table"):
        got, taken = _taken(model, ids)
    assert not taken
    np.testing.assert_allclose(got, _definition(model, ids, _sigmoid), rtol=1e-5, atol=1e-6)


def test_a_table_beyond_the_size_bound_keeps_the_plain_path(monkeypatch):
    model = _model()
    monkeypatch.setattr(inference, "TABLE_VALUES", 6 * 50 - 1)  # one value short
    ids = np.random.default_rng(8).integers(0, 50, (200, 6))
    with fast_paths.on("embedding_table"):
        assert not _taken(model, ids)[1]
    monkeypatch.setattr(inference, "TABLE_VALUES", 6 * 50)
    with fast_paths.on("embedding_table"):
        assert _taken(model, ids)[1]


@pytest.mark.parametrize("bad", [-1, 50])
def test_ids_out_of_range_are_refused_not_read_from_another_position(bad):
    """A table holds every position's rows one after another: id 50 at position 0 would read
    position 1's row of word 0, so ids are checked as the Embedding layer checks them."""
    model = _model()
    ids = np.random.default_rng(9).integers(0, 50, (200, 6))
    ids[137, 2] = bad
    with fast_paths.on("embedding_table"), pytest.raises(ShapeError, match=f"word id {bad}"):
        model.predict(ids)


def test_the_table_follows_the_weights_between_calls():
    model = _model()
    ids = np.random.default_rng(10).integers(0, 50, (200, 6))
    with fast_paths.on("embedding_table"):
        before = model.predict(ids)
        weights = model.get_weights()
        model.set_weights([weights[0] * 2, *weights[1:]])
        after = model.predict(ids)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, _definition(model, ids, _sigmoid), rtol=1e-5, atol=1e-6)
