"""SimpleRNN and LSTM inference (the paths of ``predict`` and ``evaluate``) against plain torch:
``_simple_rnn_pass.inference`` / ``inference_from_ids`` against ``torch.nn.RNN`` and
``_lstm_pass.lstm_inference`` against ``torch.nn.LSTM`` with the same weights, in float64 and
float32; ``RecurrentModule.forward_from_ids`` (Embedding folded into the SimpleRNN's input
projection) against the two modules run one after the other with the pass switched off, and
the cases it leaves to the usual path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import fast_paths
from statdl import layers as L
from statdl.layers._lstm_pass import lstm_inference
from statdl.layers._simple_rnn_pass import STEPS_PER_PROJECTION, inference, inference_from_ids


@pytest.fixture(autouse=True)
def _passes_on():
    """The inference passes these tests check, on also under STATDL_FAST_PATHS=0 (a test
    that compares with the plain path switches them off inside)."""
    with fast_paths.on("simple_rnn_pass", "lstm_pass"):
        yield


STEPS = [0, 1, STEPS_PER_PROJECTION, STEPS_PER_PROJECTION + 1, 3 * STEPS_PER_PROJECTION - 1]
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def _torch_rnn(kernel, rec, bias, relu):
    """``torch.nn.RNN`` holding the Keras-layout weights (no recurrent bias in Keras)."""
    n_in, u = kernel.shape
    rnn = torch.nn.RNN(n_in, u, batch_first=True, bias=bias is not None,
                       nonlinearity="relu" if relu else "tanh").to(kernel.dtype)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(kernel.t())
        rnn.weight_hh_l0.copy_(rec.t())
        if bias is not None:
            rnn.bias_ih_l0.copy_(bias)
            rnn.bias_hh_l0.zero_()
    return rnn


def _run(module, x, return_sequences):
    """``module``'s output in Keras's form (torch refuses zero steps: zeros, as Keras)."""
    u = module.hidden_size
    if x.shape[1] == 0:
        return x.new_zeros((x.shape[0], 0, u) if return_sequences else (x.shape[0], u))
    with torch.no_grad():
        out, state = module(x)
    if isinstance(state, tuple):  # LSTM: (h, c)
        state = state[0]
    return out if return_sequences else state[0]


def _weights(g, n_in, units, gates, dtype, use_bias):
    kernel = torch.randn(n_in, gates * units, generator=g, dtype=dtype) * 0.4
    rec = torch.randn(units, gates * units, generator=g, dtype=dtype) * 0.4
    bias = torch.randn(gates * units, generator=g, dtype=dtype) * 0.2 if use_bias else None
    return kernel, rec, bias


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("use_bias", [True, False])
def test_simple_rnn_inference_matches_torch_rnn(dtype, steps, relu, return_sequences,
                                                use_bias):
    g = torch.Generator().manual_seed(steps + 10 * relu)
    kernel, rec, bias = _weights(g, 5, 6, 1, dtype, use_bias)
    x = torch.randn(7, steps, 5, generator=g, dtype=dtype)
    expected = _run(_torch_rnn(kernel, rec, bias, relu), x, return_sequences)
    tol = TOL[dtype]
    with torch.inference_mode():
        out = inference(x, kernel, rec, bias, relu=relu, return_sequences=return_sequences)
        # time-major input (a previous layer's sequence) takes the branch without a copy
        time_major = x.transpose(0, 1).contiguous().transpose(0, 1)
        out_tm = inference(time_major, kernel, rec, bias, relu=relu,
                           return_sequences=return_sequences)
    assert out.shape == expected.shape and out.dtype == dtype
    torch.testing.assert_close(out, expected, rtol=tol, atol=tol)
    torch.testing.assert_close(out_tm, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_simple_rnn_from_ids_matches_torch_rnn_of_the_embedded_ids(dtype, steps, relu,
                                                                   return_sequences):
    g = torch.Generator().manual_seed(100 + steps)
    kernel, rec, bias = _weights(g, 4, 6, 1, dtype, True)
    embeddings = torch.randn(13, 4, generator=g, dtype=dtype)
    ids = torch.randint(0, 13, (9, steps), generator=g)
    expected = _run(_torch_rnn(kernel, rec, bias, relu), embeddings[ids], return_sequences)
    with torch.inference_mode():
        out = inference_from_ids(ids, embeddings, kernel, rec, bias, relu=relu,
                                 return_sequences=return_sequences)
    torch.testing.assert_close(out, expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("use_bias", [True, False])
def test_lstm_inference_matches_torch_lstm(dtype, steps, return_sequences, use_bias):
    g = torch.Generator().manual_seed(200 + steps)
    kernel, rec, bias = _weights(g, 5, 6, 4, dtype, use_bias)
    lstm = torch.nn.LSTM(5, 6, batch_first=True, bias=use_bias).to(dtype)
    with torch.no_grad():  # Keras's gate order i, f, c, o is torch's i, f, g, o
        lstm.weight_ih_l0.copy_(kernel.t())
        lstm.weight_hh_l0.copy_(rec.t())
        if use_bias:
            lstm.bias_ih_l0.copy_(bias)
            lstm.bias_hh_l0.zero_()
    x = torch.randn(7, steps, 5, generator=g, dtype=dtype)
    expected = _run(lstm, x, return_sequences)
    with torch.inference_mode():
        out = lstm_inference(x, kernel, rec, bias, return_sequences=return_sequences)
        out_tm = lstm_inference(x.transpose(0, 1).contiguous().transpose(0, 1), kernel, rec,
                                bias, return_sequences=return_sequences)
    tol = TOL[dtype]
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=tol, atol=tol)
    torch.testing.assert_close(out_tm, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("time_major", [False, True])
def test_lstm_inference_with_rows_added_for_torch_threads_matches_torch_lstm(
        dtype, return_sequences, time_major):
    """1,000 rows of 32 units on two threads run as 1,025 (``_lstm_pass._rows``); on one
    thread as they are: both give torch's values for the 1,000 rows."""
    from statdl.layers import _lstm_pass

    g = torch.Generator().manual_seed(7)
    kernel, rec, bias = _weights(g, 3, 32, 4, dtype, True)
    lstm = torch.nn.LSTM(3, 32, batch_first=True).to(dtype)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(kernel.t())
        lstm.weight_hh_l0.copy_(rec.t())
        lstm.bias_ih_l0.copy_(bias)
        lstm.bias_hh_l0.zero_()
    x = torch.randn(1000, 6, 3, generator=g, dtype=dtype)
    if time_major:
        x = x.transpose(0, 1).contiguous().transpose(0, 1)
    expected = _run(lstm, x, return_sequences)
    before = torch.get_num_threads()
    try:
        for threads, rows in ((2, 1025), (1, 1000)):
            torch.set_num_threads(threads)
            assert _lstm_pass._rows(1000, 32) == rows
            with torch.inference_mode():
                out = lstm_inference(x, kernel, rec, bias, return_sequences=return_sequences)
            assert out.shape == expected.shape
            torch.testing.assert_close(out, expected, rtol=TOL[dtype], atol=TOL[dtype])
    finally:
        torch.set_num_threads(before)


def _embedded(layer, words=50, steps=7, dtype=torch.float64, mask_zero=False, seed=0):
    """An Embedding and ``layer`` built on it, in eval mode, and a batch of ids."""
    sd.set_seed(seed)
    model = sd.Sequential([L.Embedding(words, 5, mask_zero=mask_zero), layer],
                          input_shape=(steps,))
    module = model.module.to(dtype).eval()
    emb, rnn = module.layers
    ids = torch.randint(0, words, (words, steps), generator=torch.Generator().manual_seed(1))
    return emb, rnn, ids


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("options", [{}, {"activation": "relu"}, {"go_backwards": True},
                                     {"return_sequences": True},
                                     {"return_sequences": True, "go_backwards": True},
                                     {"use_bias": False}])
def test_forward_from_ids_matches_the_two_modules_on_the_plain_path(dtype, options):
    emb, rnn, ids = _embedded(L.SimpleRNN(6, **options), dtype=dtype)
    with torch.inference_mode():
        out = rnn.forward_from_ids(emb, ids)
        with fast_paths.off("simple_rnn_pass"):  # torch's fused rnn_tanh / rnn_relu
            expected = rnn(emb(ids))
    assert out is not None
    torch.testing.assert_close(out, expected, rtol=TOL[dtype], atol=TOL[dtype])


def test_bidirectional_forward_from_ids_matches_its_forward():
    emb, bi, ids = _embedded(L.Bidirectional(L.SimpleRNN(6, return_sequences=True)))
    with torch.inference_mode():
        out = bi.forward_from_ids(emb, ids)
        with fast_paths.off("simple_rnn_pass"):
            expected = bi(emb(ids))
    assert out is not None and out.shape == (50, 7, 12)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", ["lstm", "gru", "bilstm", "grad", "training", "mask_zero",
                                  "vocabulary", "switch_off", "sigmoid", "float32_ids_table"])
def test_forward_from_ids_leaves_other_cases_to_the_usual_path(case):
    layer = {"lstm": L.LSTM(6), "gru": L.GRU(6), "bilstm": L.Bidirectional(L.LSTM(6)),
             "sigmoid": L.SimpleRNN(6, activation="sigmoid")}.get(case, L.SimpleRNN(6))
    emb, rnn, ids = _embedded(layer, mask_zero=case == "mask_zero")
    if case == "vocabulary":  # more words than ids in the batch: the table would not pay
        ids = ids[:3]
    if case == "training":
        rnn.train()
    if case == "float32_ids_table":  # embedding and kernel of different dtypes
        emb.float()
    if case == "grad":
        assert rnn.forward_from_ids(emb, ids) is None
        return
    with torch.inference_mode():
        if case == "switch_off":
            with fast_paths.off("simple_rnn_pass"):
                assert rnn.forward_from_ids(emb, ids) is None
        else:
            assert rnn.forward_from_ids(emb, ids) is None


def test_forward_from_ids_checks_the_ids_as_the_embedding_does():
    emb, rnn, ids = _embedded(L.SimpleRNN(6))
    ids[3, 2] = 50  # input_dim is 50
    with torch.inference_mode(), pytest.raises(sd.errors.ShapeError, match="word id 50"):
        rnn.forward_from_ids(emb, ids)


@pytest.mark.parametrize("model", ["rnn", "rnn3", "lstm", "bilstm"])
def test_predict_and_evaluate_agree_with_every_fast_path_off(model):
    """The course models' predict (whatever inference.forward dispatches) against the plain
    paths (torch's fused ops, module by module), float32."""
    from statdl.labs import imdb_rnn

    sd.set_seed(3)
    net = imdb_rnn.build(model, 12)
    net.compile("rmsprop", "binary_crossentropy", ["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10_000, (10_300, 12))  # more ids than words: the table applies
    y = rng.integers(0, 2, (10_300, 1)).astype(np.float32)
    fast = net.predict(x)
    fast_eval = net.evaluate(x, y)
    with fast_paths.off():
        plain = net.predict(x)
        plain_eval = net.evaluate(x, y)
    np.testing.assert_allclose(fast, plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(list(fast_eval.values()) if isinstance(fast_eval, dict)
                               else fast_eval,
                               list(plain_eval.values()) if isinstance(plain_eval, dict)
                               else plain_eval, rtol=1e-5, atol=1e-6)
