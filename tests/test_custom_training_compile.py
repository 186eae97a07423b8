"""``compute_loss`` for one and several outputs, Keras 3's trackers in ``model.metrics``
(``loss``, ``compile_metrics``, ``<output>_loss``), ``compute_metrics`` and what ``fit`` logs
from a ``train_step`` that uses them. Reference values from the definitions (numpy); the same
steps against Keras itself are in ``test_custom_training_compile_keras.py`` (slow tier).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import layers as L
from statdl.errors import ConfigError
from statdl.training.metrics import CompileMetrics, Mean


def _two_heads():
    inp = sd.Input((3,))
    hidden = L.Dense(4, activation="tanh")(inp)
    return sd.Model(inp, [L.Dense(1, name="reg")(hidden),
                          L.Dense(3, activation="softmax", name="cls")(hidden)])


def _batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, x.sum(axis=1).astype(np.float32), rng.integers(0, 3, n), \
        rng.uniform(0.5, 2.0, n).astype(np.float32)


def test_compute_loss_of_two_outputs_is_the_weighted_sum_of_keras_terms():
    model = _two_heads()
    model.compile("sgd", loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 2.0, "cls": 0.5})
    x, y_reg, y_cls, w = _batch()
    reg, cls = (t.detach().numpy() for t in model(torch.from_numpy(x)))
    sq = (reg[:, 0] - y_reg) ** 2
    ce = -np.log(cls[np.arange(8), y_cls])
    y_pred = model(torch.from_numpy(x), training=True)
    for y in ([y_reg, y_cls], {"cls": y_cls, "reg": y_reg},
              [torch.from_numpy(y_reg[:, None]), torch.from_numpy(y_cls)]):
        value = model.compute_loss(y=y, y_pred=y_pred)
        assert float(value.detach()) == pytest.approx(2.0 * sq.mean() + 0.5 * ce.mean(), rel=1e-5)
    # one weight array for every output: sum(w loss) / n per output (Keras's reduction)
    value = model.compute_loss(y=[y_reg, y_cls], y_pred=y_pred, sample_weight=w)
    expected = 2.0 * (w * sq).sum() / 8 + 0.5 * (w * ce).sum() / 8
    assert float(value.detach()) == pytest.approx(expected, rel=1e-5)
    # one per output, by name; y_pred given by name too
    value = model.compute_loss(y=[y_reg, y_cls], y_pred=dict(zip(["reg", "cls"], y_pred)),
                               sample_weight={"reg": w, "cls": None})
    assert float(value.detach()) == pytest.approx(2.0 * (w * sq).sum() / 8 + 0.5 * ce.mean(), rel=1e-5)
    value.backward()      # a loss with gradients, for the train_step
    assert all(w.grad is not None for w in model.get_layer("reg").trainable_weights)
    with pytest.raises(ConfigError, match="one entry per output"):
        model.compute_loss(y=[y_reg], y_pred=y_pred)


def test_compute_loss_feeds_the_per_output_trackers_unweighted():
    model = _two_heads()
    model.compile("sgd", loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[2.0, 1.0])
    names = [m.name for m in model.metrics]
    assert names == ["loss", "reg_loss", "cls_loss"] == model.metrics_names
    x, y_reg, y_cls, _ = _batch()
    x2, y_reg2, y_cls2, _ = _batch(4, seed=1)
    model.reset_metrics()
    firsts = []
    for xb, yr, yc in ((x, y_reg, y_cls), (x2, y_reg2, y_cls2)):
        reg, _ = (t.detach().numpy() for t in model(torch.from_numpy(xb)))
        firsts.append(((reg[:, 0] - yr) ** 2).mean())
        model.compute_loss(y=[yr, yc], y_pred=model(torch.from_numpy(xb)))
    # Keras weighs each batch's mean by its size: (8 m1 + 4 m2) / 12
    expected = (8 * firsts[0] + 4 * firsts[1]) / 12
    assert float(model.metrics[1].result()) == pytest.approx(expected, rel=1e-5)


def test_compute_loss_of_one_output_adds_the_layers_losses():
    inp = sd.Input((3,))
    model = sd.Model(inp, L.Dense(1, kernel_regularizer=sd.regularizers.L2(0.1))(inp))
    model.compile("sgd", loss="mae")
    x, y, _, w = _batch()
    pred = model(torch.from_numpy(x), training=True)
    kernel = model.layers[1].get_weights()[0]
    err = np.abs(pred.detach().numpy()[:, 0] - y)
    value = model.compute_loss(y=y, y_pred=pred, sample_weight=torch.from_numpy(w))
    assert float(value.detach()) == pytest.approx((w * err).sum() / 8 + 0.1 * (kernel ** 2).sum(),
                                         rel=1e-5)


def test_the_trackers_of_a_compiled_model_are_keras_3s():
    model = sd.Sequential([L.Dense(1)], input_shape=(3,))
    assert model.metrics == [] and model.metrics_names == []
    model.compile("sgd", "mse")
    assert [type(m).__name__ for m in model.metrics] == ["Mean"]       # Keras: loss only
    model.compile("sgd", "mse", metrics=["mae"])
    loss_tracker, compiled = model.metrics
    assert isinstance(loss_tracker, Mean) and isinstance(compiled, CompileMetrics)
    assert model.metrics_names == ["loss", "compile_metrics"]
    x, y, _, _ = _batch(16)
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    # after fit they hold the last epoch, as Keras's trackers do
    result = model.get_metrics_result()
    assert float(result["loss"]) == pytest.approx(history.history["loss"][-1], rel=1e-6)
    assert float(result["mae"]) == pytest.approx(history.history["mae"][-1], rel=1e-6)
    pred = model.predict(x)[:, 0]
    loss, mae = model.evaluate(x, y)
    assert float(model.get_metrics_result()["mae"]) == pytest.approx(mae, rel=1e-6)
    # compute_metrics on a batch: the compiled metric from its definition
    model.reset_metrics()
    out = model.compute_metrics(None, torch.from_numpy(y), torch.from_numpy(pred[:, None]))
    assert float(out["mae"]) == pytest.approx(np.abs(pred - y).mean(), rel=1e-5)
    assert float(out["loss"]) == 0.0            # nothing updated the loss tracker


def test_the_keras_guide_loop_over_self_metrics_logs_epoch_means():
    class Guide(sd.Model):
        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = torch.autograd.grad(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inp = sd.Input((3,))
    model = Guide(inp, L.Dense(1)(inp))
    model.compile(optimizer=sd.optimizers.SGD(1e-12), loss="mse", metrics=["mae"])
    x, y, _, _ = _batch(10)
    history = model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    err = model.predict(x)[:, 0] - y                  # lr 1e-12: the same weights every step
    batches = [slice(0, 4), slice(4, 8), slice(8, 10)]
    # loss: the mean of the batch losses (a Mean of scalars); mae: over the samples
    assert history.history["loss"][0] == pytest.approx(
        np.mean([np.mean(err[b] ** 2) for b in batches]), rel=1e-5)
    assert history.history["mae"][0] == pytest.approx(np.abs(err).mean(), rel=1e-5)
    assert sorted(history.history) == ["loss", "mae"]


def test_a_short_train_step_is_still_averaged_over_the_samples():
    class Short(sd.Model):
        def train_step(self, data):
            x, y = data
            return {"loss": (self(x, training=True)[:, 0] - y).square().mean()}

    inp = sd.Input((3,))
    model = Short(inp, L.Dense(1)(inp))
    model.compile(optimizer=sd.optimizers.SGD(1e-12))    # the loss tracker exists, unused
    x, y, _, _ = _batch(10)
    history = model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    err = model.predict(x)[:, 0] - y
    assert history.history["loss"][0] == pytest.approx(np.mean(err ** 2), rel=1e-5)


def test_the_keras_2_step_with_compiled_loss_and_compiled_metrics():
    class Keras2(sd.Model):
        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
            grads = torch.autograd.grad(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.compiled_metrics.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inp = sd.Input((3,))
    model = Keras2(inp, L.Dense(1, kernel_regularizer=sd.regularizers.L2(0.5))(inp))
    model.compile(optimizer=sd.optimizers.SGD(1e-12), loss="mse", metrics=["mae"])
    x, y, _, _ = _batch(10)
    history = model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    err = model.predict(x)[:, 0] - y               # lr 1e-12: the same weights every step
    penalty = 0.5 * (model.layers[1].get_weights()[0] ** 2).sum()
    batches = [slice(0, 4), slice(4, 8), slice(8, 10)]
    # Keras 2: each batch's loss (with the penalty) weighted by its size
    expected = sum((np.mean(err[b] ** 2) + penalty) * len(err[b]) for b in batches) / 10
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert history.history["mae"][0] == pytest.approx(np.abs(err).mean(), rel=1e-5)
