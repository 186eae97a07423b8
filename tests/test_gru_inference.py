"""GRU inference (``_gru_pass.gru_inference``, the path of ``predict`` and ``evaluate``): the
values of Keras's GRU (reset_after) from its definition, step by step in float64, and those of
the training path (autograd on) through a model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import layers as L
from statdl.layers import _gru_pass
from statdl.layers._gru_pass import gru_inference


def _definition(x, kernel, rec, bias, return_sequences):
    """Keras's GRU, reset_after=True, gates z, r, h: one step at a time."""
    u = rec.shape[0]
    b_in, b_rec = (0.0, 0.0) if bias is None else (bias[0], bias[1])
    h = x.new_zeros(x.shape[0], u)
    outs = []
    for t in range(x.shape[1]):
        a, q = x[:, t] @ kernel + b_in, h @ rec + b_rec
        z = torch.sigmoid(a[:, :u] + q[:, :u])
        r = torch.sigmoid(a[:, u:2 * u] + q[:, u:2 * u])
        n = torch.tanh(a[:, 2 * u:] + r * q[:, 2 * u:])
        h = z * h + (1 - z) * n
        outs.append(h)
    if return_sequences:
        return torch.stack(outs, 1) if outs else x.new_zeros(x.shape[0], 0, u)
    return h


@pytest.mark.parametrize("steps", [0, 1, 4, 11])  # chunks of 4 steps: none, part, whole, 2 3/4
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("use_bias", [True, False])
def test_matches_the_definition_in_float64(steps, return_sequences, use_bias):
    g = torch.Generator().manual_seed(steps)
    x = torch.randn(5, steps, 3, generator=g, dtype=torch.float64)
    kernel = torch.randn(3, 12, generator=g, dtype=torch.float64) * 0.6
    rec = torch.randn(4, 12, generator=g, dtype=torch.float64) * 0.6
    bias = torch.randn(2, 12, generator=g, dtype=torch.float64) * 0.3 if use_bias else None
    with torch.inference_mode():
        out = gru_inference(x, kernel, rec, bias, return_sequences=return_sequences)
    expected = _definition(x, kernel, rec, bias, return_sequences)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


def test_float32_stays_within_rounding_of_the_definition():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 200, 8, generator=g, dtype=torch.float64)
    kernel = torch.randn(8, 96, generator=g, dtype=torch.float64) * 0.4
    rec = torch.randn(32, 96, generator=g, dtype=torch.float64) * 0.4
    bias = torch.randn(2, 96, generator=g, dtype=torch.float64) * 0.2
    with torch.inference_mode():
        out = gru_inference(x.float(), kernel.float(), rec.float(), bias.float(),
                            return_sequences=True)
    expected = _definition(x, kernel, rec, bias, True)
    assert float((out.double() - expected).abs().max()) < 2e-5


@pytest.mark.parametrize("return_sequences", [False, True])
def test_predict_and_evaluate_equal_the_training_path(return_sequences):
    # The training path (autograd on: the hand-written training pass) is the reference for
    # what predict and evaluate, which run gru_inference, must give; go_backwards and a stacked
    # layer included.
    sd.set_seed(3)
    head = [L.GRU(16, return_sequences=True), L.Flatten()] if return_sequences else []
    model = sd.Sequential([L.Embedding(50, 6), L.GRU(16, return_sequences=return_sequences,
                                                     go_backwards=True), *head,
                           L.Dense(1, activation="sigmoid")], input_shape=(23,))
    model.compile("rmsprop", "binary_crossentropy", ["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 50, (70, 23)), rng.integers(0, 2, (70, 1)).astype(np.float32)
    module = model.module_
    module.eval()
    with torch.enable_grad():
        expected = module(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(model.predict(x, batch_size=32), expected, rtol=0, atol=1e-6)
    p = np.clip(expected[:, 0].astype(np.float64), 1e-7, 1 - 1e-7)
    loss = -np.mean(y[:, 0] * np.log(p) + (1 - y[:, 0]) * np.log(1 - p))
    got = model.evaluate(x, y, return_dict=True)
    assert got["loss"] == pytest.approx(loss, abs=1e-5)
    assert got["accuracy"] == pytest.approx(np.mean((p > 0.5) == (y[:, 0] == 1)))


def test_the_projection_buffer_holds_a_few_steps_only(monkeypatch):
    # What bounds predict's memory: the gates buffer is STEPS_PER_PROJECTION steps long
    # whatever the sequence's length (torch.gru makes all steps' projection at once).
    sizes = []
    real_empty = torch.Tensor.new_empty

    def spy(self, *shape, **kw):
        sizes.append(tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple)
                     else tuple(shape))
        return real_empty(self, *shape, **kw)

    monkeypatch.setattr(torch.Tensor, "new_empty", spy)
    with torch.inference_mode():
        gru_inference(torch.zeros(3, 50, 2), torch.zeros(2, 12), torch.zeros(4, 12))
    gates = [s for s in sizes if len(s) == 3]
    assert gates == [(_gru_pass.STEPS_PER_PROJECTION, 3, 12)]
