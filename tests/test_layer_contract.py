"""The contract every layer keeps: shapes inferred without weights equal the real ones, the
parameter count equals Keras's formula and the module's weights, gradients reach every
trainable weight, and a saved model round-trips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import autoencoders as AE
from statdl import layers as L


def _seq_input(n, t, vocab=None):
    if vocab:
        return torch.randint(0, vocab, (n, t))
    return torch.randn(n, t, 3)


# (factory, input_shape, keras formula for the parameter count)
CASES = {
    "Dense": (lambda: L.Dense(7, activation="relu"), (5,), 5 * 7 + 7),
    "Activation": (lambda: L.Activation("tanh"), (4,), 0),
    "Dropout": (lambda: L.Dropout(0.5), (6,), 0),
    "Flatten": (lambda: L.Flatten(), (3, 4, 2), 0),
    "Reshape": (lambda: L.Reshape((2, -1)), (12,), 0),
    "GaussianNoise": (lambda: L.GaussianNoise(0.1), (6,), 0),
    "Conv2D": (lambda: L.Conv2D(4, 3, strides=2, padding="same"), (9, 9, 2), 3 * 3 * 2 * 4 + 4),
    "Conv2DTranspose": (lambda: L.Conv2DTranspose(3, 3, strides=2, padding="same"), (4, 4, 2),
                        3 * 3 * 2 * 3 + 3),
    "MaxPooling2D": (lambda: L.MaxPooling2D(2, padding="same"), (5, 5, 3), 0),
    "AveragePooling2D": (lambda: L.AveragePooling2D((2, 2)), (6, 6, 3), 0),
    "GlobalAveragePooling2D": (lambda: L.GlobalAveragePooling2D(), (4, 4, 3), 0),
    "GlobalMaxPooling2D": (lambda: L.GlobalMaxPooling2D(), (4, 4, 3), 0),
    "UpSampling2D": (lambda: L.UpSampling2D(2), (3, 3, 2), 0),
    "BatchNormalization": (lambda: L.BatchNormalization(), (6,), 4 * 6),
    "Embedding": (lambda: L.Embedding(50, 4), (7,), 50 * 4),
    "SimpleRNN": (lambda: L.SimpleRNN(5), (7, 3), 5 * (3 + 5 + 1)),
    "LSTM": (lambda: L.LSTM(4, return_sequences=True), (7, 3), 4 * 4 * (3 + 4 + 1)),
    "GRU": (lambda: L.GRU(4), (7, 3), 3 * 4 * (3 + 4 + 2)),
    "Bidirectional": (lambda: L.Bidirectional(L.LSTM(4)), (7, 3), 2 * 4 * 4 * (3 + 4 + 1)),
    "RandomAugmentation": (lambda: L.RandomAugmentation(rotation=10, zoom=0.1), (8, 8, 1), 0),
    "MaskingNoise": (lambda: AE.MaskingNoise(0.3), (6,), 0),
    "KLSparsity": (lambda: AE.KLSparsity(0.1, beta=1.0), (6,), 0),
    "GaussianSampling": (lambda: AE.GaussianSampling(), (6,), 0),
    "ContractiveEncoder": (lambda: AE.ContractiveEncoder([L.Dense(4, activation="tanh")],
                                                         contractive=0.1), (5,), 5 * 4 + 4),
}


def _input_for(name, shape, n=3):
    if name == "Embedding":
        return torch.randint(0, 50, (n, *shape))
    return torch.randn(n, *shape)


def test_every_registered_layer_has_a_contract_case():
    missing = sorted(set(L.LAYER_CLASSES) - set(CASES))
    assert not missing, f"layers without a contract case: {missing}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_contract(name, tmp_path):
    if name not in L.LAYER_CLASSES:
        pytest.skip(f"{name} is not part of this build")
    factory, shape, keras_params = CASES[name]
    layer = factory()
    assert layer.param_count(shape) == keras_params
    module = layer.build(shape)
    n_weights = sum(p.numel() for p in module.parameters())
    n_buffers = sum(b.numel() for b in module.buffers() if b.dtype.is_floating_point)
    assert n_weights + n_buffers == keras_params
    assert layer.count_non_trainable_params(shape) == n_buffers

    x = _input_for(name, shape)
    module.train()
    out = module(x)
    assert tuple(out.shape[1:]) == layer.output_shape(shape)
    if n_weights:
        out.float().square().sum().backward()
        for pname, p in module.named_parameters():
            assert p.grad is not None and bool(p.grad.abs().sum() > 0), f"no gradient: {pname}"

    model = sd.Sequential([factory()], input_shape=shape)
    model.save(tmp_path / "m.statdl")
    loaded = sd.load_model(tmp_path / "m.statdl")
    xn = x.numpy()
    np.testing.assert_array_equal(model.predict(xn), loaded.predict(xn))
    assert loaded.count_params() == keras_params
