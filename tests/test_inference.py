"""predict and evaluate against an independent float64 numpy forward pass and loss.

Each model's outputs are recomputed in numpy from its weights (Keras layouts: Dense kernels
(in, units), Conv2D kernels (kh, kw, in, filters), LSTM gates i, f, c, o), and the loss and
accuracy from their definitions, for every input type a user passes (float64 and integer numpy,
pandas, torch tensors, int32 token ids), batch sizes that do not divide the rows, more rows than
one inference batch, and empty input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import statdl as sd
from statdl import layers as L
from statdl.errors import ConfigError, ShapeError


# ---------------------------------------------------------------- numpy references
def _relu(z):
    return np.maximum(z, 0.0)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _weights(model):
    return [w.astype(np.float64) for w in model.get_weights()]


def mlp_reference(model, x):
    k1, b1, k2, b2 = _weights(model)
    return _softmax(_relu(np.asarray(x, np.float64) @ k1 + b1) @ k2 + b2)


def cnn_reference(model, x):
    kc, bc, kd, bd = _weights(model)
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(x, np.float64), (3, 3),
                                                       axis=(1, 2))  # (n, oh, ow, c, 3, 3)
    z = _relu(np.einsum("nhwcij,ijcf->nhwf", windows, kc) + bc)
    n, h, w, f = z.shape
    pooled = z[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, f).max(axis=(2, 4))
    return _softmax(pooled.reshape(n, -1) @ kd + bd)


def lstm_reference(model, ids):
    emb, kernel, recurrent, bias, kd, bd = _weights(model)
    x = emb[np.asarray(ids, np.int64)]
    units = recurrent.shape[0]
    h = c = np.zeros((x.shape[0], units))
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, j * units:(j + 1) * units] for j in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
    return _sigmoid(h @ kd + bd)


def categorical_logs(p, onehot):
    p, onehot = p.astype(np.float64), np.asarray(onehot, np.float64)
    return {"loss": float(-np.mean(np.sum(onehot * np.log(p), axis=1))),
            "accuracy": float(np.mean(p.argmax(1) == onehot.argmax(1)))}


def binary_logs(p, y):
    p, y = p[:, 0].astype(np.float64), np.asarray(y, np.float64).reshape(-1)
    return {"loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
            "accuracy": float(np.mean((p > 0.5) == (y == 1)))}


def _check_logs(logs, expected):
    assert set(logs) == set(expected)
    assert logs["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert logs["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-12)


# ---------------------------------------------------------------- models and data
def _mlp(n_in=12):
    sd.set_seed(1)
    model = sd.Sequential([L.Dense(32, activation="relu"), L.Dropout(0.5),
                           L.Dense(4, activation="softmax")], input_shape=(n_in,))
    model.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
    return model


def _cnn():
    sd.set_seed(2)
    model = sd.Sequential([L.Conv2D(5, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
                           L.Flatten(), L.Dropout(0.3), L.Dense(3, activation="softmax")],
                          input_shape=(9, 8, 2))
    model.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
    return model


def _lstm(steps=15):
    sd.set_seed(3)
    model = sd.Sequential([L.Embedding(50, 4), L.LSTM(6), L.Dense(1, activation="sigmoid")],
                          input_shape=(steps,))
    model.compile("rmsprop", "binary_crossentropy", ["accuracy"])
    return model


def _mlp_data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 12)) * 3.0
    return x, np.eye(4)[rng.integers(0, 4, n)]


# ---------------------------------------------------------------- MLP: every input type
MLP_INPUTS = {
    "float64": lambda x: x,
    "float32": lambda x: x.astype(np.float32),
    "fortran": lambda x: np.asfortranarray(x),
    "strided": lambda x: np.repeat(x, 2, axis=0)[::2],
    "int": lambda x: np.round(x).astype(np.int64),
    "pandas": lambda x: pd.DataFrame(x, columns=[f"c{i}" for i in range(12)]),
    "pandas-mixed": lambda x: pd.DataFrame({f"c{i}": (np.round(x[:, i]).astype(np.int32)
                                                      if i % 2 else x[:, i])
                                            for i in range(12)}),
    "torch": lambda x: torch.from_numpy(x),
    "torch-float32-transposed": lambda x: torch.from_numpy(x.astype(np.float32).T.copy()).T,
    "list": lambda x: x.tolist(),
}


def _as_float64(value):
    if isinstance(value, torch.Tensor):
        return value.double().numpy()
    return np.asarray(value, dtype=np.float64)


@pytest.mark.parametrize("kind", sorted(MLP_INPUTS))
@pytest.mark.parametrize("n", [1, 50, 2500])  # 2500: more than one batch of the default size
def test_mlp_predict_and_evaluate_match_numpy(kind, n):
    model = _mlp()
    x64, y = _mlp_data(n)
    x = MLP_INPUTS[kind](x64)
    expected = mlp_reference(model, _as_float64(x))
    pred = model.predict(x)
    assert pred.dtype == np.float32 and pred.shape == (n, 4)
    np.testing.assert_allclose(pred, expected, rtol=2e-5, atol=1e-6)
    _check_logs(model.evaluate(x, y, return_dict=True), categorical_logs(expected, y))


@pytest.mark.parametrize("batch_size", [1, 7, 64, 1000, 1024, 1025, 4096])
def test_batch_sizes_not_dividing_rows_give_the_same_numbers(batch_size):
    model = _mlp()
    x, y = _mlp_data(2051, seed=batch_size)
    expected = mlp_reference(model, x)
    np.testing.assert_allclose(model.predict(x, batch_size=batch_size), expected,
                               rtol=2e-5, atol=1e-6)
    _check_logs(model.evaluate(x, y, batch_size=batch_size, return_dict=True), categorical_logs(expected, y))


def test_evaluate_with_sample_weight_and_targets_of_any_type():
    model = _mlp()
    x, y = _mlp_data(1500, seed=4)
    w = np.random.default_rng(4).uniform(0, 2, 1500)
    p = mlp_reference(model, x)
    per_sample = -np.sum(y * np.log(p), axis=1)
    # Keras's rule: the weighted sum over the number of samples
    expected = float(np.sum(w * per_sample) / 1500)
    for targets in (y, y.astype(np.float32), pd.DataFrame(y), torch.from_numpy(y)):
        logs = model.evaluate(pd.DataFrame(x), targets, sample_weight=w, return_dict=True)
        assert logs["loss"] == pytest.approx(expected, rel=1e-5)
    sparse = _mlp()
    sparse.compile("rmsprop", "sparse_categorical_crossentropy", ["accuracy"])
    _check_logs(sparse.evaluate(x, y.argmax(1), return_dict=True), categorical_logs(p, y))


def test_regression_losses_and_metrics_match_their_definitions():
    sd.set_seed(5)
    model = sd.Sequential([L.Dense(8, activation="tanh"), L.Dense(2)], input_shape=(3,))
    model.compile("rmsprop", "mse", ["mae"])
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(1300, 3)), rng.normal(size=(1300, 2))
    k1, b1, k2, b2 = _weights(model)
    pred = np.tanh(x @ k1 + b1) @ k2 + b2
    np.testing.assert_allclose(model.predict(x), pred, rtol=2e-5, atol=1e-6)
    logs = model.evaluate(x, y, batch_size=100, return_dict=True)
    assert logs["loss"] == pytest.approx(np.mean((pred - y) ** 2), rel=1e-5)
    assert logs["mae"] == pytest.approx(np.mean(np.abs(pred - y)), rel=1e-5)


# ---------------------------------------------------------------- CNN and LSTM
@pytest.mark.parametrize("kind", ["float32", "float64", "int", "torch"])
def test_cnn_predict_and_evaluate_match_numpy(kind):
    model = _cnn()
    rng = np.random.default_rng(6)
    x64 = rng.uniform(0, 3, size=(300, 9, 8, 2))
    x = {"float32": x64.astype(np.float32), "float64": x64,
         "int": np.round(x64).astype(np.int16), "torch": torch.from_numpy(x64)}[kind]
    y = np.eye(3)[rng.integers(0, 3, 300)]
    expected = cnn_reference(model, _as_float64(x))
    np.testing.assert_allclose(model.predict(x), expected, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, batch_size=7), expected, rtol=2e-5, atol=1e-6)
    _check_logs(model.evaluate(x, y, batch_size=13, return_dict=True), categorical_logs(expected, y))


@pytest.mark.parametrize("kind", ["int64", "int32", "int16", "float64", "pandas", "torch"])
def test_lstm_predict_and_evaluate_match_numpy(kind):
    model = _lstm()
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 50, size=(1100, 15))
    x = {"int64": ids, "int32": ids.astype(np.int32), "int16": ids.astype(np.int16),
         "float64": ids.astype(np.float64), "pandas": pd.DataFrame(ids),
         "torch": torch.from_numpy(ids.astype(np.int32))}[kind]
    y = rng.integers(0, 2, 1100)
    expected = lstm_reference(model, ids)
    np.testing.assert_allclose(model.predict(x), expected, rtol=2e-5, atol=1e-6)
    _check_logs(model.evaluate(x, y, return_dict=True), binary_logs(expected, y))
    _check_logs(model.evaluate(x, y, batch_size=33, return_dict=True), binary_logs(expected, y))


# ---------------------------------------------------------------- edges
def test_empty_input():
    model = _mlp()
    for x in (np.zeros((0, 12)), pd.DataFrame(np.zeros((0, 12))), torch.zeros(0, 12)):
        out = model.predict(x)
        assert out.shape == (0, 4) and out.dtype == np.float32
    with pytest.raises(ShapeError, match="`x` must have at least one row"):
        model.evaluate(np.zeros((0, 12)), np.zeros((0, 4)), return_dict=True)
    assert _lstm().predict(np.zeros((0, 15), np.int32)).shape == (0, 1)


def test_predict_leaves_the_input_untouched_and_returns_a_fresh_array():
    model = _mlp()
    x = np.random.default_rng(8).normal(size=(40, 12)).astype(np.float32)
    before = x.copy()
    first = model.predict(x)
    second = model.predict(x)
    np.testing.assert_array_equal(x, before)
    assert not np.shares_memory(first, second) and not np.shares_memory(first, x)
    np.testing.assert_array_equal(first, second)


def test_predict_after_fit_uses_the_trained_weights_without_dropout():
    model = _mlp()
    x, y = _mlp_data(256, seed=9)
    model.fit(x, y, epochs=2, verbose=0)
    expected = mlp_reference(model, x)
    np.testing.assert_allclose(model.predict(x), expected, rtol=2e-5, atol=1e-6)
    _check_logs(model.evaluate(x, y, return_dict=True), categorical_logs(expected, y))


# ---------------------------------------------------------------- the inference forward pass
def _pool_same(z):
    """2 x 2 max pooling with Keras's "same" padding (extra row/column at the bottom/right)."""
    n, h, w, f = z.shape
    padded = np.full((n, h + h % 2, w + w % 2, f), -np.inf)
    padded[:, :h, :w] = z
    return padded.reshape(n, padded.shape[1] // 2, 2, padded.shape[2] // 2, 2, f).max(axis=(2, 4))


ACTIVATION_CASES = {
    "tanh": ("tanh", np.tanh),
    "sigmoid": ("sigmoid", _sigmoid),
    "linear": (None, lambda z: z),
}


@pytest.mark.parametrize("name", sorted(ACTIVATION_CASES))
def test_conv_activation_then_same_max_pooling(name):
    activation, reference = ACTIVATION_CASES[name]
    sd.set_seed(10)
    model = sd.Sequential([L.Conv2D(3, (3, 3), activation=activation),
                           L.MaxPooling2D((2, 2), padding="same"), L.Flatten(),
                           L.Dense(2, activation=activation)], input_shape=(9, 8, 1))
    model.compile("rmsprop", "mse")
    x = np.random.default_rng(10).normal(size=(40, 9, 8, 1))
    kc, bc, kd, bd = _weights(model)
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))
    z = _pool_same(reference(np.einsum("nhwcij,ijcf->nhwf", windows, kc) + bc))
    expected = reference(z.reshape(40, -1) @ kd + bd)
    np.testing.assert_allclose(model.predict(x), expected, rtol=2e-5, atol=1e-6)
    y = np.zeros((40, 2))
    assert model.evaluate(x, y, return_dict=True)["loss"] == pytest.approx(np.mean(expected ** 2), rel=1e-5)


def test_activity_regularized_and_nested_models_give_the_reference():
    sd.set_seed(11)
    penalized = L.Dense(8, activation="relu", activity_regularizer=sd.regularizers.L1(0.1))
    inner = sd.Sequential([penalized], input_shape=(12,))
    model = sd.Sequential([inner, L.Dense(4, activation="softmax")], input_shape=(12,))
    model.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
    x, y = _mlp_data(30, seed=11)
    expected = mlp_reference(model, x)
    np.testing.assert_allclose(model.predict(x), expected, rtol=2e-5, atol=1e-6)
    # evaluate's loss holds the activity penalty as Keras 3's does: 0.1 * sum |a| / batch size,
    # one batch here (30 rows)
    k1, b1 = _weights(model)[:2]
    logs = categorical_logs(expected, y)
    logs["loss"] += 0.1 * np.abs(_relu(x @ k1 + b1)).sum() / len(x)
    _check_logs(model.evaluate(x, y, return_dict=True), logs)


@pytest.mark.parametrize("units", [1, 2, 10, 15, 16])
@pytest.mark.parametrize("use_bias", [True, False])
def test_narrow_dense_layers_give_the_reference(units, use_bias):
    # Dense layers with 2 to 15 outputs multiply by a column-major copy of the kernel
    # (inference._logits); inside the network, last with softmax, and as evaluate's logits.
    sd.set_seed(units)
    model = sd.Sequential([L.Dense(units, activation="tanh", use_bias=use_bias),
                           L.Dense(units, use_bias=use_bias),
                           L.Dense(max(units, 2), activation="softmax", use_bias=use_bias)],
                          input_shape=(33,))
    model.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
    rng = np.random.default_rng(units)
    x = rng.normal(size=(1500, 33))
    y = np.eye(max(units, 2))[rng.integers(0, max(units, 2), 1500)]
    w = _weights(model)
    if not use_bias:
        w = [w[0], 0.0, w[1], 0.0, w[2], 0.0]
    expected = _softmax((np.tanh(x @ w[0] + w[1]) @ w[2] + w[3]) @ w[4] + w[5])
    np.testing.assert_allclose(model.predict(x), expected, rtol=2e-5, atol=1e-6)
    _check_logs(model.evaluate(x, y, return_dict=True), categorical_logs(expected, y))


# ---------------------------------------------------------------- NaN and infinity in x
def _zero_row_model(units: int, first=None):
    """A Dense first layer (or ``first``) whose kernel row for feature 3 is all zeros, so a
    NaN or infinity there meets only zero weights (0 * inf is NaN: still caught)."""
    sd.set_seed(units)
    layers = [L.Dense(units, activation="sigmoid"), L.Dense(2, activation="softmax")]
    model = sd.Sequential(([first] if first is not None else []) + layers, input_shape=(20,))
    model.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
    dense = 1 if first is not None else 0
    weights = model.get_weights()
    weights[2 * dense][3] = 0.0
    model.set_weights(weights)
    return model


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("units", [1, 10, 40])  # 40 logits > 20 inputs: checked as x
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_nan_or_infinity_anywhere_in_x_is_named_with_its_row(bad, units, dtype):
    # The check of a batch is skipped when its first Dense layer's logits are finite
    # (inference._vouch); a bad value behind zero weights, in a later batch, must still fail.
    model = _zero_row_model(units)
    x = np.random.default_rng(0).normal(size=(2500, 20)).astype(dtype)
    x[2100, 3] = bad
    y = np.eye(2)[np.zeros(2500, dtype=int)]
    message = r"`x` must hold finite numbers; got 1 NaN or infinite values \(first in row 2100\)"
    with pytest.raises(ConfigError, match=message):
        model.predict(x)
    with pytest.raises(ConfigError, match=message):
        model.evaluate(x, y)
    x[2100, 3] = 0.0
    assert np.isfinite(model.predict(x)).all()


def test_a_first_layer_that_hides_nan_does_not_spare_the_check():
    # nan_to_num would make every logit of the next Dense layer finite: only the first
    # layer's logits vouch for x
    model = _zero_row_model(10, first=L.Lambda(torch.nan_to_num))
    x = np.ones((50, 20))
    x[7, 0] = np.nan
    with pytest.raises(ConfigError, match=r"`x` must hold finite numbers; got 1 NaN .*row 7\)"):
        model.predict(x)


def test_infinite_weights_do_not_turn_finite_x_into_an_error():
    model = _zero_row_model(10)
    weights = model.get_weights()
    weights[0][0, 0] = np.inf  # non-finite logits; x is finite: no error, as before
    model.set_weights(weights)
    assert model.predict(np.ones((5, 20))).shape == (5, 2)


def test_predict_follows_weights_changed_between_calls():
    # the column-major kernel copy of a narrow Dense layer is kept between calls: it must
    # follow set_weights, in-place edits and fit
    model = _zero_row_model(10)
    x = np.random.default_rng(1).normal(size=(40, 20))
    model.predict(x)
    for change in ("set_weights", "in place", "fit"):
        if change == "set_weights":
            weights = model.get_weights()
            weights[0] = weights[0] * 2.0 + 0.5
            model.set_weights(weights)
        elif change == "in place":
            with torch.no_grad():
                model.layers[0].module.kernel.mul_(-1.0)
        else:
            model.fit(x, np.eye(2)[np.arange(40) % 2], epochs=2, verbose=0)
        k1, b1, k2, b2 = _weights(model)
        expected = _softmax(_sigmoid(x @ k1 + b1) @ k2 + b2)
        np.testing.assert_allclose(model.predict(x), expected, rtol=2e-5, atol=1e-6)
