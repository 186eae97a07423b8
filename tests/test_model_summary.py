"""The course's printed models: parameter counts and the Keras summary layout."""

from __future__ import annotations

import re

import pytest

import statdl as sd
from statdl import layers as L


def _total(text: str) -> int:
    return int(re.search(r"Total params: ([\d,]+)", text).group(1).replace(",", ""))


def test_hitters_network_counts_match_the_course():
    model = sd.Sequential([L.Dense(64, activation="relu"), L.Dense(1)], input_shape=(20,))
    text = model.summary(print_fn=None)
    # the course: 64 * (20 + 1) = 1344 and 64 + 1 = 65, total 1,409
    assert re.search(r"dense \(Dense\)\s+\(None, 64\)\s+1344", text)
    assert re.search(r"dense_1 \(Dense\)\s+\(None, 1\)\s+65", text)
    assert "Total params: 1,409" in text
    assert "Trainable params: 1,409" in text
    assert "Non-trainable params: 0" in text


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda: sd.Sequential([L.Dense(512, activation="relu"),
                                L.Dense(10, activation="softmax")], input_shape=(784,)), 407_050),
        (lambda: sd.Sequential([L.Dense(10, activation="softmax")], input_shape=(784,)), 7_850),
        (lambda: sd.Sequential([L.Dense(512, activation="relu"), L.Dropout(0.4),
                                L.Dense(256, activation="relu"), L.Dropout(0.3),
                                L.Dense(10, activation="softmax")], input_shape=(784,)), 535_818),
        (lambda: sd.Sequential([
            L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
            L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
            L.Conv2D(64, (3, 3), activation="relu"), L.Flatten(),
            L.Dense(512, activation="relu"), L.Dropout(0.4),
            L.Dense(256, activation="relu"), L.Dropout(0.2),
            L.Dense(10, activation="softmax")], input_shape=(28, 28, 1)), 485_066),
        (lambda: sd.Sequential([L.Dense(100, activation="tanh"), L.Dense(784)],
                               input_shape=(784,)), 157_684),
    ],
)
def test_course_model_totals(build, expected):
    model = build()
    assert model.count_params() == expected
    assert _total(model.summary(print_fn=None)) == expected


def test_cnn_output_shapes_match_the_course():
    model = sd.Sequential([
        L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation="relu"), L.Flatten(), L.Dense(512)],
        input_shape=(28, 28, 1))
    text = model.summary(print_fn=None)
    for shape, params in [("(None, 26, 26, 32)", 320), ("(None, 13, 13, 32)", 0),
                          ("(None, 11, 11, 64)", 18496), ("(None, 5, 5, 64)", 0),
                          ("(None, 3, 3, 64)", 36928), ("(None, 576)", 0),
                          ("(None, 512)", 295424)]:
        assert re.search(re.escape(shape) + r"\s+" + str(params) + r"\b", text), shape


def test_cnn_without_pooling_has_the_15_8_million_dense_layer():
    model = sd.Sequential([
        L.Conv2D(32, 3, activation="relu"), L.Conv2D(64, 3, activation="relu"),
        L.Conv2D(64, 3, activation="relu"), L.Flatten(), L.Dense(512, activation="relu")],
        input_shape=(28, 28, 1))
    dense = model.get_layer(-1)
    # 22 * 22 * 64 inputs, as the course computes
    assert dense.param_count((22 * 22 * 64,)) == 22 * 22 * 64 * 512 + 512
    assert 15.8e6 < dense.param_count((22 * 22 * 64,)) < 15.9e6


def test_summary_layout_is_keras_65_columns():
    model = sd.Sequential([L.Dense(3)], input_shape=(2,), name="m")
    lines = model.summary(print_fn=None).splitlines()
    assert lines[0] == 'Model: "m"'
    assert lines[1] == "_" * 65 and lines[3] == "=" * 65
    header = lines[2]
    assert header.index("Output Shape") == 29 and header.index("Param #") == 55


def test_frozen_layers_count_as_non_trainable():
    model = sd.Sequential([L.Dense(4), L.Dense(2)], input_shape=(3,))
    model.freeze(up_to=0)
    text = model.summary(print_fn=None)
    assert "Trainable params: 10" in text  # 4*2 + 2
    assert "Non-trainable params: 16" in text  # 3*4 + 4
    model.unfreeze()
    assert "Non-trainable params: 0" in model.summary(print_fn=None)


def test_batchnorm_moving_statistics_are_non_trainable():
    model = sd.Sequential([L.Dense(8), L.BatchNormalization()], input_shape=(4,))
    text = model.summary(print_fn=None)
    assert "Total params: 72" in text  # 40 + 4 * 8
    assert "Non-trainable params: 16" in text


def test_nested_model_shows_as_one_row_and_shares_weights():
    encoder = sd.Sequential([L.Dense(2, activation="tanh")], input_shape=(5,), name="encoder")
    decoder = sd.Sequential([L.Dense(5)], input_shape=(2,), name="decoder")
    auto = sd.Sequential([encoder, decoder], input_shape=(5,), name="auto")
    text = auto.summary(print_fn=None)
    assert re.search(r"encoder \(Sequential\)\s+\(None, 2\)\s+12", text)
    assert "Total params: 27" in text
    assert encoder.get_layer(0).module.kernel is auto.get_layer(0).get_layer(0).module.kernel
