"""Callbacks with Keras's names, defaults and rules.

A callback sees the model through ``self.model`` and may set ``self.model.stop_training``.
Subclass ``Callback`` and override any of the ``on_*`` hooks; per-batch hooks cost nothing
unless a callback overrides them.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError
from ..validation import check_int, check_number, choice_error, message

__all__ = [
    "Callback", "EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint", "CSVLogger",
    "TerminateOnNaN", "LambdaCallback",
]


class Callback:
    """Base class: override the hooks you need.

    Examples
    --------
    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, round(logs["loss"], 3))
    """

    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None: ...


def _mode_op(monitor: str, mode: str, owner: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise choice_error("mode", mode, ["auto", "min", "max"], owner)
    if mode != "auto":
        return mode
    base = monitor[4:] if monitor.startswith("val_") else monitor
    if "loss" in base or base in ("mae", "mse"):
        return "min"
    if base in ("accuracy", "acc", "auc") or base.endswith("accuracy"):
        return "max"
    raise ConfigError(message(
        "mode", f"'min' or 'max' for '{monitor}', which {owner} cannot tell should go up or "
        "down", mode, owner))


def _get_monitored(logs: dict | None, monitor: str, owner: str) -> float | None:
    value = (logs or {}).get(monitor)
    if value is None:
        available = ", ".join(sorted(logs or {}))
        warnings.warn(
            f"{owner} monitors '{monitor}', which is not in the logs (available: {available}); "
            "skipping.", stacklevel=3,
        )
    return value


class EarlyStopping(Callback):
    """Stop when ``monitor`` stops improving (Keras rules).

    An epoch improves when ``current - min_delta`` beats the best value strictly (for
    ``mode="min"``, ``current < best - min_delta``). Training stops once ``patience`` epochs pass
    without improvement. With ``restore_best_weights=True`` the best weights are put back at the
    end of training.

    Examples
    --------
    >>> EarlyStopping(monitor="val_loss", patience=5).patience
    5
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        check_int(patience, "patience", "EarlyStopping", low=0)
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.mode = _mode_op(monitor, mode, "EarlyStopping")
        self.min_delta = abs(float(min_delta))
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch

    def _better(self, a: float, b: float) -> bool:
        if self.mode == "min":
            return a + self.min_delta < b
        return a - self.min_delta > b

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = _get_monitored(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._better(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs (absolute ``min_delta``, Keras rules); logs ``learning_rate`` each epoch.

    Examples
    --------
    >>> ReduceLROnPlateau(factor=0.5).factor
    0.5
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0):
        check_number(factor, "factor", "ReduceLROnPlateau", low=0, high=1, low_open=True,
                     high_open=True)
        check_int(patience, "patience", "ReduceLROnPlateau", low=0)
        self.monitor, self.factor, self.patience = monitor, float(factor), patience
        self.verbose, self.min_delta = verbose, float(min_delta)
        self.mode = _mode_op(monitor, mode, "ReduceLROnPlateau")
        self.cooldown, self.min_lr = cooldown, float(min_lr)

    def _better(self, a: float, b: float) -> bool:
        return a < b - self.min_delta if self.mode == "min" else a > b + self.min_delta

    def on_train_begin(self, logs=None):
        self.wait, self.cooldown_counter = 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer_
        logs["learning_rate"] = optimizer.learning_rate
        current = _get_monitored(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience and optimizer.learning_rate > self.min_lr:
                new_lr = max(optimizer.learning_rate * self.factor, self.min_lr)
                optimizer.learning_rate = new_lr
                if self.verbose:
                    print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                          f"{new_lr:.4g}.")
                self.cooldown_counter, self.wait = self.cooldown, 0


class ModelCheckpoint(Callback):
    """Save the model after each epoch (or only when ``monitor`` improves).

    ``filepath`` may hold format fields such as ``{epoch:02d}`` and ``{val_loss:.3f}``.
    Each save is atomic.

    Examples
    --------
    >>> ModelCheckpoint("best.statdl", save_best_only=True).monitor
    'val_loss'
    """

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, mode: str = "auto",
                 save_weights_only: bool = False):
        self.filepath, self.monitor, self.verbose = str(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = _mode_op(monitor, mode, "ModelCheckpoint")
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = _get_monitored(logs, self.monitor, "ModelCheckpoint")
            if current is None:
                return
            better = current < self.best if self.mode == "min" else current > self.best
            if not better:
                return
            self.best = current
        if self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        self.model.save(path)


class CSVLogger(Callback):
    """Write one row per epoch (epoch, then every logged value) to a CSV file.

    Examples
    --------
    >>> CSVLogger("training.csv").separator
    ','
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        self.filename, self.separator, self.append = Path(filename), separator, append

    def on_train_begin(self, logs=None):
        exists = self.filename.exists() and self.append
        self.filename.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None
        self._header_done = exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._writer is None:
            self._keys = sorted(logs)
            self._writer = csv.writer(self._file, delimiter=self.separator)
            if not self._header_done:
                self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch, *(logs.get(k, "NA") for k in self._keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        self._file.close()


class TerminateOnNaN(Callback):
    """Stop training as soon as the batch loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """Build a callback from plain functions, e.g.
    ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(logs["loss"]))``."""

    def __init__(self, on_epoch_begin: Callable | None = None,
                 on_epoch_end: Callable | None = None, on_train_begin: Callable | None = None,
                 on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None,
                 on_train_batch_end: Callable | None = None):
        for name, fn in list(locals().items()):
            if name != "self" and fn is not None:
                setattr(self, name, fn)


def batch_hooks(callbacks: list[Callback]) -> list[Callback]:
    """The callbacks that override a per-batch hook (others cost nothing per batch)."""
    out = []
    for cb in callbacks:
        for hook in ("on_train_batch_begin", "on_train_batch_end"):
            if hook in vars(cb) or getattr(type(cb), hook) is not getattr(Callback, hook):
                out.append(cb)
                break
    return out

