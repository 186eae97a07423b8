"""The Keras-facing surface of layers: ``count_params()``, ``weights`` properties, and
``get_weights`` / ``set_weights`` in Keras's layouts, checked against real Keras 3 (JAX
backend): weights copied from a freshly built (perturbed) Keras layer give the same outputs,
and ours copied back into Keras give Keras's outputs too. The Keras comparisons import Keras
and JAX (about a minute on two cores): slow tier; the rest is fast.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import layers as L
from statdl.errors import NotFittedError, ShapeError

os.environ.setdefault("KERAS_BACKEND", "jax")


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def _perturbed(klayer, rng):
    """Keras's fresh weights moved off their initial values (zero biases, unit variances)."""
    klayer.set_weights([w + rng.normal(scale=0.3, size=w.shape).astype(w.dtype)
                        for w in klayer.get_weights()])
    return klayer.get_weights()


CASES = {
    "dense": (lambda K: K.Dense(5, activation="tanh"), lambda: L.Dense(5, activation="tanh"),
              (7,)),
    "dense_no_bias": (lambda K: K.Dense(3, use_bias=False), lambda: L.Dense(3, use_bias=False),
                      (4,)),
    "conv2d_valid": (lambda K: K.Conv2D(4, (3, 2), activation="relu"),
                     lambda: L.Conv2D(4, (3, 2), activation="relu"), (9, 8, 3)),
    "conv2d_same_strided": (lambda K: K.Conv2D(5, 3, strides=2, padding="same"),
                            lambda: L.Conv2D(5, 3, strides=2, padding="same"), (9, 8, 2)),
    "conv2d_transpose_valid": (lambda K: K.Conv2DTranspose(3, (3, 2)),
                               lambda: L.Conv2DTranspose(3, (3, 2)), (5, 4, 2)),
    "conv2d_transpose_same_2": (lambda K: K.Conv2DTranspose(4, 3, strides=2, padding="same"),
                                lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same"),
                                (4, 5, 3)),
    "embedding": (lambda K: K.Embedding(20, 4), lambda: L.Embedding(20, 4), (6,)),
    "batchnorm": (lambda K: K.BatchNormalization(), lambda: L.BatchNormalization(), (5,)),
    "batchnorm_image": (lambda K: K.BatchNormalization(), lambda: L.BatchNormalization(),
                        (4, 4, 3)),
    "simple_rnn": (lambda K: K.SimpleRNN(4), lambda: L.SimpleRNN(4), (6, 3)),
    "gru": (lambda K: K.GRU(4, return_sequences=True), lambda: L.GRU(4, return_sequences=True),
            (6, 3)),
    "gru_reset_before": (lambda K: K.GRU(4, reset_after=False),
                         lambda: L.GRU(4, reset_after=False), (6, 3)),
    "lstm": (lambda K: K.LSTM(5), lambda: L.LSTM(5), (6, 3)),
    "bidirectional_lstm": (lambda K: K.Bidirectional(K.LSTM(3)),
                           lambda: L.Bidirectional(L.LSTM(3)), (5, 2)),
    "bidirectional_gru_sum": (lambda K: K.Bidirectional(K.GRU(3, return_sequences=True),
                                                       merge_mode="sum"),
                              lambda: L.Bidirectional(L.GRU(3, return_sequences=True),
                                                      merge_mode="sum"), (5, 2)),
}


def _input(shape, name, rng):
    if name == "embedding":
        return rng.integers(0, 20, size=(3, *shape)).astype(np.int32)
    return rng.normal(size=(3, *shape)).astype(np.float32)


def with_keras(test):
    """Slow tier (imports Keras and JAX), Keras's NumPy-2 deprecation warnings ignored."""
    return pytest.mark.slow(pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*")(test))


@with_keras
@pytest.mark.parametrize("name", sorted(CASES))
def test_weights_copied_from_keras_give_keras_outputs(keras, name):
    make_theirs, make_ours, shape = CASES[name]
    rng = np.random.default_rng(sorted(CASES).index(name))
    x = _input(shape, name, rng)
    theirs = make_theirs(keras.layers)
    theirs(x)
    weights = _perturbed(theirs, rng)
    if name.startswith("batchnorm"):  # variances must stay positive
        weights[3] = np.abs(weights[3]) + 0.5
        theirs.set_weights(weights)
    expected = np.asarray(theirs(x, training=False))
    ours = make_ours()
    module = ours.build(shape)
    ours.set_weights(weights)
    got = module.eval()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    # same layouts both ways, and the Keras count without an argument
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights]
    for a, b in zip(ours.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert ours.count_params() == theirs.count_params()
    assert len(ours.trainable_weights) == len(theirs.trainable_weights)
    assert len(ours.non_trainable_weights) == len(theirs.non_trainable_weights)


@with_keras
def test_model_weights_round_trip_with_keras(keras):
    """A whole Sequential model: Keras's model.get_weights() into ours, ours (after training
    one epoch) back into Keras: the same predictions each way."""
    K = keras.layers
    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, size=16)
    kmodel = keras.Sequential([keras.Input((8, 8, 1)), K.Conv2D(4, 3, activation="relu"),
                               K.BatchNormalization(), K.MaxPooling2D(2), K.Flatten(),
                               K.Dense(3, activation="softmax")])
    model = sd.Sequential([L.Conv2D(4, 3, activation="relu"), L.BatchNormalization(),
                           L.MaxPooling2D(2), L.Flatten(), L.Dense(3, activation="softmax")],
                          input_shape=(8, 8, 1))
    assert [w.shape for w in model.get_weights()] == [w.shape for w in kmodel.get_weights()]
    model.set_weights(kmodel.get_weights())
    np.testing.assert_allclose(model.predict(x), kmodel.predict(x, verbose=0), rtol=1e-4,
                               atol=1e-6)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    kmodel.set_weights(model.get_weights())
    np.testing.assert_allclose(kmodel.predict(x, verbose=0), model.predict(x), rtol=1e-4,
                               atol=1e-6)


# ------------------------------------------------------------------ without Keras
def test_count_params_without_argument_once_built():
    layer = L.Conv2D(8, 3)
    with pytest.raises(NotFittedError, match="count_params\\(input_shape\\)"):
        layer.count_params()
    layer.build((10, 10, 3))
    assert layer.count_params() == 3 * 3 * 3 * 8 + 8
    assert layer.count_params((10, 10, 1)) == 3 * 3 * 1 * 8 + 8  # a shape still works
    bn = L.BatchNormalization(input_shape=(6,))  # an input_shape is enough
    assert (bn.count_params(), bn.count_non_trainable_params()) == (24, 12)
    assert L.Dropout(0.5).count_params() == 0


def test_weights_properties():
    bn = L.BatchNormalization()
    assert bn.weights == [] and bn.get_weights() == []  # not built: no weights, as in Keras
    bn.build((4,))
    assert [tuple(w.shape) for w in bn.weights] == [(4,)] * 4
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    assert bn.weights() == bn.weights  # the old method form still works
    dense = L.Dense(2)
    dense.build((3,))
    dense.trainable = False
    assert dense.trainable_weights == [] and len(dense.non_trainable_weights) == 2
    assert dense.weights[0] is dense.module.kernel  # live tensors, not copies


def test_set_weights_refuses_torch_layout_with_a_hint():
    conv = L.Conv2D(8, (3, 2))
    conv.build((6, 6, 4))
    torch_layout = conv.module.weight.detach().numpy()  # (8, 4, 3, 2)
    with pytest.raises(ShapeError, match="\\(3, 2, 4, 8\\).*torch's layout"):
        conv.set_weights([torch_layout, np.zeros(8)])
    with pytest.raises(ShapeError, match="must hold 2 arrays"):
        conv.set_weights([np.zeros((3, 2, 4, 8))])
    before = conv.get_weights()
    with pytest.raises(ShapeError):  # a bad second array leaves the first untouched
        conv.set_weights([np.ones((3, 2, 4, 8)), np.zeros(7)])
    np.testing.assert_array_equal(conv.get_weights()[0], before[0])
    with pytest.raises(NotFittedError, match="build it"):
        L.Dense(2).set_weights([np.zeros((3, 2)), np.zeros(2)])


def test_conv_kernel_layout_is_keras():
    conv = L.Conv2D(2, (3, 1), use_bias=False)
    conv.build((5, 1, 1))
    kernel = np.zeros((3, 1, 1, 2), dtype=np.float32)
    kernel[:, 0, 0, 0] = [1, 2, 3]  # filter 0 weights rows 0, 1, 2 by 1, 2, 3
    kernel[1, 0, 0, 1] = 1  # filter 1 picks the middle row
    conv.set_weights([kernel])
    x = np.arange(5, dtype=np.float32).reshape(1, 5, 1, 1)
    out = conv.module(torch.from_numpy(x)).detach().numpy()[0, :, 0]
    np.testing.assert_allclose(out[:, 0], [0 + 2 + 6, 1 + 4 + 9, 2 + 6 + 12])
    np.testing.assert_allclose(out[:, 1], [1, 2, 3])


def test_shared_layer_weights_counted_once_in_a_model():
    inner = sd.Sequential([L.Dense(3)], input_shape=(2,))
    outer = sd.Sequential([inner, L.Dense(1)], input_shape=(2,))
    assert [w.shape for w in outer.get_weights()] == [(2, 3), (3,), (3, 1), (1,)]
    values = [np.full(w.shape, i, dtype=np.float32) for i, w in enumerate(outer.get_weights())]
    outer.set_weights(values)
    np.testing.assert_array_equal(inner.get_weights()[1], np.ones(3))
