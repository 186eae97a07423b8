"""Conv1D ``groups``, Conv1DTranspose ``output_padding`` and Lambda ``arguments`` against
Keras 3 itself (slow tier; needs ``pip install keras jax``): output shapes, parameter counts
and forward outputs with Keras's weights copied in through ``set_weights``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")

import statdl as sd  # noqa: E402
from statdl import layers as L  # noqa: E402
from statdl.errors import ConfigError, ShapeError  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _compare(theirs, ours, x):
    keras.utils.set_random_seed(0)
    expected = np.asarray(theirs(x))
    ours.build(x.shape[1:])
    ours.set_weights(theirs.get_weights())
    assert ours.count_params() == theirs.count_params()
    assert ours.output_shape(x.shape[1:]) == tuple(expected.shape[1:])
    got = ours.build(x.shape[1:]).eval()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("groups, filters, channels, padding, dilation", [
    (2, 4, 6, "valid", 1), (3, 6, 3, "same", 1), (6, 12, 6, "causal", 2), (1, 5, 4, "same", 1),
])
def test_conv1d_groups_match_keras(groups, filters, channels, padding, dilation):
    x = np.random.default_rng(0).normal(size=(3, 11, channels)).astype(np.float32)
    settings = dict(filters=filters, kernel_size=3, padding=padding, groups=groups,
                    dilation_rate=dilation, activation="relu")
    _compare(keras.layers.Conv1D(**settings), L.Conv1D(**settings), x)


@pytest.mark.parametrize("kernel, strides, padding, output_padding, dilation", [
    (3, 2, "same", 1, 1), (3, 2, "same", 0, 1), (4, 3, "same", 2, 1), (4, 2, "same", 1, 1),
    (3, 2, "valid", 1, 1), (2, 3, "valid", 2, 1), (3, 2, "valid", None, 1),
    (5, 2, "same", None, 1), (3, 1, "same", None, 2), (3, 2, "valid", 0, 1),
])
def test_conv1d_transpose_output_padding_matches_keras(kernel, strides, padding,
                                                       output_padding, dilation):
    x = np.random.default_rng(1).normal(size=(2, 7, 3)).astype(np.float32)
    settings = dict(filters=4, kernel_size=kernel, strides=strides, padding=padding,
                    output_padding=output_padding, dilation_rate=dilation)
    _compare(keras.layers.Conv1DTranspose(**settings), L.Conv1DTranspose(**settings), x)


def test_lambda_arguments_match_keras():
    x = np.random.default_rng(2).normal(size=(4, 5)).astype(np.float32)

    def scaled_power(t, scale, power):
        return scale * t ** power

    theirs = keras.layers.Lambda(scaled_power, arguments={"scale": 0.5, "power": 3})
    ours = L.Lambda(scaled_power, arguments={"scale": 0.5, "power": 3})
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-6)


def test_the_arguments_keras_refuses_are_refused():
    with pytest.raises(ConfigError, match="multiple of `groups`"):
        L.Conv1D(5, 3, groups=2)
    with pytest.raises(ShapeError, match="divisible"):
        L.Conv1D(4, 3, groups=2).output_shape((10, 3))
    with pytest.raises(ConfigError, match="below `strides`"):
        L.Conv1DTranspose(4, 3, strides=2, output_padding=2)
    with pytest.raises(ConfigError, match="`arguments` of Lambda"):
        L.Lambda(abs, arguments=[1])


def test_the_new_arguments_survive_saving(tmp_path):
    sd.layers.register_lambda(torch.mul, name="mul")
    inp = sd.Input((8, 4))
    h = L.Conv1D(4, 3, groups=2, padding="same")(inp)
    h = L.Conv1DTranspose(2, 3, strides=2, padding="same", output_padding=0)(h)
    out = L.Lambda("mul", arguments={"other": 2.0})(h)
    model = sd.Model(inp, out)
    x = np.random.default_rng(3).normal(size=(2, 8, 4)).astype(np.float32)
    model.save(tmp_path / "m.statdl")
    again = sd.load_model(tmp_path / "m.statdl")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.layers[1].groups == 2 and again.layers[2].output_padding == 0
