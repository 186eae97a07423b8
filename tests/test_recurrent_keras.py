"""Fidelity against Keras 3 itself: parameter counts and forward outputs with copied weights.

Needs ``pip install keras jax`` (run with ``-m slow``); skipped when Keras is not installed.
The weights of a freshly built Keras layer are perturbed (so biases are not all zero), copied
into the statdl layer with ``set_weights`` (same order and layout as Keras's ``get_weights``),
and both layers are run on the same batch.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")

from statdl.layers.embedding import Embedding  # noqa: E402
from statdl.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*")]

OURS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


def _pair(name, units, **kw):
    return getattr(keras.layers, name)(units, **kw), OURS[name](units, **kw)


def _perturbed(klayer, rng):
    weights = [w + rng.normal(scale=0.3, size=w.shape).astype(np.float32)
               for w in klayer.get_weights()]
    klayer.set_weights(weights)
    return weights


def _compare(klayer, ours, x, rng, atol=1e-5):
    klayer(x)  # builds the Keras layer
    weights = _perturbed(klayer, rng)
    ours.build(x.shape[1:])
    ours.set_weights(weights)
    expected = np.asarray(klayer(x))
    got = ours.module.eval()(torch.from_numpy(x)).detach().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=atol)
    assert ours.param_count(x.shape[1:]) == klayer.count_params()


CONFIGS = [
    ("SimpleRNN", {}), ("SimpleRNN", {"activation": "relu"}),
    ("SimpleRNN", {"activation": "sigmoid", "use_bias": False}),
    ("LSTM", {}), ("LSTM", {"use_bias": False}), ("LSTM", {"activation": "relu"}),
    ("GRU", {}), ("GRU", {"reset_after": False}), ("GRU", {"use_bias": False}),
    ("GRU", {"recurrent_activation": "tanh"}),
]


@pytest.mark.parametrize("name,kw", CONFIGS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_forward_matches_keras(name, kw, return_sequences, go_backwards):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 9, 5)).astype(np.float32)
    klayer, ours = _pair(name, 4, return_sequences=return_sequences, go_backwards=go_backwards,
                         **kw)
    _compare(klayer, ours, x, rng)


@pytest.mark.parametrize("name,kw", [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {}),
                                     ("GRU", {"reset_after": False})])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_keras(name, kw, merge_mode, return_sequences):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 7, 3)).astype(np.float32)
    kin, oin = _pair(name, 5, return_sequences=return_sequences, **kw)
    _compare(keras.layers.Bidirectional(kin, merge_mode=merge_mode),
             Bidirectional(oin, merge_mode=merge_mode), x, rng)


@pytest.mark.parametrize("n_in,units", [(1, 1), (3, 12), (32, 32), (8, 32), (50, 7)])
def test_param_counts_match_keras(n_in, units):
    for name in OURS:
        for kw in ({}, {"use_bias": False}) + (({"reset_after": False},) if name == "GRU" else ()):
            klayer, ours = _pair(name, units, **kw)
            klayer.build((None, 10, n_in))
            assert ours.param_count((10, n_in)) == klayer.count_params(), (name, kw)
            kb = keras.layers.Bidirectional(_pair(name, units, **kw)[0])
            kb.build((None, 10, n_in))
            assert Bidirectional(ours).param_count((10, n_in)) == kb.count_params()
            # weight shapes, in order, are Keras's
            ours.build((10, n_in))
            assert [w.shape for w in ours.get_weights()] == \
                [tuple(w.shape) for w in klayer.get_weights()]


def test_embedding_matches_keras():
    rng = np.random.default_rng(2)
    kemb = keras.layers.Embedding(50, 6)
    ids = rng.integers(0, 50, size=(4, 11))
    kemb(ids)
    assert Embedding(50, 6).param_count((11,)) == kemb.count_params()
    (matrix,) = kemb.get_weights()
    ours = Embedding(50, 6, weights=[matrix])
    got = ours.build((11,))(torch.from_numpy(ids)).detach().numpy()
    np.testing.assert_allclose(got, np.asarray(kemb(ids)), atol=0)


def test_embedding_lstm_stack_matches_keras():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 100, size=(3, 20))
    kmodel = keras.Sequential([keras.Input((20,)), keras.layers.Embedding(100, 8),
                               keras.layers.Bidirectional(keras.layers.LSTM(6)),
                               keras.layers.Dense(1, activation="sigmoid")])
    expected = np.asarray(kmodel(ids))
    emb, bi = Embedding(100, 8), Bidirectional(LSTM(6))
    from statdl.layers.core import Dense

    head = Dense(1, activation="sigmoid")
    net = torch.nn.Sequential(emb.build((20,)), bi.build((20, 8)), head.build((12,)))
    kw = kmodel.get_weights()
    emb.set_weights(kw[:1])
    bi.set_weights(kw[1:7])
    head.set_weights(kw[7:])
    got = net.eval()(torch.from_numpy(ids)).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
