"""Embedding: shapes, parameter count, Keras initialisation, pretrained and frozen vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from statdl.errors import ConfigError, ShapeError
from statdl.layers.embedding import Embedding
from statdl.regularizers import L2


def test_shapes_and_params():
    layer = Embedding(10000, 8)
    assert layer.output_shape((500,)) == (500, 8)
    assert layer.output_shape((None,)) == (None, 8)
    assert layer.output_shape((4, 5)) == (4, 5, 8)
    assert layer.param_count((500,)) == 80000
    assert Embedding(10000, 32).param_count((None,)) == 320000


@pytest.mark.parametrize("shape,batch", [((12,), (3, 12)), ((None,), (2, 7)), ((2, 3), (4, 2, 3))])
def test_real_shape_matches_inferred(shape, batch):
    layer = Embedding(50, 6)
    m = layer.build(shape)
    out = m(torch.randint(0, 50, batch))
    inferred = layer.output_shape(shape)
    assert out.shape[1:] == tuple(batch[1:]) + (6,)
    assert all(d is None or d == r for d, r in zip(inferred, out.shape[1:]))


def test_uniform_init_and_lookup():
    torch.manual_seed(0)
    layer = Embedding(1000, 16)
    m = layer.build((5,))
    w = m.embeddings.detach()
    assert w.shape == (1000, 16)
    assert w.abs().max() <= 0.05 and w.abs().max() > 0.04
    assert abs(float(w.mean())) < 0.003
    ids = torch.tensor([[0, 3, 999, 3, 1]])
    out = m(ids)
    assert torch.equal(out[0, 1], w[3]) and torch.equal(out[0, 2], w[999])
    # a float tensor of ids (as a model may feed it) gives the same result
    assert torch.equal(m(ids.float()), out)


def test_pretrained_weights_and_frozen():
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(20, 4)).astype(np.float32)
    layer = Embedding(20, 4, weights=[matrix], trainable=False)
    m = layer.build((3,))
    np.testing.assert_array_equal(layer.get_weights()[0], matrix)
    assert not m.embeddings.requires_grad
    out = m(torch.tensor([[1, 2, 19]]))
    np.testing.assert_allclose(out[0].numpy(), matrix[[1, 2, 19]])
    assert not out.requires_grad

    trainable = Embedding(20, 4, weights=[matrix])
    mt = trainable.build((3,))
    mt(torch.tensor([[1, 2, 2]])).sum().backward()
    grad = mt.embeddings.grad
    assert grad is not None
    np.testing.assert_allclose(grad[2].numpy(), 2.0)  # id 2 used twice
    np.testing.assert_allclose(grad[0].numpy(), 0.0)


def test_unfreeze_after_build():
    layer = Embedding(10, 3, trainable=False)
    m = layer.build((2,))
    layer.trainable = True
    m(torch.tensor([[1, 2]])).sum().backward()
    assert m.embeddings.grad is not None


@pytest.mark.parametrize("weights", [[np.zeros((20, 5))], [np.zeros((20, 4)), np.zeros(3)], 3])
def test_bad_pretrained_weights(weights):
    with pytest.raises(ConfigError, match="weights"):
        Embedding(20, 4, weights=weights)


def test_out_of_range_ids_error():
    m = Embedding(100, 4).build((3,))
    with pytest.raises(ShapeError, match=r"must hold word ids in \[0, 99\] \(`input_dim` is "
                                         r"100\); got word id 100 "):
        m(torch.tensor([[1, 100, 5]]))
    with pytest.raises(ShapeError, match=r"id -1"):
        m(torch.tensor([[1, -1, 5]]))


@pytest.mark.parametrize("kwargs,arg", [
    ({"input_dim": 0, "output_dim": 3}, "input_dim"),
    ({"input_dim": 10, "output_dim": 2.5}, "output_dim"),
    ({"input_dim": 10, "output_dim": 3, "embeddings_initializer": "nope"},
     "embeddings_initializer"),
    ({"input_dim": 10, "output_dim": 3, "input_length": 0}, "input_length"),
])
def test_config_errors(kwargs, arg):
    with pytest.raises(ConfigError, match=arg):
        Embedding(**kwargs)


def test_input_length_sets_input_shape():
    assert Embedding(10, 3, input_length=20).input_shape == (20,)
    with pytest.raises(ConfigError, match="input_length"):
        Embedding(10, 3, input_length=20, input_shape=(30,))
    with pytest.raises(ShapeError, match=r"\(timesteps,\)"):
        Embedding(10, 3).output_shape(())


def test_config_roundtrip_json():
    layer = Embedding(300, 7, mask_zero=True, embeddings_regularizer=L2(0.1), input_length=9)
    cfg = json.loads(json.dumps(layer.full_config()))
    clone = Embedding(**cfg)
    assert clone.get_config() == layer.get_config()
    assert clone.name == layer.name and clone.input_shape == (9,)


def test_regularizer_and_mask():
    layer = Embedding(10, 2, embeddings_regularizer=L2(0.5), mask_zero=True)
    m = layer.build((3,))
    ((reg, w),) = layer.regularized_weights()
    assert w is m.embeddings
    with torch.no_grad():
        assert float(reg(w)) == pytest.approx(0.5 * float((w ** 2).sum()))
    assert m.compute_mask(torch.tensor([[0, 2, 0]])).tolist() == [[False, True, False]]


@pytest.mark.parametrize("batch", [(6, 9), (1, 5), (2, 3, 4)])
def test_gradient_is_one_hot_product(batch):
    """The lookup's gradient (one ``index_add_`` on CPU) against its definition: the lookup is
    ``onehot(ids) @ W``, so dL/dW = onehot(ids)^T dL/dout, computed in float64 with repeated
    ids, by float64 gradcheck, and against torch's own ``F.embedding`` backward."""
    torch.manual_seed(3)
    m = Embedding(11, 4).build(batch[1:])
    ids = torch.randint(0, 11, batch)
    ids.view(-1)[:3] = 7  # the same id several times: its gradients add up
    upstream = torch.randn(*batch, 4, dtype=torch.float64)
    out = m(ids)
    (out.double() * upstream).sum().backward()
    onehot = torch.nn.functional.one_hot(ids.reshape(-1), 11).double()
    expected = onehot.t() @ upstream.reshape(-1, 4)
    torch.testing.assert_close(m.embeddings.grad.double(), expected, rtol=1e-6, atol=1e-6)

    w = m.embeddings.detach().double().requires_grad_(True)
    m.embeddings = torch.nn.Parameter(w)
    assert torch.autograd.gradcheck(lambda e: m(ids), (m.embeddings,))
    (dw,) = torch.autograd.grad((m(ids) * upstream).sum(), m.embeddings)
    (ref,) = torch.autograd.grad(
        (torch.nn.functional.embedding(ids, m.embeddings) * upstream).sum(), m.embeddings)
    torch.testing.assert_close(dw, ref, rtol=1e-12, atol=1e-12)


def test_no_grad_and_frozen_lookup_build_no_graph():
    m = Embedding(10, 3).build((4,))
    ids = torch.tensor([[1, 2, 3, 1]])
    with torch.no_grad():
        assert not m(ids).requires_grad
    m.embeddings.requires_grad_(False)
    assert not m(ids).requires_grad
    torch.testing.assert_close(m(ids)[0], m.embeddings[[1, 2, 3, 1]])


def test_gradient_arriving_time_major():
    """SimpleRNN's kernel hands back dX as a (batch, time, d) view of a (d, time, batch)
    product; the lookup reads it in that order, which must give the one-hot product too."""
    torch.manual_seed(4)
    m = Embedding(9, 3).build((5,))
    ids = torch.randint(0, 9, (4, 5))
    ids[:, 0] = 2
    upstream = torch.randn(3, 5, 4).permute(2, 1, 0)  # strides of the kernel's dX
    assert not upstream.is_contiguous()
    m(ids).backward(upstream)
    onehot = torch.nn.functional.one_hot(ids.reshape(-1), 9).double()
    expected = onehot.t() @ upstream.reshape(-1, 3).double()
    torch.testing.assert_close(m.embeddings.grad.double(), expected, rtol=1e-6, atol=1e-6)
