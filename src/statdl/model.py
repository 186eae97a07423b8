"""``Sequential``: a stack of layers with Keras's workflow (compile, fit, evaluate, predict).

Examples
--------
>>> import numpy as np, statdl as sd
>>> sd.set_seed(0)
>>> model = sd.Sequential([sd.layers.Dense(8, activation="relu"), sd.layers.Dense(1)],
...                       input_shape=(3,))
>>> model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
>>> x = np.random.default_rng(0).normal(size=(64, 3)); y = x.sum(axis=1)
>>> history = model.fit(x, y, epochs=2, verbose=0)
>>> sorted(history.history)
['loss', 'mae']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .activations import get_activation
from .errors import ConfigError, NotFittedError, ShapeError
from .layers.base import Layer, Shape, format_shape, normalize_shape
from .regularizers import L1L2
from .summary import format_summary
from .threads import governed
from .training import inference
from .training.allocator import keep_freed_memory
from .training.callbacks import Callback
from .training.data import InputRows, inference_batch, prepare_weights, prepare_y, require_rows
from .training.flat import FlatParameters
from .training.loop import check_batch_size, run_evaluate, run_fit, split_validation
from .training.losses import Loss, get_loss
from .training.metrics import Metric, get_metrics
from .training.optimizers import Optimizer, get_optimizer
from .utils import resolve_device

__all__ = ["Sequential", "load_model"]

_LOGIT_LAYERS = ("Dense", "Conv2D", "Conv2DTranspose", "Activation")


class SequentialModule(nn.Module):
    """The torch module of a ``Sequential``: runs its children in order.

    ``logits=True`` stops before the last layer's activation (for fused cross-entropy);
    ``upto=k`` runs only the first ``k`` children (for ``layer_output``).
    """

    def __init__(self, children: list[nn.Module], activity: dict[int, L1L2]):
        super().__init__()
        self.layers = nn.ModuleList(children)
        self.activity = activity
        self.penalties: list[torch.Tensor] = []

    @property
    def adds_penalties(self) -> bool:
        """Whether forward passes append loss terms to ``penalties`` (the loop collects the
        terms of every module where this is true; subclasses with own terms return True)."""
        return bool(self.activity)

    def forward(self, x: torch.Tensor, logits: bool = False, upto: int | None = None):
        n = len(self.layers) if upto is None else upto
        last = n - 1
        for i in range(n):
            m = self.layers[i]
            if logits and i == last:
                x = m.forward_logits(x) if hasattr(m, "forward_logits") else m(x)
            else:
                x = m(x)
            if self.activity and i in self.activity:
                self.penalties.append(self.activity[i](x) / x.shape[0])
        return x

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x, logits=True)


@dataclass
class TrainingState:
    """What ``compile`` fixes and ``fit`` uses: loss, metrics, optimiser, flat weights."""

    module: nn.Module
    loss: Loss
    metrics: list[Metric]
    optimizer: Optimizer
    flat: FlatParameters
    device: torch.device
    use_logits: bool
    final_activation: object
    regularized: list[tuple[L1L2, torch.Tensor]] = field(default_factory=list)
    activity_modules: list[SequentialModule] = field(default_factory=list)

    def penalty(self, activity: bool = True) -> torch.Tensor | None:
        total = None
        for reg, weight in self.regularized:
            value = reg(weight)
            total = value if total is None else total + value
        for m in self.activity_modules:
            if activity:
                for value in m.penalties:
                    total = value if total is None else total + value
            m.penalties.clear()
        return total

    def clear_activity(self) -> None:
        for m in self.activity_modules:
            m.penalties.clear()


class Sequential(Layer):
    """A linear stack of layers; also usable as a layer of another model (sharing weights).

    Parameters
    ----------
    layers : list of Layer, optional
        The layers, first to last. More can be added with ``add``.
    input_shape : tuple, optional
        Shape of one sample, without the batch axis, e.g. ``(784,)`` or ``(28, 28, 1)``.
        May instead be given to the first layer, or left out until ``fit`` sees data.
    name : str, optional
        Model name shown by ``summary()``.

    Examples
    --------
    >>> from statdl import layers
    >>> m = Sequential([layers.Dense(512, activation="relu"),
    ...                 layers.Dense(10, activation="softmax")], input_shape=(784,))
    >>> m.count_params()
    407050
    """

    def __init__(self, layers: Sequence[Layer] | None = None, input_shape=None,
                 name: str | None = None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self._layers: list[Layer] = []
        self._compiled: dict | None = None
        self._state: TrainingState | None = None
        self.optimizer_: Optimizer | None = None
        self.history_ = None
        self.stop_training = False
        self.device_ = torch.device("cpu")
        for layer in layers or []:
            self._append(layer)
        self._maybe_build()

    # ----------------------------------------------------------------- structure
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def _append(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise ConfigError(
                f"`layers` must hold statdl layers (e.g. statdl.layers.Dense(10)); got "
                f"{type(layer).__name__} at position {len(self._layers)}."
            )
        if any(existing is layer for existing in self._layers):
            raise ConfigError(f"Layer '{layer.name}' is already in model '{self.name}'.")
        if not self._layers and self.input_shape is None and layer.input_shape is not None:
            self.input_shape = layer.input_shape
        self._layers.append(layer)

    def add(self, layer: Layer) -> Sequential:
        """Append a layer (returns the model, so calls can be chained)."""
        self._append(layer)
        if self.module_ is not None:
            self.module_ = None
            self._state = None
        self._maybe_build()
        return self

    def _maybe_build(self) -> None:
        if self.input_shape is not None and self._layers:
            self.build(self.input_shape)

    def get_layer(self, layer: str | int | Layer) -> Layer:
        """Find a layer by name (searching nested models too), position or identity."""
        path = self._find(layer)
        node: Layer = self
        for i in path:
            node = node._layers[i]  # type: ignore[attr-defined]
        return node

    def _find(self, layer) -> list[int]:
        if isinstance(layer, bool):
            layer = str(layer)
        if isinstance(layer, int | np.integer):
            if not -len(self._layers) <= int(layer) < len(self._layers):
                raise ConfigError(
                    f"`layer` index must lie in 0..{len(self._layers) - 1}; got {layer}."
                )
            return [int(layer) % len(self._layers)]
        for i, candidate in enumerate(self._layers):
            if candidate is layer or candidate.name == layer:
                return [i]
            if isinstance(candidate, Sequential):
                try:
                    return [i, *candidate._find(layer)]
                except ConfigError:
                    continue
        names = ", ".join(repr(x.name) for x in self._layers)
        label = layer.name if isinstance(layer, Layer) else layer
        raise ConfigError(f"`layer` {label!r} is not in model '{self.name}'; layers: {names}.")

    # ----------------------------------------------------------------- shapes
    def _shapes(self, input_shape: Shape) -> list[tuple[Layer, Shape, Shape]]:
        if not self._layers:
            raise ConfigError(f"Model '{self.name}' has no layers; add some first.")
        out = []
        shape = tuple(input_shape)
        for i, layer in enumerate(self._layers):
            try:
                new = layer.output_shape(shape)
            except ShapeError as exc:
                raise ShapeError(
                    f"Layer {i} '{layer.name}' ({type(layer).__name__}) of model '{self.name}' "
                    f"got input shape {format_shape(shape)}: {exc}"
                ) from None
            out.append((layer, shape, new))
            shape = new
        return out

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._shapes(input_shape)[-1][2]

    def count_params(self, input_shape: Shape | None = None) -> int:
        """Number of weights (Keras's "Total params", optimiser state excluded)."""
        shape = self._shape_or_error(input_shape)
        return sum(layer.param_count(s) for layer, s, _ in self._shapes(shape))

    def count_non_trainable_params(self, input_shape: Shape | None = None) -> int:
        shape = self._shape_or_error(input_shape)
        total = 0
        for layer, s, _ in self._shapes(shape):
            if not layer.trainable or not self._trainable:
                total += layer.param_count(s)
            else:
                total += layer.count_non_trainable_params(s)
        return total

    def _shape_or_error(self, input_shape) -> Shape:
        shape = input_shape if input_shape is not None else (self.built_shape_ or self.input_shape)
        if shape is None:
            raise NotFittedError(
                f"Model '{self.name}' does not know its input shape yet; pass `input_shape=` "
                "to Sequential (e.g. Sequential([...], input_shape=(784,))) or call fit first."
            )
        return tuple(shape)

    @property
    def output_shape_(self) -> Shape:
        return self.compute_output_shape(self._shape_or_error(None))

    # ----------------------------------------------------------------- building
    def make_module(self, input_shape: Shape) -> nn.Module:
        children, activity = [], {}
        for i, (layer, s, _) in enumerate(self._shapes(input_shape)):
            children.append(layer.build(s))
            if layer.activity_regularizer is not None:
                activity[i] = layer.activity_regularizer
        return SequentialModule(children, activity).to(self.device_)

    def build(self, input_shape: Shape | None = None) -> nn.Module:
        """Infer every shape and create the weights (done automatically when the input
        shape is known)."""
        shape = normalize_shape(input_shape, "input_shape") if input_shape is not None \
            else self._shape_or_error(None)
        if self.input_shape is None:
            self.input_shape = shape
        return super().build(shape)

    def _apply_trainable(self) -> None:
        if self.module_ is None:
            return
        for layer in self._layers:
            for p in layer.module.parameters():
                p.requires_grad_(self._trainable and layer.trainable)
            if isinstance(layer, Sequential) and self._trainable:
                layer._apply_trainable()

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = bool(value)

    def freeze(self, up_to: str | int | None = None) -> Sequential:
        """Freeze the layers from the first through ``up_to`` (all layers when None).

        Frozen weights get no gradient and count as non-trainable in ``summary()``.
        """
        stop = len(self._layers) - 1 if up_to is None else self._find(up_to)[0]
        for layer in self._layers[: stop + 1]:
            layer.trainable = False
        return self

    def unfreeze(self) -> Sequential:
        """Make every layer trainable again."""
        self.trainable = True
        return self

    def regularized_weights(self) -> list[tuple[L1L2, torch.Tensor]]:
        out = []
        for layer in self._layers:
            if layer.built:
                out.extend(layer.regularized_weights())
        return out

    # ----------------------------------------------------------------- summary
    def summary(self, print_fn=print, style: str = "r") -> str:
        """Print (with ``print_fn``; ``None`` to only return) and return the Keras table.

        ``style="r"`` (default) follows R keras's layout, as printed in the course;
        ``style="keras3"`` prints Keras 3's box-drawn table with parameter sizes.
        """
        shape = self._shape_or_error(None)
        rows = []
        for layer, s, out in self._shapes(shape):
            rows.append((f"{layer.name} ({type(layer).__name__})", format_shape(out),
                         layer.param_count(s)))
        total = self.count_params(shape)
        non_trainable = self.count_non_trainable_params(shape)
        text = format_summary(self.name, rows, total - non_trainable, non_trainable, style)
        if print_fn is not None:
            print_fn(text)
        return text

    # ----------------------------------------------------------------- training
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, device="auto") -> None:
        """Choose the optimiser, loss and metrics (Keras names), and the device.

        Parameters
        ----------
        optimizer : str or Optimizer
            ``"rmsprop"``, ``"adam"``, ``"sgd"``, ``"adagrad"`` with Keras defaults, or an
            object such as ``statdl.optimizers.RMSprop(learning_rate=0.01)``.
        loss : str or callable
            ``"mse"``, ``"mae"``, ``"binary_crossentropy"``, ``"categorical_crossentropy"``,
            ``"sparse_categorical_crossentropy"``, ``"poisson"``, or ``f(pred, y)`` returning
            per-sample (or per-element) losses.
        metrics : list of str, optional
            ``"accuracy"`` (or ``"acc"``), ``"mae"``, ``"mse"``, ``"auc"``. Metrics that make
            no sense for the loss are refused: ``accuracy`` or ``auc`` with a regression loss,
            ``mae``, ``mse`` or ``auc`` with class indices (sparse categorical cross-entropy).
        device : {"auto", "cpu", "cuda"}
            Where to train; ``"auto"`` picks a GPU when torch sees one.
        """
        if loss is None:
            raise ConfigError(
                "`loss` of compile is required, e.g. loss='mse' for regression or "
                "loss='categorical_crossentropy' for one-hot classes."
            )
        loss_obj = get_loss(loss)
        if isinstance(metrics, str):
            metrics = [metrics]
        metric_list = get_metrics(metrics, loss_obj)
        self.optimizer_ = get_optimizer(optimizer)
        self.device_ = resolve_device(device)
        self._compiled = {"optimizer": self.optimizer_, "loss": loss_obj, "metrics": metric_list,
                          "loss_name": loss if isinstance(loss, str) else loss_obj.name,
                          "metric_names": list(metrics or [])}
        self._state = None
        if self.module_ is not None:
            self.module_.to(self.device_)

    @property
    def compiled(self) -> bool:
        return self._compiled is not None

    def _require_compiled(self, what: str) -> None:
        if self._compiled is None:
            raise NotFittedError(
                f"Call compile() before {what}(), e.g. model.compile(optimizer='rmsprop', "
                "loss='mse')."
            )

    def _final_activation(self) -> str | None:
        last = self._layers[-1]
        if isinstance(last, Sequential):
            return last._final_activation()
        if type(last).__name__ in _LOGIT_LAYERS:
            return getattr(last, "activation", None)
        return None

    def _trainable_parameters(self) -> list[nn.Parameter]:
        seen, params = set(), []
        for p in self.module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        return params

    def _training_state(self) -> TrainingState:
        self._require_compiled("fit")
        module = self.module
        params = self._trainable_parameters()
        state = self._state
        if state is not None and state.flat.intact(params):
            return state
        module.to(self.device_)
        old_flat = state.flat if state is not None else None
        flat = FlatParameters(params)
        optimizer = self._compiled["optimizer"]
        if old_flat is not None and optimizer.state:
            _carry_optimizer_state(optimizer, old_flat, flat)
        else:
            optimizer.state = {}
        loss = self._compiled["loss"]
        final = self._final_activation()
        use_logits = loss.logits_from is not None and final == loss.logits_from
        activity = [m for m in module.modules() if getattr(m, "adds_penalties", False)]
        self._state = TrainingState(
            module=module, loss=loss, metrics=self._compiled["metrics"], optimizer=optimizer,
            flat=flat, device=self.device_, use_logits=use_logits,
            final_activation=get_activation(final), regularized=self.regularized_weights(),
            activity_modules=activity,
        )
        return self._state

    def _integer_input(self) -> bool:
        first = self._layers[0]
        if isinstance(first, Sequential):
            return first._integer_input()
        return type(first).__name__ == "Embedding"

    def _prepare_xy(self, x, y, sample_weight=None, class_weight=None, prefix: str = "",
                    stream: bool = False):
        """Checked ``x``, ``y``, weights; ``x`` as one tensor, or as ``InputRows`` (converted a
        batch at a time) with ``stream=True``."""
        rows = InputRows(x, self.input_shape, self._integer_input(), f"{prefix}x")
        require_rows(rows.n, f"{prefix}x")
        xt = rows if stream else rows.tensor()
        if self.module_ is None:
            self.build(tuple(rows.shape[1:]))
        loss, n = self._compiled["loss"], rows.n
        out = self.output_shape_
        yt = prepare_y(y, loss, out, n, f"{prefix}y")
        w = prepare_weights(sample_weight, class_weight, yt, n, loss, out[-1] if out else None,
                            f"{prefix}sample_weight")
        return xt, yt, w

    def fit(self, x=None, y=None, batch_size: int = 32, epochs: int = 1, verbose="auto",
            callbacks: list[Callback] | None = None, validation_split: float = 0.0,
            validation_data=None, shuffle: bool = True, class_weight: dict | None = None,
            sample_weight=None, initial_epoch: int = 0, precision: str | None = None):
        """Train for ``epochs`` epochs (Keras semantics) and return the ``History``.

        Parameters
        ----------
        x, y : array-like
            Inputs and targets: numpy arrays, pandas frames or torch tensors.
        batch_size : int
            Samples per gradient step (default 32).
        epochs : int
            Index of the final epoch: with ``initial_epoch=k`` trains ``epochs - k`` epochs.
        verbose : {"auto", 0, 1, 2}
            0 silent, 1 progress bar, 2 one line per epoch.
        callbacks : list of Callback
            E.g. ``[EarlyStopping(patience=5)]``.
        validation_split : float
            Fraction of the *last* rows held out (before shuffling) to compute ``val_*``.
        validation_data : tuple
            ``(x_val, y_val)`` or ``(x_val, y_val, weights)``; overrides ``validation_split``.
        shuffle : bool
            Reshuffle the training rows every epoch.
        class_weight, sample_weight :
            Weights of the loss per class or per sample.
        initial_epoch : int
            Epoch at which to start (to resume a previous run).
        precision : {None, "32", "bf16", "16"}
            Mixed precision: ``"bf16"`` (bfloat16) or ``"16"`` (float16, with loss scaling)
            runs the forward pass under ``torch.autocast``; weights, gradients and optimiser
            state stay float32. None or ``"32"``: float32 throughout (the default).
            ``history.params["precision"]`` records it.

        Calling ``fit`` again continues from the current weights and optimiser state.
        """
        self._require_compiled("fit")
        xt, yt, w = self._prepare_xy(x, y, sample_weight, class_weight)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, tuple | list) or len(validation_data) not in (2, 3):
                raise ConfigError(
                    "`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
                    f"weights); got {type(validation_data).__name__}."
                )
            vw = validation_data[2] if len(validation_data) == 3 else None
            val = self._prepare_xy(validation_data[0], validation_data[1], vw,
                                   prefix="validation_data ")
        elif validation_split:
            (xt, yt, w), val = split_validation(xt, yt, w, validation_split)
        if verbose == "auto":
            verbose = 1
        if verbose not in (0, 1, 2):
            raise ConfigError(f"`verbose` must be 'auto', 0, 1 or 2; got {verbose!r}.")
        callbacks = _with_run_recording(list(callbacks or []))
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(
                    "`callbacks` must hold statdl.callbacks.Callback objects; got "
                    f"{type(cb).__name__}."
                )
        # threads: as many as the cores other processes leave free (statdl.threads); memory:
        # freed blocks reused step after step, given back after
        with governed(), keep_freed_memory():
            return run_fit(self, xt, yt, w, val, batch_size=batch_size, epochs=epochs,
                           initial_epoch=initial_epoch, shuffle=shuffle, callbacks=callbacks,
                           verbose=verbose, precision=precision)

    def evaluate(self, x=None, y=None, batch_size: int | None = None, sample_weight=None,
                 verbose: int = 0) -> dict[str, float]:
        """Loss and metrics on ``x``, ``y`` (no dropout or noise), as a dict."""
        self._require_compiled("evaluate")
        check_batch_size(batch_size)
        xt, yt, w = self._prepare_xy(x, y, sample_weight, stream=True)
        with governed():
            logs = run_evaluate(self, xt, yt, w, batch_size=batch_size)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return logs

    def _forward_batches(self, x, batch_size: int | None, upto: list[int] | None = None,
                         logits: bool = False) -> np.ndarray:
        if self.module_ is None:
            if self.input_shape is None:
                raise NotFittedError(
                    f"Model '{self.name}' is not built: give `input_shape=` to Sequential or "
                    "fit it before predict()."
                )
            self.build(self.input_shape)
        check_batch_size(batch_size)
        rows = InputRows(x, self.input_shape, self._integer_input())  # converted batch by batch
        bs = inference_batch(self, batch_size, rows.shape[1:])
        module = self.module
        module.eval()
        device = next(iter(module.parameters()), torch.empty(0)).device
        # Each batch's output goes straight into one preallocated array: a list of batch
        # outputs joined at the end pins the heap holes between them, which cost +250 MB of
        # peak RSS on 1M x 20 rows (bench/memory.py) against +6 MB this way. Freed activations
        # are kept for the next batch, as in fit (fresh pages: the course CNN at ~4,000
        # images/s in batches of 1,024 instead of ~10,000).
        out: torch.Tensor | None = None
        with torch.inference_mode(), governed(), keep_freed_memory():
            for start, stop, xb in rows.batches(bs):
                yb = _run_path(self, module, xb.to(device), upto, logits)
                if out is None:
                    out = torch.empty((rows.n, *yb.shape[1:]), dtype=torch.float32)
                out[start:stop].copy_(yb)  # dtype and device in the same pass
        for m in module.modules():
            if isinstance(m, SequentialModule):
                m.penalties.clear()
        if out is None:
            return np.zeros((0, *self.output_shape_), dtype=np.float32)
        return out.numpy()

    def predict(self, x, batch_size: int | None = None, verbose: int = 0) -> np.ndarray:
        """Model outputs for ``x`` (probabilities for classifiers), as a numpy array."""
        return self._forward_batches(x, batch_size)

    def predict_proba(self, x, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities (the same as ``predict`` for softmax/sigmoid outputs)."""
        return self.predict(x, batch_size)

    def predict_classes(self, x, batch_size: int | None = None) -> np.ndarray:
        """Predicted class: the argmax of the outputs, or ``p > 0.5`` for one sigmoid output."""
        probs = self.predict(x, batch_size)
        if probs.ndim == 2 and probs.shape[1] == 1:
            return (probs[:, 0] > 0.5).astype(np.int64)
        return probs.argmax(axis=-1)

    def layer_output(self, x, layer: str | int | Layer, batch_size: int | None = None
                     ) -> np.ndarray:
        """Activations of any layer (nested models included) for inputs ``x``.

        Examples
        --------
        >>> from statdl import layers
        >>> m = Sequential([layers.Dense(4, activation="relu"), layers.Dense(1)],
        ...                input_shape=(3,))
        >>> m.layer_output(np.ones((2, 3)), 0).shape
        (2, 4)
        """
        return self._forward_batches(x, batch_size, upto=self._find(layer))

    # ----------------------------------------------------------------- weights, saving
    def set_weights(self, values: list) -> None:
        super().set_weights(values)

    def to(self, device: str | torch.device) -> Sequential:
        """Move the weights to ``device`` (``"cpu"``, ``"cuda"`` or ``"auto"``); the next ``fit``
        rebinds them to the flat buffers there, carrying the optimiser state over."""
        self.device_ = resolve_device(device)
        if self._state is not None:
            self._state.device = self.device_
        if self.module_ is not None:
            self.module_.to(self.device_)
        return self

    def get_config(self) -> dict:
        return {"layers": [layer_to_config(layer) for layer in self._layers]}

    def save(self, path: str | os.PathLike) -> None:
        """Save architecture (JSON), weights and optimiser state to one file, atomically.

        The file is a zip archive holding ``model.json`` and ``.npy`` arrays; loading it
        never executes code (``statdl.load_model``).
        """
        from .saving import save_model

        save_model(self, path)

    def __repr__(self) -> str:
        return f"Sequential(name={self.name!r}, layers={[x.name for x in self._layers]})"


def _with_run_recording(callbacks: list) -> list:
    """Inside a tuning/training run (``STATDL_RUN_DIR`` set), record every epoch to the run
    folder as it ends, so that even a killed run keeps its curves."""
    if not os.environ.get("STATDL_RUN_DIR"):
        return callbacks
    from .tuning.callback import RunMetricsCallback

    if not any(isinstance(cb, RunMetricsCallback) for cb in callbacks):
        callbacks.append(RunMetricsCallback())
    return callbacks


def _run_path(model: Sequential, module: nn.Module, x, path: list[int] | None, logits: bool):
    if not path:
        return inference.forward(module, x, logits)
    head, rest = path[0], path[1:]
    if rest:
        x = module(x, upto=head)
        child = model._layers[head]
        return _run_path(child, module.layers[head], x, rest, logits)  # type: ignore[arg-type]
    return module(x, upto=head + 1)


def _carry_optimizer_state(optimizer: Optimizer, old: FlatParameters, new: FlatParameters) -> None:
    old_slices, new_slices = old.slices(), new.slices()
    carried = {}
    for name, tensor in optimizer.state.items():
        fresh = torch.full_like(new.w, optimizer.slot_fill(name))
        for key, (o_new, n) in new_slices.items():
            if key in old_slices:
                o_old, _ = old_slices[key]
                fresh[o_new:o_new + n] = tensor[o_old:o_old + n]
        carried[name] = fresh
    optimizer.state = carried


def layer_to_config(layer: Layer) -> dict:
    """``{"class_name": ..., "config": ...}`` for a layer or nested model."""
    return {"class_name": type(layer).__name__, "config": layer.full_config()}


def layer_from_config(spec: dict) -> Layer:
    """Re-create a layer (or nested model) from ``layer_to_config`` output."""
    from .saving import layer_from_spec

    return layer_from_spec(spec)


def load_model(path: str | os.PathLike) -> Sequential:
    """Load a model written by ``Sequential.save`` (weights, compile settings, optimiser)."""
    from .saving import load_model as _load

    return _load(path)
