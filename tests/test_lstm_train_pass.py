"""LSTM training pass (``_lstm_train_pass``, hand-written BPTT) against independent references:
a plain float64 torch loop of Keras's cell, ``gradcheck``, and ``torch.lstm`` in a real fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl.layers import LSTM, Bidirectional, Dense, Embedding, recurrent_cells
from statdl.layers._lstm_train_pass import lstm
from test_recurrent import _torch_lstm_loop as _plain_loop  # Keras's cell, step by step


def _inputs(batch, steps, n_in, u, seed, bias=True):
    g = torch.Generator().manual_seed(seed)
    kw = {"dtype": torch.float64, "generator": g}
    x = (2.0 * torch.randn(batch, steps, n_in, **kw)).requires_grad_()
    w = (0.7 * torch.randn(n_in, 4 * u, **kw)).requires_grad_()
    r = (0.7 * torch.randn(u, 4 * u, **kw)).requires_grad_()
    b = (0.5 * torch.randn(4 * u, **kw)).requires_grad_() if bias else None
    return x, w, r, b


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch,steps", [(1, 1), (3, 2), (5, 9), (2, 17)])
def test_pass_matches_a_plain_loop_with_every_gradient(batch, steps, bias, return_sequences):
    x, w, r, b = _inputs(batch, steps, 3, 4, seed=batch * 100 + steps, bias=bias)
    args = [a for a in (x, w, r, b) if a is not None]
    out = lstm(x, w, r, b, return_sequences=return_sequences)
    expected = _plain_loop(x, w, r, b, return_sequences)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    grad_out = torch.randn(out.shape, dtype=torch.float64,
                           generator=torch.Generator().manual_seed(1))
    got = torch.autograd.grad(out, args, grad_out)
    want = torch.autograd.grad(expected, args, grad_out)
    assert len(got) == (4 if bias else 3)
    for g, e in zip(got, want):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_pass_gradcheck(return_sequences, bias):
    x, w, r, b = _inputs(3, 5, 2, 3, seed=3, bias=bias)

    def f(x, w, r, *b):
        return lstm(x, w, r, b[0] if b else None, return_sequences=return_sequences)

    assert torch.autograd.gradcheck(f, (x, w, r, b) if bias else (x, w, r))


def test_pass_on_an_empty_sequence():
    x = torch.zeros(2, 0, 3, requires_grad=True)
    w, r, b = (torch.ones(*s, requires_grad=True) for s in ((3, 16), (4, 16), (16,)))
    out = lstm(x, w, r, b)
    assert out.shape == (2, 4) and not out.any()
    out.sum().backward()
    assert not w.grad.any() and not r.grad.any() and not b.grad.any()
    assert x.grad.shape == (2, 0, 3)
    assert lstm(x, w, r, b, return_sequences=True).shape == (2, 0, 4)


def _count_pass_calls(monkeypatch) -> list:
    """Calls of the pass from ``RecurrentModule`` (with its switch on)."""
    monkeypatch.setattr(recurrent_cells.RecurrentModule, "lstm_pass", True)
    calls = []
    monkeypatch.setattr(recurrent_cells, "lstm",
                        lambda *a, **k: calls.append(1) or lstm(*a, **k))
    return calls


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_layer_in_float64_runs_the_pass(monkeypatch, go_backwards, return_sequences):
    """float64 training never takes oneDNN, so the layer runs the pass (go_backwards too)."""
    calls = _count_pass_calls(monkeypatch)
    torch.manual_seed(7)
    module = LSTM(5, go_backwards=go_backwards, return_sequences=return_sequences) \
        .build((8, 3)).double().train()
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, 0.6)
    x = torch.randn(4, 8, 3, dtype=torch.float64, requires_grad=True)
    out = module(x)
    assert calls == [1]
    xr = x.flip(1) if go_backwards else x
    expected = _plain_loop(xr, module.kernel, module.recurrent_kernel, module.bias,
                           return_sequences)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    params = [x, *module.parameters()]
    grad_out = torch.randn(out.shape, dtype=torch.float64)
    for g, e in zip(torch.autograd.grad(out, params, grad_out),
                    torch.autograd.grad(expected, params, grad_out)):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-10)


def test_bidirectional_in_float64_runs_the_pass_both_ways(monkeypatch):
    calls = _count_pass_calls(monkeypatch)
    torch.manual_seed(8)
    module = Bidirectional(LSTM(4, return_sequences=True)).build((6, 3)).double().train()
    x = torch.randn(3, 6, 3, dtype=torch.float64, requires_grad=True)
    out = module(x)
    assert calls == [1, 1]
    fwd, bwd = module.forward_layer, module.backward_layer
    expected = torch.cat([
        _plain_loop(x, fwd.kernel, fwd.recurrent_kernel, fwd.bias, True),
        _plain_loop(x.flip(1), bwd.kernel, bwd.recurrent_kernel, bwd.bias, True).flip(1)], -1)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    params = [x, *module.parameters()]
    grad_out = torch.randn(out.shape, dtype=torch.float64)
    for g, e in zip(torch.autograd.grad(out, params, grad_out),
                    torch.autograd.grad(expected, params, grad_out)):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-10)


def test_dispatch(monkeypatch):
    calls = _count_pass_calls(monkeypatch)
    x = torch.randn(2, 5, 3)
    module = LSTM(4).build((5, 3)).train()
    module(x)                                # float32: oneDNN's torch.lstm where it runs
    assert calls == ([] if recurrent_cells.onednn_lstm(x) else [1])
    monkeypatch.setattr(recurrent_cells, "onednn_lstm", lambda x: False)
    module(x)
    assert calls[-1:] == [1]                             # no oneDNN: the pass
    n = len(calls)
    with torch.no_grad():
        module(x)                                        # inference: lstm_inference
    LSTM(4, recurrent_dropout=0.2).build((5, 3)).train()(x)  # the step loop
    LSTM(4, activation="relu").build((5, 3)).train()(x)      # the step loop
    monkeypatch.setattr(recurrent_cells.RecurrentModule, "lstm_pass", False)
    module(x)                                            # torch.lstm
    assert len(calls) == n


def test_input_dropout_with_the_pass_matches_torch_lstm(monkeypatch):
    """Input dropout (one mask per sequence) applies before the pass, exactly as before
    torch.lstm: same seed, same output and gradients."""
    monkeypatch.setattr(recurrent_cells.RecurrentModule, "lstm_pass", True)
    torch.manual_seed(5)
    module = LSTM(6, dropout=0.3, return_sequences=True).build((7, 3)).train()
    x = torch.randn(5, 7, 3)
    results = []
    for use_pass in (True, False):
        monkeypatch.setattr(recurrent_cells, "onednn_lstm", lambda x, k=use_pass: not k)
        xg = x.clone().requires_grad_()
        torch.manual_seed(11)
        out = module(xg)
        grads = torch.autograd.grad(out, [xg, *module.parameters()],
                                    torch.linspace(-1, 1, out.numel()).view(out.shape))
        results.append((out, grads))
    (out_k, grads_k), (out_t, grads_t) = results
    torch.testing.assert_close(out_k, out_t, rtol=1e-5, atol=1e-6)
    for g, e in zip(grads_k, grads_t):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)


def _fit_one_epoch(monkeypatch, use_pass: bool, model_spec: str):
    """Initial and trained weights of a small IMDB-like model after one epoch of fit."""
    monkeypatch.setattr(recurrent_cells.RecurrentModule, "lstm_pass", True)
    monkeypatch.setattr(recurrent_cells, "onednn_lstm", lambda x: not use_pass)
    torch.manual_seed(0)
    rnn = LSTM(6) if model_spec == "lstm" else Bidirectional(LSTM(5))
    model = sd.Sequential([Embedding(50, 4), rnn, Dense(1, activation="sigmoid")],
                          input_shape=(12,))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    initial = model.get_weights()
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, size=(96, 12))
    y = (ids[:, -3:].mean(1) > 25).astype(np.float32)
    model.fit(ids, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    return initial, model.get_weights()


@pytest.mark.parametrize("model_spec", ["lstm", "bilstm"])
def test_one_epoch_of_training_equals_the_torch_lstm_path(monkeypatch, model_spec):
    """Embedding -> LSTM (or Bidirectional LSTM) -> Dense, six RMSprop steps in fit: the same
    weights (float32 rounding only) with the pass and with torch.lstm."""
    start_k, with_pass = _fit_one_epoch(monkeypatch, True, model_spec)
    start_t, with_torch = _fit_one_epoch(monkeypatch, False, model_spec)
    assert len(with_pass) == len(with_torch) == len(start_k)
    for a0, b0, a, b in zip(start_k, start_t, with_pass, with_torch):
        np.testing.assert_array_equal(a0, b0)             # the same seed, the same start
        assert np.abs(a - a0).max() > 1e-4                # every weight trained
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
