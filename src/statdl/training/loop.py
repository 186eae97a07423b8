"""The training loop: mini-batches sliced from tensors already in memory.

No DataLoader and no per-sample Python: each step gathers a batch with one ``index_select``,
runs forward and backward (by hand for pure Dense/Dropout stacks, see ``dense_step``), and
updates all weights through one flat buffer (``FlatParameters``). Running sums of the loss and metrics stay on the device and are read
only when the progress display asks for them (a few times per second).
"""

from __future__ import annotations

import copy
import math
import warnings

import torch

from .. import threads
from ..errors import ConfigError
from ..validation import check_int, check_number, message
from . import inference
from .allocator import keep_freed_memory
from .batch_workers import forward_batches, worker_plan
from .callbacks import Callback, TerminateOnNaN, batch_hooks
from .data import InputRows, inference_batch
from .dense_step import DenseStackStep
from .epoch_progress import EpochProgress
from .history import History
from .losses import LOSSES, Loss, batch_loss
from .metrics import Metric
from .precision import resolve_precision
from .sparse import SparseBatches, SparseRows

__all__ = ["run_fit", "run_evaluate", "iterate_batches", "check_batch_size"]


def _check_int(value, argument: str, low: int, owner: str = "fit") -> int:
    return check_int(value, argument, owner, low=low)


def check_batch_size(batch_size, owner: str | None = None) -> int | None:
    """``batch_size`` of predict/evaluate: an int >= 1, or None for the default."""
    return check_int(batch_size, "batch_size", owner, low=1, allow_none=True)


def split_validation(x, y, w, validation_split: float):
    """Keras rule: validation takes the *last* rows, before any shuffling."""
    check_number(validation_split, "validation_split", "fit", low=0, high=1, high_open=True)
    n = x.shape[0]
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ConfigError(message(
            "validation_split", f"a fraction that leaves rows for both training and validation "
            f"of the {n} samples", validation_split, "fit"))
    val = (x[split_at:], y[split_at:], None if w is None else w[split_at:])
    return (x[:split_at], y[:split_at], None if w is None else w[:split_at]), val


#: False keeps one-hot targets as rows (categorical cross-entropy on the rows) instead of class
#: indices; read once per fit/evaluate. ``statdl.fast_paths`` ("onehot_as_index") sets it.
INDEX_TARGETS = True


def index_targets(loss: Loss, metrics: list[Metric], y: torch.Tensor):
    """Turn exact one-hot targets into class indices for a cheaper, identical loss.

    Categorical cross-entropy on one-hot rows equals sparse categorical cross-entropy on the
    row's class index, and categorical accuracy equals sparse accuracy; the index form skips a
    pass over the (n, k) targets every step. Not done when a metric (mae, mse, auc) compares the
    outputs with the one-hot rows themselves. Returns fresh metric objects either way.
    """
    fresh = [_fresh(m) for m in metrics]
    if (not INDEX_TARGETS or loss.name != "categorical_crossentropy" or y.dim() != 2
            or y.shape[1] < 2):
        return loss, fresh, y
    if any(m.kind in ("mae", "mse", "auc") for m in fresh):  # these compare with the one-hot
        return loss, fresh, y
    if not bool(((y == 0) | (y == 1)).all()) or not bool((y.sum(dim=1) == 1).all()):
        return loss, fresh, y
    for m in fresh:
        if m.kind == "categorical_accuracy":
            m.kind = "sparse_categorical_accuracy"
    return LOSSES["sparse_categorical_crossentropy"], fresh, y.argmax(dim=1)


def _fresh(metric: Metric) -> Metric:
    """A reset copy of ``metric`` (its subclass and fields kept: per-output metrics)."""
    out = copy.copy(metric)
    out.reset()
    return out


def iterate_batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield start, min(start + batch_size, n)


def run_fit(model, x, y, w, val, *, batch_size: int, epochs: int, initial_epoch: int,
            shuffle: bool, callbacks: list[Callback], verbose: int,
            precision: str | None = None) -> History:
    """Train ``model`` (compiled, built) on tensors ``x``, ``y`` and optional weights ``w``."""
    batch_size = _check_int(batch_size, "batch_size", 1)
    epochs = _check_int(epochs, "epochs", 0)
    initial_epoch = _check_int(initial_epoch, "initial_epoch", 0)
    state = model._training_state()
    module, device = state.module, state.device
    mixed = resolve_precision(precision, device)
    host = _host_batches(x, y, w, device)
    if host is None:
        x, y = x.to(device), y.to(device)
        w = None if w is None else w.to(device)
    loss, metrics, y = index_targets(state.loss, state.metrics, y)
    if host is not None:
        host.y = y
    n = x.shape[0]
    steps = math.ceil(n / batch_size)
    history = History({"epochs": epochs, "steps": steps, "batch_size": batch_size,
                       "samples": n, "verbose": verbose, "precision": precision or "32",
                       "device": str(device)})
    model.history_ = history
    for cb in callbacks:
        cb.set_model(model)
    per_batch = batch_hooks(callbacks)
    model.stop_training = False
    progress = EpochProgress(verbose, epochs, steps)
    optimizer, flat = state.optimizer, state.flat
    logits = state.use_logits
    final_act = state.final_activation
    # the hand-written Dense pass runs in float32 only: reduced precision goes through autograd
    hand_step = DenseStackStep.for_state(state, x.dim()) if mixed is None else None
    if mixed is not None:
        mixed.bind(optimizer, flat)
    perm_device = torch.device("cpu") if host is not None else device
    governor = threads.current()  # follows the load: a clock read per step, a look per second
    history.params["threads"] = governor.threads
    warned = False
    try:
        for cb in callbacks:
            cb.on_train_begin({})
        for epoch in range(initial_epoch, epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            progress.epoch_begin(epoch)
            module.train()
            for m in metrics:
                m.reset()
            loss_sum = torch.zeros((), device=device)
            perm = torch.randperm(n, device=perm_device) if shuffle else None
            pending = PendingOutputs(metrics, y, perm, logits, final_act) if metrics else None
            seen = 0
            for step, (start, stop) in enumerate(iterate_batches(n, batch_size)):
                if host is not None:
                    xb, yb, wb = host.batch(perm, start, stop)
                elif perm is not None:
                    idx = perm[start:stop]
                    xb, yb = x.index_select(0, idx), y.index_select(0, idx)
                    wb = None if w is None else w.index_select(0, idx)
                else:
                    xb, yb = x[start:stop], y[start:stop]
                    wb = None if w is None else w[start:stop]
                for cb in per_batch:
                    cb.on_train_batch_begin(step, {})
                if hand_step is not None:
                    total, out = hand_step.train_step(xb, yb, wb, loss, logits, final_act)
                    optimizer.step(flat.w, flat.g)
                elif mixed is None:
                    flat.zero_grad()
                    out = module(xb, logits=logits)
                    total = batch_loss(loss, out, yb, wb, logits)
                    penalty = state.penalty()
                    if penalty is not None:
                        total = total + penalty
                    total.backward()
                    optimizer.step(flat.w, flat.g)
                else:
                    total, out = _mixed_step(state, mixed, xb, yb, wb, loss, logits)
                governor.tick()
                nb = stop - start
                seen += nb
                loss_sum.add_(total.detach(), alpha=nb)
                if pending is not None:
                    pending.add(out.detach(), start, stop)
                if per_batch:
                    batch_logs = {"loss": float(total.detach())}
                    for cb in per_batch:
                        cb.on_train_batch_end(step, batch_logs)
                if progress.wants_update():
                    if pending is not None:
                        pending.flush()
                    progress.batch(step + 1, _running_logs(loss_sum, seen, metrics))
                if model.stop_training:
                    break
            if pending is not None:
                pending.flush()
            logs = {"loss": float(loss_sum) / max(seen, 1)}
            for m in metrics:
                logs[m.name] = m.result()
            if val is not None:
                val_logs = run_evaluate(model, *val)  # automatic batches, not fit's
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            if not warned and not math.isfinite(logs["loss"]):
                warned = True
                _warn_non_finite(logs["loss"], epoch, epochs, callbacks)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            progress.epoch_end(epoch, logs)
            history.append(epoch, logs)
            if model.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end({})
    finally:
        progress.close()
        module.eval()
    return history


def _host_batches(x, y, w, device: torch.device):
    """The batches the loop gathers on the host: a sparse matrix's (densified a batch at a
    time), or data too large for the device (``HostBatches``); None when the data moves to
    the device whole."""
    if isinstance(x, SparseRows):
        return SparseBatches(x, y, w, device)
    return HostBatches(x, y, w, device) if data_stays_on_host((x, y, w), device) else None


def _mixed_step(state, mixed, xb, yb, wb, loss: Loss, logits: bool):
    """One step with the forward pass under autocast; the loss, metrics and backward pass
    start from the outputs cast back to float32 (weights and gradients stay float32)."""
    state.flat.zero_grad()
    with mixed.autocast():
        out = state.module(xb, logits=logits)
    out = out.float()
    total = batch_loss(loss, out, yb, wb, logits)
    penalty = state.penalty()
    if penalty is not None:
        total = total + penalty
    mixed.backward_and_step(total)
    return total, out


#: Training data goes to a CUDA device when it takes at most this fraction of the device's
#: free memory (the rest is left to weights and activations); larger data stays in host memory
#: and each batch is copied over (``HostBatches``).
DEVICE_DATA_FRACTION = 0.5


def data_stays_on_host(tensors, device: torch.device) -> bool:
    """Whether host tensors too large for ``device`` (see ``DEVICE_DATA_FRACTION``) should be
    copied batch by batch instead of moved once (only ever true on CUDA)."""
    if device.type != "cuda":
        return False
    size = sum(t.numel() * t.element_size() for t in tensors
               if t is not None and t.device.type == "cpu")
    if size == 0:
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return size > DEVICE_DATA_FRACTION * free


class HostBatches:
    """Training data kept in host memory, each batch gathered into page-locked (pinned)
    memory and copied to the device with ``non_blocking=True``, so that the copy overlaps the
    previous step's work (torch's caching host allocator keeps a pinned block from being
    reused until its copy has finished). The permutation and the targets stay on the host
    too; the metrics move the targets they read."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None,
                 device: torch.device):
        self.x, self.y, self.w, self.device = x, y, w, device
        self.pin = device.type == "cuda"

    def batch(self, perm: torch.Tensor | None, start: int, stop: int):
        """``(x, y, w)`` of the batch at epoch positions ``[start, stop)``, on the device."""
        idx = None if perm is None else perm[start:stop]
        return (self._copy(self.x, idx, start, stop), self._copy(self.y, idx, start, stop),
                None if self.w is None else self._copy(self.w, idx, start, stop))

    def _copy(self, t: torch.Tensor, idx: torch.Tensor | None, start: int, stop: int):
        buf = torch.empty((stop - start, *t.shape[1:]), dtype=t.dtype, pin_memory=self.pin)
        if idx is None:
            buf.copy_(t[start:stop])
        else:
            torch.index_select(t, 0, idx, out=buf)
        return buf.to(self.device, non_blocking=self.pin)


def _warn_non_finite(value: float, epoch: int, epochs: int, callbacks: list[Callback]) -> None:
    """Say once per fit, at the epoch's end, that the training loss stopped being finite."""
    stop = "" if any(isinstance(cb, TerminateOnNaN) for cb in callbacks) else (
        " callbacks=[sd.callbacks.TerminateOnNaN()] stops training at the first such batch.")
    warnings.warn(
        f"training loss became {value} at epoch {epoch + 1} of {epochs}; the weights are no "
        "longer usable. Lower the learning rate or scale the inputs (e.g. statdl.scale)."
        + stop, RuntimeWarning, stacklevel=4,
    )


class PendingOutputs:
    """Batch outputs of one epoch copied into a buffer and fed to the metrics a chunk at a time
    (when the buffer is full, when the progress display asks, at the epoch's end).

    Each metric is a sum over samples, so chunks give the epoch's value; a step then costs one
    copy instead of the three or four small operations of a metric update, which take longer
    than their arithmetic between a step's large matrix products. The buffer holds at most
    2**21 values (8 MB in float32) and at least one batch.
    """

    CAPACITY = 2**21

    def __init__(self, metrics: list[Metric], y: torch.Tensor, perm: torch.Tensor | None,
                 logits: bool, final_activation):
        self.metrics, self.y, self.perm = metrics, y, perm
        self.logits, self.final_activation = logits, final_activation
        self.buffer: torch.Tensor | None = None
        self.first = self.stop = 0  # epoch positions [first, stop) held in the buffer

    def add(self, out: torch.Tensor, start: int, stop: int) -> None:
        """Hold the outputs of the batch at epoch positions ``[start, stop)``."""
        rows = stop - start
        if self.buffer is None or self.buffer.shape[1:] != out.shape[1:] \
                or self.buffer.dtype != out.dtype:
            self.flush()
            width = max(1, out.shape[1:].numel())
            capacity = max(rows, self.CAPACITY // width)
            self.buffer = out.new_empty((capacity, *out.shape[1:]))
        if self.stop - self.first + rows > self.buffer.shape[0] or start != self.stop:
            self.flush()
            self.first = self.stop = start
        self.buffer[self.stop - self.first:stop - self.first].copy_(out)
        self.stop = stop

    def flush(self) -> None:
        """Feed the held outputs to the metrics."""
        if self.buffer is None or self.stop == self.first:
            return
        if self.perm is None:
            targets = self.y[self.first:self.stop]
        else:
            targets = self.y.index_select(0, self.perm[self.first:self.stop])
        if targets.device != self.buffer.device:  # data kept on the host (HostBatches)
            targets = targets.to(self.buffer.device)
        update_metrics(self.metrics, self.buffer[:self.stop - self.first], targets, self.logits,
                       self.final_activation)
        self.first = self.stop


def update_metrics(metrics: list[Metric], out: torch.Tensor, y: torch.Tensor, logits: bool,
                   final_activation) -> None:
    """Feed a batch to each metric; those that need probabilities get them from logits."""
    probs = None
    for m in metrics:
        if m.needs_probabilities and logits:
            probs = final_activation(out) if probs is None else probs
            m.update(probs, y, False)
        else:
            m.update(out, y, logits)


def _running_logs(loss_sum, seen, metrics) -> dict[str, float]:
    logs = {"loss": float(loss_sum) / max(seen, 1)}
    for m in metrics:
        if m.kind != "auc":
            logs[m.name] = m.result()
    return logs


def run_evaluate(model, x, y, w=None, *, batch_size: int | None = None) -> dict[str, float]:
    """Loss and metrics over ``x``, ``y``; ``x`` is a tensor or ``InputRows`` (converted a
    batch at a time, so memory stays bounded).

    The loss is Keras 3's: each batch's mean (weighted) loss plus the terms its forward pass
    adds (``add_loss``, activity regularisers) and the weight penalties, averaged over the
    batches by their sizes."""
    from ..layers.custom import collecting_losses

    state = model._training_state()  # outside inference mode: fit may reuse its flat weights
    bs = inference_batch(model, batch_size, x.shape[1:])
    # freed activations serve the next batch; add_loss terms kept in inference mode
    with torch.inference_mode(), keep_freed_memory(), collecting_losses():
        return _evaluate(state, x, y, w, bs, automatic=batch_size is None)


def _evaluate(state, x, y, w, batch_size: int, automatic: bool) -> dict[str, float]:
    module, device = state.module, state.device
    logits, final_act = state.use_logits, state.final_activation
    module.eval()
    loss, metrics, y = index_targets(state.loss, state.metrics, y.to(device))
    w = None if w is None else w.to(device)
    n = y.shape[0]

    def forward(xb: torch.Tensor) -> torch.Tensor:
        return inference.forward(module, xb.to(device), logits)

    if isinstance(x, InputRows):
        workers, batch_size = worker_plan(module, x, batch_size, device, threads.current(),
                                          automatic)
        outputs = forward_batches(x, batch_size, forward, workers)
    else:
        outputs = ((start, stop, forward(x[start:stop]))
                   for start, stop in iterate_batches(n, batch_size))
    total = torch.zeros((), device=device, dtype=torch.float64)
    for start, stop, out in outputs:
        yb = y[start:stop]
        per_sample = loss(out, yb, from_logits=logits)
        if w is not None:
            per_sample = per_sample * w[start:stop]
        total += per_sample.double().sum()
        terms = state.activity_penalty()  # this batch's add_loss and activity terms
        if terms is not None:
            total += terms.double() * (stop - start)
        update_metrics(metrics, out, yb, logits, final_act)
    logs = {"loss": float(total) / max(n, 1)}
    penalty = state.penalty(activity=False)
    if penalty is not None:
        logs["loss"] += float(penalty)
    for m in metrics:
        logs[m.name] = m.result()
    return logs
