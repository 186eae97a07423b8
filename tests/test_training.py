"""fit / evaluate / predict semantics, checked against Keras's documented rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import callbacks as C
from statdl import layers as L
from statdl.regularizers import L2


def _data(n=120, p=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)).astype(np.float32)
    y = (x @ np.arange(1, p + 1) + 0.1 * rng.normal(size=n)).astype(np.float32)
    return x, y


def _regressor(p=4, **dense_kwargs):
    model = sd.Sequential([L.Dense(8, activation="relu", **dense_kwargs), L.Dense(1)],
                          input_shape=(p,))
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


def test_training_reduces_the_loss():
    sd.set_seed(1)
    x, y = _data()
    model = _regressor()
    model.compile(optimizer=sd.optimizers.RMSprop(learning_rate=0.01), loss="mse")
    history = model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_validation_split_takes_the_last_rows_before_shuffling():
    sd.set_seed(2)
    x, y = _data(n=100)
    model = _regressor()
    history = model.fit(x, y, epochs=1, validation_split=0.2, verbose=0)
    # Keras: split_at = floor(100 * 0.8) = 80; validation = rows 80..99
    expected = model.evaluate(x[80:], y[80:], return_dict=True)
    assert history.history["val_loss"][0] == pytest.approx(expected["loss"], rel=1e-6)
    assert history.history["val_mae"][0] == pytest.approx(expected["mae"], rel=1e-6)
    assert history.params["samples"] == 80


def test_fit_again_continues_weights_and_optimizer_state():
    x, y = _data()
    sd.set_seed(3)
    once = _regressor()
    once.fit(x, y, epochs=3, batch_size=20, verbose=0)
    sd.set_seed(3)
    twice = _regressor()
    twice.fit(x, y, epochs=2, batch_size=20, verbose=0)
    twice.fit(x, y, epochs=3, initial_epoch=2, batch_size=20, verbose=0)
    for a, b in zip(once.get_weights(), twice.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_set_seed_makes_cpu_runs_bit_for_bit_repeatable():
    x, y = _data()
    runs = []
    for _ in range(2):
        sd.set_seed(11)
        model = sd.Sequential([L.Dense(8, activation="relu"), L.Dropout(0.3), L.Dense(1)],
                              input_shape=(4,))
        model.compile("adam", "mse")
        runs.append(model.fit(x, y, epochs=3, verbose=0).history["loss"])
    assert runs[0] == runs[1]


def test_reported_loss_includes_the_l2_penalty():
    sd.set_seed(4)
    x, y = _data()
    model = _regressor(kernel_regularizer=L2(0.05))
    model.fit(x, y, epochs=2, verbose=0)
    pred = model.predict(x)[:, 0]
    mse = float(np.mean((pred - y) ** 2))
    kernel = model.get_layer(0).module.kernel.detach().numpy()
    penalty = 0.05 * float(np.sum(kernel.astype(np.float64) ** 2))  # Keras: l2 * sum(w^2)
    assert model.evaluate(x, y, return_dict=True)["loss"] == pytest.approx(mse + penalty, rel=1e-5)


def test_regression_metrics_match_their_definitions():
    sd.set_seed(14)
    x, y = _data()
    model = _regressor()
    model.compile(optimizer="rmsprop", loss="mae", metrics=["mse", "mae"])
    model.fit(x, y, epochs=1, verbose=0)
    pred = model.predict(x)[:, 0].astype(np.float64)
    logs = model.evaluate(x, y, return_dict=True)
    assert logs["mse"] == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)
    assert logs["mae"] == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-5)
    assert logs["loss"] == pytest.approx(logs["mae"], rel=1e-6)


def test_sample_weight_follows_keras_sum_over_batch_size():
    sd.set_seed(5)
    x, y = _data(n=40)
    model = _regressor()
    w = np.linspace(0.0, 2.0, 40)
    pred = model.predict(x)[:, 0]
    expected = float(np.sum(w * (pred - y) ** 2) / 40)
    assert model.evaluate(x, y, sample_weight=w, return_dict=True)["loss"] == pytest.approx(expected, rel=1e-5)


def test_classification_accuracy_and_predict_classes():
    sd.set_seed(6)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(300, 2)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 0] > 1).astype(int)
    onehot = np.eye(3, dtype=np.float32)[labels]
    model = sd.Sequential([L.Dense(16, activation="relu"), L.Dense(3, activation="softmax")],
                          input_shape=(2,))
    model.compile(optimizer=sd.optimizers.Adam(learning_rate=0.02),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, onehot, epochs=40, batch_size=32, verbose=0)
    probs = model.predict(x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    classes = model.predict_classes(x)
    accuracy = float(np.mean(classes == labels))
    assert accuracy > 0.9
    assert model.evaluate(x, onehot, return_dict=True)["accuracy"] == pytest.approx(accuracy, abs=1e-9)
    # the cross-entropy evaluate reports is the definition -mean(log p_true)
    ce = -np.mean(np.log(probs[np.arange(300), labels].astype(np.float64)))
    assert model.evaluate(x, onehot, return_dict=True)["loss"] == pytest.approx(ce, rel=1e-4)


def test_sparse_labels_and_binary_outputs():
    sd.set_seed(7)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = sd.Sequential([L.Dense(1, activation="sigmoid")], input_shape=(3,))
    model.compile(optimizer=sd.optimizers.RMSprop(learning_rate=0.05),
                  loss="binary_crossentropy", metrics=["accuracy", "auc"])
    history = model.fit(x, y, epochs=20, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    assert history.history["auc"][-1] > 0.95
    p = model.predict(x)[:, 0].astype(np.float64)
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert model.evaluate(x, y, return_dict=True)["loss"] == pytest.approx(bce, rel=1e-4)

    sparse = sd.Sequential([L.Dense(2, activation="softmax")], input_shape=(3,))
    sparse.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    sparse.fit(x, y, epochs=2, verbose=0)
    p2 = sparse.predict(x).astype(np.float64)
    assert sparse.evaluate(x, y, return_dict=True)["loss"] == pytest.approx(
        -np.mean(np.log(p2[np.arange(200), y])), rel=1e-4)


def test_early_stopping_follows_keras_patience_rule():
    model = _regressor()
    stop = C.EarlyStopping(monitor="val_loss", patience=2)
    stop.set_model(model)
    stop.on_train_begin()
    model.stop_training = False
    stopped_at = None
    for epoch, value in enumerate([1.0, 0.9, 0.95, 0.93, 0.8]):
        stop.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            stopped_at = epoch
            break
    # wait counts epochs without improvement: 0.95 (1), 0.93 (2) -> stop at epoch 3
    assert stopped_at == 3


@pytest.mark.filterwarnings("ignore:training loss became:RuntimeWarning")
def test_early_stopping_restores_best_weights_in_a_real_fit():
    sd.set_seed(8)
    x, y = _data()
    model = _regressor()
    model.compile(optimizer=sd.optimizers.SGD(learning_rate=0.5), loss="mse")  # diverges
    cb = C.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    history = model.fit(x, y, epochs=10, callbacks=[cb], verbose=0)
    losses = history.history["loss"]
    assert len(losses) < 10
    assert cb.best == pytest.approx(min(losses))


def test_reduce_lr_on_plateau_halves_and_logs_the_rate():
    sd.set_seed(9)
    x, y = _data()
    model = _regressor()
    model.compile(optimizer=sd.optimizers.RMSprop(learning_rate=0.01), loss="mse")
    cb = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
    history = model.fit(x, y, epochs=3, callbacks=[cb], verbose=0)
    # min_delta is huge, so no epoch after the first improves; Keras logs the rate used
    # during the epoch, then reduces it at the epoch's end
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.01, 0.005])
    assert model.optimizer_.learning_rate == pytest.approx(0.0025)


def test_csv_logger_and_checkpoint(tmp_path):
    sd.set_seed(10)
    x, y = _data()
    model = _regressor()
    log = tmp_path / "log.csv"
    ckpt = tmp_path / "ckpt-{epoch:02d}.statdl"
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
              callbacks=[C.CSVLogger(log), C.ModelCheckpoint(ckpt)])
    rows = log.read_text().splitlines()
    assert rows[0].split(",")[0] == "epoch" and len(rows) == 3
    loaded = sd.load_model(tmp_path / "ckpt-02.statdl")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_terminate_on_nan_and_lambda_callback():
    x, y = _data()
    model = _regressor()
    model.compile(optimizer=sd.optimizers.SGD(learning_rate=1e6), loss="mse")
    seen = []
    with pytest.warns(RuntimeWarning, match=r"training loss became (nan|inf) at epoch 1 of 3; "
                                            r"the weights are no longer usable") as caught:
        model.fit(x, y * 1e15, epochs=3, verbose=0,
                  callbacks=[C.TerminateOnNaN(),
                             C.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e))])
    assert len(seen) <= 1
    assert "TerminateOnNaN()" not in str(caught[0].message)  # it is already there


def test_freezing_stops_updates():
    sd.set_seed(12)
    x, y = _data()
    model = _regressor()
    frozen = model.get_layer(0).get_weights()
    model.freeze(up_to=0)
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(frozen, model.get_layer(0).get_weights()):
        np.testing.assert_array_equal(a, b)
    model.unfreeze()
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(frozen[0], model.get_layer(0).get_weights()[0])


@pytest.mark.parametrize("optimizer,slot,start", [
    (lambda: sd.optimizers.Adagrad(), "accumulator", 0.1),
    (lambda: sd.optimizers.RMSprop(), "velocity_plus_epsilon", 1e-7),
])
def test_unfrozen_weights_start_their_optimizer_state_at_the_initial_value(optimizer, slot, start):
    """Adagrad's accumulator starts at 0.1 and RMSprop's slot at epsilon (its state is
    v + eps), also for weights that join training when a layer is unfrozen."""
    sd.set_seed(3)
    x, y = _data()
    model = sd.Sequential([L.Dense(5), L.Dense(1)], input_shape=(4,))
    model.compile(optimizer=optimizer(), loss="mse")
    model.freeze(up_to=0)
    model.fit(x, y, epochs=1, verbose=0)
    model.unfreeze()
    state = model._training_state()
    values = state.optimizer.state[slot]
    offset, n = state.flat.slices()[id(model.get_layer(0).module.kernel)]
    np.testing.assert_allclose(values[offset:offset + n].numpy(), start, rtol=1e-6)


def test_layer_output_reads_intermediate_activations():
    sd.set_seed(13)
    model = sd.Sequential([L.Dense(5, activation="relu"), L.Dense(2)], input_shape=(3,))
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    hidden = model.layer_output(x, "dense")
    kernel, bias = [w for w in model.get_layer("dense").get_weights()]
    np.testing.assert_allclose(hidden, np.maximum(x @ kernel + bias, 0), rtol=1e-5, atol=1e-6)


def test_pandas_inputs_are_accepted():
    pd = pytest.importorskip("pandas")
    x, y = _data()
    frame = pd.DataFrame(x, columns=list("abcd"))
    model = _regressor()
    history = model.fit(frame, pd.Series(y), epochs=1, verbose=0)
    assert math.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("fused", [True, False])
def test_optimizers_follow_keras_update_rules(fused, monkeypatch):
    """Five steps on f(w) = sum(w^2 / 2) (gradient w), against the Keras formulas, with and
    without torch's fused Adam kernel."""
    monkeypatch.setattr(sd.optimizers.Optimizer, "fused", fused)
    w0 = np.array([1.0, -2.0, 0.5])

    def run(opt):
        w = torch.tensor(w0, dtype=torch.float64)
        for _ in range(5):
            opt.step(w, w.clone())
        return w.numpy()

    def keras_rmsprop(lr=0.001, rho=0.9, eps=1e-7):
        w, v = w0.copy(), np.zeros(3)
        for _ in range(5):
            g = w.copy()
            v = rho * v + (1 - rho) * g**2
            w = w - lr * g / np.sqrt(v + eps)
        return w

    def keras_adam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
        w, m, v = w0.copy(), np.zeros(3), np.zeros(3)
        for t in range(1, 6):
            g = w.copy()
            m = m + (g - m) * (1 - b1)
            v = v + (g**2 - v) * (1 - b2)
            alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            w = w - alpha * m / (np.sqrt(v) + eps)
        return w

    def keras_sgd(lr=0.1, momentum=0.9, nesterov=False):
        w, m = w0.copy(), np.zeros(3)
        for _ in range(5):
            g = w.copy()
            m = momentum * m - lr * g
            w = w + momentum * m - lr * g if nesterov else w + m
        return w

    def keras_adagrad(lr=0.1, init=0.1, eps=1e-7):
        w, a = w0.copy(), np.full(3, init)
        for _ in range(5):
            g = w.copy()
            a = a + g**2
            w = w - lr * g / np.sqrt(a + eps)
        return w

    opt = sd.optimizers
    np.testing.assert_allclose(run(opt.RMSprop()), keras_rmsprop(), rtol=1e-12)
    np.testing.assert_allclose(run(opt.Adam()), keras_adam(), rtol=1e-12)
    np.testing.assert_allclose(run(opt.SGD(0.1, momentum=0.9)), keras_sgd(), rtol=1e-12)
    np.testing.assert_allclose(run(opt.SGD(0.1, momentum=0.9, nesterov=True)),
                               keras_sgd(nesterov=True), rtol=1e-12)
    np.testing.assert_allclose(run(opt.Adagrad(0.1)), keras_adagrad(), rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda: sd.optimizers.RMSprop(),
    lambda: sd.optimizers.RMSprop(learning_rate=0.01, rho=0.5, epsilon=1e-3),
    lambda: sd.optimizers.Adam(),
    lambda: sd.optimizers.Adam(learning_rate=0.01, beta_1=0.5, beta_2=0.9, epsilon=1e-4,
                               amsgrad=True),
], ids=["rmsprop", "rmsprop-custom", "adam", "adam-amsgrad"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_optimizer_steps_match_the_separate_operations(make, dtype, monkeypatch):
    """The one-pass update (torch's fused Adam kernel) and the multi-pass one give the same
    weights and state over 30 steps of gradients spanning eight orders of magnitude."""
    from statdl.training.optimizers import _fusable

    assert _fusable(torch.zeros(1, dtype=dtype)), "the fused kernel is missing on CPU"
    gen = torch.Generator().manual_seed(4)
    w0 = torch.randn(1000, generator=gen, dtype=dtype)
    grads = [torch.randn(1000, generator=gen, dtype=dtype)
             * 10.0 ** torch.randint(-7, 2, (1000,), generator=gen) for _ in range(30)]
    results = {}
    for fused in (True, False):
        monkeypatch.setattr(sd.optimizers.Optimizer, "fused", fused)
        opt, w = make(), w0.clone()
        for g in grads:
            opt.step(w, g.clone())
        results[fused] = w, opt.state
    rtol = 1e-12 if dtype == torch.float64 else 2e-5
    torch.testing.assert_close(results[True][0], results[False][0], rtol=rtol, atol=0)
    assert results[True][1].keys() == results[False][1].keys()
    for name, value in results[True][1].items():
        torch.testing.assert_close(value, results[False][1][name], rtol=rtol, atol=0)
    assert not torch.equal(results[True][0], w0)


def test_categorical_crossentropy_on_soft_labels_follows_the_definition():
    sd.set_seed(15)
    rng = np.random.default_rng(15)
    x = rng.normal(size=(30, 3)).astype(np.float32)
    soft = rng.dirichlet(np.ones(4), size=30).astype(np.float32)  # rows sum to one
    model = sd.Sequential([L.Dense(4, activation="softmax")], input_shape=(3,))
    model.compile("rmsprop", "categorical_crossentropy")
    p = model.predict(x).astype(np.float64)
    expected = float(np.mean(-(soft * np.log(p)).sum(axis=1)))
    assert model.evaluate(x, soft, return_dict=True)["loss"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("capacity", [2**21, 40, 1])
@pytest.mark.parametrize("shuffle", [True, False])
def test_epoch_metrics_are_those_of_every_batch_output_however_they_are_chunked(
        capacity, shuffle, monkeypatch):
    """With a learning rate too small to move the weights and no dropout, the epoch's training
    metrics are the metrics of the fixed model on all the rows, as evaluate() computes them,
    whether the held outputs reach the metrics at once, in chunks or batch by batch."""
    from statdl.training import loop

    monkeypatch.setattr(loop.PendingOutputs, "CAPACITY", capacity)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(203, 5)).astype(np.float32)
    labels = rng.integers(0, 3, 203)
    y = np.eye(3, dtype=np.float32)[labels]
    sd.set_seed(7)
    model = sd.Sequential([L.Dense(6, activation="tanh"), L.Dense(3, activation="softmax")],
                          input_shape=(5,))
    model.compile(optimizer=sd.optimizers.SGD(learning_rate=1e-30),
                  loss="categorical_crossentropy", metrics=["accuracy", "mae"])
    before = model.get_weights()
    history = model.fit(x, y, batch_size=16, epochs=1, shuffle=shuffle, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-25)
    p = model.predict(x).astype(np.float64)
    assert history.history["accuracy"][0] == pytest.approx(float(np.mean(p.argmax(1) == labels)),
                                                           abs=1e-12)
    assert history.history["mae"][0] == pytest.approx(float(np.mean(np.abs(p - y))), rel=1e-5)


def test_optimizers_on_strided_weights_take_the_separate_operations():
    """A user's non-contiguous weight view cannot go through the one-pass kernel; the update
    is still Keras's (here one RMSprop step from v = 0: w -= lr g / sqrt((1 - rho) g^2 + eps))."""
    base = torch.zeros(10, dtype=torch.float64)
    g = torch.arange(1.0, 6.0, dtype=torch.float64)
    sd.optimizers.RMSprop().step(base[::2], g)
    expected = -0.001 * g / torch.sqrt(0.1 * g**2 + 1e-7)
    torch.testing.assert_close(base[::2], expected, rtol=1e-12, atol=0)
    assert bool((base[1::2] == 0).all())
