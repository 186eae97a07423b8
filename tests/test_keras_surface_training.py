"""Keras's names where statdl takes a loss or a metric, SciPy sparse inputs, and the modules
Keras users reach for (``statdl.losses``, ``statdl.metrics``, ``statdl.errors``,
``statdl.utils.to_categorical``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

import statdl as sd
from statdl import layers as L
from statdl.errors import ConfigError
from statdl.training.losses import LOSSES, get_loss
from statdl.training.metrics import get_metric


@pytest.mark.parametrize("alias, name", [
    ("mean_squared_error", "mse"), ("MeanSquaredError", "mse"), ("MSE", "mse"),
    ("mean_absolute_error", "mae"), ("MAE", "mae"), ("bce", "binary_crossentropy"),
    ("BinaryCrossentropy", "binary_crossentropy"),
    ("CategoricalCrossentropy", "categorical_crossentropy"),
    ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
])
def test_keras_loss_aliases(alias, name):
    assert get_loss(alias) is LOSSES[name]


@pytest.mark.parametrize("alias, kind, logged", [
    ("mean_absolute_error", "mae", "mean_absolute_error"),
    ("MeanAbsoluteError", "mae", "mean_absolute_error"),
    ("mean_squared_error", "mse", "mean_squared_error"), ("mse", "mse", "mse"),
    ("BinaryAccuracy", "binary_accuracy", "binary_accuracy"),
    ("binary_crossentropy", "loss:binary_crossentropy", "binary_crossentropy"),
])
def test_keras_metric_aliases(alias, kind, logged):
    metric = get_metric(alias, "binary")
    assert (metric.kind, metric.name) == (kind, logged)


def _regression(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    return x, (x @ np.array([1.0, -2.0, 0.5]) + 0.3).astype(np.float32)[:, None]


def test_metric_aliases_give_the_errors_of_the_predictions():
    x, y = _regression()
    sd.set_seed(0)
    model = sd.Sequential([L.Dense(4, activation="tanh"), L.Dense(1)], input_shape=(3,))
    model.compile(optimizer="adam", loss="mean_squared_error",
                  metrics=["mean_absolute_error", "MeanSquaredError", "mae"])
    history = model.fit(x, y, epochs=2, verbose=0, validation_data=(x, y))
    residual = model.predict(x) - y
    logs = {k: v[-1] for k, v in history.history.items()}
    np.testing.assert_allclose(logs["val_mean_absolute_error"], np.abs(residual).mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(logs["val_mae"], np.abs(residual).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["val_mean_squared_error"], (residual ** 2).mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(logs["val_loss"], (residual ** 2).mean(), rtol=1e-5)


@pytest.mark.parametrize("loss, metric, targets", [
    ("binary_crossentropy", "binary_crossentropy", "binary"),
    ("categorical_crossentropy", "categorical_crossentropy", "onehot"),  # loop uses indices
    ("sparse_categorical_crossentropy", "categorical_crossentropy", "int"),
    ("categorical_crossentropy", "SparseCategoricalCrossentropy", "onehot"),
])
def test_a_loss_used_as_a_metric_equals_the_loss(loss, metric, targets):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(48, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    if targets == "binary":
        y, out = (x[:, :1] > 0).astype(np.float32), L.Dense(1, activation="sigmoid")
    else:
        y = labels if targets == "int" else sd.to_categorical(labels, 3)
        out = L.Dense(3, activation="softmax")
    model = sd.Sequential([L.Dense(5, activation="relu"), out], input_shape=(4,))
    model.compile(optimizer="adam", loss=loss, metrics=[metric])
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    key = "val_" + get_metric(metric, "onehot").name
    np.testing.assert_allclose(history.history[key], history.history["val_loss"], rtol=1e-5)


def test_metrics_that_do_not_fit_the_loss_are_refused():
    model = sd.Sequential([L.Dense(1)], input_shape=(2,))
    with pytest.raises(ConfigError, match="regression loss"):
        model.compile(loss="mse", metrics=["binary_crossentropy"])
    with pytest.raises(ConfigError, match="`metrics` must be one of .*'mean_absolute_error'"):
        model.compile(loss="mse", metrics=["mean_abs_error"])


# ------------------------------------------------------------------ SciPy sparse inputs
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_inputs_train_and_predict_as_dense(fmt):
    dense = sparse.random(60, 7, density=0.2, random_state=3, format="csr").toarray()
    dense = dense.astype(np.float32)
    y = (dense.sum(axis=1, keepdims=True) > 0.3).astype(np.float32)
    results = []
    for x in (dense, sparse.coo_matrix(dense).asformat(fmt)):
        sd.set_seed(4)
        model = sd.Sequential([L.Dense(3, activation="relu"), L.Dense(1, activation="sigmoid")],
                              input_shape=(7,))
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["acc"])
        history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.25)
        results.append((history.history, model.predict(x, batch_size=8),
                        model.layer_output(x, 0)))
    (h_dense, p_dense, a_dense), (h_sparse, p_sparse, a_sparse) = results
    assert h_dense == h_sparse
    np.testing.assert_array_equal(p_dense, p_sparse)
    np.testing.assert_array_equal(a_dense, a_sparse)


def test_sparse_token_ids_reach_an_embedding():
    ids = np.array([[1, 0, 3], [0, 2, 0]])
    model = sd.Sequential([L.Embedding(4, 2), L.Flatten()], input_shape=(3,))
    np.testing.assert_array_equal(model.predict(sparse.csr_matrix(ids)), model.predict(ids))


def test_sparse_inputs_are_checked_like_arrays():
    model = sd.Sequential([L.Dense(1)], input_shape=(5,))
    with pytest.raises(sd.ShapeError, match="must have shape \\(n, 5\\)"):
        model.predict(sparse.eye(4, format="csr"))
    bad = sparse.csr_matrix(np.array([[np.nan, 1, 0, 0, 0]]))
    with pytest.raises(ConfigError, match="NaN"):
        model.predict(bad)


# ------------------------------------------------------------------ where Keras users look
def test_to_categorical_in_utils():
    from statdl.preprocessing import to_categorical
    from statdl.utils import to_categorical as from_utils

    assert from_utils is to_categorical
    np.testing.assert_array_equal(from_utils([2, 0], 3), [[0, 0, 1], [1, 0, 0]])


@pytest.mark.skipif("losses" not in sd.__all__, reason="statdl/__init__.py exports it (lead)")
def test_keras_modules_reachable_after_import_statdl():
    import statdl

    assert statdl.losses.get_loss("mae") is LOSSES["mae"]
    assert statdl.metrics.get_metric("acc", "int").kind == "sparse_categorical_accuracy"
    assert issubclass(statdl.errors.ShapeError, ValueError)
    assert statdl.utils.to_categorical([1], 2).tolist() == [[0.0, 1.0]]
