"""The ``onednn_dense`` path (``statdl.layers.core.uses_onednn``): Dense layers multiplied
through oneDNN's matrix product when nothing is recorded for autograd (predict and evaluate of
every model form), checked against the float64 definition ``x @ kernel + bias`` at the
course's shapes, and where it must not be taken."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import _torch_private
from statdl import layers as L
from statdl.layers import core

CPU = torch.device("cpu")
pytestmark = pytest.mark.skipif(not _torch_private.onednn_linear_ok(CPU, torch.float32),
                                reason="this torch has no usable oneDNN linear")


@pytest.mark.parametrize("rows,n_in,units,bias", [
    (2048, 784, 10, True),    # the softmax regression
    (2048, 784, 512, True),   # the MLP's first layer
    (775, 576, 512, True),    # the CNN's first Dense layer
    (1000, 160, 1, True),     # the embedding model's output
    (300, 50, 7, False),      # no bias
])
def test_onednn_linear_is_the_matrix_product(rows, n_in, units, bias):
    g = torch.Generator().manual_seed(rows + units)
    x = torch.randn(rows, n_in, generator=g)
    kernel = torch.randn(n_in, units, generator=g) / n_in**0.5
    b = torch.randn(units, generator=g) if bias else None
    got = _torch_private.onednn_linear(x, kernel, b)
    expected = x.double() @ kernel.double() + (0 if b is None else b.double())
    assert got.dtype == torch.float32 and got.shape == (rows, units)
    # float32 products over n_in terms of size ~1: a few float32 roundings per term at most
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=2e-5)
    strided = _torch_private.onednn_linear(x[::3], kernel, b)  # rows not adjacent in memory
    np.testing.assert_allclose(strided.numpy(), expected[::3].numpy(), rtol=1e-5, atol=2e-5)


def test_onednn_linear_passes_nan_and_infinity_on():
    x = torch.ones(600, 500)
    x[3, 7], x[10, 0] = float("nan"), float("inf")
    kernel = torch.full((500, 4), 0.01)
    z = _torch_private.onednn_linear(x, kernel, torch.zeros(4))
    assert z[3].isnan().all() and z[10].isinf().all()
    finite = torch.ones(600, dtype=torch.bool)
    finite[[3, 10]] = False
    assert torch.isfinite(z[finite]).all()


def _dense(units: int, n_in: int, dtype=torch.float32):
    sd.set_seed(2)
    return L.Dense(units).make_module((n_in,)).to(dtype)


def test_where_onednn_dense_applies():
    k = _dense(512, 784).kernel
    big = torch.ones(2048, 784)
    with torch.inference_mode():
        assert core.uses_onednn(k, big) == core.ONEDNN_DENSE
        small = _dense(4, 784).kernel  # 50 x 784 x 4 = 156,800 multiply-adds: below
        assert not core.uses_onednn(small, big[:50])
        assert core.uses_onednn(small, big[:100]) == core.ONEDNN_DENSE  # 313,600
        assert not core.uses_onednn(_dense(512, 784, torch.float64).kernel, big.double())
        with sd.fast_paths.off("onednn_dense"):
            assert not core.uses_onednn(k, big)
    with torch.enable_grad():  # a product autograd must record stays torch's
        assert not core.uses_onednn(k, big)
        assert core.uses_onednn(k.detach(), big) == core.ONEDNN_DENSE  # nothing to record
        assert not core.uses_onednn(k.detach(), big.requires_grad_())
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert not core.uses_onednn(k, torch.ones(2048, 784))


def test_a_branching_graph_predicts_through_onednn():
    """Not a chain, so not inference.forward's Sequential shortcuts: the Dense modules' own
    forward takes oneDNN's product, and the outputs are the float64 network's."""
    sd.set_seed(4)
    inp = sd.Input((300,))
    left = L.Dense(64, activation="relu")(inp)
    right = L.Dense(32, activation="tanh")(inp)
    out = L.Dense(1)(L.Concatenate()([left, right]))
    net = sd.Model(inp, out)
    net.compile("rmsprop", "mse")
    x = np.random.default_rng(4).random((2500, 300), dtype=np.float32)
    kl, bl, kr, br, ko, bo = (torch.from_numpy(w).double() for w in net.get_weights())
    t = torch.from_numpy(x).double()
    h = torch.cat([torch.relu(t @ kl + bl), torch.tanh(t @ kr + br)], 1)
    expected = (h @ ko + bo).numpy()
    with torch.profiler.profile() as prof, sd.fast_paths.on("onednn_dense"):
        got = net.predict(x)
    assert "mkldnn::_linear_pointwise" in {e.name for e in prof.events()}
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    with sd.fast_paths.off("onednn_dense"):
        np.testing.assert_allclose(net.predict(x), got, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("units", [10, 300])
def test_predict_and_evaluate_match_the_float64_network(units):
    sd.set_seed(3)
    net = sd.Sequential([L.Dense(units, activation="relu"), L.Dense(10, activation="softmax")],
                        input_shape=(784,))
    net.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
    rng = np.random.default_rng(3)
    x = rng.random((3000, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 3000)]
    k1, b1, k2, b2 = (torch.from_numpy(w).double() for w in net.get_weights())
    h = torch.relu(torch.from_numpy(x).double() @ k1 + b1)
    expected = torch.softmax(h @ k2 + b2, 1).numpy()
    with sd.fast_paths.on("onednn_dense"):
        got = net.predict(x)
        loss, accuracy = net.evaluate(x, y)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert loss == pytest.approx(-np.mean(np.log(np.sum(expected * y, 1))), rel=1e-5)
    assert accuracy == pytest.approx(np.mean(expected.argmax(1) == y.argmax(1)))
