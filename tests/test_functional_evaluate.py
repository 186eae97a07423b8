"""What ``evaluate`` reports, as Keras 3 reports it (checked against Keras itself in
``test_functional_keras_losses.py``; here against the definitions):

- the loss includes the terms the forward pass adds (``add_loss``, activity regularisers),
  batch by batch, averaged over the batches by their sizes, and the weight penalties;
- a model with several outputs weights each ``<output>_loss`` by the sample weights
  (``sum(w loss) / n``, before ``loss_weights``) and leaves its metrics unweighted.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import layers as L


class HalfMeanSquare(L.Layer):
    """Adds ``0.5 * mean(x^2)`` of its input to the loss."""

    def call(self, inputs):
        self.add_loss(0.5 * torch.mean(torch.square(inputs)))
        return inputs


def _xy(n=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 1)).astype(np.float32)


@pytest.mark.parametrize("batch_size", [10, 4])
def test_evaluate_adds_the_add_loss_terms_of_each_batch(batch_size):
    x, y = _xy()
    inp = sd.Input((3,))
    dense = L.Dense(2)
    model = sd.Model(inp, L.Dense(1)(HalfMeanSquare()(dense(inp))))
    model.compile("sgd", "mse")
    w, b = dense.get_weights()
    h = x @ w + b
    pred = model.predict(x)
    terms = [0.5 * np.mean(h[s:s + batch_size] ** 2) * len(h[s:s + batch_size])
             for s in range(0, len(x), batch_size)]
    expected = np.mean((pred - y) ** 2) + sum(terms) / len(x)
    assert model.evaluate(x, y, batch_size=batch_size) == pytest.approx(expected, rel=1e-6)
    # predict keeps no term for the next training step
    assert all(not m.penalties for m in model.module.modules() if hasattr(m, "penalties"))


def test_evaluate_adds_activity_and_weight_penalties():
    x, y = _xy()
    inp = sd.Input((3,))
    dense = L.Dense(2, activity_regularizer=sd.regularizers.L2(0.1),
                    kernel_regularizer=sd.regularizers.L1(0.01))
    model = sd.Model(inp, L.Dense(1)(dense(inp)))
    model.compile("sgd", "mse")
    w, b = dense.get_weights()
    h = x @ w + b
    expected = np.mean((model.predict(x) - y) ** 2) + 0.1 * np.sum(h ** 2) / len(x) \
        + 0.01 * np.abs(w).sum()
    assert model.evaluate(x, y, batch_size=10) == pytest.approx(expected, rel=1e-6)
    history = model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x, y), rel=1e-6)


def test_per_output_losses_are_weighted_by_the_sample_weights():
    x, y1 = _xy(seed=1)
    rng = np.random.default_rng(2)
    y2 = (rng.random((10, 1)) > 0.5).astype(np.float32)
    sw = (rng.random(10) * 2).astype(np.float32)
    inp = sd.Input((3,))
    model = sd.Model(inp, [L.Dense(1, name="a")(inp),
                           L.Dense(1, activation="sigmoid", name="b")(inp)])
    model.compile("sgd", loss=["mse", "binary_crossentropy"], loss_weights=[1.0, 0.5],
                  metrics=[["mae"], ["accuracy"]])
    pa, pb = model.predict(x)
    mse = (pa - y1)[:, 0] ** 2
    p = np.clip(pb, 1e-7, 1 - 1e-7)
    bce = -(y2 * np.log(p) + (1 - y2) * np.log(1 - p))[:, 0]
    logs = model.evaluate(x, [y1, y2], sample_weight=sw, batch_size=4, return_dict=True)
    assert logs["a_loss"] == pytest.approx((sw * mse).sum() / 10, rel=1e-5)
    assert logs["b_loss"] == pytest.approx((sw * bce).sum() / 10, rel=1e-5)
    assert logs["loss"] == pytest.approx((sw * (mse + 0.5 * bce)).sum() / 10, rel=1e-5)
    assert logs["a_mae"] == pytest.approx(np.abs(pa - y1).mean(), rel=1e-5)      # unweighted
    assert logs["b_accuracy"] == pytest.approx(((pb > 0.5) == (y2 > 0.5)).mean())
    plain = model.evaluate(x, [y1, y2], return_dict=True)
    assert plain["a_loss"] == pytest.approx(mse.mean(), rel=1e-5)
