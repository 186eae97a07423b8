"""Every automatically chosen speed path of statdl, its reason, and one way to turn it off.

statdl trains and predicts through several hand-written or private-torch paths that it picks
by itself when a model qualifies (the Dense step, the fused optimiser step, 16-bit dropout
masks, the recurrent passes ...). Each one computes what the plain path computes, to a stated
tolerance, and each is controlled by the class or module attribute that the code reads where
it chooses the path; this module lists them (``PATHS``) and sets those attributes, so the
attributes stay the only place the choice is stored.

* ``table()``: name, state, switch, when it applies, why, the measured gain, the tolerance;
* ``off(*names)`` / ``on(*names)``: a ``with`` block with those paths (all, when no names)
  off / on, the previous state restored on exit, also on error;
* ``STATDL_FAST_PATHS=0`` turns every path off, ``STATDL_FAST_PATHS=-dense_step,-gru_pass``
  those named, read once when statdl is imported and applied to each switch as the module
  holding it loads, so ``import statdl`` still imports no torch (a tuning run's child process
  whose script never uses torch does not load it); ``STATDL_FAST_PATHS=0 pytest`` runs the
  test suite on the plain paths.

The switches are process-wide class attributes: changing one affects every model in the
process, including ones training in other threads.

Words: the hand-written compute paths are "passes" or "steps" (``dense_step``,
``simple_rnn_pass``, ``gru_pass``, ``lstm_pass``); ``kernel`` in statdl is only Keras's weight
matrix (``Dense.kernel``, ``recurrent_kernel``). The old switch names ``dense_kernel``,
``simple_rnn_kernel``, ``gru_kernel`` and ``lstm_kernel`` are accepted aliases wherever a name
is given (``STATDL_FAST_PATHS``, ``off``, ``on``, ``is_on``, ``get``, ``set_path``);
``names()`` lists the new names only.

Examples
--------
>>> from statdl import fast_paths
>>> "dense_step" in fast_paths.names()
True
>>> with fast_paths.off("dense_step"):
...     fast_paths.is_on("dense_step")
False
"""

from __future__ import annotations

import importlib
import importlib.abc
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .validation import choice_error

__all__ = ["FastPath", "PATHS", "ALIASES", "names", "get", "is_on", "set_path", "state", "off", "on",
           "table", "apply_env", "ENV"]

ENV = "STATDL_FAST_PATHS"


@dataclass(frozen=True)
class FastPath:
    """One fast path: its ``switch`` is ``"module:Object.attribute"`` (or ``"module:attribute"``),
    on whenever its value differs from ``off_value``; ``rtol`` / ``atol`` bound the difference
    between the weights trained with and without it from one seed (``None``: the path draws
    other random numbers, so only their distribution is the same)."""

    name: str
    switch: str
    applies: str
    why: str
    gain: str
    rtol: float | None
    atol: float | None
    off_value: object = False

    def _target(self) -> tuple[object, str]:
        module, _, path = self.switch.partition(":")
        owner: object = importlib.import_module(module)
        *parents, attribute = path.split(".")
        for part in parents:
            owner = getattr(owner, part)
        return owner, attribute

    def value(self) -> object:
        """The switch's current value."""
        owner, attribute = self._target()
        return getattr(owner, attribute)

    def set_value(self, value: object) -> None:
        """Set the switch's raw value (``set_path`` and ``off`` use it)."""
        owner, attribute = self._target()
        setattr(owner, attribute, value)

    @property
    def tolerance(self) -> str:
        if self.rtol is None:
            return "same distribution (other random numbers)"
        if self.rtol == 0 and self.atol == 0:
            return "identical"
        return f"rtol {self.rtol:g}, atol {self.atol:g}"


_DENSE = "statdl.training.dense_step:DenseStackStep"
_RNN = "statdl.layers.recurrent_cells:RecurrentModule"

#: The registry, in the order a training step meets them (then prediction's paths).
PATHS: tuple[FastPath, ...] = (
    FastPath(
        "dense_step", f"{_DENSE}.enabled",
        "fit, float32, on a Sequential chain of Dense/Dropout layers (optionally after a "
        "trainable Embedding + Flatten, a SimpleRNN, a Conv1D + Flatten, or an Embedding + "
        "Bidirectional(LSTM)), hidden activations linear/relu/tanh/sigmoid, no "
        "penalties, nothing frozen",
        "autograd records a dozen nodes per layer, keeps float dropout masks and applies their "
        "scale in separate passes; the hand-written pass folds the scale into addmm's alpha and "
        "writes gradients straight into the flat buffer",
        "bench/fast_paths_speed.py (2 rounds, 2 cores, 2026-11-30): MLP 784-256-128-10 epoch "
        "1.41x", 1e-4, 1e-6),
    FastPath(
        "dense_narrow_layout", f"{_DENSE}.narrow_layout",
        "inside dense_step, on the CPU, for Dense layers of 2 to 10 units",
        "MKL multiplies by the kernel's transpose in about half the time for narrow layers",
        "MNIST multinomial logit 1.18x per epoch (784-512-256-10 unchanged)", 1e-5, 1e-7),
    FastPath(
        "dense_onednn_product", f"{_DENSE}.onednn_product",
        "inside dense_step, float32 on the CPU, a product of at least "
        "layers.core.ONEDNN_DENSE_MIN multiply-adds with a Dense layer of other than 2 to 10 "
        "units: the forward product of a layer with no dropout before it, and every input "
        "gradient, where statdl._torch_private's check of torch.ops.mkldnn._linear_pointwise "
        "passes",
        "oneDNN's matrix product instead of MKL's addmm where it was measured faster (the "
        "weight gradients stay addmm's)",
        "the course MLP at batch 128 (2 cores, us): first layer forward 561 -> 519, second "
        "layer input gradient 244 -> 186", 1e-5, 1e-7),
    FastPath(
        "dense_closed_form_loss", f"{_DENSE}.closed_form_loss",
        "inside dense_step, no sample/class weights, linear output or from_logits: "
        "cross-entropy on logits (class indices) and mean squared error",
        "the loss's gradient with respect to the last pre-activation in one or two passes "
        "(softmax(z) - onehot(y), 2 (z - y) / n) instead of autograd on that pre-activation",
        "bench/fast_paths_speed.py (2 rounds, 2 cores, 2026-11-30): MLP "
        "784-256-128-10 epoch 1.15x", 1e-5, 1e-7),
    FastPath(
        "dense_conv1d_prefix", f"{_DENSE}.conv1d_prefix",
        "inside dense_step, a leading Conv1D (padding 'valid', one group, hidden activation "
        "linear/relu/tanh/sigmoid) + Flatten before the Dense stack",
        "the convolution is one matrix product of the unfolded windows, its output already in "
        "Flatten's order; the kernel's gradient one product; no autograd node",
        "bench/lab_rows_speed.py --model conv1d (2026-12-01, quiet): the NYSE lab's "
        "Conv1D(16, 3) + Dense(1) step 1.34 -> 0.46 ms", 1e-4, 1e-6),
    FastPath(
        "dense_bilstm_prefix", f"{_DENSE}.bilstm_prefix",
        "inside dense_step, on the CPU, a leading trainable Embedding (no mask_zero) + "
        "Bidirectional(LSTM) (tanh/sigmoid, bias, no dropout, last states, merge concat), "
        "with lstm_pass on",
        "both directions call oneDNN's LSTM layer and its backward directly (the calls "
        "torch.lstm makes; the backward direction read right to left, no reversed copy; "
        "float64: the hand-written pass); no autograd graph, the embedding's gradient one "
        "index_add_ into the flat buffer",
        "imdb-bilstm@20 step, batch 128, interleaved in one process (2026-12-01): 8.7 -> "
        "7.3 ms on 2 threads, 10.8 -> 10.0 ms on one", 1e-4, 1e-6),
    FastPath(
        "fused_optimizer", "statdl.training.optimizers:Optimizer.fused",
        "plain RMSprop (no momentum, not centred) and Adam on a contiguous flat buffer whose "
        "device and dtype pass statdl._torch_private's check of torch._fused_adam_",
        "one pass of torch's fused Adam kernel over the flat buffer instead of four or five "
        "vectorised operations (RMSprop is Adam with beta_1 = 0)",
        "a fifth of a step off the course's MNIST network", 1e-5, 1e-6),
    FastPath(
        "dropout_16bit", "statdl.layers.dropout_masks:SIXTEEN_BIT",
        "every dropout mask drawn on the CPU (Dropout, the Dense step, recurrent dropout)",
        "torch's CPU generator is sequential and its draws were a tenth of a dense network's "
        "step: 16 bits per entry with a randomised threshold keep each entry's drop "
        "probability exactly `rate` for half the random numbers",
        "halves the generator's share of the step (about 5% of an MNIST MLP step)", None, None),
    FastPath(
        "simple_rnn_pass", f"{_RNN}.simple_rnn_pass",
        "SimpleRNN (tanh or relu) on the CPU, training and inference; with recurrent dropout "
        "on any device",
        "one autograd node with hand-written BPTT (two operations per step) instead of torch's "
        "rnn_tanh, which records several nodes per time step",
        "1.3-1.9x per step on CPU; imdb-rnn@100 epoch 1.69 -> 1.49 s (tanh as sigmoid)",
        1e-4, 1e-6),
    FastPath(
        "gru_pass", f"{_RNN}.gru_pass",
        "GRU (reset_after, tanh/sigmoid, no recurrent dropout) on the CPU: training (BPTT "
        "pass) and predict/evaluate (inference pass)",
        "training: one autograd node with hand-written BPTT (three operations per step) "
        "instead of torch.gru's per-step autograd cells; inference: a few steps' gates at a "
        "time",
        "training 1.3-1.5x per step at maxlen 20 and 100; predict 2.3x torch.gru (batch "
        "1,024 x 100 steps)", 1e-4, 1e-6),
    FastPath(
        "lstm_pass", f"{_RNN}.lstm_pass",
        "LSTM (tanh/sigmoid, no recurrent dropout) on the CPU: predict/evaluate (inference "
        "pass); training only where torch.lstm would not run oneDNN (float64, oneDNN off: "
        "the training pass), float32 training keeps oneDNN's torch.lstm",
        "inference: the gate buffer a few steps long instead of the whole sequence, one "
        "sigmoid_ per step (tanh = 2 sigmoid(2z) - 1); training without oneDNN: one autograd "
        "node with hand-written BPTT instead of per-step autograd cells",
        "predict 3,853 -> 4,721 samples/s, peak growth +195 -> +19 MB (bench/infer_speed.py "
        "--models lstm); training without oneDNN 36.2 -> 25.5 ms per step at 100 steps",
        1e-4, 1e-6),
    FastPath(
        "torch_rnn_ops", f"{_RNN}.torch_rnn_ops",
        "LSTM/GRU/SimpleRNN with default activations and no recurrent dropout where no statdl "
        "pass takes them (float32 LSTM training on the CPU through oneDNN, CUDA through "
        "cuDNN, a pass switched off), if the positional op passes statdl._torch_private's "
        "check",
        "torch's fused RNN ops (cuDNN on CUDA, oneDNN on CPU) over the Keras weights as "
        "transposed views, instead of statdl's step loop",
        "bench/fast_paths_speed.py (2 rounds, 2 cores, 2026-11-30): Embedding + "
        "GRU(32) over 100 steps, gru_pass off, 1.25x against the step loop", 1e-4, 1e-6),
    FastPath(
        "onehot_as_index", "statdl.training.loop:INDEX_TARGETS",
        "categorical cross-entropy on exact one-hot rows, unless a metric compares outputs "
        "with the rows (mae, mse, auc)",
        "sparse cross-entropy on the class index equals cross-entropy on the one-hot row and "
        "skips a pass over the (n, k) targets every step",
        "not recorded in the code", 1e-5, 1e-7),
    FastPath(
        "metric_chunks", "statdl.training.loop:PendingOutputs.CAPACITY",
        "fit with metrics: batch outputs are copied into a buffer (up to 2**21 values) and fed "
        "to the metrics when it fills, when the progress display asks, at the epoch's end",
        "one copy per step instead of the three or four small metric operations, which take "
        "longer than their arithmetic between a step's large matrix products",
        "bench/fast_paths_speed.py (2 rounds, 2 cores, 2026-11-30): MLP "
        "784-256-128-10 epoch 1.04x", 0.0, 0.0, off_value=0),
    FastPath(
        "embedding_index_add", "statdl.layers.embedding:EmbeddingModule.index_add_backward",
        "a trainable Embedding trained on the CPU through autograd (not the Dense step, "
        "which has its own index_add_)",
        "torch's CPU backward of F.embedding sorts the ids first; zeros + one index_add_ "
        "does not",
        "918 -> 358 us a step for 128 x 100 ids into 10,000 x 8 (5,005 -> 1,360 us at 500 "
        "words), about a tenth of an imdb-rnn@100 step", 1e-5, 1e-7),
    FastPath(
        "embedding_table", "statdl.training.inference:EMBEDDING_TABLE",
        "predict/evaluate of a Sequential chain starting Embedding -> Flatten -> Dense(k), "
        "when the call has at least words x k rows and the table at most "
        "inference.TABLE_VALUES values",
        "each position's embedding rows times its block of the Dense kernel, built once per "
        "call: a row then gathers one k-value entry per position instead of the d-value "
        "embedding rows and their matrix product",
        "see inference._table_logits (bench/infer_speed.py --models embed)", 1e-5, 1e-7),
    FastPath(
        "max_pool_views", "statdl.layers.conv:PoolModule.strided_max",
        "MaxPooling2D with nothing for autograd to record (predict/evaluate, no_grad calls), "
        "any pool size but 1 x 1",
        "the maximum of the input's strided views (one torch.maximum per window offset) "
        "instead of F.max_pool2d, whose CPU kernel also writes an int64 index per output",
        "the course CNN's first pooling (193 x 26 x 26 x 32): 2.42 -> 1.49 ms (min of 30); "
        "its forward 12,014 -> 13,356 images/s (p25, 2 cores)", 0.0, 0.0),
    FastPath(
        "few_class_softmax", "statdl.training.inference:FEW_CLASS_SOFTMAX",
        "predict/evaluate of a Sequential chain's Dense layer with the built-in softmax over "
        "2 to 15 units, on the CPU",
        "torch's CPU softmax kernel is slow for a last axis of fewer than 16 values; "
        "exp(z - max) / sum as four elementwise passes is three times faster there",
        "(2,048, 10): 183 -> 63 us (2 threads), 355 -> 67 us (1 thread); see "
        "inference._softmax_few_", 1e-6, 1e-7),
    FastPath(
        "few_class_cross_entropy", "statdl.training.losses:FEW_CLASS_CROSS_ENTROPY",
        "evaluate's (and validation's) categorical cross-entropy on class indices (one-hot "
        "targets become indices) from 2 to 15 logits a row, on the CPU, without autograd",
        "torch's CPU log-softmax kernel is slow for fewer than 16 values a row; logsumexp(z) - "
        "z[y] in elementwise passes is faster there",
        "(2,048, 10): 167 -> 100 us (2 threads); see losses._cross_entropy_few", 1e-6, 1e-7),
    FastPath(
        "onednn_dense", "statdl.layers.core:ONEDNN_DENSE",
        "a Dense layer's product on float32 rows on the CPU with nothing for autograd to "
        "record (predict, evaluate, validation, of every model form), at least "
        "layers.core.ONEDNN_DENSE_MIN multiply-adds, where statdl._torch_private's check of "
        "torch.ops.mkldnn._linear_pointwise passes",
        "oneDNN's matrix product instead of MKL's addmm (no weight copy: the kernel is read "
        "transposed in place)",
        "2 cores, ms: (2,048 x 784 x 10) 0.53 -> 0.25, (2,048 x 784 x 512) 8.6 -> 7.7, "
        "(775 x 576 x 512) 2.25 -> 2.12; see layers.core.uses_onednn", 1e-5, 1e-6),
    FastPath(
        "batch_workers", "statdl.training.batch_workers:BATCH_WORKERS",
        "predict/evaluate of a Sequential chain of Dense, Dropout, Flatten, Conv2D, pooling "
        "and Embedding layers on the CPU, in two or more batches, when the thread governor "
        "found a core taken (2 to batch_workers.MAX_CORES usable cores)",
        "worker threads (two per core), each with one torch thread, take whole batches: a "
        "worker the scheduler sets aside delays only its own batch, where torch's threads "
        "would all wait for it at the next barrier",
        "2 cores, one busy process: MLP predict 89,214 -> 121,664 samples/s, CNN 13,499 -> "
        "19,711 (bench/infer_speed.py --background 1)", 1e-6, 1e-7),
    FastPath(
        "conv_pool", "statdl.layers.conv:CONV_POOL",
        "predict/evaluate of a Sequential chain: Conv2D (relu/tanh/sigmoid/linear) then a "
        "valid MaxPooling2D (inference.forward's shortcut), with max_pool_views on",
        "the convolution runs on slices of at most conv.CONV_POOL_BYTES of output, each "
        "pooled while in the cache, so the whole output never exists and predict can take "
        "larger batches; a valid convolution reads only the input rows and columns whose "
        "outputs some pooling window reads",
        "the course CNN's first convolution + pooling on 1,024 images 80-90 -> 18-20 ms; "
        "forward in 1,024-row batches 14,463 images/s against 13,356 in 193-row batches; its "
        "second convolution on 12 x 12 of its 13 x 13 inputs 17.8 -> 16.4 ms (800 images)",
        0.0, 0.0),
    FastPath(
        "mc_dropout_head_once", "statdl.intervals.stochastic:HEAD_ONCE",
        "mc_dropout_predict (and method='mc_dropout' of predict_interval / "
        "predict_uncertainty) on a model whose module is a chain of layers (a Sequential, or a "
        "functional model lowered to a chain) with layers before its first dropout",
        "the layers before the first dropout give the same output in every pass, so they run "
        "once per batch and only the layers from the first dropout on run on the stacked passes "
        "(the same masks from the seed, in the same order)",
        "bench/resampling_speed.py --intervals (2 cores): 100 passes of 10,000 digits through "
        "the course's MNIST MLP 17.4 -> 8.4 s (2.07x)", 1e-5, 1e-6),
)


#: Old switch names (from when "kernel" also meant a compute pass) -> the current ones.
ALIASES: dict[str, str] = {
    "dense_kernel": "dense_step",
    "simple_rnn_kernel": "simple_rnn_pass",
    "gru_kernel": "gru_pass",
    "lstm_kernel": "lstm_pass",
}


def names() -> list[str]:
    """Names of every registered fast path (the current ones, not the old aliases)."""
    return [p.name for p in PATHS]


def get(name: str) -> FastPath:
    """The fast path called ``name``.

    Examples
    --------
    >>> get("fused_optimizer").switch
    'statdl.training.optimizers:Optimizer.fused'
    """
    name = ALIASES.get(name, name)
    for path in PATHS:
        if path.name == name:
            return path
    raise choice_error("name", name, names(), "fast_paths")


def is_on(name: str) -> bool:
    """Whether the fast path ``name`` is on."""
    path = get(name)
    return path.value() != path.off_value


def _on_value(path: FastPath) -> object:
    path.value()  # loads the switch's module, which notes its default
    return _DEFAULTS.get(path.name, True)


def set_path(name: str, on: bool) -> None:
    """Turn the fast path ``name`` on or off for the whole process (``off``/``on`` restore the
    previous state when their block ends; this does not)."""
    path = get(name)
    path.set_value(_on_value(path) if on else path.off_value)


def state() -> dict[str, bool]:
    """``{name: on}`` for every fast path."""
    return {p.name: p.value() != p.off_value for p in PATHS}


def _selected(names_: tuple[str, ...]) -> list[FastPath]:
    return [get(n) for n in names_] if names_ else list(PATHS)


@contextmanager
def _switched(paths: list[FastPath], on: bool) -> Iterator[None]:
    before = [(p, p.value()) for p in paths]
    try:
        for p in paths:
            p.set_value(_on_value(p) if on else p.off_value)
        yield
    finally:
        for p, value in before:
            p.set_value(value)


def off(*names_: str):
    """A ``with`` block in which the named fast paths (all when none is named) are off; their
    previous values come back when it ends, also on error.

    Examples
    --------
    >>> with off():
    ...     any(state().values())
    False
    """
    return _switched(_selected(names_), False)  # unknown names refused before the block


def on(*names_: str):
    """A ``with`` block in which the named fast paths (all when none is named) are on (with
    their default setting); their previous values come back when it ends."""
    return _switched(_selected(names_), True)


def table():
    """A DataFrame with one row per fast path: name, on, switch, applies (when the path is
    taken), why, gain (as measured where the path was introduced), tolerance (weights with
    and without it, from one seed).

    Examples
    --------
    >>> list(table().columns)
    ['name', 'on', 'switch', 'applies', 'why', 'gain', 'tolerance']
    """
    import pandas as pd

    rows = [{"name": p.name, "on": p.value() != p.off_value, "switch": p.switch,
             "applies": p.applies, "why": p.why, "gain": p.gain, "tolerance": p.tolerance}
            for p in PATHS]
    return pd.DataFrame(rows, columns=["name", "on", "switch", "applies", "why", "gain",
                                       "tolerance"])


def apply_env(value: str | None = None) -> list[str]:
    """Apply ``STATDL_FAST_PATHS`` (or ``value``): ``0`` turns every path off, ``-a,-b`` the
    paths named, ``1`` or empty nothing. Returns the names turned off; unknown names are
    reported with a warning (a typo must not stop ``import statdl``).

    Examples
    --------
    >>> with on():
    ...     apply_env("-gru_pass"), is_on("gru_pass")
    (['gru_pass'], False)
    """
    value = os.environ.get(ENV, "") if value is None else value
    value = value.strip()
    if value in ("", "1"):
        return []
    if value == "0":
        turned = names()
    else:
        known, turned, bad = set(names()), [], []
        for item in (v.strip() for v in value.split(",")):
            if item.startswith("-") and ALIASES.get(item[1:], item[1:]) in known:
                turned.append(ALIASES.get(item[1:], item[1:]))
            elif item:
                bad.append(item)
        if bad:
            warnings.warn(
                f"{ENV} must be 0, 1, or a comma-separated list of -name with names from "
                f"{sorted(known)}; ignored {bad}.", RuntimeWarning, stacklevel=2)
    for name in turned:
        if _module_name(get(name)) in sys.modules:
            set_path(name, False)
        else:  # set when its module loads: importing it here would import torch
            _OFF_WHEN_LOADED.add(name)
    return turned


class _WhenLoaded(importlib.abc.MetaPathFinder):
    """Calls ``_loaded(module)`` right after each module holding a switch has been executed, so
    that ``STATDL_FAST_PATHS`` applies without importing those modules (and torch) early;
    steps aside once all of them have loaded."""

    def __init__(self, modules: set[str]) -> None:
        self.modules = modules

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.modules:
            return None
        for finder in sys.meta_path:  # the spec the import would have found without us
            find = getattr(finder, "find_spec", None)
            spec = None if finder is self or find is None else find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None:
            exec_module = spec.loader.exec_module

            def exec_then_note(module: Any) -> None:
                exec_module(module)  # a module that fails to load is watched again next time
                self.modules.discard(name)
                if not self.modules and self in sys.meta_path:
                    sys.meta_path.remove(self)
                _loaded(module)

            spec.loader.exec_module = exec_then_note  # type: ignore[method-assign]
        return spec


def _module_name(path: FastPath) -> str:
    return path.switch.partition(":")[0]


def _loaded(module: Any) -> None:
    """Note the defaults of the switches ``module`` holds, then turn off those the environment
    named."""
    for path in PATHS:
        if _module_name(path) == module.__name__:
            _DEFAULTS.setdefault(path.name, path.value())
            if path.name in _OFF_WHEN_LOADED:
                _OFF_WHEN_LOADED.discard(path.name)
                path.set_value(path.off_value)


#: Each switch's value when its module was loaded (or when this module was, if that came
#: later): what ``on`` restores a path to.
_DEFAULTS: dict[str, object] = {}
#: Paths that ``STATDL_FAST_PATHS`` turned off whose module has not loaded yet.
_OFF_WHEN_LOADED: set[str] = set()


def _watch() -> None:
    waiting = set()
    for module in {_module_name(p) for p in PATHS}:
        if module in sys.modules:
            _loaded(sys.modules[module])
        else:
            waiting.add(module)
    if waiting:
        sys.meta_path.insert(0, _WhenLoaded(waiting))


_watch()
apply_env()
