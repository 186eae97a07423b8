"""Losses and trackers against Keras 3 itself (slow tier; needs ``pip install keras jax``).

Same networks in both, Keras's weights copied into statdl's: ``evaluate`` with ``add_loss``
terms and activity regularisers, several outputs with sample weights (``evaluate`` and one
epoch of ``fit``), and ``statdl.metrics.Mean`` against ``keras.metrics.Mean``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")

import statdl as sd  # noqa: E402
from statdl import layers as L  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
K = keras.layers


class KerasHalfMeanSquare(K.Layer):
    def call(self, inputs):
        self.add_loss(0.5 * keras.ops.mean(keras.ops.square(inputs)))
        return inputs


class HalfMeanSquare(L.Layer):
    def call(self, inputs):
        self.add_loss(0.5 * torch.mean(torch.square(inputs)))
        return inputs


def _copy(theirs, ours):
    for layer in theirs.layers:
        if layer.get_weights():
            ours.get_layer(layer.name).set_weights(layer.get_weights())


def _data(seed=0, n=10):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 1)).astype(np.float32)


def _pair(kind):
    keras.utils.set_random_seed(0)
    models = []
    for lib, layers, penalty in ((keras, K, KerasHalfMeanSquare), (sd, L, HalfMeanSquare)):
        inp = lib.Input((3,))
        if kind == "add_loss":
            h = penalty(name="pen")(layers.Dense(2, name="d")(inp))
        else:
            reg = keras.regularizers.L2(0.1) if lib is keras else sd.regularizers.L2(0.1)
            kreg = keras.regularizers.L1(0.01) if lib is keras else sd.regularizers.L1(0.01)
            h = layers.Dense(2, name="d", activity_regularizer=reg, kernel_regularizer=kreg)(inp)
        models.append(lib.Model(inp, layers.Dense(1, name="out")(h)))
    theirs, ours = models
    _copy(theirs, ours)
    theirs.compile(keras.optimizers.SGD(0.05), "mse")
    ours.compile(sd.optimizers.SGD(0.05), "mse")
    return theirs, ours


@pytest.mark.parametrize("kind", ["add_loss", "activity"])
@pytest.mark.parametrize("batch_size", [10, 4])
def test_evaluate_reports_the_loss_keras_reports(kind, batch_size):
    theirs, ours = _pair(kind)
    x, y = _data()
    expected = theirs.evaluate(x, y, batch_size=batch_size, verbose=0)
    assert ours.evaluate(x, y, batch_size=batch_size) == pytest.approx(expected, rel=1e-5)
    h_theirs = theirs.fit(x, y, validation_data=(x, y), epochs=1, batch_size=5, shuffle=False,
                          verbose=0)
    h_ours = ours.fit(x, y, validation_data=(x, y), epochs=1, batch_size=5, shuffle=False,
                      verbose=0)
    for key in ("loss", "val_loss"):
        assert h_ours.history[key][0] == pytest.approx(h_theirs.history[key][0], rel=1e-5)


def _two_heads(lib, layers):
    inp = lib.Input((3,))
    return lib.Model(inp, [layers.Dense(1, name="a")(inp),
                           layers.Dense(1, activation="sigmoid", name="b")(inp)])


def test_several_outputs_with_sample_weights_match_keras():
    keras.utils.set_random_seed(1)
    theirs, ours = _two_heads(keras, K), _two_heads(sd, L)
    _copy(theirs, ours)
    settings = dict(loss=["mse", "binary_crossentropy"], loss_weights=[1.0, 0.5],
                    metrics=[["mae"], ["accuracy"]])
    theirs.compile(keras.optimizers.SGD(0.1), **settings)
    ours.compile(sd.optimizers.SGD(0.1), **settings)
    x, y1 = _data(seed=2)
    rng = np.random.default_rng(3)
    y2 = (rng.random((10, 1)) > 0.5).astype(np.float32)
    sw = (rng.random(10) * 2).astype(np.float32)
    expected = theirs.evaluate(x, [y1, y2], sample_weight=sw, batch_size=4, return_dict=True,
                               verbose=0)
    got = ours.evaluate(x, [y1, y2], sample_weight=sw, batch_size=4, return_dict=True)
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-5), key
    h_theirs = theirs.fit(x, [y1, y2], sample_weight=sw, epochs=2, batch_size=5, shuffle=False,
                          verbose=0).history
    h_ours = ours.fit(x, [y1, y2], sample_weight=sw, epochs=2, batch_size=5, shuffle=False,
                      verbose=0).history
    for key in h_theirs:
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=1e-5, err_msg=key)


@pytest.mark.parametrize("values, weights", [
    ([2.0, 4.0, 9.0], None),
    ([[1.0, 3.0], [5.0, 7.0]], None),
    ([[1.0, 3.0], [5.0, 7.0]], [0.5, 2.0]),
    ([1.0, 2.0, 4.0], [1.0, 0.0, 3.0]),
    ([[1.0], [2.0]], [[2.0], [1.0]]),
])
def test_mean_tracker_equals_keras_mean(values, weights):
    theirs, ours = keras.metrics.Mean(name="m"), sd.metrics.Mean(name="m")
    for _ in range(2):
        theirs.update_state(np.asarray(values, np.float32),
                            None if weights is None else np.asarray(weights, np.float32))
        ours.update_state(values, weights)
        assert float(ours.result()) == pytest.approx(float(theirs.result()), rel=1e-6)
    theirs.update_state(np.float32(3.0))
    ours.update_state(torch.tensor(3.0))
    assert float(ours.result()) == pytest.approx(float(theirs.result()), rel=1e-6)
