"""The core engine against Keras 3 itself (slow tier; needs ``pip install keras jax``).

Weights are copied from freshly built Keras layers into ours; then forward outputs, parameter
counts and whole training epochs (each optimiser, identical batches) must agree.
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
              pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*")]
K = keras.layers


def _copy_dense_conv(kmodel, model):
    """Copy Keras weights into ours, layer by layer (set_weights takes Keras's layouts)."""
    for klayer, layer in zip(kmodel.layers, model.layers):
        weights = klayer.get_weights()
        if weights:
            layer.set_weights(weights)


def _perturb(kmodel, rng):
    for klayer in kmodel.layers:
        ws = klayer.get_weights()
        if ws:
            klayer.set_weights([w + rng.normal(scale=0.1, size=w.shape).astype(w.dtype)
                                if w.ndim == 1 else w for w in ws])


@pytest.mark.parametrize("variant", ["valid", "same", "strided", "avg_same", "batchnorm"])
def test_forward_matches_keras(variant):
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    x = rng.random((4, 11, 11, 2), dtype=np.float32)
    if variant == "valid":
        ours = [L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(), L.Dense(3)]
        theirs = [K.Conv2D(4, 3, activation="relu"), K.MaxPooling2D(2), K.Flatten(), K.Dense(3)]
    elif variant == "same":
        ours = [L.Conv2D(4, 3, padding="same"), L.MaxPooling2D(2, padding="same"), L.Flatten(),
                L.Dense(3, activation="softmax")]
        theirs = [K.Conv2D(4, 3, padding="same"), K.MaxPooling2D(2, padding="same"), K.Flatten(),
                  K.Dense(3, activation="softmax")]
    elif variant == "strided":
        ours = [L.Conv2D(5, (4, 2), strides=2, padding="same", activation="tanh"),
                L.GlobalAveragePooling2D(), L.Dense(2)]
        theirs = [K.Conv2D(5, (4, 2), strides=2, padding="same", activation="tanh"),
                  K.GlobalAveragePooling2D(), K.Dense(2)]
    elif variant == "avg_same":
        ours = [L.AveragePooling2D(2, padding="same"), L.Conv2D(3, 2, strides=(1, 2)),
                L.Flatten()]
        theirs = [K.AveragePooling2D(2, padding="same"), K.Conv2D(3, 2, strides=(1, 2)),
                  K.Flatten()]
    else:
        ours = [L.Conv2D(3, 3), L.BatchNormalization(), L.Flatten(), L.Dense(2)]
        theirs = [K.Conv2D(3, 3), K.BatchNormalization(), K.Flatten(), K.Dense(2)]
    kmodel = keras.Sequential([keras.Input((11, 11, 2)), *theirs])
    _perturb(kmodel, rng)
    model = sd.Sequential(ours, input_shape=(11, 11, 2))
    _copy_dense_conv(kmodel, model)
    assert model.count_params() == kmodel.count_params()
    np.testing.assert_allclose(model.predict(x), np.asarray(kmodel.predict(x, verbose=0)),
                               rtol=1e-4, atol=1e-5)


def test_course_models_count_like_keras():
    pairs = [
        ([L.Dense(64, activation="relu"), L.Dense(1)],
         [K.Dense(64, activation="relu"), K.Dense(1)], (20,)),
        ([L.Embedding(10000, 8), L.Flatten(), L.Dense(1)],
         [K.Embedding(10000, 8), K.Flatten(), K.Dense(1)], (20,)),
        ([L.Embedding(10000, 8), L.SimpleRNN(32, return_sequences=True), L.SimpleRNN(32),
          L.Dense(1)],
         [K.Embedding(10000, 8), K.SimpleRNN(32, return_sequences=True), K.SimpleRNN(32),
          K.Dense(1)], (20,)),
        ([L.Embedding(10000, 8), L.Bidirectional(L.LSTM(32)), L.Dense(1)],
         [K.Embedding(10000, 8), K.Bidirectional(K.LSTM(32)), K.Dense(1)], (20,)),
        ([L.Embedding(10000, 8), L.GRU(32), L.Dense(1)],
         [K.Embedding(10000, 8), K.GRU(32), K.Dense(1)], (20,)),
    ]
    for ours, theirs, shape in pairs:
        kmodel = keras.Sequential([keras.Input(shape), *theirs])
        assert sd.Sequential(ours, input_shape=shape).count_params() == kmodel.count_params()


@pytest.mark.parametrize("name", ["rmsprop", "adam", "sgd_nesterov", "adagrad", "rmsprop_l2"])
def test_one_epoch_of_training_matches_keras(name):
    """Same weights, same batches (no shuffling), same optimiser: same weights after."""
    rng = np.random.default_rng(1)
    keras.utils.set_random_seed(1)
    x = rng.normal(size=(48, 5)).astype(np.float32)
    y = (x @ rng.normal(size=(5, 2))).astype(np.float32)
    reg = name.endswith("_l2")
    kreg = keras.regularizers.L2(0.01) if reg else None
    kmodel = keras.Sequential([keras.Input((5,)), K.Dense(8, activation="tanh",
                                                          kernel_regularizer=kreg), K.Dense(2)])
    model = sd.Sequential([L.Dense(8, activation="tanh",
                                   kernel_regularizer=sd.regularizers.L2(0.01) if reg else None),
                           L.Dense(2)], input_shape=(5,))
    _copy_dense_conv(kmodel, model)
    kopt, opt = {
        "rmsprop": (keras.optimizers.RMSprop(0.01), sd.optimizers.RMSprop(0.01)),
        "rmsprop_l2": (keras.optimizers.RMSprop(0.01), sd.optimizers.RMSprop(0.01)),
        "adam": (keras.optimizers.Adam(0.01), sd.optimizers.Adam(0.01)),
        "sgd_nesterov": (keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                         sd.optimizers.SGD(0.05, momentum=0.9, nesterov=True)),
        "adagrad": (keras.optimizers.Adagrad(0.05), sd.optimizers.Adagrad(0.05)),
    }[name]
    kmodel.compile(optimizer=kopt, loss="mse")
    model.compile(optimizer=opt, loss="mse")
    khist = kmodel.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    hist = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for kw, w in zip(kmodel.get_weights(), model.get_weights()):
        np.testing.assert_allclose(w, kw, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(hist.history["loss"], khist.history["loss"], rtol=1e-4)
