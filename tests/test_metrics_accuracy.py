"""Accuracy metrics against numpy's ``argmax`` (the first largest value, a NaN counting as the
largest) on scores full of ties, NaN and infinities; and ``first_max_index``, which they use,
against ``torch.argmax``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from statdl.training.metrics import Metric, first_max_index


def _hostile_scores(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Small integers (many ties per row), with NaN, +inf and -inf sprinkled in."""
    z = rng.integers(-2, 3, (n, k)).astype(np.float64)
    u = rng.random((n, k))
    z[u < 0.05] = np.nan
    z[(u >= 0.05) & (u < 0.08)] = np.inf
    z[(u >= 0.08) & (u < 0.10)] = -np.inf
    return z


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
@pytest.mark.parametrize("k", [2, 3, 10, 17, 300])
def test_first_max_index_is_argmax_with_ties_nan_and_infinities(k, dtype):
    rng = np.random.default_rng(k)
    z = _hostile_scores(rng, 700, k)
    got = first_max_index(torch.from_numpy(z).to(dtype))
    assert got.dtype == torch.int64
    np.testing.assert_array_equal(got.numpy(), np.argmax(z, axis=1))  # numpy: NaN is largest
    np.testing.assert_array_equal(got.numpy(), torch.from_numpy(z).to(dtype).argmax(-1).numpy())


@pytest.mark.parametrize("k", [2, 10, 40])
def test_accuracy_metrics_count_like_numpy_argmax(k):
    rng = np.random.default_rng(100 + k)
    pred = _hostile_scores(rng, 1_000, k)
    labels = rng.integers(0, k, 1_000)
    one_hot = np.eye(k)[labels]
    expected = np.mean(np.argmax(pred, axis=1) == labels)
    categorical = Metric("accuracy", "categorical_accuracy")
    sparse = Metric("accuracy", "sparse_categorical_accuracy")
    for start in range(0, 1_000, 300):  # in batches, as evaluate feeds them
        rows = slice(start, start + 300)
        p = torch.from_numpy(pred[rows]).float()
        categorical.update(p, torch.from_numpy(one_hot[rows]).float(), logits=False)
        sparse.update(p, torch.from_numpy(labels[rows]), logits=False)
    assert categorical.result() == pytest.approx(expected, abs=1e-12)
    assert sparse.result() == pytest.approx(expected, abs=1e-12)
    assert 0.0 < expected < 1.0  # the data can tell a wrong tie rule from the right one
    last_tie = np.mean((k - 1 - np.argmax(pred[:, ::-1], axis=1)) == labels)
    assert last_tie != expected
