"""A ``train_step`` with trackers against Keras 3 itself (slow tier; needs ``pip install
keras``): the same model, weights and step written for Keras's torch backend (Keras's guide
"Customizing what happens in fit() with PyTorch": ``zero_grad``, ``backward``,
``optimizer.apply``, ``keras.metrics.Mean`` trackers) runs in a child process; statdl's run of
the same step must give the same History (keys and values: trackers reset each epoch, the
last step's results logged) and the same final weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "jax")   # this process; the child runs torch's
pytest.importorskip("keras")

import statdl as sd  # noqa: E402
from statdl import layers as L  # noqa: E402

pytestmark = pytest.mark.slow

KERAS_SIDE = r"""
import json, sys
import numpy as np, torch, keras
data = np.load(sys.argv[1])
x, y = data["x"], data["y"]

class Tracked(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(4, activation="tanh")
        self.out = keras.layers.Dense(1)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_tracker = keras.metrics.Mean(name="mae")

    def call(self, inputs):
        return self.out(self.hidden(inputs))

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_tracker]

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        pred = self(x, training=True)[:, 0]
        loss = torch.mean((pred - y) ** 2)
        loss.backward()
        weights = [v for v in self.trainable_weights]
        grads = [v.value.grad for v in weights]
        with torch.no_grad():
            self.optimizer.apply(grads, weights)
        self.loss_tracker.update_state(loss)
        self.mae_tracker.update_state(torch.abs(pred - y))
        return {"loss": self.loss_tracker.result(), "mae": self.mae_tracker.result()}

model = Tracked()
model(x[:1])
model.set_weights([data[f"w{i}"] for i in range(4)])
model.compile(optimizer=keras.optimizers.SGD(0.1))
history = model.fit(x, y, epochs=3, batch_size=5, shuffle=False, verbose=0)
print(json.dumps({"history": history.history,
                  "weights": [w.tolist() for w in model.get_weights()]}))
"""


class Tracked(sd.Model):
    def __init__(self):
        super().__init__()
        self.hidden = L.Dense(4, activation="tanh")
        self.out = L.Dense(1)
        self.loss_tracker = sd.metrics.Mean(name="loss")
        self.mae_tracker = sd.metrics.Mean(name="mae")

    def call(self, inputs):
        return self.out(self.hidden(inputs))

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_tracker]

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        pred = self(x, training=True)[:, 0]
        loss = torch.mean((pred - y) ** 2)
        loss.backward()
        weights = self.trainable_weights
        self.optimizer.apply([w.grad for w in weights], weights)
        self.loss_tracker.update_state(loss)
        self.mae_tracker.update_state(torch.abs(pred - y))
        return {"loss": self.loss_tracker.result(), "mae": self.mae_tracker.result()}


def test_tracked_train_step_matches_keras_torch_backend(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3)).astype(np.float32)     # 12 rows: a last batch of 2
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.1).astype(np.float32)
    model = Tracked()
    model.build((3,))
    weights = model.get_weights()
    np.savez(tmp_path / "data.npz", x=x, y=y, **{f"w{i}": w for i, w in enumerate(weights)})
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", KERAS_SIDE, str(tmp_path / "data.npz")],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    keras_run = json.loads(proc.stdout.strip().splitlines()[-1])
    model.compile(optimizer=sd.optimizers.SGD(0.1))
    history = model.fit(x, y, epochs=3, batch_size=5, shuffle=False, verbose=0)
    assert sorted(history.history) == sorted(keras_run["history"])
    for key, values in keras_run["history"].items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-5, err_msg=key)
    for ours, theirs in zip(model.get_weights(), keras_run["weights"]):
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-6)
