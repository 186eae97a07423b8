"""Bad input gets an error that names the argument, what was expected and what came."""

from __future__ import annotations

import numpy as np
import pytest

import statdl as sd
from statdl import layers as L
from statdl.errors import ConfigError, NotFittedError, ShapeError


def _classifier():
    model = sd.Sequential([L.Dense(4, activation="relu"), L.Dense(3, activation="softmax")],
                          input_shape=(5,))
    return model


def test_fit_before_compile():
    with pytest.raises(NotFittedError, match=r"compile\(\) before fit\(\)"):
        _classifier().fit(np.zeros((4, 5)), np.zeros((4, 3)))


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ConfigError, match=r"`optimizer` must be one of .*'rmsprop'.*got 'rmsprob'"):
        _classifier().compile(optimizer="rmsprob", loss="mse")
    with pytest.raises(ConfigError, match=r"`loss` must be one of .*'mse'.*got 'msq'"):
        _classifier().compile(loss="msq")
    with pytest.raises(ConfigError, match=r"`activation` must be one of .*'relu'.*got 'rleu'"):
        L.Dense(3, activation="rleu")
    with pytest.raises(ConfigError, match=r"`metrics` must be one of .*got 'acuracy'"):
        _classifier().compile(loss="mse", metrics=["acuracy"])


def test_integer_labels_with_categorical_crossentropy_suggest_the_fix():
    model = _classifier()
    model.compile(loss="categorical_crossentropy")
    with pytest.raises(ShapeError, match=r"to_categorical\(y, 3\).*sparse_categorical"):
        model.fit(np.zeros((4, 5)), np.array([0, 1, 2, 1]), verbose=0)


def test_nan_in_inputs():
    model = _classifier()
    model.compile(loss="categorical_crossentropy")
    x = np.zeros((4, 5))
    x[2, 1] = np.nan
    with pytest.raises(ConfigError, match=r"`x` must hold finite numbers; got 1 NaN .*row 2"):
        model.fit(x, np.eye(3)[[0, 1, 2, 0]], verbose=0)


def test_wrong_input_shape_names_both_shapes_and_the_fix():
    model = _classifier()
    model.compile(loss="mse")
    with pytest.raises(ShapeError, match=r"`x` must have shape \(n, 5\).*got \(n, 2\)"):
        model.predict(np.zeros((3, 2)))
    mnist = sd.Sequential([L.Dense(10)], input_shape=(784,))
    with pytest.raises(ShapeError, match=r"reshape\(len\(x\), -1\)"):
        mnist.predict(np.zeros((2, 28, 28)))


def test_layer_mismatch_names_position_name_and_shapes():
    with pytest.raises(ShapeError, match=r"Layer 1 'conv2d' \(Conv2D\).*\(None, 10\)"):
        sd.Sequential([L.Dense(10), L.Conv2D(4, 3)], input_shape=(5,))


def test_predict_before_build():
    with pytest.raises(NotFittedError, match="input_shape"):
        sd.Sequential([L.Dense(2)]).predict(np.zeros((1, 3)))


def test_label_and_target_checks():
    model = sd.Sequential([L.Dense(3, activation="softmax")], input_shape=(2,))
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ConfigError, match=r"class indices in 0..2.*from 0 to 5"):
        model.fit(np.zeros((2, 2)), np.array([0, 5]), verbose=0)
    with pytest.raises(ShapeError, match=r"`y` must have one row per sample of x \(2 rows\)"):
        model.fit(np.zeros((2, 2)), np.array([0, 1, 2]), verbose=0)
    binary = sd.Sequential([L.Dense(1, activation="sigmoid")], input_shape=(2,))
    binary.compile(loss="binary_crossentropy")
    with pytest.raises(ConfigError, match=r"must hold values in \[0, 1\] for loss"):
        binary.fit(np.zeros((2, 2)), np.array([0, 3]), verbose=0)


def test_argument_ranges():
    with pytest.raises(ConfigError, match=r"`units` of Dense must be an int >= 1; got 0"):
        L.Dense(0)
    with pytest.raises(ConfigError, match=r"`rate` of Dropout must be a number in \[0, 1\)"):
        L.Dropout(1.5)
    with pytest.raises(ConfigError, match=r"`patience` of EarlyStopping must be an int >= 0"):
        sd.callbacks.EarlyStopping(patience=-1)
    with pytest.raises(ConfigError, match=r"`learning_rate` of RMSprop must be a number > 0"):
        sd.optimizers.RMSprop(learning_rate=0)
    model = _classifier()
    model.compile(loss="mse")
    with pytest.raises(ConfigError, match=r"`validation_split` of fit must be a number in \[0, 1\)"):
        model.fit(np.zeros((4, 5)), np.zeros((4, 3)), validation_split=1.2, verbose=0)
    with pytest.raises(ConfigError, match=r"`batch_size` of fit must be an int >= 1; got 0"):
        model.fit(np.zeros((4, 5)), np.zeros((4, 3)), batch_size=0, verbose=0)
    with pytest.raises(ShapeError, match="ragged"):
        model.fit([[1, 2], [3]], np.zeros((2, 3)), verbose=0)
    with pytest.raises(ConfigError, match="`device`"):
        model.compile(loss="mse", device="tpu")


def test_unknown_layer_in_get_layer():
    with pytest.raises(ConfigError, match=r"`layer` must be a layer of model .*; got 'nope'\."):
        _classifier().get_layer("nope")
