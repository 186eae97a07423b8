"""Kernel copies kept for one predict/evaluate call (``inference.kernel_copies``): every batch
uses the weights of that call, never an older call's."""

from __future__ import annotations

import numpy as np

import statdl as sd
from statdl import layers as L
from statdl.training import inference


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _reference(model, x):
    """The softmax regression by its definition, in float64 numpy, from the current weights."""
    kernel, bias = model.get_weights()
    return _softmax(x.astype(np.float64) @ kernel + bias)


def test_predict_and_evaluate_follow_the_weights_across_fits():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(700, 20)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 700)]
    model = sd.Sequential([L.Dense(5, activation="softmax")], input_shape=(20,))
    model.compile("rmsprop", "categorical_crossentropy")
    for _ in range(3):  # validation inside fit, then predict: each sees the weights of now
        model.fit(x, y, epochs=1, batch_size=64, verbose=0, validation_data=(x, y))
        want = _reference(model, x)
        np.testing.assert_allclose(model.predict(x, batch_size=128), want, rtol=1e-5,
                                   atol=1e-6)
        loss = -np.mean(np.sum(y * np.log(want), 1))
        np.testing.assert_allclose(model.evaluate(x, y, batch_size=100), loss, rtol=1e-5)


def test_a_copy_is_made_once_per_block_and_none_is_kept_after():
    model = sd.Sequential([L.Dense(3)], input_shape=(4,))
    dense = model.module.layers[0]
    with inference.kernel_copies():
        first = inference._column_major(dense)
        with inference.kernel_copies():  # nested: the outer block's copies
            assert inference._column_major(dense) is first
    assert inference._column_major(dense) is not first
    assert inference._column_major(dense) is not inference._column_major(dense)
