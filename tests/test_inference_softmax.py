"""predict's softmax and evaluate's cross-entropy over a few classes (inference._softmax_few_,
losses._cross_entropy_few: the few_class_softmax and few_class_cross_entropy fast paths)
against their definitions in float64 and torch's own kernels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import fast_paths
from statdl import layers as L
from statdl.training.inference import _softmax_few_
from statdl.training.losses import _cross_entropy_few, _few_classes_without_grad


@pytest.mark.parametrize("classes", [2, 3, 10, 15])
def test_matches_the_definition_in_float64_for_large_and_small_logits(classes):
    rng = np.random.default_rng(classes)
    z = rng.normal(scale=40.0, size=(300, classes))  # exp overflows without the max shift
    z[0] = 0.0
    z[1, 0] = 700.0
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    expected = shifted / shifted.sum(axis=1, keepdims=True)
    got = _softmax_few_(torch.tensor(z)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)


def test_nan_and_infinite_logits_give_what_torch_gives():
    z = torch.tensor([[float("nan"), 1.0], [float("inf"), 0.0], [float("-inf"), 0.0]])
    assert torch.equal(_softmax_few_(z.clone()).isnan(), torch.softmax(z, -1).isnan())
    assert _softmax_few_(z.clone())[2].tolist() == [0.0, 1.0]


def test_predict_and_evaluate_of_a_softmax_regression_match_torch_softmax():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 20)).astype(np.float32)
    y = rng.integers(0, 10, 5000)
    sd.set_seed(1)
    net = sd.Sequential([L.Dense(10, activation="softmax")], input_shape=(20,))
    net.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    kernel, bias = (torch.from_numpy(w) for w in net.get_weights())
    expected = torch.softmax(torch.from_numpy(x) @ kernel + bias, -1).numpy()
    with fast_paths.on("few_class_softmax", "few_class_cross_entropy"):
        got = net.predict(x)
        loss, accuracy = net.evaluate(x, y)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    picked = expected[np.arange(5000), y]
    assert loss == pytest.approx(float(-np.log(picked).mean()), rel=1e-5)
    assert accuracy == pytest.approx(float((expected.argmax(1) == y).mean()))


@pytest.mark.parametrize("classes", [2, 10, 15])
def test_cross_entropy_matches_the_definition_in_float64(classes):
    rng = np.random.default_rng(classes)
    z = rng.normal(scale=40.0, size=(300, classes))
    y = rng.integers(0, classes, 300)
    top = z.max(axis=1, keepdims=True)
    expected = (np.log(np.exp(z - top).sum(axis=1)) + top[:, 0]) - z[np.arange(300), y]
    got = _cross_entropy_few(torch.tensor(z), torch.tensor(y)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_training_keeps_torch_cross_entropy():
    """Only tensors without autograd take the elementwise form (its gradient is torch's)."""
    z = torch.zeros(4, 3, requires_grad=True)
    assert not _few_classes_without_grad(z)
    with fast_paths.on("few_class_cross_entropy"):
        assert _few_classes_without_grad(z.detach())
