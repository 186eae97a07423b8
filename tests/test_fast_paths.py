"""The fast-path switchboard (``statdl.fast_paths``): one contract over its whole registry.

For every registered path a tiny model that takes it trains from one seed with the path on and
off; the weights (and losses, predictions) agree to the tolerance the registry documents, and the
path really was taken when on and not when off: torch's profiler sees the path's own operation
(``aten::_fused_adam_``, the passes' autograd nodes ``_GRU`` ...), or the dispatch function
that chooses it says so. No statdl code is replaced. The GPU versions run when CUDA is present.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
import pkgutil
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch.profiler import ProfilerActivity, profile, record_function

import statdl as sd
from statdl import _torch_private, fast_paths
from statdl import layers as L
from statdl.layers.dropout_masks import keep_mask, threshold_16
from statdl.training import loop
from statdl.training.dense_step import DenseStackStep
from statdl.training.losses import LOSSES

INT64_MIN = torch.iinfo(torch.int64).min
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device (runs on the first GPU machine)"))]


# ----------------------------------------------------------------------------- scenarios
def _xy(n=64, shape=(6,), task="regression", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *shape)).astype(np.float32)
    if task == "regression":
        y = rng.normal(size=(n, 2)).astype(np.float32)
    elif task == "sparse":
        y = rng.integers(0, 3, n)
    else:  # one-hot rows of 3 classes
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]
    return x, y


def _fit(layers, input_shape, loss, x, y, device, optimizer="rmsprop", metrics=None):
    """Weights and epoch losses/metrics after 2 epochs from seed 7, and the trained model."""
    sd.set_seed(7)
    net = sd.Sequential(layers(), input_shape=input_shape)
    net.compile(optimizer, loss, metrics or [], device=device)
    history = net.fit(x, y, epochs=2, batch_size=16, verbose=0)
    arrays = [*net.get_weights(), np.asarray(history.history["loss"])]
    arrays += [np.asarray(v) for k, v in sorted(history.history.items()) if k != "loss"]
    return arrays, net


@dataclass
class Scenario:
    """A tiny training run that takes one path. ``run(device)`` returns the arrays to compare
    and a set of markers from the dispatch decision; ``marker`` must be seen (profiler event
    names or those markers) with the path on and not with it off. ``needs`` / ``without``: other
    paths held on / off for both runs (so the path is reachable whatever STATDL_FAST_PATHS says)."""

    run: Callable[[str], tuple[list[np.ndarray], set[str]]]
    marker: str
    needs: tuple[str, ...] = ()
    without: tuple[str, ...] = ()
    cpu_only: str = ""  # why the path does not exist off the CPU, if it does not


def _dense(device, layers, loss="mse", task="regression", optimizer="rmsprop", metrics=None):
    x, y = _xy(task=task)
    arrays, net = _fit(layers, (6,), loss, x, y, device, optimizer, metrics)
    hand = DenseStackStep.for_state(net._training_state())
    markers = set()
    if hand is not None:
        markers.add("decision: dense step")
        if any(s.narrow and hand.narrow_layout for s in hand.steps):
            markers.add("decision: narrow layout")
    return arrays, markers


def _prefixed(device, layers, shape, x, y):
    arrays, net = _fit(layers, shape, "mse", x, y, device)
    hand = DenseStackStep.for_state(net._training_state(), x.ndim)
    prefix = getattr(hand, "prefix", None)
    return arrays, set() if prefix is None else {f"decision: {type(prefix).__name__}"}


def _conv1d_prefix(device):
    x, y = _xy(n=48, shape=(5, 3))
    return _prefixed(device, lambda: [L.Conv1D(4, 3, activation="relu"), L.Flatten(),
                                      L.Dense(2)], (5, 3), x, y)


def _bilstm_prefix(device):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 20, (48, 6)), rng.normal(size=(48, 2)).astype(np.float32)
    return _prefixed(device, lambda: [L.Embedding(20, 3), L.Bidirectional(L.LSTM(4)),
                                      L.Dense(2)], (6,), x, y)


def _mlp():
    return [L.Dense(8, activation="relu"), L.Dropout(0.3), L.Dense(5, activation="tanh"),
            L.Dense(2)]


def _dense_onednn(device):
    """Trains a 16-12-2 network (dropout before the second layer) with oneDNN's threshold
    lowered to one multiply-add; oneDNN's op is the marker (predict's own path held off)."""
    from statdl.layers import core
    limit, core.ONEDNN_DENSE_MIN = core.ONEDNN_DENSE_MIN, 1
    try:
        return _dense(device, lambda: [L.Dense(16, activation="relu"), L.Dropout(0.25),
                                       L.Dense(12, activation="tanh"), L.Dense(2)])
    finally:
        core.ONEDNN_DENSE_MIN = limit


def _sparse_mlp():
    return [L.Dense(8, activation="relu"), L.Dropout(0.25), L.Dense(3, activation="softmax")]


def _recurrent(kind, device, **options):
    """Trains, then predicts; the markers are the operations ``predict`` ran ("predict: ...")."""
    x, y = _xy(n=48, shape=(5, 3))
    arrays, net = _fit(lambda: [getattr(L, kind)(4, **options), L.Dense(2)], (5, 3), "mse", x,
                       y, device)
    with record_function("predict"):  # _profiled names the operations inside "predict: ..."
        arrays.append(net.predict(x))
    return arrays, set()


def _simple_rnn(device):
    """Plain (the CPU's case) and with recurrent dropout (the pass's case on every device;
    off, the step loop draws the same masks in the same order)."""
    plain, _ = _recurrent("SimpleRNN", device) if device == "cpu" else ([], set())
    dropped, _ = _recurrent("SimpleRNN", device, dropout=0.2, recurrent_dropout=0.25)
    return plain + dropped, set()


def _onehot(device):
    x, y = _xy(task="onehot")
    decided = loop.index_targets(LOSSES["categorical_crossentropy"], [],
                                 torch.as_tensor(y))[0].name
    arrays, _ = _fit(lambda: [L.Dense(8, activation="relu"), L.Dense(3, activation="softmax")],
                     (6,), "categorical_crossentropy", x, y, device, metrics=["accuracy"])
    return arrays, {f"decision: {decided}"}


def _metric_chunks(device, monkeypatch):
    calls = []
    real = loop.update_metrics

    def counting(*args, **kwargs):  # a spy: counts, then runs statdl's own update
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "update_metrics", counting)
    x, _ = _xy()
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)[:, None]
    # AUC keeps the scores it is fed: fed every batch it once kept views of the reused buffer
    arrays, _ = _fit(lambda: [L.Dense(8, activation="relu"), L.Dense(1, activation="sigmoid")],
                     (6,), "binary_crossentropy", x, y, device, metrics=["accuracy", "auc"])
    monkeypatch.setattr(loop, "update_metrics", real)
    # 2 epochs of 4 steps: one feed per epoch when chunked, one per step otherwise
    return arrays, {"decision: chunked"} if len(calls) == 2 else {f"{len(calls)} feeds"}


def _embedding(device):
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 20, (64, 5))
    y = rng.normal(size=(64, 2)).astype(np.float32)
    return _fit(lambda: [L.Embedding(20, 3), L.Flatten(), L.Dense(4, activation="tanh"),
                         L.Dense(2)], (5,), "mse", ids, y, device)[0], set()


def _embedding_table(device):
    """Trains Embedding + Flatten + Dense, then predicts more rows than words x units (the
    table's threshold); the markers are the operations ``predict`` ran."""
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 20, (64, 5))
    y = rng.normal(size=(64, 2)).astype(np.float32)
    arrays, net = _fit(lambda: [L.Embedding(20, 3), L.Flatten(), L.Dense(2)], (5,), "mse", ids,
                       y, device)
    with record_function("predict"):
        arrays.append(net.predict(ids))
    return arrays, set()


def _conv_net(device):
    """A Conv2D + MaxPooling2D network trained for 2 epochs (the inference paths' model)."""
    x, y = _xy(n=32, shape=(8, 8, 1))
    return x, *_fit(lambda: [L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(),
                             L.Dense(2)], (8, 8, 1), "mse", x, y, device)


def _max_pool_views(device):
    x, arrays, net = _conv_net(device)
    with record_function("predict"):
        arrays.append(net.predict(x))
    return arrays, set()


def _conv_pool(device):
    """Predicts with slices of 8 images' convolution output; the marker counts the slices
    (a spy around the convolution's own forward pass, which still runs)."""
    from statdl.layers import conv

    x, arrays, net = _conv_net(device)
    calls, real, limit = [], conv.Conv2DModule.forward_logits, conv.CONV_POOL_BYTES

    def counting(self, inputs):
        calls.append(inputs.shape[0])
        return real(self, inputs)

    conv.Conv2DModule.forward_logits = counting
    conv.CONV_POOL_BYTES = 8 * 6 * 6 * 4 * 4  # 8 images of (6, 6, 4) float32
    try:
        arrays.append(net.predict(x, batch_size=32))
    finally:
        conv.Conv2DModule.forward_logits, conv.CONV_POOL_BYTES = real, limit
    return arrays, {f"decision: convolution in {len(calls)} slices"}


def _few_class_softmax(device):
    """Predicts with a 3-class softmax layer; torch's own softmax is the marker when off."""
    x, y = _xy(task="sparse")
    arrays, net = _fit(lambda: [L.Dense(4, activation="relu"), L.Dense(3, activation="softmax")],
                       (6,), "sparse_categorical_crossentropy", x, y, device)
    with record_function("predict"):
        arrays.append(net.predict(x))
    return arrays, set()


def _few_class_cross_entropy(device):
    """Evaluates a 3-class softmax network on class indices; torch's log-softmax is the marker
    when off."""
    x, y = _xy(task="sparse")
    arrays, net = _fit(lambda: [L.Dense(4, activation="relu"), L.Dense(3, activation="softmax")],
                       (6,), "sparse_categorical_crossentropy", x, y, device)
    with record_function("predict"):
        arrays.append(np.asarray(net.evaluate(x, y)))
    return arrays, set()


def _onednn_dense(device):
    """Predicts and evaluates a 3-class softmax network with every batch large enough for
    oneDNN's product (its threshold lowered to one multiply-add); oneDNN's op is the marker."""
    from statdl.layers import core
    x, y = _xy(task="sparse")
    arrays, net = _fit(lambda: [L.Dense(4, activation="relu"), L.Dense(3, activation="softmax")],
                       (6,), "sparse_categorical_crossentropy", x, y, device)
    limit, core.ONEDNN_DENSE_MIN = core.ONEDNN_DENSE_MIN, 1
    try:
        with record_function("predict"):
            arrays.append(net.predict(x))
            arrays.append(np.asarray(net.evaluate(x, y)))
    finally:
        core.ONEDNN_DENSE_MIN = limit
    return arrays, set()


def _batch_workers(device):
    """Predicts and evaluates in batches of 8 with two workers forced (otherwise the load
    decides); the marker names the threads the forward passes ran on."""
    from statdl.training import batch_workers, inference

    x, arrays, net = _conv_net(device)
    y = _xy(n=32)[1]
    threads, real = set(), inference.forward

    def spying(module, inputs, logits=False):
        threads.add(threading.current_thread().name.rpartition("_")[0] or "caller")
        return real(module, inputs, logits)

    inference.forward, batch_workers.FORCED_WORKERS = spying, 2
    try:
        arrays.append(net.predict(x, batch_size=8))
        arrays.append(np.asarray(net.evaluate(x, y, batch_size=8)))
    finally:
        inference.forward, batch_workers.FORCED_WORKERS = real, None
    return arrays, {"decision: forward on workers" if "statdl-batch" in threads else
                    "decision: forward in the caller only"}


def _mc_dropout(device):
    """MC-dropout draws of a trained MLP (Dense before its first Dropout); the marker counts
    the rows the first Dense layer saw: each row once (head once) or once per pass."""
    from statdl.intervals import mc_dropout_predict

    x, y = _xy(n=40)
    arrays, net = _fit(_mlp, (6,), "mse", x, y, device)
    rows = []
    hook = net.module.layers[0].register_forward_hook(
        lambda mod, inp, out: rows.append(inp[0].shape[0]))
    try:
        draws = mc_dropout_predict(net, x, passes=30, seed=4, batch_size=16)
    finally:
        hook.remove()
    return [*arrays, draws], {f"decision: first layer saw {sum(rows) // len(x)}x the rows"}


def _dropout_16bit(device):
    torch.manual_seed(11)
    mask = keep_mask((4000,), 0.3, device)
    markers = set()
    if torch.equal(mask.cpu(), _mask_16bit(11, 4000, 0.3)):
        markers.add("decision: 16-bit mask")
    if torch.equal(mask.cpu(), _mask_32bit(11, 4000, 0.3)):
        markers.add("decision: 32-bit mask")
    arrays, _ = _dense(device, _mlp)
    return arrays, markers


def _mask_16bit(seed, n, rate):
    """The 16-bit mask by its definition: four 16-bit draws per int64 word, the threshold from
    the word after them (``threshold_16``)."""
    torch.manual_seed(seed)
    words = torch.empty((n + 3) // 4 + 1, dtype=torch.int64).random_(INT64_MIN, None)
    bits = words[:-1].view(torch.int16)[:n].int() + 32768
    return (bits >= threshold_16(rate, int(words[-1]))).float()


def _mask_32bit(seed, n, rate):
    torch.manual_seed(seed)
    words = torch.empty((n + 1) // 2, dtype=torch.int64).random_(INT64_MIN, None)
    bits = words.view(torch.int32)[:n].long() + 2**31
    return (bits >= round(rate * 2**32)).float()


SCENARIOS: dict[str, Scenario] = {
    "dense_step": Scenario(lambda d: _dense(d, _mlp), "decision: dense step"),
    "dense_onednn_product": Scenario(_dense_onednn, "mkldnn::_linear_pointwise",
                                     needs=("dense_step",), without=("onednn_dense",),
                                     cpu_only="oneDNN is the CPU's library"),
    "dense_narrow_layout": Scenario(
        lambda d: _dense(d, _sparse_mlp, "sparse_categorical_crossentropy", "sparse"),
        "decision: narrow layout", needs=("dense_step",),
        cpu_only="the transposed layout is a CPU (MKL) trick"),
    # with the closed form, the Dense step runs no autograd at all
    "dense_closed_form_loss": Scenario(
        lambda d: _dense(d, _sparse_mlp, "sparse_categorical_crossentropy", "sparse"),
        "autograd::engine", needs=("dense_step",)),
    "dense_conv1d_prefix": Scenario(_conv1d_prefix, "decision: _Conv1DPrefix",
                                    needs=("dense_step",)),
    "dense_bilstm_prefix": Scenario(_bilstm_prefix, "decision: _BiLSTMPrefix",
                                    needs=("dense_step", "lstm_pass"),
                                    cpu_only="the prefix calls oneDNN; CUDA keeps cuDNN's LSTM"),
    "fused_optimizer": Scenario(lambda d: _dense(d, _mlp, optimizer="adam"),
                                "aten::_fused_adam_"),
    "dropout_16bit": Scenario(_dropout_16bit, "decision: 16-bit mask",
                              cpu_only="other devices draw 32 bits per entry"),
    # the passes compute tanh as 2 sigmoid(2 z) - 1: off, torch's rnn_tanh / the step loop call tanh
    "simple_rnn_pass": Scenario(_simple_rnn, "aten::tanh"),
    "gru_pass": Scenario(lambda d: _recurrent("GRU", d), "_GRU",
                         cpu_only="cuDNN's GRU on CUDA"),
    # predict runs the inference pass (plain operations) instead of torch.lstm
    "lstm_pass": Scenario(lambda d: _recurrent("LSTM", d), "predict: aten::lstm",
                          needs=("torch_rnn_ops",), cpu_only="cuDNN's LSTM on CUDA"),
    "torch_rnn_ops": Scenario(lambda d: _recurrent("GRU", d), "aten::gru",
                              without=("gru_pass",)),
    "onehot_as_index": Scenario(_onehot, "decision: sparse_categorical_crossentropy"),
    "metric_chunks": Scenario(None, "decision: chunked"),  # run needs monkeypatch: see below
    "embedding_index_add": Scenario(_embedding, "aten::index_add_", without=("dense_step",),
                                    cpu_only="CUDA's own embedding backward is kept"),
    # the table replaces the Dense layer's matrix product on the embedding rows
    "embedding_table": Scenario(_embedding_table, "predict: aten::addmm"),
    # off, max pooling is torch's kernel
    "max_pool_views": Scenario(_max_pool_views, "predict: aten::max_pool2d"),
    "conv_pool": Scenario(_conv_pool, "decision: convolution in 4 slices",
                          needs=("max_pool_views",)),
    "few_class_softmax": Scenario(_few_class_softmax, "predict: aten::_softmax",
                                  cpu_only="a CPU kernel's weakness"),
    "few_class_cross_entropy": Scenario(_few_class_cross_entropy,
                                        "predict: aten::_log_softmax",
                                        cpu_only="a CPU kernel's weakness"),
    "onednn_dense": Scenario(_onednn_dense, "predict: mkldnn::_linear_pointwise",
                             cpu_only="oneDNN is the CPU's library"),
    "batch_workers": Scenario(_batch_workers, "decision: forward on workers",
                              cpu_only="workers replace torch's CPU threads"),
    "mc_dropout_head_once": Scenario(_mc_dropout, "decision: first layer saw 1x the rows"),
}

#: Paths whose marker is the absence of something: seen when OFF, not when on.
MARKED_WHEN_OFF = {"dense_closed_form_loss", "few_class_softmax", "few_class_cross_entropy", "lstm_pass", "embedding_table", "simple_rnn_pass",
                   "max_pool_views"}


def _profiled(run, device):
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        arrays, markers = run(device)
    events = prof.events()
    inside = [e.time_range for e in events if e.name == "predict"]
    return arrays, markers | {e.name for e in events} | {
        f"predict: {e.name}" for e in events
        if any(r.start <= e.time_range.start and e.time_range.end <= r.end for r in inside)}


def _seen(marker: str, events: set[str]) -> bool:
    return any(marker in e for e in events)


def _run_both(name, device, monkeypatch):
    scenario = SCENARIOS[name]
    run = scenario.run or (lambda d: _metric_chunks(d, monkeypatch))
    out = {}
    for on in (True, False):
        with ExitStack() as stack:  # (on() / off() with no names would switch every path)
            if scenario.needs:
                stack.enter_context(fast_paths.on(*scenario.needs))
            if scenario.without:
                stack.enter_context(fast_paths.off(*scenario.without))
            stack.enter_context((fast_paths.on if on else fast_paths.off)(name))
            out[on] = _profiled(run, device)
    return out[True], out[False]


# ------------------------------------------------------------------------------ contract
def test_every_registered_path_has_a_scenario():
    assert set(fast_paths.names()) <= set(SCENARIOS), \
        f"fast paths without a contract scenario: {set(fast_paths.names()) - set(SCENARIOS)}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", fast_paths.names())
def test_path_on_and_off_train_alike_and_the_path_is_taken(name, device, monkeypatch):
    scenario, path = SCENARIOS[name], fast_paths.get(name)
    if device != "cpu" and scenario.cpu_only:
        pytest.skip(f"{name} is CPU-only: {scenario.cpu_only}")
    (on_arrays, on_seen), (off_arrays, off_seen) = _run_both(name, device, monkeypatch)
    taken = (_seen(scenario.marker, off_seen) and not _seen(scenario.marker, on_seen)
             if name in MARKED_WHEN_OFF else
             _seen(scenario.marker, on_seen) and not _seen(scenario.marker, off_seen))
    assert taken, f"{name}: the path's marker {scenario.marker!r} does not tell on from off"
    assert len(on_arrays) == len(off_arrays)
    if path.rtol is None:  # other random numbers: the weights must differ, stay finite
        assert not all(np.allclose(a, b) for a, b in zip(on_arrays, off_arrays))
        assert all(np.isfinite(a).all() for a in on_arrays + off_arrays)
        return
    for a, b in zip(on_arrays, off_arrays):
        np.testing.assert_allclose(a, b, rtol=path.rtol, atol=path.atol, err_msg=name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("on", [True, False])
def test_both_mask_paths_drop_each_entry_with_probability_rate(on, device):
    """dropout_16bit changes the random numbers, not their law: over 400,000 entries the drop
    frequency is within 5 binomial standard deviations of the rate, on and off."""
    with (fast_paths.on if on else fast_paths.off)("dropout_16bit"):
        sd.set_seed(5)
        for rate in (0.1, 0.3, 0.5):
            mask = keep_mask((400, 1000), rate, device)
            sd_ = math.sqrt(rate * (1 - rate) / mask.numel())
            assert abs(1 - float(mask.float().mean()) - rate) < 5 * sd_


def test_registry_covers_every_switch():
    """Every switch of statdl's training and layer modules is registered: bool class
    attributes named ``enabled``, ``fused``, ``narrow_layout``, ``*_pass`` (or an old
    ``*_kernel``), ``index_*`` or held by a class that holds a registered switch, and upper-case bool module attributes;
    and every registered switch exists."""
    registered = {p.switch for p in fast_paths.PATHS}
    found = set()
    for package in ("statdl.training", "statdl.layers"):
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__, package + "."):
            module = importlib.import_module(info.name)
            found |= {f"{module.__name__}:{k}" for k, v in vars(module).items()
                      if isinstance(v, bool) and k.isupper()}  # module-level switches
            for cls_name, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ != module.__name__:
                    continue
                for attr, value in vars(cls).items():
                    if isinstance(value, bool) and (
                            attr in ("enabled", "fused", "narrow_layout")
                            or attr.endswith(("_pass", "_kernel")) or attr.startswith("index_")
                            or f"{module.__name__}:{cls_name}." in " ".join(registered)):
                        found.add(f"{module.__name__}:{cls_name}.{attr}")
    assert found - registered == set(), f"switches not in statdl.fast_paths: {found - registered}"
    for path in fast_paths.PATHS:
        path.value()  # raises if the switch has gone


# ------------------------------------------------------------------------ the switchboard
def test_off_restores_the_previous_state_even_on_error():
    before = fast_paths.state()
    with pytest.raises(RuntimeError, match="inside"):
        with fast_paths.off():
            assert not any(fast_paths.state().values())
            raise RuntimeError("inside")
    assert fast_paths.state() == before
    with fast_paths.off("gru_pass"), fast_paths.off("gru_pass", "dense_step"):
        assert not fast_paths.is_on("gru_pass") and not fast_paths.is_on("dense_step")
    assert fast_paths.state() == before


def test_the_switchboard_writes_the_old_switches():
    """The attributes the code reads are the only storage: the old way still works."""
    with fast_paths.on("dense_step"):
        DenseStackStep.enabled = False
        try:
            assert not fast_paths.is_on("dense_step")
        finally:
            DenseStackStep.enabled = True
    with fast_paths.off("fused_optimizer", "metric_chunks"):
        assert sd.optimizers.Optimizer.fused is False
        assert loop.PendingOutputs.CAPACITY == 0


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(sd.errors.ConfigError, match="`name` of fast_paths must be one of .*; "
                                                     "got 'dense_kernal'. Did you mean "
                                                     "'dense_step'"):
        fast_paths.off("dense_kernal")


def test_table_lists_every_path_with_its_switch_and_reasons():
    table = fast_paths.table()
    assert list(table["name"]) == fast_paths.names()
    assert table["switch"].str.contains(":").all()
    for column in ("applies", "why", "gain", "tolerance"):
        assert (table[column].str.len() > 5).all(), column
    with fast_paths.off("lstm_pass"):
        assert not fast_paths.table().set_index("name").loc["lstm_pass", "on"]


def test_environment_variable_is_read_at_import_without_importing_torch():
    """``STATDL_FAST_PATHS=0`` in a fresh process: ``import statdl`` loads no torch (a tuning
    run's script that never uses torch must not pay for it), a switch's module imported
    afterwards comes up with its path off, and so does every path (lists of ``-name`` go
    through the same ``apply_env``, tested in-process below)."""
    code = ("import json, sys, statdl; torch_loaded = 'torch' in sys.modules; "
            "from statdl.training.dense_step import DenseStackStep as K; "
            "from statdl import fast_paths as f; "
            "print(json.dumps([torch_loaded, K.enabled, f.state()]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "STATDL_FAST_PATHS": "0"}, check=True, timeout=300)
    torch_loaded, step_on, state = json.loads(out.stdout.strip().splitlines()[-1])
    assert not torch_loaded and not step_on
    assert set(state) == set(fast_paths.names()) and not any(state.values())


def test_on_restores_the_defaults_a_switch_had_when_its_module_loaded():
    """Under ``STATDL_FAST_PATHS=-metric_chunks`` the buffer's capacity is 0 once its module
    loads, and ``on`` gives back the capacity the module defines (not True)."""
    code = ("import json, statdl; from statdl.training import loop; "
            "off = loop.PendingOutputs.CAPACITY; from statdl import fast_paths as f\n"
            "with f.on('metric_chunks'): back = loop.PendingOutputs.CAPACITY\n"
            "print(json.dumps([off, back, loop.PendingOutputs.CAPACITY]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "STATDL_FAST_PATHS": "-metric_chunks"}, check=True,
                         timeout=300)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [0, 2**21, 0]


def test_environment_variable_lists_turn_off_the_paths_named():
    with fast_paths.on():
        assert fast_paths.apply_env("-dense_step,-gru_pass") == ["dense_step", "gru_pass"]
        assert {k for k, v in fast_paths.state().items() if not v} == {"dense_step", "gru_pass"}
        assert fast_paths.apply_env("1") == [] and fast_paths.apply_env("") == []


def test_environment_variable_typos_warn_and_the_rest_applies():
    with fast_paths.on(), pytest.warns(RuntimeWarning, match="ignored \\['-nope', 'gru'\\]"):
        assert fast_paths.apply_env("-nope, gru,-lstm_pass") == ["lstm_pass"]
        assert not fast_paths.is_on("lstm_pass")


OLD_NAMES = {"dense_kernel": "dense_step", "simple_rnn_kernel": "simple_rnn_pass",
             "gru_kernel": "gru_pass", "lstm_kernel": "lstm_pass"}


@pytest.mark.parametrize("old, new", sorted(OLD_NAMES.items()))
def test_old_kernel_names_are_aliases_of_the_new_ones(old, new):
    """The switches were called ``*_kernel`` before "kernel" came to mean only the weight
    matrix: each old name is accepted by get/is_on/off/on/set_path/apply_env and works the
    very switch its new name works; ``names()`` lists the new names only."""
    assert fast_paths.ALIASES == OLD_NAMES
    assert old not in fast_paths.names() and new in fast_paths.names()
    assert fast_paths.get(old) is fast_paths.get(new)
    with fast_paths.on():
        with fast_paths.off(old):
            assert not fast_paths.is_on(new) and not fast_paths.is_on(old)
            assert [k for k, v in fast_paths.state().items() if not v] == [new]
            with fast_paths.on(old):
                assert fast_paths.is_on(new)
        assert all(fast_paths.state().values())
        assert fast_paths.apply_env(f"-{old}") == [new]
        assert [k for k, v in fast_paths.state().items() if not v] == [new]
        fast_paths.set_path(old, True)
        assert fast_paths.is_on(new)


def test_old_kernel_names_in_the_environment_variable_turn_off_the_new_paths():
    """``STATDL_FAST_PATHS=-dense_kernel,...`` in a fresh process, as scripts written before the
    rename set it: no warning, and exactly the renamed paths are off (their switches read)."""
    code = ("import json, statdl; "
            "from statdl.training.dense_step import DenseStackStep; "
            "from statdl.layers.recurrent_cells import RecurrentModule as R; "
            "from statdl import fast_paths as f; "
            "print(json.dumps([DenseStackStep.enabled, R.simple_rnn_pass, R.gru_pass, "
            "R.lstm_pass, sorted(k for k, v in f.state().items() if not v)]))")
    value = ",".join(f"-{old}" for old in OLD_NAMES)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "STATDL_FAST_PATHS": value}, check=True,
                         timeout=300)
    *switches, off = json.loads(out.stdout.strip().splitlines()[-1])
    assert switches == [False, False, False, False]
    assert off == sorted(OLD_NAMES.values())
    assert "STATDL_FAST_PATHS" not in out.stderr  # no warning about unknown names


# ------------------------------------------------------------------ private torch APIs
@pytest.mark.parametrize("device", DEVICES)
def test_private_torch_calls_check_out_on_the_installed_torch(device):
    """Pins the installed torch: every private call statdl makes computes what its public
    counterpart computes (a torch upgrade that changes one fails here, not silently)."""
    dev = torch.device(device)
    assert _torch_private.fused_adam_ok(dev, torch.float32)
    assert _torch_private.relu_backward(dev) is _torch_private._threshold_backward
    for op in _torch_private.RNN_OPS:
        assert _torch_private.rnn_ops_ok(op, dev), op
    # oneDNN's linear is a CPU float32 op: asked elsewhere, it is refused without a check
    assert _torch_private.onednn_linear_ok(dev, torch.float32) == (
        device == "cpu" and torch.backends.mkldnn.is_available())
    assert not _torch_private.onednn_linear_ok(dev, torch.float64)
    refused = {k: v for k, v in _torch_private.status().items() if not v[0]}
    assert not refused, refused


def test_a_private_call_that_disagrees_is_refused_and_logged(caplog):
    def wrong(d, t):  # threshold_backward with the threshold in the wrong place
        grad, a = _torch_private._relu_inputs(d, t)
        return (torch.ops.aten.threshold_backward(grad, a, 1.0),)

    def public(d, t):
        return (_torch_private._relu_backward_public(*_torch_private._relu_inputs(d, t)),)

    def raising(d, t):
        raise RuntimeError("no kernel for this device")

    cpu = torch.device("cpu")
    with caplog.at_level("WARNING", logger="statdl"):
        assert not _torch_private.check("test-wrong", cpu, torch.float32, wrong, public)
        assert not _torch_private.check("test-raising", cpu, torch.float32, raising, public)
    assert "not using test-wrong" in caplog.text and "differ from the public path" in caplog.text
    assert "RuntimeError: no kernel for this device" in caplog.text
    caplog.clear()  # decided once per process: no second check, no second message
    assert not _torch_private.check("test-wrong", cpu, torch.float32, public, public)
    assert caplog.text == ""


def test_private_checks_leave_the_seeded_generator_alone():
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    _torch_private.check("test-generator", torch.device("cpu"), torch.float64,
                         _torch_private._rnn_run("gru"), _torch_private._rnn_reference("gru"))
    assert torch.equal(torch.rand(4), expected)


def test_private_checks_run_inside_inference_mode():
    with torch.inference_mode():
        assert _torch_private.rnn_ops_ok("lstm", torch.device("cpu"), torch.float64)


# ------------------------------------------------------------ narrow layout, boundaries
@pytest.mark.parametrize("units", [2, 10, 11])
def test_narrow_layout_off_and_on_train_alike_at_its_boundaries(units):
    """The transposed layout (layers of 2 to 10 units, CPU) against the plain one; 11 units
    never take it. RMSprop, 2 epochs, a hidden narrow layer and a narrow output."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 12)).astype(np.float32)
    y = rng.normal(size=(80, units)).astype(np.float32)

    def run(on):
        with fast_paths.on("dense_step"), (fast_paths.on if on else fast_paths.off)(
                "dense_narrow_layout"):
            arrays, net = _fit(lambda: [L.Dense(units, activation="relu"), L.Dropout(0.2),
                                        L.Dense(units)], (12,), "mse", x, y, "cpu")
            hand = DenseStackStep.for_state(net._training_state())
            return arrays, [s.narrow and hand.narrow_layout for s in hand.steps]

    on_arrays, on_narrow = run(True)
    off_arrays, off_narrow = run(False)
    assert on_narrow == [2 <= units <= 10] * 2 and off_narrow == [False, False]
    tol = fast_paths.get("dense_narrow_layout")
    for a, b in zip(on_arrays, off_arrays):
        np.testing.assert_allclose(a, b, rtol=tol.rtol, atol=tol.atol)


def test_the_architecture_document_lists_the_switchboard():
    """docs/architecture.md's fast-path table is the switchboard's list, name and switch."""
    import re
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text()
    section = doc.split("### Fast paths", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| `([^`]+)`", section, flags=re.M)
    assert sorted(name for name, _ in rows) == sorted(fast_paths.names())
    for name, switch in rows:  # the document's switch is the end of the registered one
        registered = fast_paths.get(name).switch.replace(":", ".")
        assert registered.endswith(switch.removeprefix("statdl.")), (name, switch, registered)
