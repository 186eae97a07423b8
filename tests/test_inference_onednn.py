"""The ``onednn_dense`` path (``statdl.training.inference._onednn_dense``): Dense layers of
predict and evaluate multiplied through oneDNN's matrix product, checked against the float64
definition ``x @ kernel + bias`` at the course's shapes, and where it must not be taken."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import _torch_private
from statdl import layers as L
from statdl.training import inference

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
    m = _dense(512, 784)
    big = torch.ones(2048, 784)
    with torch.inference_mode():
        assert inference._onednn_dense(m, big) == inference.ONEDNN_DENSE
        small = _dense(4, 784)  # 50 x 784 x 4 = 156,800 multiply-adds: below the threshold
        assert not inference._onednn_dense(small, big[:50])
        assert inference._onednn_dense(small, big[:100]) == inference.ONEDNN_DENSE  # 313,600
        assert not inference._onednn_dense(_dense(512, 784, torch.float64), big.double())
        with sd.fast_paths.off("onednn_dense"):
            assert not inference._onednn_dense(m, big)
    with torch.enable_grad():  # a product autograd must record stays torch's
        assert not inference._onednn_dense(m, big)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert not inference._onednn_dense(m, big)


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
