"""predict's batch conversion (``statdl.training.data.InputRows``) against numpy's own float32
conversion, for every memory layout and dtype a user's input comes in: the batches are
converted by torch's copy where it can read the values, by numpy's elsewhere, and must give
numpy's float32 values exactly, without warnings (pandas' copy-on-write views are
read-only)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import statdl as sd
from statdl import layers as L
from statdl.training.data import InputRows

RNG = np.random.default_rng(8)
BASE = RNG.normal(scale=3.0, size=(301, 13))


def _inputs():
    ints = RNG.integers(-1000, 1000, (301, 13))
    mixed = pd.DataFrame(BASE, columns=[f"c{i}" for i in range(13)])
    mixed["c3"] = ints[:, 3]  # an int64 column: the frame is no longer one block
    mixed["c7"] = BASE[:, 7].astype(np.float32)
    return {
        "C float64": BASE,
        "Fortran float64": np.asfortranarray(BASE),
        "every other row": np.concatenate([BASE, BASE])[::2],
        "reversed rows": BASE[::-1],
        "float16": BASE.astype(np.float16),
        "int64": ints,
        "uint16": (ints + 1000).astype(np.uint16),  # not in torch's list: numpy converts
        "big-endian float64": BASE.astype(">f8"),
        "frame float64": pd.DataFrame(BASE),
        "frame mixed dtypes": mixed,
        "frame of a slice": pd.DataFrame(BASE).iloc[1:],
        "frame float32": pd.DataFrame(BASE.astype(np.float32)),
        "frame nullable Float64": pd.DataFrame(BASE).astype("Float64"),  # pandas converts
        "frame bool and uint16": pd.DataFrame({"a": BASE[:, 0] > 0,
                                               "b": (ints[:, 1] + 1000).astype(np.uint16)}),
    }


@pytest.mark.parametrize("name", sorted(_inputs()))
def test_batches_hold_numpys_float32_values(name):
    x = _inputs()[name]
    expected = np.asarray(x).astype(np.float32)
    rows = InputRows(x, x.shape[1:], integer_input=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's "NumPy array is not writable"
        got = [t.numpy().copy() for _, _, t in rows.batches(64)]
        whole = rows.tensor().numpy()
    np.testing.assert_array_equal(np.concatenate(got), expected)
    np.testing.assert_array_equal(whole, expected)


def test_predict_on_a_frame_equals_predict_on_its_array():
    sd.set_seed(9)
    net = sd.Sequential([L.Dense(20, activation="relu"), L.Dense(3, activation="softmax")],
                        input_shape=(13,))
    net.compile("rmsprop", "categorical_crossentropy")
    frame = pd.DataFrame(BASE, columns=[f"c{i}" for i in range(13)])
    assert not frame.iloc[:250].to_numpy().flags.c_contiguous  # the column-major view
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = net.predict(frame, batch_size=50)
    np.testing.assert_array_equal(got, net.predict(BASE.astype(np.float32), batch_size=50))


def test_numpy_converts_where_dlpack_refuses_the_values(monkeypatch):
    """numpy before 2.1 exports no read-only array through DLPack (BufferError): the batch
    is then converted by numpy, to the same values."""
    import torch

    def refuse(values):
        raise BufferError("Cannot export readonly array since signalling readonly is "
                          "unsupported by DLPack.")

    monkeypatch.setattr(torch, "from_dlpack", refuse)
    frame = pd.DataFrame(BASE)
    rows = InputRows(frame, (13,), integer_input=False)
    got = np.concatenate([t.numpy().copy() for _, _, t in rows.batches(64)])
    np.testing.assert_array_equal(got, BASE.astype(np.float32))
