"""A leading SimpleRNN under the hand-written Dense pass (``dense_step._SimpleRNNPrefix``):
the same weights as autograd's step, and gradients equal to plain torch's in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import fast_paths
from statdl import layers as L
from statdl.layers.dropout_masks import keep_mask
from statdl.training.dense_step import DenseStackStep


@pytest.fixture(autouse=True)
def _paths_on():
    """The file tests the step itself: its paths stay on under ``STATDL_FAST_PATHS=0``."""
    with fast_paths.on("dense_step", "dense_closed_form_loss", "simple_rnn_pass"):
        yield


def _series(n=150, steps=5, features=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, steps, features)).astype(np.float32),
            rng.normal(size=n).astype(np.float32))


def _layers(activation="tanh", dropout=0.1, recurrent_dropout=0.1, use_bias=True):
    return [L.SimpleRNN(12, activation=activation, dropout=dropout,
                        recurrent_dropout=recurrent_dropout, use_bias=use_bias),
            L.Dense(4, activation="relu"), L.Dropout(0.2), L.Dense(1)]


def _fit(enabled, x, y, **options):
    with (fast_paths.on if enabled else fast_paths.off)("dense_step"):
        sd.set_seed(3)
        net = sd.Sequential(_layers(**options), input_shape=x.shape[1:])
        net.compile("rmsprop", "mse")
        hand = DenseStackStep.for_state(net._training_state(), 3)
        history = net.fit(x, y, epochs=3, batch_size=32, verbose=0,
                          validation_data=(x[:40], y[:40]))
    return hand, net.get_weights(), history.history


@pytest.mark.parametrize("options", [
    {},                                                    # the NYSE lab's layer
    {"activation": "relu"},
    {"dropout": 0.0, "recurrent_dropout": 0.0},
    {"dropout": 0.3, "recurrent_dropout": 0.0},
    {"dropout": 0.0, "recurrent_dropout": 0.4, "use_bias": False},
])
def test_simple_rnn_prefix_trains_like_autograd(options):
    x, y = _series()
    hand, w_k, h_k = _fit(True, x, y, **options)
    assert hand is not None and hand.recurrent is not None
    none, w_a, h_a = _fit(False, x, y, **options)
    assert none is None
    for a, b in zip(w_k, w_a):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(h_k[key], h_a[key], rtol=1e-4)


def _plain_torch_grads(x, target, weights, masks, relu):
    """The network written out in plain torch (float64): Keras's SimpleRNN cell with one input
    and one recurrent mask per sequence, Dense(4, relu), dropout, Dense(1), mean squared
    error; autograd's gradients of ``weights`` (W, U, b, W1, b1, W2, b2)."""
    w, u, b, w1, b1, w2, b2 = [t.clone().requires_grad_() for t in weights]
    m_in, m_rec, m_drop = masks
    act = torch.relu if relu else torch.tanh
    h = torch.zeros(x.shape[0], u.shape[0], dtype=x.dtype)
    for t in range(x.shape[1]):
        h = act((x[:, t] * m_in[:, 0] / 0.9) @ w + b + (h * m_rec / 0.9) @ u)
    a1 = torch.relu(h @ w1 + b1) * m_drop / 0.8
    loss = ((a1 @ w2 + b2)[:, 0] - target).square().mean()
    loss.backward()
    return [p.grad for p in (w, u, b, w1, b1, w2, b2)]


@pytest.mark.parametrize("relu", [False, True])
def test_simple_rnn_prefix_gradients_equal_plain_torch_in_float64(relu):
    torch.manual_seed(0)
    net = sd.Sequential(_layers("relu" if relu else "tanh"), input_shape=(5, 3))
    net.compile("sgd", "mse")
    state = net._training_state()
    module = state.module.double()
    params = list(module.parameters())
    with torch.no_grad():
        for p in params:
            p.normal_(0.0, 0.5)
            p.grad = torch.zeros_like(p)
    hand = DenseStackStep.for_state(state, 3)
    assert hand.recurrent is not None
    x = torch.randn(9, 5, 3, dtype=torch.float64)
    target = torch.randn(9, dtype=torch.float64)

    torch.manual_seed(5)
    z = hand.forward(x)
    hand.backward(2.0 * (z[:, 0] - target)[:, None] / 9)
    by_hand = [p.grad.clone() for p in params]

    # the same masks, drawn in the module's order: input, recurrent, then the Dropout layer's
    torch.manual_seed(5)
    masks = [keep_mask((9, 1, 3), 0.1, dtype=torch.float64),
             keep_mask((9, 12), 0.1, dtype=torch.float64),
             keep_mask((9, 4), 0.2, dtype=torch.float64)]
    by_torch = _plain_torch_grads(x, target, [p.detach() for p in params], masks, relu)
    for got, want in zip(by_hand, by_torch):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("first,shape", [
    (lambda: L.SimpleRNN(6, return_sequences=True), (5, 3)),
    (lambda: L.SimpleRNN(6, go_backwards=True), (5, 3)),
    (lambda: L.SimpleRNN(6, activation="elu"), (5, 3)),
    (lambda: L.LSTM(6), (5, 3)),
    (lambda: L.SimpleRNN(6, name="frozen"), (5, 3)),
])
def test_sequence_models_the_prefix_cannot_run_train_through_autograd(first, shape):
    layers = [first(), L.Dense(1)]
    if isinstance(layers[0], L.SimpleRNN) and layers[0].return_sequences:
        layers.insert(1, L.Flatten())
    net = sd.Sequential(layers, input_shape=shape)
    if layers[0].name == "frozen":
        layers[0].trainable = False
    net.compile("rmsprop", "mse")
    assert DenseStackStep.for_state(net._training_state(), 3) is None
    x, y = _series(n=20)
    history = net.fit(x, y, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_the_simple_rnn_switch_also_turns_the_prefix_off():
    net = sd.Sequential(_layers(), input_shape=(5, 3))
    net.compile("rmsprop", "mse")
    with fast_paths.off("simple_rnn_pass"):
        assert DenseStackStep.for_state(net._training_state(), 3) is None
    assert DenseStackStep.for_state(net._training_state(), 3) is not None
