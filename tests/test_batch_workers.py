"""predict/evaluate with batches on worker threads (statdl.training.batch_workers): the same
numbers and errors as one thread, torch's thread count restored, and workers only where the
model, the device and the load allow them.

On this machine the load decides whether workers run, so the tests force them through
``batch_workers.FORCED_WORKERS`` and compare with the path switched off.
"""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import fast_paths
from statdl import layers as L
from statdl.threads import ThreadGovernor
from statdl.training import batch_workers, inference
from statdl.training.data import InputRows


@pytest.fixture
def forced(monkeypatch):
    """Two workers whatever the load and however small the batches."""
    monkeypatch.setattr(batch_workers, "FORCED_WORKERS", 2)
    with fast_paths.on("batch_workers"):
        yield


def _serial(fn):
    with fast_paths.off("batch_workers"):
        return fn()


def _mlp():
    sd.set_seed(3)
    net = sd.Sequential([L.Dense(16, activation="relu"), L.Dropout(0.3),
                         L.Dense(3, activation="softmax")], input_shape=(12,))
    net.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return net


def test_predict_on_workers_matches_the_float64_definition_and_one_thread(forced):
    """float64 input: every batch is converted into one of three rotating buffers, so a buffer
    reused too early would show as wrong rows."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1003, 12))  # 11 batches of 96, the last of 43
    net = _mlp()
    got = net.predict(x, batch_size=96)
    k1, b1, k2, b2 = (w.astype(np.float64) for w in net.get_weights())
    z = np.maximum(x @ k1 + b1, 0) @ k2 + b2
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, _serial(lambda: net.predict(x, batch_size=96)),
                               rtol=1e-6, atol=1e-7)


def test_evaluate_on_workers_matches_one_thread(forced):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 12)).astype(np.float32)
    y = rng.integers(0, 3, 1000)
    net = _mlp()
    net.fit(x, y, epochs=1, batch_size=50, verbose=0)
    got = net.evaluate(x, y, batch_size=64, return_dict=True)
    want = _serial(lambda: net.evaluate(x, y, batch_size=64, return_dict=True))
    assert got.keys() == want.keys()
    for name in got:
        assert got[name] == pytest.approx(want[name], rel=1e-6), name


def test_cnn_and_embedding_table_on_workers_match_one_thread(forced):
    rng = np.random.default_rng(2)
    sd.set_seed(4)
    cnn = sd.Sequential([L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(),
                         L.Dense(2)], input_shape=(10, 10, 1))
    images = rng.random((70, 10, 10, 1), dtype=np.float32)
    np.testing.assert_allclose(cnn.predict(images, batch_size=16),
                               _serial(lambda: cnn.predict(images, batch_size=16)),
                               rtol=1e-6, atol=1e-6)
    embed = sd.Sequential([L.Embedding(30, 4), L.Flatten(), L.Dense(1, activation="sigmoid")],
                          input_shape=(6,))
    ids = rng.integers(0, 30, (500, 6))  # 500 rows >= 30 words x 1 unit: the table path
    built, real = [], inference._lookup_table

    def counting(*args):
        built.append(threading.current_thread().name)
        return real(*args)

    inference._lookup_table = counting
    try:
        with fast_paths.on("embedding_table"):  # also under STATDL_FAST_PATHS=0
            got = embed.predict(ids, batch_size=64)
            want = _serial(lambda: embed.predict(ids, batch_size=64))
    finally:
        inference._lookup_table = real
    workers = [name for name in built if name.startswith("statdl-batch")]
    assert 1 <= len(workers) <= 2  # one table per call, at most one per worker racing for it
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_the_first_bad_row_is_reported_whichever_worker_finds_it(forced):
    x = np.zeros((400, 12), dtype=np.float32)
    x[130, 4] = np.nan  # batch 3 of 50 rows
    x[260, 0] = np.inf  # batch 6
    net = _mlp()
    threads_before = torch.get_num_threads()
    with pytest.raises(sd.errors.ConfigError) as on_workers:
        net.predict(x, batch_size=50)
    with pytest.raises(sd.errors.ConfigError) as serial:
        _serial(lambda: net.predict(x, batch_size=50))
    assert "first in row 130" in str(on_workers.value)
    assert str(on_workers.value) == str(serial.value)
    assert torch.get_num_threads() == threads_before


def test_threads_are_restored_and_workers_gone_when_the_caller_stops_early(forced):
    net = _mlp()
    rows = InputRows(np.ones((100, 12)), (12,), integer_input=False)
    before = torch.get_num_threads()
    batches = batch_workers.forward_batches(rows, 10, net.module, workers=2)
    assert [(a, b) for a, b, _ in itertools.islice(batches, 2)] == [(0, 10), (10, 20)]
    assert torch.get_num_threads() == 1  # one torch thread per worker while they run
    batches.close()
    assert torch.get_num_threads() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("statdl-batch")]


def _governor(cores: int, threads: int, fixed: int | None = None) -> ThreadGovernor:
    governor = ThreadGovernor(torch, cores=cores, fixed=fixed)
    governor.threads = threads
    return governor


@pytest.mark.parametrize("case, plan", [
    ("busy 2 cores", (4, 200)), ("busy 4 cores", (5, 200)), ("automatic batches", (4, 133)),
    ("quiet", None), ("fixed count", None), ("8 cores", None), ("one batch", None),
    ("small batches", None), ("gpu", None), ("lstm", None), ("activity penalty", None),
])
def test_workers_only_where_model_device_and_load_allow(case, plan):
    """The model: 300 -> 100 -> 1, 30,100 multiply-adds a row, so batches of at least 133
    rows (MIN_BATCH_MULTIPLY_ADDS); 1,000 rows in batches of 200; two workers per core."""
    rows = InputRows(np.ones((1000, 300)), (300,), integer_input=False)
    dense = sd.Sequential([L.Dense(100, activation="relu"), L.Dense(1)], input_shape=(300,))
    module, batch_size, device, automatic = dense.module, 200, torch.device("cpu"), False
    governor = _governor(2, 1)
    if case == "busy 4 cores":
        governor = _governor(4, 3)
    elif case == "automatic batches":  # 1,000 rows for 4 workers: about 2 batches each
        batch_size, automatic = 1000, True
    elif case == "quiet":
        governor = _governor(2, 2)
    elif case == "fixed count":
        governor = _governor(2, 1, fixed=1)
    elif case == "8 cores":
        governor = _governor(8, 5)
    elif case == "one batch":
        batch_size = 1000
    elif case == "small batches":  # 100 rows: 3M multiply-adds
        batch_size = 100
    elif case == "gpu":
        device = torch.device("cuda")
    elif case == "lstm":
        module = sd.Sequential([L.LSTM(4), L.Dense(1)], input_shape=(5, 300)).module
    elif case == "activity penalty":
        module = sd.Sequential([L.Dense(100, activity_regularizer=sd.regularizers.L2(0.1)),
                                L.Dense(1)], input_shape=(300,)).module
    with fast_paths.on("batch_workers"):  # also under STATDL_FAST_PATHS=0
        got = batch_workers.worker_plan(module, rows, batch_size, device, governor, automatic)
    assert got == (plan or (0, batch_size))
