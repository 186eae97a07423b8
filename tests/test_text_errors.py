"""Text functions on junk input: a ConfigError that names the argument, never a raw numpy error.

Where Keras accepts an input (whole floats cast to the dtype, string dtypes, NaN kept by a
float dtype), statdl gives what Keras 3's ``pad_sequences`` gives; where Keras cuts, wraps or
garbles a value silently, statdl refuses it by name.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from statdl.errors import ConfigError
from statdl.text import Tokenizer, load, load_embeddings, pad_sequences, tokenizer_from_json


def _raises(match: str):
    return pytest.raises(ConfigError, match=re.escape(match))


@pytest.fixture
def keras_pad(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    return keras.utils.pad_sequences


# ---------------------------------------------------------------------- pad_sequences
@pytest.mark.parametrize("seqs, kwargs", [
    ([[1.0, 2.0], [3.0]], {}),                       # whole floats: cast as Keras casts
    ([[1.5, 2.25], [3]], {"dtype": "float32"}),
    ([[1.0, float("nan")], [3]], {"dtype": "float64"}),  # a float dtype keeps NaN
    ([[1, 2], [300]], {"dtype": "str"}),
    ([[1, 2], [300]], {"dtype": "int16", "value": -1}),
    ([np.array([1, 2], np.int64), np.array([3], np.int64)], {"maxlen": 1}),
    ([np.array([1.0, 2.0]), np.array([7.0])], {"padding": "post"}),
    (np.array([[1, 2, 3], [4, 5, 6]]), {"maxlen": 2, "truncating": "post"}),
])
def test_inputs_keras_accepts_give_what_keras_gives(keras_pad, seqs, kwargs):
    ours, ref = pad_sequences(seqs, **kwargs), keras_pad(seqs, **kwargs)
    assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("seqs, kwargs, match", [
    ([[1, 1.5], [2]], {}, "`sequences[0][1]` is 1.5, which `dtype` int32 cannot hold (it takes "
                          "whole numbers only); round the values first or pass dtype='float32'."),
    ([[1], [2, float("nan")]], {}, "`sequences[1]` is nan, which `dtype` int32 cannot hold"),
    ([[float("inf")]], {"dtype": "int64"}, "is inf, which `dtype` int64 cannot hold"),
    ([[1], [2**40]], {}, "`sequences[1]` is 1099511627776, outside the range of `dtype` int32 "
                         "[-2147483648, 2147483647]; pass a wider dtype such as 'int64'."),
    ([[-1]], {"dtype": "uint8"}, "is -1, outside the range of `dtype` uint8 [0, 255]"),
    ([np.array([1, 70000])], {"dtype": "int16"}, "`sequences[0][1]` is 70000, outside"),
    ([np.array([0.5])], {}, "`sequences[0][0]` is 0.5, which `dtype` int32 cannot hold"),
    (np.array([[1.0, np.nan]]), {}, "`sequences[0][1]` is nan"),
    ([[1e300]], {"dtype": "float32"}, "is 1e+300, beyond the range of `dtype` float32; pass "
                                      "dtype='float64'."),
    ([[1, [2, 3]], [4]], {}, "`sequences[0]` must be a list of numbers (or of equal-length "
                             "vectors); got [1, [2, 3]]"),
    ([[1, None]], {}, "`sequences[0]` must be a list of numbers (or of equal-length vectors) "
                      "that `dtype` int32 can hold; got [1, None]"),
    ([["a", "b"]], {}, "`sequences[0]` must be a list of numbers"),
    ([{"a": 1}], {}, "`sequences[0]` must be a list or array; got dict."),
    ([[1, 2]], {"dtype": "nonsense"}, "`dtype` must be a numeric, string or object numpy dtype "
                                      "(or its name), such as 'int32', 'float32', 'str' or "
                                      "object; got 'nonsense'."),
    ([[1, 2]], {"dtype": "datetime64"}, "`dtype` must be a numeric, string or object"),
    ([[1, 2]], {"value": float("nan")}, "`value` is nan, which `dtype` int32 cannot hold"),
    ([[1, 2]], {"value": 2**40}, "`value` is 1099511627776, outside the range of `dtype` int32"),
    ([[1, 2]], {"value": None}, "`value` must be a number for `dtype` int32; got None."),
])
def test_pad_sequences_names_what_does_not_fit(seqs, kwargs, match):
    with _raises(match):
        pad_sequences(seqs, maxlen=3, **kwargs)


def test_sequences_of_vectors_are_checked_too():
    out = pad_sequences([[[1, 2], [3, 4]], [[5, 6]]], maxlen=2)
    np.testing.assert_array_equal(out, [[[1, 2], [3, 4]], [[0, 0], [5, 6]]])
    with _raises("An item of `sequences[1]` is 0.5, which `dtype` int32 cannot hold"):
        pad_sequences([[[1, 2]], [[0.5, 6]]])
