"""SimpleRNN, LSTM, GRU and Bidirectional: counts, math against a numpy reference, dropout."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import fast_paths
from statdl.errors import ConfigError, ShapeError
from statdl.layers import recurrent_cells
from statdl.layers.dropout_masks import keep_mask
from statdl.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN
from statdl.regularizers import L1L2, L2

# ----------------------------------------------------------------------------- numpy reference


def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def ref_rnn(kind, x, weights, units, return_sequences=False, go_backwards=False,
            reset_after=True):
    """Keras's cell equations written out in numpy (float64), Keras weight layout."""
    kernel, rec, bias = weights
    u = units
    if go_backwards:
        x = x[:, ::-1]
    h = np.zeros((x.shape[0], u))
    c = np.zeros_like(h)
    outs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        if kind == "simple_rnn":
            h = np.tanh(xt @ kernel + h @ rec + bias)
        elif kind == "lstm":
            z = xt @ kernel + h @ rec + bias
            i, f, g, o = (z[:, j * u:(j + 1) * u] for j in range(4))
            c = _sig(f) * c + _sig(i) * np.tanh(g)
            h = _sig(o) * np.tanh(c)
        else:
            b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
            xw = xt @ kernel + b_in
            z = _sig(xw[:, :u] + h @ rec[:, :u] + b_rec[:u])
            r = _sig(xw[:, u:2 * u] + h @ rec[:, u:2 * u] + b_rec[u:2 * u])
            if reset_after:
                hh = np.tanh(xw[:, 2 * u:] + r * (h @ rec[:, 2 * u:] + b_rec[2 * u:]))
            else:
                hh = np.tanh(xw[:, 2 * u:] + (r * h) @ rec[:, 2 * u:])
            h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1) if return_sequences else h


CASES = [
    ("simple_rnn", SimpleRNN, {}),
    ("lstm", LSTM, {}),
    ("gru", GRU, {}),
    ("gru", GRU, {"reset_after": False}),
]


def _random_weights(layer, rng):
    return [rng.normal(scale=0.4, size=w.shape).astype(np.float32) for w in layer.get_weights()]


@pytest.mark.parametrize("kind,cls,kw", CASES)
@pytest.mark.parametrize("return_sequences,go_backwards", [(False, False), (True, True)])
def test_matches_numpy_reference(kind, cls, kw, return_sequences, go_backwards):
    rng = np.random.default_rng(0)
    layer = cls(3, return_sequences=return_sequences, go_backwards=go_backwards, **kw)
    layer.build((6, 4))
    weights = _random_weights(layer, rng)
    layer.set_weights(weights)
    x = rng.normal(size=(2, 6, 4)).astype(np.float32)
    out = layer.module(torch.from_numpy(x)).detach().numpy()
    expected = ref_rnn(kind, x.astype(np.float64), [w.astype(np.float64) for w in weights], 3,
                       return_sequences, go_backwards, kw.get("reset_after", True))
    np.testing.assert_allclose(out, expected, atol=1e-5)
    # the step loop (used with recurrent dropout or other activations) gives the same numbers
    m = layer.module.eval()
    loop = m._loop(torch.from_numpy(x).flip(1) if go_backwards else torch.from_numpy(x), False)
    np.testing.assert_allclose(loop.detach().numpy(), expected, atol=1e-5)


# ----------------------------------------------------------------------------- counts and shapes


@pytest.mark.parametrize("n_in,u", [(1, 1), (3, 12), (32, 32), (8, 32), (100, 7)])
def test_param_counts_are_keras(n_in, u):
    shape = (20, n_in)
    expected = {
        SimpleRNN(u): u * (n_in + u + 1),
        LSTM(u): 4 * u * (n_in + u + 1),
        GRU(u): 3 * u * (n_in + u + 2),
        GRU(u, reset_after=False): 3 * u * (n_in + u + 1),
        SimpleRNN(u, use_bias=False): u * (n_in + u),
        LSTM(u, use_bias=False): 4 * u * (n_in + u),
        GRU(u, use_bias=False): 3 * u * (n_in + u),
        Bidirectional(LSTM(u)): 8 * u * (n_in + u + 1),
        Bidirectional(GRU(u), merge_mode="sum"): 6 * u * (n_in + u + 2),
    }
    for layer, count in expected.items():
        assert layer.param_count(shape) == count, layer
        module = layer.build(shape)
        trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
        assert trainable == count, layer
        assert sum(b.numel() for b in module.buffers()) == 0


def test_worked_examples():
    assert LSTM(32).param_count((None, 32)) == 8320
    assert SimpleRNN(12).param_count((None, 3)) == 192
    assert GRU(32).param_count((None, 32)) == 6336


ALL_LAYERS = [
    lambda **k: SimpleRNN(5, **k), lambda **k: LSTM(5, **k), lambda **k: GRU(5, **k),
    lambda **k: GRU(5, reset_after=False, **k), lambda **k: SimpleRNN(5, activation="relu", **k),
    lambda **k: LSTM(5, activation="relu", **k),
    lambda **k: Bidirectional(LSTM(5, **k)), lambda **k: Bidirectional(GRU(5, **k), "mul"),
]


@pytest.mark.parametrize("make", ALL_LAYERS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("shape", [(7, 3), (None, 3)])
@pytest.mark.parametrize("training", [False, True])
def test_real_shape_matches_inferred(make, return_sequences, shape, training):
    layer = make(return_sequences=return_sequences, dropout=0.2, recurrent_dropout=0.3)
    module = layer.build(shape)
    module.train(training)
    out = module(torch.randn(2, 7, 3))
    inferred = layer.output_shape(shape)
    assert out.shape[0] == 2 and len(out.shape) == len(inferred) + 1
    for d, r in zip(inferred, out.shape[1:]):
        assert d is None or d == r


def test_bidirectional_summary_shape():
    layer = Bidirectional(LSTM(32))
    assert layer.output_shape((100, 16)) == (64,)
    assert Bidirectional(LSTM(32), merge_mode="ave").output_shape((100, 16)) == (32,)
    assert Bidirectional(LSTM(8, return_sequences=True)).output_shape((None, 16)) == (None, 16)
    assert type(layer).__name__ == "Bidirectional"


# ----------------------------------------------------------------------------- initialisation


def test_keras_initialisation():
    torch.manual_seed(0)
    lstm = LSTM(16)
    m = lstm.build((10, 24))
    kernel = m.kernel.detach()
    limit = np.sqrt(6.0 / (24 + 64))  # glorot on the whole (in, 4u) kernel
    assert kernel.abs().max() <= limit and kernel.abs().max() > 0.9 * limit
    rec = m.recurrent_kernel.detach()
    np.testing.assert_allclose((rec @ rec.T).numpy(), np.eye(16), atol=1e-5)  # orthogonal rows
    bias = m.bias.detach().numpy()
    np.testing.assert_array_equal(bias[16:32], 1.0)  # unit_forget_bias
    np.testing.assert_array_equal(np.delete(bias, np.s_[16:32]), 0.0)
    assert not LSTM(4, unit_forget_bias=False).build((3, 2)).bias.detach().any()
    assert GRU(4).build((3, 2)).bias.shape == (2, 12)
    assert GRU(4, reset_after=False).build((3, 2)).bias.shape == (12,)


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("make", ALL_LAYERS)
@pytest.mark.parametrize("rec_dropout", [0.0, 0.3])
def test_gradients_reach_every_weight(make, rec_dropout):
    torch.manual_seed(0)
    layer = make(return_sequences=True, dropout=0.1, recurrent_dropout=rec_dropout)
    module = layer.build((6, 3)).train()
    x = torch.randn(4, 6, 3, requires_grad=True)
    module(x).square().sum().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_frozen_rnn_gets_no_gradient():
    layer = LSTM(3, trainable=False)
    module = layer.build((4, 2))
    x = torch.randn(2, 4, 2, requires_grad=True)
    module(x).sum().backward()
    assert all(p.grad is None for p in module.parameters())
    assert x.grad is not None


# ----------------------------------------------------------------------------- dropout


def _identity_rnn(units: int, *, rec_dropout: float = 0.0, dropout: float = 0.0):
    """Linear SimpleRNN with h_t = x_t W + h_{t-1} U + 1 and chosen W, U."""
    layer = SimpleRNN(units, activation="linear", return_sequences=True,
                      dropout=dropout, recurrent_dropout=rec_dropout)
    module = layer.build((None, units))
    return layer, module


def test_recurrent_dropout_same_mask_every_step():
    torch.manual_seed(1)
    u = 64
    layer, module = _identity_rnn(u, rec_dropout=0.5)
    layer.set_weights([np.zeros((u, u)), np.eye(u), np.ones(u)])
    module.train()
    out = module(torch.zeros(3, 12, u))  # h_t = m * h_{t-1} + 1, m in {0, 2}
    dropped = out[:, -1] == 1.0
    assert dropped.any() and (~dropped).any()
    # a unit dropped at the last step was dropped at every step: h stays 1 ...
    assert torch.all(out[:, :, :][dropped.unsqueeze(1).expand_as(out)] == 1.0)
    # ... and a kept unit was kept at every step: h_t = 2^t + ... + 1 = 2^(t+1) - 1
    kept = out.permute(0, 2, 1)[~dropped]
    expected = 2.0 ** torch.arange(1, 13, dtype=torch.float32) - 1
    assert torch.allclose(kept, expected.expand_as(kept))
    # masks differ between sequences of the batch, and a new batch draws new masks
    assert not torch.equal(dropped[0], dropped[1])
    assert not torch.equal(module(torch.zeros(3, 12, u))[:, -1] == 1.0, dropped)


def test_input_dropout_same_mask_every_step():
    torch.manual_seed(2)
    u = 64
    layer, module = _identity_rnn(u, dropout=0.5)
    layer.set_weights([np.eye(u), np.zeros((u, u)), np.zeros(u)])
    module.train()
    out = module(torch.ones(3, 9, u))  # fused path on x * mask: h_t = mask
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert torch.equal(out, out[:, :1].expand_as(out))


def test_lstm_recurrent_dropout_draws_one_mask_per_gate(monkeypatch):
    calls = []
    original = recurrent_cells.inverted_mask

    def spy(shape, rate, device, dtype):
        calls.append((tuple(shape), rate))
        return original(shape, rate, device, dtype)

    monkeypatch.setattr(recurrent_cells, "inverted_mask", spy)
    module = LSTM(5, dropout=0.2, recurrent_dropout=0.4).build((8, 3)).train()
    module(torch.randn(2, 8, 3))
    assert calls == [((2, 4, 3), 0.2), ((2, 4, 5), 0.4)]  # once per sequence batch, 4 gates
    calls.clear()
    GRU(5, recurrent_dropout=0.4).build((8, 3)).train()(torch.randn(2, 8, 3))
    assert calls == [((2, 3, 5), 0.4)]
    calls.clear()
    LSTM(5, dropout=0.2).build((8, 3)).train()(torch.randn(2, 8, 3))
    assert calls == [((2, 1, 3), 0.2)]  # input dropout only: one mask, fused kernel


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_eval_is_deterministic_and_dropout_free(make):
    torch.manual_seed(0)
    layer = make(dropout=0.5, recurrent_dropout=0.5)
    module = layer.build((5, 3))
    x = torch.randn(4, 5, 3)
    module.eval()
    a, b = module(x), module(x)
    assert torch.equal(a, b)
    plain = make(dropout=0.0, recurrent_dropout=0.0)
    plain.build((5, 3)).load_state_dict(module.state_dict())
    torch.testing.assert_close(plain.module.eval()(x), a)
    module.train()
    assert not torch.equal(module(x), a)


# ----------------------------------------------------------------------------- bidirectional


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_two_references(merge_mode, return_sequences):
    rng = np.random.default_rng(3)
    layer = Bidirectional(GRU(3, return_sequences=return_sequences), merge_mode=merge_mode)
    layer.build((5, 2))
    weights = _random_weights(layer, rng)
    layer.set_weights(weights)
    x = rng.normal(size=(2, 5, 2))
    fwd = ref_rnn("gru", x, weights[:3], 3, return_sequences)
    bwd = ref_rnn("gru", x, weights[3:], 3, return_sequences, go_backwards=True)
    if return_sequences:
        bwd = bwd[:, ::-1]
    expected = {"concat": np.concatenate([fwd, bwd], -1), "sum": fwd + bwd,
                "ave": (fwd + bwd) / 2, "mul": fwd * bwd}[merge_mode]
    out = layer.module(torch.from_numpy(x.astype(np.float32))).detach().numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_bidirectional_backward_copy_and_config():
    inner = LSTM(4, dropout=0.1, kernel_regularizer=L2(0.01))
    bi = Bidirectional(inner, merge_mode="sum")
    assert bi.backward_layer.go_backwards and not bi.forward_layer.go_backwards
    assert bi.backward_layer.get_config() | {"go_backwards": False} == inner.get_config()
    bi.build((6, 3))
    assert len(bi.regularized_weights()) == 2
    cfg = json.loads(json.dumps(bi.full_config()))
    assert cfg["layer"]["class_name"] == "LSTM"
    clone = Bidirectional(**cfg)
    assert clone.get_config() == bi.get_config()
    assert clone.param_count((6, 3)) == bi.param_count((6, 3)) == 2 * 4 * 4 * (3 + 4 + 1)


def test_bidirectional_errors():
    with pytest.raises(ConfigError, match="merge_mode.*None"):
        Bidirectional(LSTM(3), merge_mode=None)
    with pytest.raises(ConfigError, match="merge_mode"):
        Bidirectional(LSTM(3), merge_mode="max")
    with pytest.raises(ConfigError, match="SimpleRNN, LSTM or GRU"):
        Bidirectional("lstm")
    with pytest.raises(ConfigError, match=r"`layer\['class_name'\]` of Bidirectional must be "
                                          r"one of .*'LSTM'.*; got 'Nope'\."):
        Bidirectional({"class_name": "Nope", "config": {}})


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_validation_errors(cls):
    with pytest.raises(ConfigError, match="`units` of .* int >= 1; got 0"):
        cls(0)
    with pytest.raises(ConfigError, match="`dropout`.*\\[0, 1\\); got 1.0"):
        cls(3, dropout=1.0)
    with pytest.raises(ConfigError, match="`recurrent_dropout`"):
        cls(3, recurrent_dropout=-0.1)
    with pytest.raises(ConfigError, match="`activation` must be one of"):
        cls(3, activation="swishy")
    with pytest.raises(ConfigError, match="kernel_initializer"):
        cls(3, kernel_initializer="nope")
    name = cls.__name__
    with pytest.raises(ShapeError, match=rf"`inputs` of {name} must be of shape \(timesteps, "
                                         r"features\); got \(None, 20\)\. "
                                         r".*Embedding"):
        cls(3).output_shape((20,))
    with pytest.raises(ShapeError, match=r"got \(None, 4, 4, 3\)"):
        cls(3).param_count((4, 4, 3))
    with pytest.raises(ShapeError, match="number of features"):
        cls(3).output_shape((10, None))


def test_recurrent_activation_error():
    with pytest.raises(ConfigError, match="`recurrent_activation` must be one of"):
        LSTM(3, recurrent_activation="hard_sigmoidish")


@pytest.mark.parametrize("layer", [
    SimpleRNN(4, activation="relu", go_backwards=True, recurrent_regularizer=L1L2(0.1, 0.2)),
    LSTM(4, unit_forget_bias=False, dropout=0.25, return_sequences=True),
    GRU(4, reset_after=False, use_bias=False, recurrent_dropout=0.5),
])
def test_config_roundtrip(layer):
    cfg = json.loads(json.dumps(layer.full_config()))
    clone = type(layer)(**cfg)
    assert clone.get_config() == layer.get_config()
    assert clone.param_count((9, 3)) == layer.param_count((9, 3))


def test_regularized_weights():
    layer = GRU(3, kernel_regularizer=L2(0.1), recurrent_regularizer=L2(0.2),
                bias_regularizer=L2(0.3))
    m = layer.build((4, 2))
    pairs = layer.regularized_weights()
    assert [w for _, w in pairs] == [m.kernel, m.recurrent_kernel, m.bias]
    assert [r.l2 for r, _ in pairs] == [0.1, 0.2, 0.3]


def test_embedding_then_lstm_trains():
    from statdl.layers.embedding import Embedding

    torch.manual_seed(0)
    emb, lstm = Embedding(30, 4), LSTM(6)
    net = torch.nn.Sequential(emb.build((10,)), lstm.build((10, 4)), torch.nn.Linear(6, 1))
    ids = torch.randint(1, 30, (32, 10))
    y = (ids[:, -1] > 15).float()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(ids).squeeze(-1), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def _ref_masked(kind, x, weights, u, in_m, rec_m, reset_after=True):
    """Keras implementation 1 with given per-gate masks (in_m: (B, k, in), rec_m: (B, k, u))."""
    kernel, rec, bias = weights
    k = kernel.shape[1] // u
    h = np.zeros((x.shape[0], u))
    c = np.zeros_like(h)
    for t in range(x.shape[1]):
        xs = [(x[:, t] * in_m[:, g]) @ kernel[:, g * u:(g + 1) * u] for g in range(k)]
        hs = [h * rec_m[:, g] for g in range(k)]
        if kind == "lstm":
            pre = [xs[g] + hs[g] @ rec[:, g * u:(g + 1) * u] + bias[g * u:(g + 1) * u]
                   for g in range(4)]
            c = _sig(pre[1]) * c + _sig(pre[0]) * np.tanh(pre[2])
            h = _sig(pre[3]) * np.tanh(c)
        else:
            b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
            xg = [xs[g] + b_in[g * u:(g + 1) * u] for g in range(3)]
            z = _sig(xg[0] + hs[0] @ rec[:, :u] + b_rec[:u])
            r = _sig(xg[1] + hs[1] @ rec[:, u:2 * u] + b_rec[u:2 * u])
            if reset_after:
                hh = np.tanh(xg[2] + r * (hs[2] @ rec[:, 2 * u:] + b_rec[2 * u:]))
            else:
                hh = np.tanh(xg[2] + (r * hs[2]) @ rec[:, 2 * u:])
            h = z * h + (1 - z) * hh
    return h


@pytest.mark.parametrize("cls,kind,kw", [(LSTM, "lstm", {}), (GRU, "gru", {}),
                                         (GRU, "gru", {"reset_after": False})])
def test_dropout_loop_matches_reference_with_fixed_masks(monkeypatch, cls, kind, kw):
    rng = np.random.default_rng(5)
    masks = []

    def fixed(shape, rate, device, dtype):
        m = torch.from_numpy((rng.random(shape) > rate) / (1 - rate)).to(dtype)
        masks.append(m.numpy().astype(np.float64))
        return m

    monkeypatch.setattr(recurrent_cells, "inverted_mask", fixed)
    layer = cls(3, dropout=0.3, recurrent_dropout=0.4, **kw)
    layer.build((5, 4))
    weights = _random_weights(layer, rng)
    layer.set_weights(weights)
    x = rng.normal(size=(2, 5, 4)).astype(np.float32)
    out = layer.module.train()(torch.from_numpy(x)).detach().numpy()
    expected = _ref_masked(kind, x.astype(np.float64), [w.astype(np.float64) for w in weights],
                           3, masks[0], masks[1], kw.get("reset_after", True))
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("sixteen_bit", [True, False])
@pytest.mark.parametrize("cls,kind", [(LSTM, "lstm"), (GRU, "gru")])
def test_recurrent_masks_come_from_the_shared_dropout_stream(cls, kind, sixteen_bit):
    """The cells draw their masks with ``layers.dropout_masks`` (as Dropout and the Dense
    step do): from one seed, the layer's output equals the float64 step loop fed with
    ``keep_mask``'s masks drawn after the same seed in the layer's order (the inputs' mask,
    then the state's, one per gate), with 16-bit masks and without."""
    rng = np.random.default_rng(6)
    layer = cls(3, dropout=0.3, recurrent_dropout=0.4)
    layer.build((5, 4))
    weights = _random_weights(layer, rng)
    layer.set_weights(weights)
    x = rng.normal(size=(2, 5, 4)).astype(np.float32)
    k = recurrent_cells.GATES[kind]
    with (fast_paths.on if sixteen_bit else fast_paths.off)("dropout_16bit"):
        sd.set_seed(11)
        out = layer.module.train()(torch.from_numpy(x)).detach().numpy()
        sd.set_seed(11)
        in_m = keep_mask((2, k, 4), 0.3).double().numpy() / 0.7
        rec_m = keep_mask((2, k, 3), 0.4).double().numpy() / 0.6
    expected = _ref_masked(kind, x.astype(np.float64), [w.astype(np.float64) for w in weights],
                           3, in_m, rec_m)
    np.testing.assert_allclose(out, expected, atol=1e-5)


# ------------------------------------------------------------------------------- SimpleRNN pass


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("mask,bias", [(False, True), (True, True), (False, False)])
def test_simple_rnn_pass_gradcheck(relu, return_sequences, mask, bias):
    from statdl.layers._simple_rnn_pass import simple_rnn

    g = torch.Generator().manual_seed(3)
    kw = {"dtype": torch.float64, "generator": g}
    x = torch.randn(3, 5, 2, **kw).requires_grad_()
    w = (0.6 * torch.randn(2, 4, **kw)).requires_grad_()
    u = (0.6 * torch.randn(4, 4, **kw)).requires_grad_()
    b = (0.3 * torch.randn(4, **kw)).requires_grad_()
    m = (torch.rand(3, 4, **kw) > 0.3).double() / 0.7 if mask else None

    def f(x, w, u, *b):
        return simple_rnn(x, w, u, b[0] if b else None, m, relu=relu,
                          return_sequences=return_sequences)

    assert torch.autograd.gradcheck(f, (x, w, u, b) if bias else (x, w, u))


@pytest.mark.parametrize("name,gates,bias_shape", [("simple_rnn", 1, (4,)),
                                                 ("gru", 3, (2, 12))])
def test_recurrent_passes_on_empty_sequences(name, gates, bias_shape):
    module = importlib.import_module(f"statdl.layers._{name}_pass")
    fn = getattr(module, name)
    x = torch.zeros(2, 0, 3, requires_grad=True)
    w, u, b = (torch.ones(*s, requires_grad=True)
               for s in ((3, 4 * gates), (4, 4 * gates), bias_shape))
    out = fn(x, w, u, b)
    assert out.shape == (2, 4) and not out.any()
    out.sum().backward()
    assert not w.grad.any() and not u.grad.any() and not b.grad.any()
    assert fn(x, w, u, b, return_sequences=True).shape == (2, 0, 4)


def _run_with_pass(monkeypatch, switch, use_pass, layer, x, seed=None):
    """Output and gradients (x, then the weights) of ``layer`` with the pass ``switch`` of
    ``RecurrentModule`` set to ``use_pass``."""
    monkeypatch.setattr(recurrent_cells.RecurrentModule, switch, use_pass)
    module = layer.module.train()
    for p in module.parameters():
        p.grad = None
    x = x.clone().requires_grad_()
    if seed is not None:
        torch.manual_seed(seed)
    out = module(x)
    torch.manual_seed(0)
    out.backward(torch.randn(out.shape))  # randn_like would follow out's strides
    return out.detach(), [x.grad, *(p.grad for p in module.parameters())]


def _count_calls(monkeypatch, function: str) -> list:
    """A list that grows by one each time ``recurrent_cells.<function>`` runs."""
    calls = []
    original = getattr(recurrent_cells, function)
    monkeypatch.setattr(recurrent_cells, function,
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


def _assert_pass_matches_old_path(monkeypatch, switch, layer, x, seed=None):
    """The pass and the path it replaces give the same output and gradients."""
    new_out, new_grads = _run_with_pass(monkeypatch, switch, True, layer, x, seed)
    old_out, old_grads = _run_with_pass(monkeypatch, switch, False, layer, x, seed)
    torch.testing.assert_close(new_out, old_out, atol=1e-6, rtol=1e-5)
    assert len(new_grads) == len(old_grads)
    for new, old in zip(new_grads, old_grads):
        torch.testing.assert_close(new, old, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind,activation", [("simple_rnn", "tanh"), ("simple_rnn", "relu"),
                                             ("gru", "tanh")])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("use_bias", [True, False])
def test_recurrent_passes_match_torch_fused(monkeypatch, kind, activation, return_sequences,
                                             go_backwards, use_bias):
    """SimpleRNN's and GRU's passes against torch's fused rnn_tanh/rnn_relu/gru."""
    torch.manual_seed(4)
    layer_class = SimpleRNN if kind == "simple_rnn" else GRU
    layer = layer_class(6, activation=activation, return_sequences=return_sequences,
                        go_backwards=go_backwards, use_bias=use_bias)
    layer.build((9, 3))
    if use_bias:
        with torch.no_grad():
            layer.module.bias.uniform_(-0.5, 0.5)
    x = torch.randn(4, 9, 3)
    calls = _count_calls(monkeypatch, kind)
    _assert_pass_matches_old_path(monkeypatch, f"{kind}_pass", layer, x)
    assert calls == [1]  # the pass ran once, then the fused path
    assert len(list(layer.module.parameters())) == (3 if use_bias else 2)  # W, U (, b)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_simple_rnn_pass_recurrent_dropout_matches_loop(monkeypatch, activation,
                                                          return_sequences):
    torch.manual_seed(5)
    layer = SimpleRNN(6, activation=activation, dropout=0.3, recurrent_dropout=0.4,
                      return_sequences=return_sequences, go_backwards=True)
    layer.build((7, 3))
    x = torch.randn(5, 7, 3)
    # same seed -> the same masks: both draw (B, 1, in) then (B, 1, u); old path: step loop
    _assert_pass_matches_old_path(monkeypatch, "simple_rnn_pass", layer, x, seed=11)


def test_simple_rnn_pass_masks_of_a_layer_called_twice(monkeypatch):
    """The pass's masks come from buffers kept on the module (one draw for both masks): a
    layer called twice in one forward pass (a shared layer) keeps each call's masks for its
    backward pass, and both calls equal the step loop's with the same seed."""
    torch.manual_seed(6)
    layer = SimpleRNN(5, dropout=0.2, recurrent_dropout=0.3)
    layer.build((4, 3))
    x1, x2 = torch.randn(6, 4, 3), torch.randn(6, 4, 3)
    results = {}
    for use_pass in (True, False):
        monkeypatch.setattr(recurrent_cells.RecurrentModule, "simple_rnn_pass", use_pass)
        module = layer.module.train()
        for p in module.parameters():
            p.grad = None
        torch.manual_seed(12)
        out = module(x1) * module(x2)
        out.sum().backward()
        results[use_pass] = (out.detach(), [p.grad.clone() for p in module.parameters()])
    torch.testing.assert_close(results[True][0], results[False][0], atol=1e-6, rtol=1e-5)
    for new, old in zip(results[True][1], results[False][1], strict=True):
        torch.testing.assert_close(new, old, atol=1e-5, rtol=1e-5)


def test_simple_rnn_pass_dispatch(monkeypatch):
    monkeypatch.setattr(recurrent_cells.RecurrentModule, "simple_rnn_pass", True)
    calls = _count_calls(monkeypatch, "simple_rnn")
    module = SimpleRNN(4).build((5, 3))
    x = torch.randn(2, 5, 3)
    module.train()(x)
    assert calls == [1]                        # training on CPU: the pass
    with torch.no_grad():
        inference = module.eval()(x)           # inference on CPU: the pass too
    assert calls == [1, 1]
    monkeypatch.setattr(recurrent_cells.RecurrentModule, "simple_rnn_pass", False)
    with torch.no_grad():
        torch.testing.assert_close(module(x), inference)  # torch's fused kernel
    assert calls == [1, 1]
    monkeypatch.setattr(recurrent_cells.RecurrentModule, "simple_rnn_pass", True)
    SimpleRNN(4, activation="linear").build((5, 3))(x)  # other activations: the step loop
    assert calls == [1, 1]


# ------------------------------------------------------------------------------- GRU pass


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_pass_gradcheck(return_sequences, bias):
    from statdl.layers._gru_pass import gru

    g = torch.Generator().manual_seed(3)
    kw = {"dtype": torch.float64, "generator": g}
    x = torch.randn(3, 5, 2, **kw).requires_grad_()
    w = (0.6 * torch.randn(2, 12, **kw)).requires_grad_()
    u = (0.6 * torch.randn(4, 12, **kw)).requires_grad_()
    b = (0.3 * torch.randn(2, 12, **kw)).requires_grad_()

    def f(x, w, u, *b):
        return gru(x, w, u, b[0] if b else None, return_sequences=return_sequences)

    assert torch.autograd.gradcheck(f, (x, w, u, b) if bias else (x, w, u))


def test_gru_pass_input_dropout_matches_fused(monkeypatch):
    torch.manual_seed(5)
    layer = GRU(6, dropout=0.3, return_sequences=True)
    layer.build((7, 3))
    x = torch.randn(5, 7, 3)
    # same seed -> the same (B, 1, in) input mask on both paths
    _assert_pass_matches_old_path(monkeypatch, "gru_pass", layer, x, seed=11)


def test_gru_pass_dispatch(monkeypatch):
    monkeypatch.setattr(recurrent_cells.RecurrentModule, "gru_pass", True)
    calls = _count_calls(monkeypatch, "gru")
    x = torch.randn(2, 5, 3)
    module = GRU(4).build((5, 3))
    module.train()(x)
    assert calls == [1]                                  # training on CPU: the pass
    with torch.no_grad():
        module.eval()(x)                                 # inference: torch's fused kernel
    GRU(4, recurrent_dropout=0.2).build((5, 3)).train()(x)
    GRU(4, reset_after=False).build((5, 3)).train()(x)
    GRU(4, activation="relu").build((5, 3)).train()(x)
    assert calls == [1]                                  # the step loop
    monkeypatch.setattr(recurrent_cells.RecurrentModule, "gru_pass", False)
    GRU(4).build((5, 3)).train()(x)                      # torch's fused kernel
    assert calls == [1]


# --------------------------------------------------- LSTM inference pass (predict, evaluate)
def _torch_lstm_loop(x, kernel, rec, bias, return_sequences):
    """Keras's LSTM cell as a plain torch loop (float64), written here independently."""
    u = rec.shape[0]
    h = x.new_zeros(x.shape[0], u)
    c = torch.zeros_like(h)
    outs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ rec + (0 if bias is None else bias)
        i, f, g, o = z.split(u, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    if return_sequences:
        return torch.stack(outs, 1) if outs else x.new_zeros(x.shape[0], 0, u)
    return h


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("batch,steps", [(1, 1), (3, 4), (5, 9), (2, 17)])
@pytest.mark.parametrize("kw", [{}, {"use_bias": False}, {"go_backwards": True}])
def test_lstm_inference_pass_matches_a_plain_loop(batch, steps, return_sequences, kw):
    torch.manual_seed(batch * 100 + steps)
    module = LSTM(6, return_sequences=return_sequences, **kw).build((steps, 3)).double().eval()
    with torch.no_grad():  # weights of every scale, not just the initialiser's
        for p in module.parameters():
            p.normal_(0.0, 0.7)
        x = torch.randn(batch, steps, 3, dtype=torch.float64) * 2.0
        out = module(x)
        xr = x.flip(1) if kw.get("go_backwards") else x
        expected = _torch_lstm_loop(xr, module.kernel, module.recurrent_kernel, module.bias,
                                    return_sequences)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


def test_lstm_inference_pass_runs_only_without_autograd_on_cpu(monkeypatch):
    monkeypatch.setattr(recurrent_cells.RecurrentModule, "lstm_pass", True)
    calls = _count_calls(monkeypatch, "lstm_inference")
    x = torch.randn(2, 5, 3)
    module = LSTM(4).build((5, 3))
    out_train = module.eval()(x)                         # gradients recorded: torch.lstm
    assert calls == [] and out_train.requires_grad
    with torch.inference_mode():
        out = module(x)
    assert calls == [1]
    torch.testing.assert_close(out, out_train.detach(), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        LSTM(4, activation="relu").build((5, 3)).eval()(x)   # the step loop
        monkeypatch.setattr(recurrent_cells.RecurrentModule, "lstm_pass", False)
        module(x)                                              # torch.lstm
    assert calls == [1]


def test_lstm_inference_pass_in_bidirectional_and_predict():
    from statdl import Sequential
    from statdl.layers import Dense, Embedding

    torch.manual_seed(0)
    layer = Bidirectional(LSTM(5, return_sequences=True))
    module = layer.build((11, 4)).double().eval()
    x = torch.randn(3, 11, 4, dtype=torch.float64)
    with torch.no_grad():
        out = module(x)
        fwd, bwd = module.forward_layer, module.backward_layer
        expected = torch.cat([
            _torch_lstm_loop(x, fwd.kernel, fwd.recurrent_kernel, fwd.bias, True),
            _torch_lstm_loop(x.flip(1), bwd.kernel, bwd.recurrent_kernel, bwd.bias,
                             True).flip(1)], -1)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)

    # predict (inference mode, float32) against the same model's forward pass with autograd,
    # over more steps than one projection block and rows that do not fill the last batch
    model = Sequential([Embedding(40, 4), LSTM(7), Dense(1, activation="sigmoid")],
                       input_shape=(23,))
    ids = np.random.default_rng(0).integers(0, 40, size=(37, 23))
    with torch.enable_grad():
        expected = model.module(torch.from_numpy(ids)).detach().numpy()
    np.testing.assert_allclose(model.predict(ids, batch_size=8), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls,kw", [(SimpleRNN, {}), (SimpleRNN, {"activation": "relu"}),
                                    (LSTM, {}), (GRU, {})])
def test_torch_rnn_ops_off_runs_the_step_loop(monkeypatch, cls, kw):
    """``torch_rnn_ops = False``: the step loop instead of torch's fused op, same numbers
    (input dropout's mask, drawn before the branch, included)."""
    for switch in ("simple_rnn_pass", "gru_pass", "lstm_pass"):
        monkeypatch.setattr(recurrent_cells.RecurrentModule, switch, False)
    torch.manual_seed(3)
    layer = cls(5, dropout=0.25, return_sequences=True, **kw)
    layer.build((6, 3))
    x = torch.randn(4, 6, 3)
    fused_calls = _count_calls_method(monkeypatch, "_fused")
    new_out, new_grads = _run_with_pass(monkeypatch, "torch_rnn_ops", False, layer, x, seed=2)
    assert fused_calls == []
    old_out, old_grads = _run_with_pass(monkeypatch, "torch_rnn_ops", True, layer, x, seed=2)
    assert fused_calls == [1]
    torch.testing.assert_close(new_out, old_out, atol=1e-6, rtol=1e-5)
    for new, old in zip(new_grads, old_grads):
        torch.testing.assert_close(new, old, atol=1e-5, rtol=1e-5)


def _count_calls_method(monkeypatch, name: str) -> list:
    """A list that grows by one each time ``RecurrentModule.<name>`` runs."""
    calls = []
    original = getattr(recurrent_cells.RecurrentModule, name)

    def spy(self, *a, **k):
        calls.append(1)
        return original(self, *a, **k)

    monkeypatch.setattr(recurrent_cells.RecurrentModule, name, spy)
    return calls
