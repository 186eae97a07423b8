"""The hand-written Dense/Dropout training pass must train exactly like autograd."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import fast_paths
from statdl import layers as L
from statdl.layers.dropout_masks import keep_mask, threshold_16
from statdl.training.dense_step import DenseStackStep
from statdl.training.losses import LOSSES, mean_loss_and_gradient


@pytest.fixture(autouse=True)
def _step_paths_on():
    """This file tests the step itself: its paths stay on under ``STATDL_FAST_PATHS=0``."""
    with fast_paths.on("dense_step", "dense_narrow_layout", "dense_closed_form_loss"):
        yield


def _data(n=96, k=12, task="softmax", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k)).astype(np.float32)
    if task == "softmax":
        y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, n)]
    elif task == "sparse":
        y = rng.integers(0, 4, n)
    elif task == "binary":
        y = rng.integers(0, 2, (n, 1)).astype(np.float32)
    else:
        y = rng.normal(size=(n, 3)).astype(np.float32)
    return x, y


ARCHITECTURES = {
    "relu-dropout-softmax": (lambda: [L.Dense(16, activation="relu"), L.Dropout(0.4),
                                      L.Dense(8, activation="relu"), L.Dropout(0.3),
                                      L.Dense(4, activation="softmax")],
                             "categorical_crossentropy", "softmax"),
    "sparse-two-dropouts": (lambda: [L.Dense(16, activation="relu"), L.Dropout(0.2),
                                     L.Dropout(0.5), L.Dense(4, activation="softmax")],
                            "sparse_categorical_crossentropy", "sparse"),
    "tanh-sigmoid-mse": (lambda: [L.Dense(10, activation="tanh"), L.Dropout(0.3),
                                  L.Dense(6, activation="sigmoid"), L.Dropout(0.25),
                                  L.Dense(3)], "mse", "mse"),
    "linear-no-bias": (lambda: [L.Dense(10, use_bias=False), L.Dropout(0.5),
                                L.Dense(3, activation="tanh", use_bias=False)], "mae", "mse"),
    "sigmoid-output-bce": (lambda: [L.Dense(10, activation="relu"),
                                    L.Dense(1, activation="sigmoid")],
                           "binary_crossentropy", "binary"),
    "softmax-output-mse": (lambda: [L.Dense(10, activation="relu"), L.Dropout(0.1),
                                    L.Dense(4, activation="softmax")], "mse", "softmax"),
}


def _train(monkeypatch, enabled, layers, loss, x, y, **fit_kwargs):
    monkeypatch.setattr(DenseStackStep, "enabled", enabled)
    sd.set_seed(7)
    net = sd.Sequential(layers(), input_shape=x.shape[1:])
    net.compile("rmsprop", loss, ["accuracy"] if loss.endswith("crossentropy") else ["mae"])
    history = net.fit(x, y, epochs=2, batch_size=20, verbose=0, **fit_kwargs)
    return net, history


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_step_trains_like_autograd(monkeypatch, name):
    layers, loss, task = ARCHITECTURES[name]
    x, y = _data(task=task)
    net_k, hist_k = _train(monkeypatch, True, layers, loss, x, y)
    assert DenseStackStep.for_state(net_k._training_state()) is not None
    net_a, hist_a = _train(monkeypatch, False, layers, loss, x, y)
    for wk, wa in zip(net_k.get_weights(), net_a.get_weights()):
        np.testing.assert_allclose(wk, wa, rtol=1e-4, atol=1e-6)
    for key in hist_a.history:
        np.testing.assert_allclose(hist_k.history[key], hist_a.history[key], rtol=1e-4)


def test_step_with_embedding_trains_like_autograd(monkeypatch):
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 50, (96, 6))
    ids[:, :2] = 0  # padding, and repeated ids within a batch: index_add_ must accumulate
    y = rng.integers(0, 2, (96, 1)).astype(np.float32)

    def layers():
        return [L.Embedding(50, 4), L.Flatten(), L.Dense(8, activation="relu"), L.Dropout(0.3),
                L.Dense(1, activation="sigmoid")]

    net_k, hist_k = _train(monkeypatch, True, layers, "binary_crossentropy", ids, y)
    hand = DenseStackStep.for_state(net_k._training_state())
    assert hand is not None and hand.embedding is not None
    net_a, hist_a = _train(monkeypatch, False, layers, "binary_crossentropy", ids, y)
    for wk, wa in zip(net_k.get_weights(), net_a.get_weights()):
        np.testing.assert_allclose(wk, wa, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(hist_k.history["loss"], hist_a.history["loss"], rtol=1e-4)


def test_step_runs_nested_models_like_an_autoencoder(monkeypatch):
    x, _ = _data(n=64, k=10)
    x = np.tanh(x)

    def layers():
        encoder = sd.Sequential([L.Dense(6, activation="tanh"), L.Dense(3, activation="relu")],
                                input_shape=(10,))
        decoder = sd.Sequential([L.Dense(6, activation="relu"), L.Dense(10, activation="tanh")],
                                input_shape=(3,))
        return [encoder, decoder]

    net_k, _ = _train(monkeypatch, True, layers, "mse", x, x)
    hand = DenseStackStep.for_state(net_k._training_state())
    assert hand is not None and len(hand.steps) == 4
    net_a, _ = _train(monkeypatch, False, layers, "mse", x, x)
    for wk, wa in zip(net_k.get_weights(), net_a.get_weights()):
        np.testing.assert_allclose(wk, wa, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("options", [
    {"sparsity_l1": 1e-3},
    {"sparsity_target": 0.1, "sparsity_weight": 1.0, "codings_activation": "sigmoid"},
    {"contractive": 1e-3},
    {"variational": True},
    {"corruption": "masking", "corruption_rate": 0.2},
])
def test_step_declines_autoencoders_with_extra_terms(options):
    ae = sd.autoencoders.Autoencoder(10, codings=3, hidden=(6,), **options)
    ae.model.compile("rmsprop", "mse")
    assert DenseStackStep.for_state(ae.model._training_state()) is None


def test_step_runs_the_plain_dense_autoencoder():
    ae = sd.autoencoders.Autoencoder(10, codings=3, hidden=(6,))
    ae.model.compile("rmsprop", "mse")
    assert DenseStackStep.for_state(ae.model._training_state()) is not None


def test_step_embedding_keeps_the_id_check():
    net = sd.Sequential([L.Embedding(10, 2), L.Flatten(), L.Dense(1)], input_shape=(3,))
    net.compile("rmsprop", "mse")
    with pytest.raises(sd.errors.ShapeError, match="word id 12"):
        net.fit(np.array([[1, 2, 12]]), np.zeros((1, 1)), epochs=1, verbose=0)


def test_step_with_sample_weights_and_validation(monkeypatch):
    layers, loss, task = ARCHITECTURES["relu-dropout-softmax"]
    x, y = _data(task=task)
    w = np.random.default_rng(1).uniform(0.2, 2.0, x.shape[0]).astype(np.float32)
    net_k, hist_k = _train(monkeypatch, True, layers, loss, x, y, sample_weight=w,
                           validation_split=0.25)
    net_a, hist_a = _train(monkeypatch, False, layers, loss, x, y, sample_weight=w,
                           validation_split=0.25)
    for wk, wa in zip(net_k.get_weights(), net_a.get_weights()):
        np.testing.assert_allclose(wk, wa, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(hist_k.history["val_loss"], hist_a.history["val_loss"], rtol=1e-4)


def test_step_gradients_match_autograd_in_float64():
    """One batch, same dropout masks: the step's gradients equal autograd's."""
    torch.manual_seed(0)
    net = sd.Sequential([L.Dense(7, activation="tanh"), L.Dropout(0.5),
                         L.Dense(5, activation="relu"), L.Dropout(0.2), L.Dense(3)],
                        input_shape=(4,))
    net.compile("sgd", "mse")
    state = net._training_state()
    module = state.module.double()
    x = torch.randn(9, 4, dtype=torch.float64)
    target = torch.randn(9, 3, dtype=torch.float64)
    params = list(module.parameters())
    for p in params:
        p.grad = torch.zeros_like(p)

    hand = DenseStackStep.for_state(state)
    torch.manual_seed(5)
    z = hand.forward(x).requires_grad_()
    ((z - target) ** 2).mean().backward()
    hand.backward(z.grad)
    by_hand = [p.grad.clone() for p in params]

    for p in params:
        p.grad = None
    torch.manual_seed(5)
    module.train()
    ((module(x) - target) ** 2).mean().backward()
    for gk, p in zip(by_hand, params):
        torch.testing.assert_close(gk, p.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layers,kwargs", [
    (lambda: [L.Dense(4, kernel_regularizer=sd.regularizers.L2(0.01)), L.Dense(1)], {}),
    (lambda: [L.Dense(4, activity_regularizer=sd.regularizers.L1(0.01)), L.Dense(1)], {}),
    (lambda: [L.Dropout(0.2), L.Dense(4), L.Dense(1)], {}),
    (lambda: [L.Dense(4), L.Dense(1), L.Dropout(0.2)], {}),
    (lambda: [L.Dense(4, activation="softmax"), L.Dense(1)], {}),
    (lambda: [L.Dense(4, activation="elu"), L.Dense(1)], {}),
    (lambda: [L.Dense(4), L.Activation("relu"), L.Dense(1)], {}),
    (lambda: [L.Dense(4, name="frozen"), L.Dense(1)], {"freeze": True}),
    (lambda: [L.Embedding(9, 2, name="frozen"), L.Flatten(), L.Dense(1)], {"freeze": True}),
])
def test_step_declines_models_it_cannot_run(layers, kwargs):
    net = sd.Sequential(layers(), input_shape=(6,))
    if kwargs.get("freeze"):
        net.get_layer("frozen").trainable = False
    net.compile("rmsprop", "mse")
    assert DenseStackStep.for_state(net._training_state()) is None
    x, y = _data(n=20, k=6, task="mse")
    x = np.abs(x).astype(int)  # valid ids for the Embedding case, fine as numbers otherwise
    net.fit(x, y[:, :1], epochs=1, verbose=0)  # still trains, through autograd


def test_step_declines_sequence_input():
    net = sd.Sequential([L.Dense(4), L.Dense(1)], input_shape=(5, 6))
    net.compile("rmsprop", "mse")
    assert DenseStackStep.for_state(net._training_state(), input_dims=3) is None
    x = np.random.default_rng(0).normal(size=(8, 5, 6)).astype(np.float32)
    history = net.fit(x, np.zeros((8, 5, 1), np.float32), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.4, 0.75, 0.999])
def test_keep_mask_drops_each_entry_with_probability_rate(rate):
    torch.manual_seed(0)
    n = 400_000
    dropped = n - int(keep_mask((n,), rate).sum())
    # binomial(n, rate): within 5 standard deviations (and exact at the extremes)
    sd_ = (n * rate * (1 - rate)) ** 0.5
    assert abs(dropped - n * rate) <= 5 * sd_ + 1e-9


def test_keep_mask_odd_sizes_dtypes_and_independence():
    torch.manual_seed(1)
    m = keep_mask((3, 7, 5), 0.5, dtype=torch.float64)
    assert m.shape == (3, 7, 5) and m.dtype == torch.float64
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    big = keep_mask((200_000, 4), 0.5)
    # the four 16-bit quarters of each 64-bit draw land in neighbouring columns: uncorrelated
    corr = torch.corrcoef(big.T)
    assert float((corr - torch.eye(4)).abs().max()) < 0.015


@pytest.mark.parametrize("rate", [0.4, 0.3, 0.1, 1 / 3, 0.999, 0.5, 1e-9, 1 - 1e-9])
def test_sixteen_bit_threshold_has_expectation_exactly_65536_rate(rate):
    """Averaged over the random word (a fine even grid of its low 53 bits), the threshold is
    65536 * rate, so each entry is dropped with probability rate, not a 16-bit rounding of it."""
    grid = 2**16
    words = [(k * 2**53) // grid for k in range(grid)]
    thresholds = [threshold_16(rate, w) for w in words]
    assert set(thresholds) <= {math.floor(rate * 65536), math.floor(rate * 65536) + 1}
    assert sum(thresholds) / grid == pytest.approx(rate * 65536, abs=1.0 / grid)


def test_keep_mask_extremes_and_the_threshold_word():
    torch.manual_seed(5)
    assert bool((keep_mask((1000,), 0.0) == 1).all())
    assert float(keep_mask((100_000,), 1 - 1e-9).sum()) == 0.0  # threshold 65536 drops all
    # high bits above the threshold's word are ignored: only the low 53 bits decide
    assert threshold_16(0.4, 0) == threshold_16(0.4, 2**60)


@pytest.mark.parametrize("name,from_logits,target", [
    ("sparse_categorical_crossentropy", True, "int"),
    ("binary_crossentropy", True, "binary"),
    ("mse", False, "real"),
])
def test_closed_form_loss_gradients_match_autograd(name, from_logits, target):
    torch.manual_seed(2)
    z = (3 * torch.randn(11, 1 if target == "binary" else 4, dtype=torch.float64))
    if target == "int":
        y = torch.randint(0, 4, (11,))
    elif target == "binary":
        y = torch.randint(0, 2, (11, 1)).double()
    else:
        y = torch.randn(11, 4, dtype=torch.float64)
    loss = LOSSES[name]
    value, dz = mean_loss_and_gradient(loss, z.clone(), y, from_logits)
    leaf = z.clone().requires_grad_()
    expected = loss(leaf, y, from_logits=from_logits).mean()
    expected.backward()
    torch.testing.assert_close(value, expected.detach())
    torch.testing.assert_close(dz, leaf.grad)


def test_closed_form_declines_other_losses():
    z = torch.randn(5, 3)
    assert mean_loss_and_gradient(LOSSES["mae"], z, torch.randn(5, 3), False) is None
    assert mean_loss_and_gradient(LOSSES["mse"], z, torch.randn(5, 1), False) is None


def test_keep_masks_need_one_shape_per_rate():
    from statdl.layers.core import KeepMasks

    with pytest.raises(ValueError, match=r"`shapes` must give one shape per rate \(2\); got 1"):
        KeepMasks([0.4, 0.3]).draw([(4, 6)])


# ------------------------------------------------------------ Conv1D and BiLSTM prefixes
@pytest.fixture()
def _prefixes_on(monkeypatch):
    """The prefixes' own switches (and the LSTM pass the BiLSTM prefix belongs to) on."""
    monkeypatch.setattr(DenseStackStep, "conv1d_prefix", True)
    monkeypatch.setattr(DenseStackStep, "bilstm_prefix", True)
    with fast_paths.on("lstm_pass"):
        yield


def _fit_both(layers, loss, x, y, **fit_kwargs):
    """(prefix, weights, history) with the Dense step on, then with it off (autograd)."""
    out = []
    for switch in (fast_paths.on, fast_paths.off):
        with switch("dense_step"):
            sd.set_seed(3)
            net = sd.Sequential(layers(), input_shape=x.shape[1:])
            net.compile("rmsprop", loss)
            hand = DenseStackStep.for_state(net._training_state(), x.ndim)
            history = net.fit(x, y, epochs=3, batch_size=32, verbose=0, **fit_kwargs)
        out.append((hand, net.get_weights(), history.history))
    return out


def _windows(n=150, steps=5, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, steps, channels)).astype(np.float32),
            rng.normal(size=n).astype(np.float32))


@pytest.mark.usefixtures("_prefixes_on")
@pytest.mark.parametrize("options", [
    {"activation": "relu"},                       # the NYSE lab's Conv1D(16, 3, relu)
    {"activation": "relu", "strides": 2},
    {"activation": "tanh", "dilation_rate": 2},
    {"activation": "sigmoid", "use_bias": False},
    {},                                           # linear
])
def test_conv1d_prefix_trains_like_autograd(options):
    x, y = _windows()

    def layers():
        return [L.Conv1D(16, 3, **options), L.Flatten(), L.Dense(4, activation="tanh"),
                L.Dropout(0.2), L.Dense(1)]

    (hand, w_k, h_k), (none, w_a, h_a) = _fit_both(layers, "mse", x, y,
                                                   validation_data=(x[:40], y[:40]))
    assert type(hand.prefix).__name__ == "_Conv1DPrefix" and none is None
    for a, b in zip(w_k, w_a):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(h_k[key], h_a[key], rtol=1e-4)


@pytest.mark.usefixtures("_prefixes_on")
@pytest.mark.parametrize("strides,dilation", [(1, 1), (2, 1), (1, 2)])
def test_conv1d_prefix_gradients_equal_plain_torch_in_float64(strides, dilation):
    """The step's gradients against F.conv1d + relu + flatten + Dense written in plain torch."""
    torch.manual_seed(0)
    net = sd.Sequential([L.Conv1D(6, 3, strides=strides, dilation_rate=dilation,
                                  activation="relu"), L.Flatten(), L.Dense(1)],
                        input_shape=(9, 2))
    net.compile("sgd", "mse")
    state = net._training_state()
    module = state.module.double()
    params = list(module.parameters())  # conv weight (6, 2, 3), conv bias, kernel, bias
    with torch.no_grad():
        for p in params:
            p.normal_(0.0, 0.5)
            p.grad = torch.zeros_like(p)
    hand = DenseStackStep.for_state(state, 3)
    assert type(hand.prefix).__name__ == "_Conv1DPrefix"
    x = torch.randn(7, 9, 2, dtype=torch.float64)
    target = torch.randn(7, dtype=torch.float64)
    z = hand.forward(x)
    hand.backward(2.0 * (z[:, 0] - target)[:, None] / 7)

    w, b, k, c = [p.detach().clone().requires_grad_() for p in params]
    conv = torch.relu(torch.nn.functional.conv1d(x.transpose(1, 2), w, b, stride=strides,
                                                 dilation=dilation))   # (7, 6, positions)
    flat = conv.transpose(1, 2).reshape(7, -1)                       # Keras order: t, filter
    ((flat @ k + c)[:, 0] - target).square().mean().backward()
    for p, ref in zip(params, (w, b, k, c)):
        torch.testing.assert_close(p.grad, ref.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.usefixtures("_prefixes_on")
@pytest.mark.parametrize("layers", [
    lambda: [L.Conv1D(4, 3, padding="same"), L.Flatten(), L.Dense(1)],
    lambda: [L.Conv1D(4, 3, padding="causal"), L.Flatten(), L.Dense(1)],
    lambda: [L.Conv1D(6, 3, groups=3), L.Flatten(), L.Dense(1)],
    lambda: [L.Conv1D(4, 3, activation="elu"), L.Flatten(), L.Dense(1)],
    lambda: [L.Conv1D(4, 3), L.MaxPooling1D(), L.Flatten(), L.Dense(1)],
    lambda: [L.Conv1D(4, 3, name="frozen"), L.Flatten(), L.Dense(1)],
])
def test_conv1d_models_the_prefix_cannot_run_train_through_autograd(layers):
    x, y = _windows(n=40, steps=6)
    net = sd.Sequential(layers(), input_shape=x.shape[1:])
    if any(layer.name == "frozen" for layer in net.layers):
        net.get_layer("frozen").trainable = False
    net.compile("rmsprop", "mse")
    assert DenseStackStep.for_state(net._training_state(), 3) is None
    assert np.isfinite(net.fit(x, y, epochs=1, verbose=0).history["loss"][0])


def _reviews(n=150, steps=7, words=50, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, words, (n, steps))
    ids[:, :2] = 0  # padding: repeated ids within a batch must accumulate
    return ids, rng.integers(0, 2, n)


@pytest.mark.usefixtures("_prefixes_on")
def test_bilstm_prefix_trains_like_autograd():
    x, y = _reviews()

    def layers():
        return [L.Embedding(50, 4), L.Bidirectional(L.LSTM(5)), L.Dense(3, activation="relu"),
                L.Dropout(0.2), L.Dense(1, activation="sigmoid")]

    (hand, w_k, h_k), (none, w_a, h_a) = _fit_both(layers, "binary_crossentropy", x, y,
                                                   validation_split=0.2)
    assert type(hand.prefix).__name__ == "_BiLSTMPrefix" and none is None
    for a, b in zip(w_k, w_a):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(h_k[key], h_a[key], rtol=1e-4)


def _keras_lstm(x, w, u, b):
    """Keras's LSTM (gates i, f, c, o) over batch-first ``x``, the last state, step by step."""
    units = u.shape[0]
    h = c = x.new_zeros(x.shape[0], units)
    for t in range(x.shape[1]):
        z = x[:, t] @ w + h @ u + b
        i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
    return h


@pytest.mark.usefixtures("_prefixes_on")
def test_bilstm_prefix_gradients_equal_plain_torch_in_float64():
    """float64 takes the prefix's hand-written branch (``_lstm_train_pass``); the reference is
    the embedding lookup, Keras's LSTM equations forwards and on the reversed sequence, and
    the Dense layer, all through autograd."""
    torch.manual_seed(0)
    net = sd.Sequential([L.Embedding(20, 3), L.Bidirectional(L.LSTM(4)), L.Dense(1)],
                        input_shape=(6,))
    net.compile("sgd", "mse")
    state = net._training_state()
    module = state.module.double()
    params = list(module.parameters())  # table, W_f, U_f, b_f, W_b, U_b, b_b, kernel, bias
    with torch.no_grad():
        for p in params:
            p.normal_(0.0, 0.5)
            p.grad = torch.zeros_like(p)
    hand = DenseStackStep.for_state(state, 2)
    assert type(hand.prefix).__name__ == "_BiLSTMPrefix"
    ids = torch.randint(0, 20, (9, 6))
    ids[:, 0] = 3
    target = torch.randn(9, dtype=torch.float64)
    z = hand.forward(ids)
    hand.backward(2.0 * (z[:, 0] - target)[:, None] / 9)

    ref = [p.detach().clone().requires_grad_() for p in params]
    table, wf, uf, bf, wb, ub, bb, k, c = ref
    x = table[ids]
    h = torch.cat([_keras_lstm(x, wf, uf, bf), _keras_lstm(x.flip(1), wb, ub, bb)], 1)
    ((h @ k + c)[:, 0] - target).square().mean().backward()
    for p, r in zip(params, ref):
        torch.testing.assert_close(p.grad, r.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.usefixtures("_prefixes_on")
@pytest.mark.parametrize("layers", [
    lambda: [L.Embedding(50, 4), L.Bidirectional(L.LSTM(5, dropout=0.2)), L.Dense(1)],
    lambda: [L.Embedding(50, 4), L.Bidirectional(L.LSTM(5, recurrent_dropout=0.2)),
             L.Dense(1)],
    lambda: [L.Embedding(50, 4), L.Bidirectional(L.LSTM(5, use_bias=False)), L.Dense(1)],
    lambda: [L.Embedding(50, 4), L.Bidirectional(L.LSTM(5), merge_mode="sum"), L.Dense(1)],
    lambda: [L.Embedding(50, 4), L.Bidirectional(L.GRU(5)), L.Dense(1)],
    lambda: [L.Embedding(50, 4, mask_zero=True), L.Bidirectional(L.LSTM(5)), L.Dense(1)],
    lambda: [L.Embedding(50, 4), L.LSTM(5), L.Dense(1)],
    lambda: [L.Embedding(50, 4, name="frozen"), L.Bidirectional(L.LSTM(5)), L.Dense(1)],
])
def test_recurrent_models_the_bilstm_prefix_cannot_run_train_through_autograd(layers):
    x, y = _reviews(n=40)
    net = sd.Sequential(layers(), input_shape=x.shape[1:])
    if any(layer.name == "frozen" for layer in net.layers):
        net.get_layer("frozen").trainable = False
    net.compile("rmsprop", "binary_crossentropy")
    assert DenseStackStep.for_state(net._training_state(), 2) is None
    assert np.isfinite(net.fit(x, y, epochs=1, verbose=0).history["loss"][0])


@pytest.mark.usefixtures("_prefixes_on")
def test_prefix_switches_turn_the_prefixes_off(monkeypatch):
    conv = sd.Sequential([L.Conv1D(4, 3), L.Flatten(), L.Dense(1)], input_shape=(5, 3))
    bilstm = sd.Sequential([L.Embedding(9, 2), L.Bidirectional(L.LSTM(3)), L.Dense(1)],
                           input_shape=(4,))
    for net in (conv, bilstm):
        net.compile("rmsprop", "mse")
    assert DenseStackStep.for_state(conv._training_state(), 3) is not None
    assert DenseStackStep.for_state(bilstm._training_state(), 2) is not None
    monkeypatch.setattr(DenseStackStep, "conv1d_prefix", False)
    assert DenseStackStep.for_state(conv._training_state(), 3) is None
    monkeypatch.setattr(DenseStackStep, "bilstm_prefix", False)
    assert DenseStackStep.for_state(bilstm._training_state(), 2) is None
    monkeypatch.setattr(DenseStackStep, "bilstm_prefix", True)
    with fast_paths.off("lstm_pass"):
        assert DenseStackStep.for_state(bilstm._training_state(), 2) is None


def test_direct_onednn_lstm_calls_check_out_on_this_torch():
    """The private oneDNN calls agree with torch.lstm's autograd (float32, CPU), so the
    BiLSTM prefix uses them here; float64 takes the hand-written pass."""
    from statdl.layers.recurrent_cells import onednn_lstm
    from statdl.training.dense_step import _onednn_lstm_ok

    x = torch.zeros(2, 3, 4)
    assert _onednn_lstm_ok(x) == onednn_lstm(x)
    assert not _onednn_lstm_ok(x.double())
