"""Training the Keras way: a model's own ``train_step`` (and ``test_step``) driven by ``fit``
(and ``evaluate``).

A ``Model`` subclass that overrides ``train_step(data)`` gets, for each batch, ``data`` as
Keras passes it: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``, as torch tensors (float32, or
int64 for integer arrays; lists and dicts of arrays stay lists and dicts). The step either

- updates the weights itself, as the Keras examples do: gradients from
  ``torch.autograd.grad(loss, self.trainable_weights)`` (or ``loss.backward()`` and each
  weight's ``.grad``), then ``self.optimizer.apply_gradients(zip(grads,
  self.trainable_weights))`` (or ``self.optimizer.apply(grads, weights)``); or
- returns a dict whose ``"loss"`` is a scalar tensor with gradients, and ``fit`` runs backward
  and the optimiser given to ``compile``.

What the step returns is logged (a dict value, such as the ``compile_metrics`` tracker's
result, is merged key by key, as Keras logs it). The trackers of ``model.metrics`` (the
``loss`` and ``compile_metrics`` trackers of a compiled model, the ``statdl.metrics.Mean``
trackers among its attributes, or its own ``metrics`` property, as the Keras VAE example
defines it) are reset when each epoch starts; when the steps updated any of them, the epoch's
logs are those the last step returned (their running means): Keras's rule. Otherwise each
returned value is averaged over the epoch's samples.

The loop is plain autograd, one Python step per batch; models that do not override
``train_step`` never come here (``fit``'s own loop and its fast paths).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError, ShapeError
from ..layers.symbolic import training_calls
from ..training.callbacks import Callback, batch_hooks
from ..training.history import History
from ..training.optimizers import applied_count
from ..validation import message
from .hooks import extra_fit_callbacks

__all__ = ["fit_with_train_step", "evaluate_with_test_step", "as_data", "trackers_of",
           "overrides"]


def overrides(model, name: str) -> bool:
    """Whether ``model``'s class overrides the trainer's method ``name``."""
    from .trainer import Trainer

    return getattr(type(model), name) is not getattr(Trainer, name)


# ----------------------------------------------------------------------------- data
def as_data(value, argument: str):
    """``value`` as torch tensors with the same nesting (lists, tuples, dicts); floats become
    float32, integers int64 (token ids, class indices)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: as_data(v, f"{argument}[{k!r}]") for k, v in value.items()}
    if isinstance(value, list | tuple) and value and not np.isscalar(value[0]) \
            and not isinstance(value[0], list | tuple):
        return [as_data(v, f"{argument}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        array = value.to_numpy() if hasattr(value, "to_numpy") else np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise ConfigError(message(argument, "numbers", None, verb="hold",
                                      shown=f"an array of dtype {array.dtype}"))
        t = torch.from_numpy(np.ascontiguousarray(array))
    if t.dim() == 0:
        raise ShapeError(message(argument, "one row per sample", None, shown="a scalar",
                                 verb="hold"))
    return t.long() if not t.is_floating_point() else t.float()


def _leaves(data) -> list[torch.Tensor]:
    if data is None:
        return []
    if isinstance(data, dict):
        return [t for v in data.values() for t in _leaves(v)]
    if isinstance(data, list | tuple):
        return [t for v in data for t in _leaves(v)]
    return [data]


def _map(fn, data):
    if data is None:
        return None
    if isinstance(data, dict):
        return {k: _map(fn, v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_map(fn, v) for v in data]
    return fn(data)


def _rows(parts: list, names: list[str]) -> int:
    """Rows of ``x``; every other array must have as many."""
    n = None
    for part, name in zip(parts, names):
        for t in _leaves(part):
            if n is None:
                n = t.shape[0]
            elif t.shape[0] != n:
                raise ShapeError(message(name, f"as many rows as `x` ({n})", None,
                                         shown=f"{t.shape[0]}", verb="have"))
    if n is None:
        raise ConfigError(message("x", "given", None))
    if n == 0:
        raise ShapeError(message("x", "at least one sample", None, shown="no rows",
                                 verb="hold"))
    return n


def _pack(x, y, w):
    """Keras's ``data``: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``."""
    if w is not None:
        return (x, y, w)
    return x if y is None else (x, y)


class _Dataset:
    """``x``, ``y``, weights as tensors on the model's device, gathered a batch at a time."""

    def __init__(self, x, y, w, device: torch.device, prefix: str = ""):
        parts = [as_data(x, f"{prefix}x"), as_data(y, f"{prefix}y"),
                 as_data(w, f"{prefix}sample_weight")]
        self.n = _rows(parts, [f"{prefix}x", f"{prefix}y", f"{prefix}sample_weight"])
        self.x, self.y, self.w = (_map(lambda t: t.to(device), p) for p in parts)

    def split(self, fraction: float) -> _Dataset:
        """Keep the first rows; return the last ``fraction`` (Keras's ``validation_split``)."""
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) \
                or not 0 <= fraction < 1:
            raise ConfigError(message("validation_split", "a number in [0, 1)", fraction,
                                      "fit"))
        cut = int(math.floor(self.n * (1.0 - fraction)))
        if cut in (0, self.n):
            raise ConfigError(message(
                "validation_split", f"a fraction that leaves rows for both training and "
                f"validation of the {self.n} samples", fraction, "fit"))
        tail = object.__new__(_Dataset)
        tail.n = self.n - cut
        tail.x, tail.y, tail.w = (_map(lambda t: t[cut:], p) for p in (self.x, self.y, self.w))
        self.x, self.y, self.w = (_map(lambda t: t[:cut], p) for p in (self.x, self.y, self.w))
        self.n = cut
        return tail

    def batch(self, idx: torch.Tensor | slice):
        pick = (lambda t: t[idx]) if isinstance(idx, slice) else \
            (lambda t: t.index_select(0, idx.to(t.device)))
        return _pack(*(_map(pick, p) for p in (self.x, self.y, self.w)))


# ----------------------------------------------------------------------------- steps
def trackers_of(model) -> list:
    """The model's metric trackers (its ``metrics``), each checked for Keras's methods."""
    trackers = list(model.metrics or [])
    for t in trackers:
        if not all(callable(getattr(t, m, None)) for m in ("update_state", "result",
                                                           "reset_state")):
            raise ConfigError(message(
                "metrics", "trackers such as statdl.metrics.Mean(name=...)", None,
                f"model '{model.name}'", shown=type(t).__name__, verb="list"))
    return trackers


def _checked_logs(logs, step: str) -> dict:
    """The step's dict, a dict value (the ``compile_metrics`` tracker's result) merged into
    the top level as Keras logs it."""
    if not isinstance(logs, dict) or not all(isinstance(k, str) for k in logs):
        raise ConfigError(message(step, "a dict of values to log, e.g. {'loss': loss}", None,
                                  shown=type(logs).__name__, verb="return"))
    if not any(isinstance(v, dict) for v in logs.values()):
        return logs
    flat: dict = {}
    for key, value in logs.items():
        if isinstance(value, dict):
            flat.update(_checked_logs(value, step))
        else:
            flat[key] = value
    return flat


def _used(trackers: list) -> bool:
    """Whether a step updated any tracker since the reset (statdl's trackers count their
    updates; another object with Keras's methods is taken as used)."""
    return any(getattr(t, "updates", 1) > 0 for t in trackers)


def _clear_losses(module) -> None:
    for m in module.modules():
        penalties = getattr(m, "penalties", None)
        if isinstance(penalties, list):
            penalties.clear()


class _Averages:
    """Epoch logs: the last step's (when the steps used the model's trackers, Keras's rule)
    or each value averaged over the samples."""

    def __init__(self, trackers: list):
        self.trackers = trackers
        self.last: dict = {}
        self.sums: dict = {}
        self.seen = 0

    def add(self, logs: dict, rows: int) -> None:
        self.last = logs
        self.seen += rows
        for key, value in logs.items():
            value = value.detach() if isinstance(value, torch.Tensor) else float(value)
            self.sums[key] = self.sums.get(key, 0.0) + value * rows

    def result(self) -> dict[str, float]:
        if self.trackers and _used(self.trackers):
            return last_logs(self.last)
        return {k: float(v) / max(self.seen, 1) for k, v in self.sums.items()}


def last_logs(logs: dict) -> dict[str, float]:
    """``logs`` as floats."""
    return {k: float(v.detach() if isinstance(v, torch.Tensor) else v) for k, v in logs.items()}


def _train_one(model, data, binding) -> dict:
    """One ``train_step``; when it applied no gradients, backward from its ``"loss"`` and
    one step of the compiled optimiser."""
    binding.flat.zero_grad()
    before = applied_count()
    with training_calls():
        logs = _checked_logs(model.train_step(data), "train_step")
    if applied_count() == before:
        loss = logs.get("loss")
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0 or loss.grad_fn is None:
            raise ConfigError(message(
                "train_step", "update the weights itself (self.optimizer.apply_gradients("
                "zip(grads, self.trainable_weights))) or return a dict whose 'loss' is a "
                "scalar tensor computed from the weights (fit then runs backward and the "
                "optimiser)", None, shown=f"'loss' = {type(loss).__name__}", verb="either"))
        loss.backward()
        model.optimizer.apply_bound(binding)
    return logs


def fit_with_train_step(model, x, y, *, sample_weight, batch_size: int, epochs: int,
                        verbose, callbacks, shuffle: bool, initial_epoch: int,
                        validation_split: float, validation_data) -> History:
    """``fit`` of a model that overrides ``train_step`` (see the module docstring)."""
    from ..training.loop import _check_int

    batch_size = _check_int(batch_size, "batch_size", 1)
    epochs = _check_int(epochs, "epochs", 0)
    initial_epoch = _check_int(initial_epoch, "initial_epoch", 0)
    train = _Dataset(x, y, sample_weight, model.device_)
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) not in (2, 3):
            kind = type(validation_data).__name__
            raise ConfigError(message(
                "validation_data", "a tuple (x_val, y_val) or (x_val, y_val, weights)",
                None, "fit", shown=f"a {kind} of {len(validation_data)} items"
                if isinstance(validation_data, tuple | list) else kind))
        val = _Dataset(*validation_data, *([None] * (3 - len(validation_data))),
                       device=model.device_, prefix="validation_data ")
    elif validation_split:
        val = train.split(validation_split)
    if val is not None and not overrides(model, "test_step"):
        raise ConfigError(message(
            ["validation_data", "validation_split"], f"left out when model '{model.name}' "
            "overrides train_step but not test_step (fit cannot compute validation values)",
            None, "fit", shown="validation_data" if validation_data is not None
            else f"validation_split={validation_split!r}",
            fix="Or define test_step(data) returning the values to log."))
    model._build_for(train.x)
    module = model.module.to(model.device_)
    params = model._trainable_parameters()
    if not params:
        raise ConfigError(f"Model '{model.name}' has no trainable weights to fit.")
    binding = model.optimizer.bind(params)
    callbacks = extra_fit_callbacks(list(callbacks or []))
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise ConfigError(message("callbacks", "statdl.callbacks.Callback objects", None,
                                      "fit", shown=type(cb).__name__, verb="hold"))
        cb.set_model(model)
    per_batch = batch_hooks(callbacks)
    trackers = trackers_of(model)
    history = History({"epochs": epochs, "steps": math.ceil(train.n / batch_size),
                       "batch_size": batch_size, "samples": train.n, "verbose": verbose})
    model.history_ = history
    model.stop_training = False
    try:
        for cb in callbacks:
            cb.on_train_begin({})
        for epoch in range(initial_epoch, epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            for t in trackers:
                t.reset_state()
            module.train()
            averages = _Averages(trackers)
            order = torch.randperm(train.n) if shuffle else None
            for step, start in enumerate(range(0, train.n, batch_size)):
                stop = min(start + batch_size, train.n)
                for cb in per_batch:
                    cb.on_train_batch_begin(step, {})
                idx = slice(start, stop) if order is None else order[start:stop]
                try:
                    logs = _train_one(model, train.batch(idx), binding)
                finally:
                    _clear_losses(module)
                averages.add(logs, stop - start)
                if per_batch:
                    batch_logs = last_logs(logs)
                    for cb in per_batch:
                        cb.on_train_batch_end(step, batch_logs)
                if model.stop_training:
                    break
            epoch_logs = averages.result()
            if val is not None:
                epoch_logs.update({f"val_{k}": v for k, v in
                                   _run_test_steps(model, val, batch_size).items()})
            for cb in callbacks:
                cb.on_epoch_end(epoch, epoch_logs)
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(
                    f"{k}: {v:.4f}" for k, v in epoch_logs.items()))
            history.append(epoch, epoch_logs)
            if model.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end({})
    finally:
        module.eval()
    return history


def _run_test_steps(model, data: _Dataset, batch_size: int) -> dict[str, float]:
    """``test_step`` over ``data`` in inference mode: trackers reset first, then the last
    step's logs (trackers) or each value averaged over the samples."""
    trackers = trackers_of(model)
    for t in trackers:
        t.reset_state()
    module = model.module
    was = module.training
    module.eval()
    averages = _Averages(trackers)
    try:
        with torch.no_grad():
            for start in range(0, data.n, batch_size):
                stop = min(start + batch_size, data.n)
                logs = _checked_logs(model.test_step(data.batch(slice(start, stop))),
                                     "test_step")
                _clear_losses(module)
                averages.add(logs, stop - start)
    finally:
        module.train(was)
    return averages.result()


def evaluate_with_test_step(model, x, y, sample_weight, batch_size: int | None) -> dict:
    """``evaluate`` of a model that overrides ``test_step``."""
    data = _Dataset(x, y, sample_weight, model.device_)
    model._build_for(data.x)
    return _run_test_steps(model, data, batch_size or 32)
