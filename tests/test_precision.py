"""Mixed precision (``fit(..., precision=...)``), device choice (``STATDL_DEVICE``) and the
host-memory batch path for data too large for a GPU, on the CPU.

The reference for ``precision="bf16"`` is a plain torch loop under ``torch.autocast`` with the
same initial weights, batches and plain SGD update; float32 statdl is the second yardstick.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import statdl as sd
from statdl import layers as L
from statdl.errors import ConfigError
from statdl.training import loop
from statdl.utils import resolve_device

LR, EPOCHS, BATCH = 0.05, 3, 32


def _data(n: int = 256):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 10)).astype(np.float32)
    y = (x[:, :3].sum(axis=1, keepdims=True) + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    return x, y


def _mlp_fit(x, y, precision, seed: int = 0):
    sd.set_seed(seed)
    model = sd.Sequential([L.Dense(32, activation="relu"), L.Dense(1)], input_shape=(10,))
    model.compile(sd.optimizers.SGD(learning_rate=LR), "mse", device="cpu")
    start = model.get_weights()
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, shuffle=False, verbose=0,
                        precision=precision)
    return model, start, history


def _torch_autocast_loop(start, x, y, dtype):
    """Plain torch: the same network, batches and SGD, forward under CPU autocast."""
    w1, b1, w2, b2 = (torch.tensor(a, requires_grad=True) for a in start)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(EPOCHS):
        for i in range(0, len(x), BATCH):
            with torch.autocast("cpu", dtype=dtype):
                hidden = torch.relu(torch.addmm(b1, xt[i:i + BATCH], w1))
                out = torch.addmm(b2, hidden, w2)
            loss = F.mse_loss(out.float(), yt[i:i + BATCH])
            for p in (w1, b1, w2, b2):
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in (w1, b1, w2, b2):
                    p -= LR * p.grad
    return [p.detach().numpy() for p in (w1, b1, w2, b2)]


def _max_diff(a, b) -> float:
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b))


def test_bf16_matches_a_plain_torch_autocast_loop_and_stays_near_float32():
    x, y = _data()
    model16, start, history = _mlp_fit(x, y, "bf16")
    model32, start32, _ = _mlp_fit(x, y, None)
    assert _max_diff(start, start32) == 0.0
    ours, full = model16.get_weights(), model32.get_weights()
    reference = _torch_autocast_loop(start, x, y, torch.bfloat16)
    to_reference, to_float32 = _max_diff(ours, reference), _max_diff(ours, full)
    # bfloat16 keeps 8 significant bits: the products really ran in it (not float32) ...
    assert to_float32 > 1e-4
    # ... as in the plain autocast loop, up to rounding order, and near the float32 weights
    assert to_reference < 0.01 * to_float32
    assert to_float32 < 0.05
    assert history.params["precision"] == "bf16"
    final32 = model32.evaluate(x, y, return_dict=True)["loss"]
    assert abs(model16.evaluate(x, y, return_dict=True)["loss"] - final32) < 0.05 * final32 + 1e-3
    assert all(w.dtype == np.float32 for w in ours)


def test_float16_trains_with_loss_scaling_to_near_float32():
    x, y = _data()
    model16, _, history = _mlp_fit(x, y, "16")
    model32, _, _ = _mlp_fit(x, y, "32")
    assert history.params["precision"] == "16"
    assert model32.history_.params["precision"] == "32"
    first, last = history.history["loss"][0], history.history["loss"][-1]
    assert np.isfinite(last) and last < 0.5 * first
    final32 = model32.evaluate(x, y, return_dict=True)["loss"]
    assert abs(model16.evaluate(x, y, return_dict=True)["loss"] - final32) < 0.1 * final32 + 1e-2


def test_default_precision_is_recorded_as_32_with_the_device():
    x, y = _data(64)
    _, _, history = _mlp_fit(x, y, None)
    assert history.params["precision"] == "32"
    assert history.params["device"] == "cpu"


@pytest.mark.parametrize("layer", [
    lambda: L.LSTM(6), lambda: L.GRU(6), lambda: L.SimpleRNN(6),
    lambda: L.LSTM(6, recurrent_dropout=0.2),
])
def test_recurrent_layers_train_under_bf16(layer):
    rng = np.random.default_rng(1)
    x = rng.integers(1, 40, (96, 12))
    y = rng.integers(0, 2, (96, 1)).astype(np.float32)
    sd.set_seed(0)
    model = sd.Sequential([L.Embedding(40, 4), L.Dense(5), layer(),
                           L.Dense(1, activation="sigmoid")], input_shape=(12,))
    model.compile("rmsprop", "binary_crossentropy", ["accuracy"], device="cpu")
    history = model.fit(x, y, epochs=2, verbose=0, precision="bf16")
    assert np.isfinite(history.history["loss"]).all()
    assert 0.0 <= history.history["accuracy"][-1] <= 1.0


def test_conv_and_batch_normalization_train_under_both_16_bit_types():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(64, 8, 8, 1)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 64)]
    for precision in ("bf16", "16"):
        sd.set_seed(0)
        model = sd.Sequential([L.Conv2D(4, (3, 3), activation="relu"), L.BatchNormalization(),
                               L.Flatten(), L.Dropout(0.2), L.Dense(3, activation="softmax")],
                              input_shape=(8, 8, 1))
        model.compile("adam", "categorical_crossentropy", ["accuracy"], device="cpu")
        history = model.fit(x, y, epochs=2, verbose=0, precision=precision)
        assert np.isfinite(history.history["loss"]).all()
        assert model.predict(x[:3]).dtype == np.float32


@pytest.mark.parametrize("bad", ["fp8", "bfloat16", 16, 32.0, ["bf16"]])
def test_precision_is_validated(bad):
    x, y = _data(32)
    model = sd.Sequential([L.Dense(1)], input_shape=(10,))
    model.compile("sgd", "mse", device="cpu")
    with pytest.raises(ConfigError, match=r"`precision` of fit must be None, '32', 'bf16' or "
                                          r"'16'; got"):
        model.fit(x, y, verbose=0, precision=bad)


def test_statdl_device_environment_variable_is_honoured(monkeypatch):
    monkeypatch.setenv("STATDL_DEVICE", "cpu")
    assert resolve_device("auto") == torch.device("cpu")
    model = sd.Sequential([L.Dense(1)], input_shape=(3,))
    model.compile("sgd", "mse")
    assert model.device_ == torch.device("cpu")
    monkeypatch.setenv("STATDL_DEVICE", "gpu")
    with pytest.raises(ConfigError, match="`STATDL_DEVICE` must be one of 'auto', 'cpu', "
                                          "'cuda'; got 'gpu'"):
        resolve_device("auto")
    assert resolve_device("cpu") == torch.device("cpu")  # an explicit device wins


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    model = sd.Sequential([L.Dense(1)], input_shape=(3,))
    with pytest.raises(ConfigError, match="^`device` must be a device torch sees here; got 'cuda'\\. "
                                          "Torch sees no CUDA GPU"):
        model.compile("sgd", "mse", device="cuda")
    monkeypatch.setenv("STATDL_DEVICE", "cuda")
    with pytest.raises(ConfigError, match="^`STATDL_DEVICE` must be a device torch sees here; got "
                                          "'cuda'\\. Torch sees no CUDA"):
        model.compile("sgd", "mse")


def test_batches_copied_from_host_memory_train_the_same_weights(monkeypatch):
    """The path for data larger than the GPU's free memory, forced on the CPU: batches
    gathered from the host tensors give the same weights as the device path."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 200)]
    w = rng.uniform(0.5, 2.0, 200).astype(np.float32)

    def train():
        sd.set_seed(0)
        model = sd.Sequential([L.Dense(8, activation="tanh"), L.Dropout(0.3),
                               L.Dense(3, activation="softmax")], input_shape=(6,))
        model.compile("rmsprop", "categorical_crossentropy", ["accuracy", "mae"], device="cpu")
        history = model.fit(x, y, epochs=2, batch_size=16, sample_weight=w, verbose=0)
        return model.get_weights(), history.history

    on_device, logs = train()
    monkeypatch.setattr(loop, "data_stays_on_host", lambda tensors, device: True)
    from_host, host_logs = train()
    assert _max_diff(on_device, from_host) == 0.0
    assert host_logs == logs


def test_moving_a_model_keeps_its_optimiser_state():
    """``to(device)`` between two fits: the second continues as one longer fit would."""
    x, y = _data(96)

    def model():
        sd.set_seed(0)
        net = sd.Sequential([L.Dense(8, activation="tanh"), L.Dense(1)], input_shape=(10,))
        net.compile("adam", "mse", device="cpu")
        return net

    once = model()
    once.fit(x, y, epochs=2, verbose=0)
    twice = model()
    twice.fit(x, y, epochs=1, verbose=0)
    twice.to("cpu")
    twice.fit(x, y, epochs=1, verbose=0)
    assert _max_diff(once.get_weights(), twice.get_weights()) == 0.0
