"""The CNN inference paths of statdl.layers.conv against plain torch in NCHW.

``max_pool_views`` (``PoolModule.strided_max``: max pooling as the maximum of strided views)
and ``conv_pool`` (``conv.CONV_POOL``: a convolution run on slices of the batch, each pooled
at once) are checked against ``F.conv2d`` / ``F.max_pool2d`` on NCHW tensors with the same
weights, in float64 and float32, with each switch off, and where they do not apply (autograd
recording, 'same' pooling, a 1 x 1 window).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import statdl as sd
from statdl import layers as L
from statdl.layers import conv as C

# pool size, strides, padding of the pooling; input height, width
POOLS = [((2, 2), (2, 2), "valid", 26, 26), ((2, 2), (2, 2), "valid", 11, 11),
         ((3, 2), (2, 1), "valid", 9, 7), ((3, 3), (1, 1), "valid", 8, 8),
         ((1, 3), (1, 2), "valid", 5, 7), ((2, 2), (2, 2), "same", 7, 5)]


def _nchw_pool(x: torch.Tensor, pool, strides, padding: str) -> torch.Tensor:
    """Keras's max pooling of NHWC ``x`` through F.max_pool2d on an NCHW copy."""
    t = x.permute(0, 3, 1, 2).contiguous()
    if padding == "same":
        top, bottom = C._same_pads(t.shape[2], pool[0], strides[0])
        left, right = C._same_pads(t.shape[3], pool[1], strides[1])
        t = F.pad(t, (left, right, top, bottom), value=float("-inf"))
    return F.max_pool2d(t, pool, strides).permute(0, 2, 3, 1)


def _nchw_conv(module: C.Conv2DModule, x: torch.Tensor) -> torch.Tensor:
    """The module's valid convolution through F.conv2d on contiguous NCHW float64 tensors."""
    w = module.weight.detach().double().contiguous()
    b = None if module.bias is None else module.bias.detach().double()
    return F.conv2d(x.double().permute(0, 3, 1, 2).contiguous(), w, b,
                    module.stride).permute(0, 2, 3, 1)


@pytest.mark.parametrize("pool,strides,padding,h,w", POOLS)
def test_strided_max_pooling_equals_f_max_pool2d(pool, strides, padding, h, w):
    x = torch.randn(3, h, w, 4, dtype=torch.float64)
    x[0, 0, 0, 0] = float("nan")  # a NaN wins its windows in both
    module = L.MaxPooling2D(pool, strides, padding).make_module((h, w, 4))
    with torch.no_grad():
        got = module(x)
    expected = _nchw_pool(x, pool, strides, padding)
    assert got.shape == expected.shape
    assert torch.equal(got.isnan(), expected.isnan())
    assert torch.equal(got.nan_to_num(), expected.nan_to_num())
    assert module.views_apply(x) == (pool != (1, 1) and C.PoolModule.strided_max)


def test_strided_max_pooling_switched_off_and_under_autograd_takes_f_max_pool2d():
    module = L.MaxPooling2D(2).make_module((6, 6, 3))
    x = torch.randn(2, 6, 6, 3)
    with torch.no_grad():
        on = module(x)
        with sd.fast_paths.off("max_pool_views"):
            assert not module.views_apply(x)
            off = module(x)
    assert torch.equal(on, off)
    # with gradients recorded the plain pooling runs: its gradient goes to one input per window
    # even where the window's values tie (the maximum's would be split between them)
    x = torch.zeros(1, 2, 2, 1, requires_grad=True)
    assert not module.views_apply(x)
    module(x).sum().backward()
    assert x.grad.sum().item() == 1.0


def _conv_pool(filters, kernel, strides, pool, pool_strides, cin, h, w, dtype):
    sd.set_seed(4)
    conv = L.Conv2D(filters, kernel, strides=strides).make_module((h, w, cin)).to(dtype)
    with torch.no_grad():
        conv.bias.normal_()  # a bias that matters
    oh, ow = (h - conv.k[0]) // strides + 1, (w - conv.k[1]) // strides + 1
    pool_module = L.MaxPooling2D(pool, pool_strides).make_module((oh, ow, filters))
    return conv, pool_module


CASES = {  # filters, kernel, conv stride, pool, pool stride, channels in, height, width
    "course-first": (32, 3, 1, 2, 2, 1, 28, 28),
    "course-second": (64, 3, 1, 2, 2, 32, 13, 13),  # 11 x 11 -> 5 x 5: the last row unread
    "strided-overlapping": (6, (3, 2), 2, 3, 2, 3, 17, 15),
}


@pytest.mark.parametrize("dtype,rtol,atol", [(torch.float64, 1e-10, 1e-12),
                                             (torch.float32, 1e-5, 1e-6)])
@pytest.mark.parametrize("slice_bytes", [2**40, 3000])  # whole batch; slices of a few rows
@pytest.mark.parametrize("case", sorted(CASES))
def test_conv_max_pool_equals_nchw_torch(case, slice_bytes, dtype, rtol, atol, monkeypatch):
    filters, kernel, strides, pool, pool_strides, cin, h, w = CASES[case]
    conv, pool_module = _conv_pool(filters, kernel, strides, pool, pool_strides, cin, h, w,
                                   dtype)
    monkeypatch.setattr(C, "CONV_POOL_BYTES", slice_bytes)
    x = torch.randn(11, h, w, cin, dtype=dtype)
    with torch.inference_mode():
        got = C.conv_max_pool(conv, pool_module, x)
    expected = _nchw_pool(_nchw_conv(conv, x), pool_module.pool, pool_module.strides, "valid")
    assert got.dtype == dtype and got.shape == expected.shape and got.is_contiguous()
    np.testing.assert_allclose(got.double().numpy(), expected.numpy(), rtol=rtol, atol=atol)
    if slice_bytes < 2**40:  # the slices really are smaller than the batch
        per_row = conv.weight.shape[0] * x.element_size() * np.prod(
            [(n - k) // strides + 1 for n, k in zip((h, w), conv.k)])
        assert slice_bytes // per_row < len(x)


def _input_rows_read(n: int, k: int, stride: int, pool: int, pool_stride: int) -> int:
    """How many leading input rows some pooled output depends on, counted window by window
    from the definitions (a valid convolution's output r reads rows r*stride .. r*stride+k-1)."""
    made = (n - k) // stride + 1
    read = set()
    for start in range(0, made - pool + 1, pool_stride):
        for r in range(start, start + pool):
            read.update(range(r * stride, r * stride + k))
    assert read == set(range(max(read) + 1))  # a prefix: nothing after it is needed
    return max(read) + 1


@pytest.mark.parametrize("case", sorted(CASES))
def test_conv_max_pool_reads_only_the_input_its_pooled_outputs_need(case, monkeypatch):
    filters, kernel, strides, pool, pool_strides, cin, h, w = CASES[case]
    conv, pool_module = _conv_pool(filters, kernel, strides, pool, pool_strides, cin, h, w,
                                   torch.float64)
    seen, real = [], C.Conv2DModule.forward_logits

    def spy(self, x):  # the real convolution, with the input shape it was given noted
        seen.append(tuple(x.shape[1:3]))
        return real(self, x)

    monkeypatch.setattr(C.Conv2DModule, "forward_logits", spy)
    x = torch.randn(5, h, w, cin, dtype=torch.float64)
    with torch.inference_mode():
        got = C.conv_max_pool(conv, pool_module, x)
    expected = _nchw_pool(_nchw_conv(conv, x), pool_module.pool, pool_module.strides, "valid")
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)
    if C.CONV_POOL and C.PoolModule.strided_max:
        rows = _input_rows_read(h, conv.k[0], conv.stride[0], pool_module.pool[0],
                                pool_module.strides[0])
        cols = _input_rows_read(w, conv.k[1], conv.stride[1], pool_module.pool[1],
                                pool_module.strides[1])
        assert set(seen) == {(rows, cols)}
    else:
        assert set(seen) == {(h, w)}
    if case == "course-second":  # 11 x 11 outputs, 10 x 10 of them pooled
        assert set(seen) == ({(12, 12)} if C.CONV_POOL and C.PoolModule.strided_max
                             else {(13, 13)})


def test_conv_max_pool_keeps_a_same_convolution_whole(monkeypatch):
    sd.set_seed(6)
    conv = L.Conv2D(4, 3, padding="same").make_module((9, 9, 2)).double()
    pool_module = L.MaxPooling2D(2).make_module((9, 9, 4))  # 9 x 9 -> 4 x 4: last row unread
    x = torch.randn(3, 9, 9, 2, dtype=torch.float64)
    with torch.inference_mode():
        got = C.conv_max_pool(conv, pool_module, x)
        expected = pool_module(conv.forward_logits(x))
    assert torch.equal(got, expected)


def test_conv_max_pool_switched_off_and_where_it_does_not_apply(monkeypatch):
    conv, pool_module = _conv_pool(5, 3, 1, 2, 2, 2, 10, 9, torch.float64)
    x = torch.randn(7, 10, 9, 2, dtype=torch.float64)
    expected = _nchw_pool(_nchw_conv(conv, x), (2, 2), (2, 2), "valid")
    monkeypatch.setattr(C, "CONV_POOL_BYTES", 1000)
    with torch.no_grad():
        for name in ("conv_pool", "max_pool_views"):
            with sd.fast_paths.off(name):
                got = C.conv_max_pool(conv, pool_module, x)
            np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)
        same = L.MaxPooling2D(2, padding="same").make_module((8, 7, 5))
        np.testing.assert_allclose(C.conv_max_pool(conv, same, x).numpy(),
                                   _nchw_pool(_nchw_conv(conv, x), (2, 2), (2, 2),
                                              "same").numpy(), rtol=1e-10, atol=1e-12)
    # autograd recording: the plain modules run and the gradient reaches the weights
    out = C.conv_max_pool(conv, pool_module, x)
    np.testing.assert_allclose(out.detach().numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_pooled_in_slices_names_the_chains_inference_pools_in_slices():
    relu, pool = L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(2)
    on = C.CONV_POOL and C.PoolModule.strided_max  # both off under STATDL_FAST_PATHS=0
    assert C.pooled_in_slices(relu, pool) == on
    assert C.pooled_in_slices(L.Conv2D(8, 3), pool) == on  # linear
    assert not C.pooled_in_slices(L.Conv2D(8, 3, activation="elu"), pool)  # not monotone-safe
    assert not C.pooled_in_slices(relu, L.MaxPooling2D(2, padding="same"))
    assert not C.pooled_in_slices(relu, L.AveragePooling2D(2))
    assert not C.pooled_in_slices(relu, L.MaxPooling2D(1))
    assert not C.pooled_in_slices(relu, None)
    with sd.fast_paths.on("conv_pool", "max_pool_views"):
        assert C.pooled_in_slices(relu, pool)
    with sd.fast_paths.off("conv_pool"):
        assert not C.pooled_in_slices(relu, pool)


def _course_cnn():
    sd.set_seed(5)
    model = sd.Sequential([L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(2),
                           L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(2),
                           L.Conv2D(16, 3, activation="relu"), L.Flatten(),
                           L.Dense(12, activation="relu"), L.Dropout(0.4),
                           L.Dense(10, activation="softmax")], input_shape=(28, 28, 1))
    model.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
    return model


def _torch_reference(model, x: np.ndarray) -> np.ndarray:
    """The course CNN's softmax outputs by plain float64 torch ops in NCHW."""
    kc1, bc1, kc2, bc2, kc3, bc3, kd1, bd1, kd2, bd2 = [
        torch.from_numpy(w.astype(np.float64)) for w in model.get_weights()]

    def conv(t, k, b):  # Keras kernels (kh, kw, in, out) -> torch (out, in, kh, kw)
        return torch.relu(F.conv2d(t, k.permute(3, 2, 0, 1), b))

    t = torch.from_numpy(x).double().permute(0, 3, 1, 2)
    t = F.max_pool2d(conv(t, kc1, bc1), 2)
    t = F.max_pool2d(conv(t, kc2, bc2), 2)
    t = conv(t, kc3, bc3).permute(0, 2, 3, 1).flatten(1)  # Keras flattens (h, w, c)
    t = torch.relu(t @ kd1 + bd1)
    return torch.softmax(t @ kd2 + bd2, 1).numpy()


@pytest.mark.parametrize("batch_size", [None, 7])
def test_course_cnn_predict_and_evaluate_equal_plain_torch(batch_size, monkeypatch):
    model = _course_cnn()
    rng = np.random.default_rng(5)
    x = rng.random((300, 28, 28, 1))
    y = np.eye(10)[rng.integers(0, 10, 300)]
    expected = _torch_reference(model, x)
    monkeypatch.setattr(C, "CONV_POOL_BYTES", 20_000)  # slices of 2 or 3 images
    got = model.predict(x, batch_size=batch_size)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    loss = -np.mean(np.log(np.sum(expected * y, axis=1)))
    logs = model.evaluate(x, y, batch_size=batch_size, return_dict=True)
    assert logs["loss"] == pytest.approx(loss, rel=1e-5)
    assert logs["accuracy"] == pytest.approx(np.mean(expected.argmax(1) == y.argmax(1)))
    with sd.fast_paths.off("conv_pool", "max_pool_views"):
        plain = model.predict(x, batch_size=batch_size)
    np.testing.assert_allclose(plain, got, rtol=1e-5, atol=1e-7)
