"""``summary(style="keras3")``: Keras 3's box table next to the default R keras layout.

The slow test compares the text with Keras 3's own ``model.summary()`` (needs
``pip install keras jax``).
"""

from __future__ import annotations

import os

import pytest

import statdl as sd
from statdl import layers as L
from statdl.errors import ConfigError


def _mlp() -> sd.Sequential:
    return sd.Sequential([L.Dense(256, activation="relu", name="dense"),
                          L.Dropout(0.4, name="dropout"),
                          L.Dense(10, activation="softmax", name="dense_1")],
                         input_shape=(784,), name="sequential")


def _cnn() -> sd.Sequential:
    return sd.Sequential([L.Conv2D(32, 3, name="conv2d"),
                          L.BatchNormalization(name="batch_normalization"),
                          L.MaxPooling2D(2, name="max_pooling2d"), L.Flatten(name="flatten"),
                          L.Dense(10, name="dense_2")], input_shape=(28, 28, 1), name="cnn")


def test_unknown_style_lists_the_choices():
    with pytest.raises(ConfigError) as err:
        _mlp().summary(print_fn=None, style="keras2")
    assert str(err.value) == ("`style` of summary must be one of 'keras3', 'r'; got 'keras2'. "
                              "Did you mean 'keras3'?")


def test_default_style_is_still_the_r_keras_layout():
    model = _mlp()
    assert model.summary(print_fn=None) == model.summary(print_fn=None, style="r")
    assert model.summary(print_fn=None).splitlines()[1] == "_" * 65


def test_keras3_style_box_table_and_sizes(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")          # Keras: min(88, columns - 4) = 88 wide
    printed = []
    text = _mlp().summary(print_fn=printed.append, style="keras3")
    assert printed == [text]
    lines = text.splitlines()
    assert lines[0] == 'Model: "sequential"'
    assert lines[1].startswith("┏") and lines[1].endswith("┓") and len(lines[1]) == 88
    head = lines[2].split("┃")
    assert head[1].startswith(" Layer (type) ") and head[2].startswith(" Output Shape ")
    assert head[3].endswith(" Param # ")                 # counts are right-aligned
    row = lines[4].split("│")
    assert row[1].strip() == "dense (Dense)" and row[2].strip() == "(None, 256)"
    assert row[3].strip() == "200,960"                  # 784 * 256 + 256
    total = 784 * 256 + 256 + 256 * 10 + 10
    assert f" Total params: {total:,} ({total * 4 / 1024:.2f} KB)" in lines
    assert " Non-trainable params: 0 (0.00 B)" in lines


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("columns", ["100", "70"])
@pytest.mark.parametrize("which", ["mlp", "cnn", "frozen"])
def test_keras3_style_matches_keras_3(which, columns, monkeypatch):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    monkeypatch.setenv("COLUMNS", columns)
    K = keras.layers
    if which == "cnn":
        ours = _cnn()
        theirs = keras.Sequential([keras.Input((28, 28, 1)), K.Conv2D(32, 3, name="conv2d"),
                                   K.BatchNormalization(name="batch_normalization"),
                                   K.MaxPooling2D(2, name="max_pooling2d"),
                                   K.Flatten(name="flatten"), K.Dense(10, name="dense_2")],
                                  name="cnn")
    else:
        ours = _mlp()
        theirs = keras.Sequential([keras.Input((784,)),
                                   K.Dense(256, activation="relu", name="dense"),
                                   K.Dropout(0.4, name="dropout"),
                                   K.Dense(10, activation="softmax", name="dense_1")],
                                  name="sequential")
        if which == "frozen":
            ours.freeze(up_to=0)
            theirs.layers[0].trainable = False
    captured = []
    theirs.summary(print_fn=captured.append)
    expected = "\n".join(line.rstrip() for line in "".join(captured).splitlines())
    assert ours.summary(print_fn=None, style="keras3") == expected
