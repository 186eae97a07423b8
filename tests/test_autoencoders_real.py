"""Autoencoder anomaly detection on real data: Fashion-MNIST items and noise among digits.

Slow tier (``pytest -m slow``): trains on 20,000 real MNIST digits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import statdl as sd
from statdl.autoencoders import AnomalyDetector, Autoencoder

pytestmark = pytest.mark.slow

FASHION = Path("/usr/share/datasets/fashion-mnist")


def _flat(images: np.ndarray) -> np.ndarray:
    return (images.reshape(len(images), -1) / 255.0).astype("float32")


_CACHE: dict = {}


@pytest.fixture
def detector_and_test(shared_data):
    """Trained once per session (cached), from the ``shared_data`` folder."""
    if "det" not in _CACHE:
        _CACHE["det"] = _train(shared_data)
    return _CACHE["det"]


def _train(shared: Path):
    (x, _), (xt, _) = sd.datasets.mnist(path=shared / "mnist")
    sd.set_seed(0)
    ae = Autoencoder(784, 100)                      # the course's 784-100-784 tanh model
    ae.compile(optimizer="adam", loss="mse")
    det = AnomalyDetector(ae, quantile=0.95, refit_on_clean=0.75)
    det.fit(_flat(x[:20000]), epochs=5, batch_size=256, verbose=0)
    return det, _flat(xt[:2000])


def test_fashion_items_among_digits_rank_high(detector_and_test):
    if not FASHION.is_dir():
        pytest.skip("Fashion-MNIST is absent: apt-get install -y dataset-fashion-mnist")
    det, digits = detector_and_test
    _, (fx, _) = sd.datasets.fashion_mnist(path=FASHION)
    items = _flat(fx[:100])
    mixed = np.concatenate([digits, items])
    label = np.r_[np.zeros(len(digits)), np.ones(len(items))]
    scores = det.score(mixed)
    auc = sd.roc_auc(label, scores / scores.max())
    print(f"\nFashion-MNIST among MNIST digits: {auc}")
    assert auc.auc > 0.9
    top = det.worst(mixed, 100)[0]
    assert np.mean(top >= len(digits)) > 0.5         # chance: 100 / 2100 = 0.048
    flagged = det.predict(mixed)
    assert flagged[len(digits):].mean() > 3 * flagged[:len(digits)].mean()


def test_noise_images_among_digits_rank_on_top(detector_and_test):
    det, digits = detector_and_test
    noise = np.random.default_rng(1).random((50, 784)).astype("float32")
    mixed = np.concatenate([digits, noise])
    label = np.r_[np.zeros(len(digits)), np.ones(len(noise))]
    scores = det.score(mixed)
    auc = sd.roc_auc(label, scores / scores.max())
    print(f"\nuniform noise among MNIST digits: {auc}")
    assert auc.auc > 0.99
