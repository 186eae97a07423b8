"""``compute_loss``, ``compute_metrics`` and the trackers of ``model.metrics`` against Keras 3
itself (slow tier; needs ``pip install keras``).

The step of Keras's guide "Customizing what happens in fit() with PyTorch" (``compute_loss``,
``backward``, ``optimizer.apply``, then the ``loss`` tracker and the compiled metrics of
``self.metrics``) runs with Keras's torch backend in a child process, on a one-output and a
two-output model (dict targets, ``loss_weights``, metrics per output) with the same weights;
statdl's run of the same step must give the same History (keys and values), the same final
weights, Keras's ``metrics_names`` and ``evaluate`` in Keras's order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")   # this process; the child runs torch's
pytest.importorskip("keras")

import statdl as sd  # noqa: E402
from statdl import layers as L  # noqa: E402

pytestmark = pytest.mark.slow

KERAS_SIDE = r"""
import json, sys
import numpy as np, torch, keras
from keras import layers
data = np.load(sys.argv[1])
x, y, yb = data["x"], data["y"], data["yb"]

class Guide(keras.Model):
    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        weights = [v for v in self.trainable_weights]
        grads = [v.value.grad for v in weights]
        with torch.no_grad():
            self.optimizer.apply(grads, weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
        return self.compute_metrics(x, y, y_pred)

def set_weights(model, name):
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([data[f"{name}/{layer.name}/{i}"] for i in range(2)])

out = {}
inp = keras.Input((3,))
one = Guide(inp, layers.Dense(1, name="out")(layers.Dense(4, activation="tanh", name="hidden")(inp)))
set_weights(one, "one")
one.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae", "mse"])
h = one.fit(x, y, epochs=3, batch_size=5, shuffle=False, verbose=0)
out["one"] = {"history": h.history, "names": one.metrics_names,
              "evaluate": one.evaluate(x, y, verbose=0),
              "weights": {l.name: [w.tolist() for w in l.get_weights()] for l in one.layers}}

hidden = layers.Dense(4, activation="tanh", name="hidden")(inp)
a = layers.Dense(1, name="a")(hidden)
b = layers.Dense(1, activation="sigmoid", name="b")(hidden)
two = Guide(inp, [a, b])
set_weights(two, "two")
two.compile(optimizer=keras.optimizers.SGD(0.1), loss={"a": "mse", "b": "binary_crossentropy"},
            loss_weights={"a": 1.0, "b": 0.5},
            metrics={"a": ["mse", "mae"], "b": ["accuracy"]})
h = two.fit(x, {"a": y, "b": yb}, epochs=3, batch_size=5, shuffle=False, verbose=0)
out["two"] = {"history": h.history, "names": two.metrics_names,
              "evaluate": two.evaluate(x, {"a": y, "b": yb}, verbose=0),
              "weights": {l.name: [w.tolist() for w in l.get_weights()] for l in two.layers}}
print(json.dumps(out))
"""


class Guide(sd.Model):
    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        weights = self.trainable_weights
        self.optimizer.apply([w.grad for w in weights], weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
        return self.compute_metrics(x, y, y_pred)


def _models():
    inp = sd.Input((3,))
    one = Guide(inp, L.Dense(1, name="out")(L.Dense(4, activation="tanh", name="hidden")(inp)))
    inp = sd.Input((3,))
    hidden = L.Dense(4, activation="tanh", name="hidden")(inp)
    two = Guide(inp, [L.Dense(1, name="a")(hidden),
                      L.Dense(1, activation="sigmoid", name="b")(hidden)])
    return one, two


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3)).astype(np.float32)     # 12 rows: a last batch of 2
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.1).astype(np.float32)
    yb = (x[:, 0] + 0.3 * rng.normal(size=12) > 0).astype(np.float32)
    one, two = _models()
    arrays = {"x": x, "y": y, "yb": yb}
    for name, model in (("one", one), ("two", two)):
        for layer in model.layers:
            for i, w in enumerate(layer.get_weights()):
                arrays[f"{name}/{layer.name}/{i}"] = w
    path = tmp_path_factory.mktemp("keras") / "data.npz"
    np.savez(path, **arrays)
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", KERAS_SIDE, str(path)], capture_output=True,
                          text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    keras_runs = json.loads(proc.stdout.strip().splitlines()[-1])
    return (x, y, yb), {"one": one, "two": two}, keras_runs


def _same_run(ours, history, evaluated, theirs):
    assert sorted(history.history) == sorted(theirs["history"])
    for key, values in theirs["history"].items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-5, atol=1e-7,
                                   err_msg=key)
    for layer in (x for x in ours.layers if x.get_weights()):
        for mine, keras_w in zip(layer.get_weights(), theirs["weights"][layer.name]):
            np.testing.assert_allclose(mine, np.asarray(keras_w), rtol=1e-5, atol=1e-6)
    assert ours.metrics_names == theirs["names"]
    np.testing.assert_allclose(evaluated, theirs["evaluate"], rtol=1e-5)


def test_the_guide_step_on_one_output_matches_keras(runs):
    (x, y, _), models, keras_runs = runs
    model = models["one"]
    model.compile(optimizer=sd.optimizers.SGD(0.1), loss="mse", metrics=["mae", "mse"])
    history = model.fit(x, y, epochs=3, batch_size=5, shuffle=False, verbose=0)
    _same_run(model, history, model.evaluate(x, y), keras_runs["one"])


def test_the_guide_step_on_two_outputs_matches_keras(runs):
    (x, y, yb), models, keras_runs = runs
    model = models["two"]
    model.compile(optimizer=sd.optimizers.SGD(0.1),
                  loss={"a": "mse", "b": "binary_crossentropy"},
                  loss_weights={"a": 1.0, "b": 0.5},
                  metrics={"a": ["mse", "mae"], "b": ["accuracy"]})
    history = model.fit(x, {"a": y, "b": yb}, epochs=3, batch_size=5, shuffle=False,
                        verbose=0)
    _same_run(model, history, model.evaluate(x, {"a": y, "b": yb}), keras_runs["two"])
