"""Autoencoders: builders, corruption, codings, anomaly scores and thresholds.

Examples
--------
>>> import numpy as np, statdl as sd
>>> sd.set_seed(0)
>>> ae = sd.autoencoders.Autoencoder(784, 100)      # 784-100-784, tanh
>>> ae.count_params()
157684
>>> x = np.random.default_rng(0).random((64, 784)).astype("float32")
>>> ae.compile(optimizer="adam", loss="mse")
>>> history = ae.fit(x, epochs=1, batch_size=32, verbose=0)
>>> ae.codings(x).shape
(64, 100)
"""

from __future__ import annotations

from .anomaly import AnomalyDetector, reconstruction_error
from .builders import Autoencoder, ConvAutoencoder
from .corruption import MaskingNoise, corrupt
from .penalties import ContractiveEncoder, KLSparsity, jacobian_penalty
from .variational import GaussianSampling, KLReporter

__all__ = [
    "AnomalyDetector", "Autoencoder", "ContractiveEncoder", "ConvAutoencoder",
    "GaussianSampling", "KLReporter", "KLSparsity", "MaskingNoise", "corrupt",
    "jacobian_penalty", "reconstruction_error",
]
