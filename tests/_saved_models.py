"""A small trained classifier (Adam state included), shared by the saving tests."""

from __future__ import annotations

import numpy as np

import statdl as sd
from statdl import layers as L


def trained_classifier():
    """``(model, x, y)``: a 3-6-2 softmax network after two epochs of Adam on 50 rows."""
    sd.set_seed(0)
    model = sd.Sequential([L.Dense(6, activation="tanh"), L.Dropout(0.2),
                           L.Dense(2, activation="softmax")], input_shape=(3,))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(x[:, 0] > 0).astype(int)]
    model.fit(x, y, epochs=2, verbose=0)
    return model, x, y


def assert_trains_on_alike(model, loaded, x, y, seed: int) -> None:
    """One more epoch from memory and from the file end at the same weights."""
    sd.set_seed(seed)
    model.fit(x, y, epochs=1, verbose=0)
    sd.set_seed(seed)
    loaded.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
