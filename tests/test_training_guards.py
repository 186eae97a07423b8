"""Degenerate training input is rejected with an error that names the argument, and training
that goes wrong says so (issue #12: empty data, bad weights, metrics that do not fit the loss,
non-finite losses, a batch of one through BatchNormalization, odd dtypes, empty sequences)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import layers as L
from statdl.errors import ConfigError, ShapeError


def _xy(n=20, p=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)).astype(np.float32)
    return x, x.sum(axis=1)


def _regressor(p=3, metrics=None, loss="mse"):
    model = sd.Sequential([L.Dense(4, activation="relu"), L.Dense(1)], input_shape=(p,))
    model.compile(loss=loss, metrics=metrics)
    return model


def _classifier(loss="sparse_categorical_crossentropy", metrics=None):
    model = sd.Sequential([L.Dense(4, activation="relu"), L.Dense(3, activation="softmax")],
                          input_shape=(3,))
    model.compile(loss=loss, metrics=metrics)
    return model


# ------------------------------------------------------------------ empty data
def test_fit_and_evaluate_reject_zero_rows():
    x, y = _xy()
    model = _regressor()
    with pytest.raises(ShapeError, match=r"`x` must have at least one row \(sample\); got 0"):
        model.fit(x[:0], y[:0], verbose=0)
    with pytest.raises(ShapeError, match=r"`x` must have at least one row \(sample\); got 0"):
        model.evaluate(x[:0], y[:0], return_dict=True)
    with pytest.raises(ShapeError, match=r"`validation_data x` must have at least one row"):
        model.fit(x, y, validation_data=(x[:0], y[:0]), verbose=0)
    assert model.predict(x[:0]).shape == (0, 1)  # an empty prediction is still well defined


# ------------------------------------------------------------------ weights
@pytest.mark.parametrize("bad, message", [
    (np.r_[np.nan, np.ones(19)], r"`sample_weight` must hold finite numbers; got 1 NaN or "
                                 r"infinite value \(first at row 0\)"),
    (np.r_[np.ones(19), np.inf], r"`sample_weight` must hold finite .*row 19"),
    (np.r_[np.ones(17), -1.0, 1.0, -2.0], r"`sample_weight` must hold numbers >= 0; got 2 "
                                          r"negative values \(first -1 at row 17\)"),
    (np.zeros(20), r"`sample_weight` must hold weights that are not all zero"),
])
def test_sample_weight_must_be_finite_non_negative_and_not_all_zero(bad, message):
    x, y = _xy()
    with pytest.raises(ConfigError, match=message):
        _regressor().fit(x, y, sample_weight=bad, verbose=0)
    with pytest.raises(ConfigError, match=message):
        _regressor().evaluate(x, y, sample_weight=bad, return_dict=True)


def test_validation_weights_are_checked_too():
    x, y = _xy()
    with pytest.raises(ConfigError, match=r"`validation_data sample_weight` must hold weights that are not all"):
        _regressor().fit(x, y, validation_data=(x, y, np.zeros(20)), verbose=0)


@pytest.mark.parametrize("class_weight, message", [
    ({0: np.nan, 1: 1.0, 2: 1.0}, r"`class_weight` must map classes to finite numbers >= 0; "
                                  r"got nan for class 0"),
    ({0: -1.0}, r"`class_weight` must map .*got -1.0 for class 0"),
    ({0: "heavy"}, r"`class_weight` must map .*got 'heavy' for class 0"),
    ({0: 0.0, 1: 0.0, 2: 0.0}, r"`class_weight` .*all zero"),
    ({0: 1.0, 7: 2.0}, r"`class_weight` must be keyed by classes of `y` \(the model has 3 "
                       r"classes: 0\.\.2\); got the key 7"),
    ({"a": 1.0}, r"`class_weight` must be keyed by class indices \(ints\); got the key 'a' \(str\)"),
    ([1.0, 2.0], r"`class_weight` must be a dict class -> weight"),
])
def test_class_weight_errors_name_the_argument(class_weight, message):
    x, _ = _xy()
    y = np.arange(20) % 3
    with pytest.raises(ConfigError, match=message):
        _classifier().fit(x, y, class_weight=class_weight, verbose=0)


def test_class_weight_on_a_regression_loss_is_an_error():
    x, y = _xy()
    with pytest.raises(ConfigError, match=r"`class_weight` must be None with a regression loss.*"
                                          r"'mse'.*use `sample_weight`"):
        _regressor().fit(x, y, class_weight={0: 1.0}, verbose=0)


def test_binary_class_weight_keys_are_0_and_1():
    model = sd.Sequential([L.Dense(1, activation="sigmoid")], input_shape=(3,))
    model.compile(loss="binary_crossentropy")
    x, _ = _xy()
    y = (np.arange(20) % 2).astype(np.float32)
    with pytest.raises(ConfigError, match=r"keyed by classes of `y` \(.* 2 classes: 0\.\.1\); got the key 2"):
        model.fit(x, y, class_weight={0: 1.0, 2: 3.0}, verbose=0)
    model.fit(x, y, class_weight={0: 1.0, 1: 3.0}, verbose=0)
    # numpy integer keys (e.g. from np.unique) are class indices too
    model.fit(x, y, class_weight={np.int64(0): 1.0, np.int64(1): 3.0}, verbose=0)


def test_valid_class_weight_still_weights_the_loss_as_keras():
    x, _ = _xy()
    y = np.arange(20) % 3
    model = _classifier()
    plain = model.evaluate(x, y, return_dict=True)["loss"]
    per_class = np.array([2.0, 0.5, 1.0])
    weighted = model.evaluate(x, y, sample_weight=per_class[y], return_dict=True)["loss"]
    assert weighted != pytest.approx(plain)
    # one batch of all rows: the epoch's loss is that of the weights before the update
    history = model.fit(x, y, class_weight={0: 2.0, 1: 0.5}, batch_size=20, verbose=0)
    assert history.history["loss"][0] == pytest.approx(weighted, rel=1e-5)


# ------------------------------------------------------------------ metrics at compile
@pytest.mark.parametrize("loss, metric, reason", [
    ("mse", "auc", r"regression loss"),
    ("mse", "accuracy", r"regression loss"),
    ("poisson", "acc", r"regression loss"),
    ("mae", "binary_accuracy", r"regression loss"),
    ("sparse_categorical_crossentropy", "mae", r"class indices"),
    ("sparse_categorical_crossentropy", "mse", r"class indices"),
    ("sparse_categorical_crossentropy", "auc", r"class indices"),
    ("sparse_categorical_crossentropy", "binary_accuracy", r"class indices"),
    ("categorical_crossentropy", "sparse_categorical_accuracy", r"one-hot"),
    ("binary_crossentropy", "sparse_categorical_accuracy", r"0/1"),
])
def test_metrics_that_do_not_fit_the_loss_are_rejected_at_compile(loss, metric, reason):
    model = sd.Sequential([L.Dense(3, activation="softmax")], input_shape=(3,))
    with pytest.raises(ConfigError, match=rf"^`metrics` of compile must be metrics that fit "
                                          rf"loss '{loss}'; got '{metric}'\. .*{reason}"):
        model.compile(loss=loss, metrics=[metric])


@pytest.mark.parametrize("loss, metrics", [
    ("mse", ["mae", "mse"]),
    ("mae", ["mse"]),
    ("binary_crossentropy", ["accuracy", "auc", "mae", "mse", "binary_accuracy"]),
    ("categorical_crossentropy", ["accuracy", "mae", "mse", "auc", "categorical_accuracy"]),
    ("sparse_categorical_crossentropy", ["accuracy", "acc", "sparse_categorical_accuracy"]),
])
def test_metrics_that_fit_the_loss_still_compile_and_run(loss, metrics):
    model = sd.Sequential([L.Dense(2, activation="sigmoid" if loss.startswith("binary")
                                   else "softmax" if "categorical" in loss else "linear")],
                          input_shape=(3,))
    model.compile(loss=loss, metrics=metrics)
    x, _ = _xy()
    labels = np.arange(20) % 2
    y = {"sparse_categorical_crossentropy": labels}.get(loss, np.eye(2)[labels])
    logs = model.evaluate(x, y, return_dict=True)
    assert all(np.isfinite(logs[m]) for m in metrics)


def test_metrics_must_be_a_list_of_names():
    with pytest.raises(ConfigError, match=r"`metrics` of compile must be a list of metric names"
                                          r".*got int 42"):
        _regressor().compile(loss="mse", metrics=42)


# ------------------------------------------------------------------ custom losses
def test_a_custom_loss_that_returns_no_tensor_is_named():
    x, y = _xy()
    model = sd.Sequential([L.Dense(1)], input_shape=(3,))

    def half_squared(pred, target):
        return 3.0

    model.compile(loss=half_squared)
    with pytest.raises(TypeError, match=r"^`loss` of compile must return a torch tensor of "
                                        r"per-sample losses.*; got 'half_squared' returning "
                                        r"float\.$"):
        model.fit(x, y, verbose=0)


# ------------------------------------------------------------------ non-finite loss
def test_a_loss_that_becomes_nan_warns_once_at_that_epoch():
    x, y = _xy(n=64)
    sd.set_seed(0)
    model = sd.Sequential([L.Dense(8, activation="relu"), L.Dense(1)], input_shape=(3,))
    model.compile(optimizer=sd.optimizers.SGD(learning_rate=10.0), loss="mse")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(100 * x, 100 * y, epochs=5, batch_size=8, verbose=0)
    losses = history.history["loss"]
    first_bad = next(i for i, v in enumerate(losses) if not np.isfinite(v))
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1
    assert messages[0].startswith(f"training loss became {losses[first_bad]} at epoch "
                                  f"{first_bad + 1} of 5;")
    assert "TerminateOnNaN()" in messages[0]


def test_a_finite_run_gives_no_warning():
    x, y = _xy(n=64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        _regressor().fit(x, y, epochs=2, verbose=0)


# ------------------------------------------------------------------ BatchNormalization
def _keras_batchnorm_step(x, gamma, beta, mean, var, momentum=0.99, eps=1e-3):
    """Keras 3's formulas: biased batch variance, moving averages with `momentum`."""
    m, v = x.mean(axis=0), x.var(axis=0)
    out = gamma * (x - m) / np.sqrt(v + eps) + beta
    return out, momentum * mean + (1 - momentum) * m, momentum * var + (1 - momentum) * v


@pytest.mark.parametrize("rows", [1, 5])
def test_batchnorm_in_training_follows_keras_even_for_one_row(rows):
    rng = np.random.default_rng(0)
    layer = L.BatchNormalization()
    module = layer.build((4,))
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    mean, var = rng.normal(size=4), rng.uniform(0.5, 2, size=4)
    layer.set_weights([gamma, beta, mean, var])
    x = rng.normal(size=(rows, 4))
    module.train()
    out = module(torch.as_tensor(x, dtype=torch.float32)).detach().numpy()
    want, want_mean, want_var = _keras_batchnorm_step(x, gamma, beta, mean, var)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    got_gamma, got_beta, got_mean, got_var = layer.get_weights()
    np.testing.assert_allclose(got_mean, want_mean, rtol=1e-6)
    np.testing.assert_allclose(got_var, want_var, rtol=1e-6)


def test_fit_with_a_last_batch_of_one_row_through_batchnorm():
    x, y = _xy(n=17)
    model = sd.Sequential([L.Dense(4), L.BatchNormalization(), L.Dense(1)], input_shape=(3,))
    model.compile(loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


# ------------------------------------------------------------------ dtypes and arguments
def test_complex_inputs_are_rejected():
    x, y = _xy()
    with pytest.raises(ConfigError, match=r"`x` must hold real numbers; got an array of dtype "
                                          r"complex128.*np.abs"):
        _regressor().fit(x.astype(complex), y, verbose=0)
    with pytest.raises(ConfigError, match=r"`y` must hold real numbers; got .* complex64"):
        _regressor().fit(x, torch.as_tensor(y.astype(np.complex64)), verbose=0)
    with pytest.raises(ConfigError, match=r"`x` must hold real numbers"):
        _regressor().predict(x.astype(complex))


def test_object_inputs_are_rejected():
    x, y = _xy()
    with pytest.raises(ConfigError, match=r"`x` must hold numbers; got an array of dtype object"):
        _regressor().predict(x.astype(object))


@pytest.mark.parametrize("batch_size", [-5, 0, 2.5, True, "32"])
def test_predict_and_evaluate_check_batch_size(batch_size):
    x, y = _xy()
    model = _regressor()
    with pytest.raises(ConfigError, match=rf"`batch_size` must be an int >= 1 or None; got "
                                          rf"{batch_size!r}"):
        model.predict(x, batch_size=batch_size)
    with pytest.raises(ConfigError, match=r"`batch_size` must be an int >= 1 or None"):
        model.evaluate(x, y, batch_size=batch_size, return_dict=True)


# ------------------------------------------------------------------ empty sequences
@pytest.mark.parametrize("make", [L.LSTM, L.GRU, L.SimpleRNN,
                                  lambda units: L.Bidirectional(L.LSTM(units))])
def test_zero_length_sequences_are_rejected(make):
    model = sd.Sequential([make(4), L.Dense(1)], input_shape=(None, 2))
    model.compile(loss="mse")
    with pytest.raises(ShapeError, match=r"`x` must have at least one timestep per sequence; got 0 "
                                         r"timesteps \(shape \(n, 0, 2\)\)"):
        model.fit(np.zeros((5, 0, 2)), np.zeros(5), verbose=0)
    with pytest.raises(ShapeError, match=r"`x` must have at least one timestep"):
        model.predict(np.zeros((5, 0, 2)))


def test_zero_length_word_ids_into_embedding_and_rnn_are_rejected():
    model = sd.Sequential([L.Embedding(10, 3), L.LSTM(4), L.Dense(1)])
    model.compile(loss="mse")
    with pytest.raises(ShapeError, match=r"got 0 timesteps \(shape \(n, 0\)\).*"
                                         r"pad_sequences"):
        model.fit(np.zeros((5, 0), dtype=int), np.zeros(5), verbose=0)


@pytest.mark.slow
@pytest.mark.parametrize("rows", [1, 6])
def test_batchnorm_training_step_matches_keras_3(rows):
    import os

    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(rows, 5)).astype(np.float32)
    theirs = keras.layers.BatchNormalization()
    theirs.build((None, 5))
    weights = [rng.normal(size=5).astype(np.float32) for _ in range(3)]
    weights.append(rng.uniform(0.5, 2, size=5).astype(np.float32))
    theirs.set_weights(weights)
    want = np.asarray(theirs(x, training=True))
    layer = L.BatchNormalization()
    module = layer.build((5,))
    layer.set_weights(weights)
    module.train()
    got = module(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    for ours, keras_weight in zip(layer.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(ours, keras_weight, rtol=1e-5, atol=1e-6)


def test_evaluate_before_fit_leaves_the_model_trainable():
    x, y = _xy()
    model = _regressor()
    before = model.evaluate(x, y, return_dict=True)["loss"]
    history = model.fit(x, y, batch_size=20, verbose=0)  # used to fail on inference tensors
    assert history.history["loss"][0] == pytest.approx(before, rel=1e-5)
