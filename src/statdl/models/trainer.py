"""The trainer every model uses: compile, fit, evaluate, predict, optimiser carry-over.

``Trainer`` is a mixin of ``statdl.Model`` (and so of ``Sequential``, a linear ``Model``). It
asks the model only for its torch module, its inputs and outputs, and the shapes of its
layers' outputs; the training loop itself is ``statdl.training.loop``.

Models with several inputs or outputs go through the same loop: their inputs travel as one
float matrix (each input's values flattened side by side; integer token ids are exact in
float32 below 2**24) that ``PackedModule`` splits again before the graph, their outputs come
back flattened side by side, and ``OutputsLoss`` splits outputs and targets to apply each
output's loss (weighted by ``loss_weights``), so the loop, the callbacks and the metrics see
one tensor as for any other model. Per-output losses and metrics are ``OutputMetric`` objects
named as Keras names them (``<output>_loss``, ``<output>_<metric>``).

``fit`` adds the callbacks of the factories registered with
``register_fit_callback_factory`` (statdl's tuning records each epoch of a run this way);
the trainer itself knows nothing about runs.

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

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..activations import get_activation
from ..errors import ConfigError, NotFittedError, ShapeError
from ..regularizers import L1L2
from ..threads import governed
from ..training import inference
from ..training.allocator import keep_freed_memory
from ..training.batch_workers import forward_batches, worker_plan
from ..training.callbacks import Callback
from ..training.data import InputRows, inference_batch, prepare_weights, prepare_y, require_rows
from ..training.flat import FlatParameters
from ..training.loop import check_batch_size, run_evaluate, run_fit, split_validation
from ..training.losses import Loss, batch_loss, get_loss
from ..training.metrics import CompileMetrics, Mean, Metric, get_metrics
from ..training.optimizers import Optimizer, get_optimizer
from ..training.sparse import SparseRows
from ..utils import resolve_device
from ..validation import choice_error, message
from .hooks import extra_fit_callbacks, register_fit_callback_factory
from .steps import evaluate_with_test_step, fit_with_train_step, overrides

__all__ = ["Trainer", "TrainingState", "register_fit_callback_factory", "OutputsLoss",
           "OutputMetric", "PackedModule"]

#: Largest integer a float32 holds exactly: token ids of several inputs travel as float32.
_EXACT_FLOAT32_INT = 2**24


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
    activity_modules: list[nn.Module] = field(default_factory=list)

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

    def activity_penalty(self) -> torch.Tensor | None:
        """The sum of the terms the last forward passes added (``add_loss``, activity
        regularisers), which are then cleared; None when there are none."""
        total = None
        for m in self.activity_modules:
            for value in m.penalties:
                total = value if total is None else total + value
            m.penalties.clear()
        return total


def _no_loss(pred, y, from_logits=False):
    # zeros that still depend on the outputs, so backward reaches the add_loss terms' graph
    return pred.reshape(pred.shape[0], -1)[:, :0].sum(dim=1)


#: The loss of ``compile(loss=None)``: zero; training follows the ``add_loss`` terms.
NO_LOSS = Loss("none", _no_loss, None, "none")


# ----------------------------------------------------------------------------- several outputs
@dataclass
class OutputSlot:
    """Where one output sits in the flattened outputs (``pred``) and targets (``y``)."""

    name: str
    shape: tuple
    loss: Loss
    weight: float
    pred: tuple[int, int] = (0, 0)
    y: tuple[int, int] = (0, 0)
    y_shape: tuple = ()
    y_int: bool = False
    y_width: int = 0  # columns of all the targets; one more holds the sample weights

    def split(self, pred: torch.Tensor, y: torch.Tensor):
        n = pred.shape[0]
        p = pred[:, self.pred[0]:self.pred[1]].reshape(n, *self.shape)
        t = y[:, self.y[0]:self.y[1]].reshape(n, *self.y_shape)
        return p, (t.long() if self.y_int else t)


class OutputsLoss:
    """The loss of a model with several outputs: ``sum_k w_k loss_k(pred_k, y_k)`` per sample,
    on outputs and targets flattened side by side (see the module docstring)."""

    def __init__(self, slots: list[OutputSlot]):
        self.slots = slots
        start = 0
        for s in slots:
            width = int(np.prod(s.shape, dtype=np.int64))
            s.pred = (start, start + width)
            start += width
        self.loss = Loss("loss", self._per_sample, None, "any")

    def _per_sample(self, pred, y, from_logits=False):
        total = None
        for s in self.slots:
            if s.weight == 0:
                continue
            p, t = s.split(pred, y)
            value = s.loss(p, t) * s.weight if s.weight != 1 else s.loss(p, t)
            total = value if total is None else total + value
        return total if total is not None else pred.new_zeros(pred.shape[0])

    def pack_targets(self, targets: list[torch.Tensor],
                     weights: torch.Tensor | None = None) -> torch.Tensor:
        """The targets of every output as one float32 matrix (class indices are exact), and
        the sample weights as a last column when given (for the per-output losses)."""
        start, cols = 0, []
        for s, t in zip(self.slots, targets):
            s.y_shape, s.y_int = tuple(t.shape[1:]), not t.is_floating_point()
            width = int(np.prod(s.y_shape, dtype=np.int64))
            s.y = (start, start + width)
            start += width
            cols.append(t.reshape(t.shape[0], -1).to(torch.float32))
        for s in self.slots:
            s.y_width = start
        if weights is not None:
            cols.append(weights.reshape(-1, 1).to(torch.float32))
        return torch.cat(cols, dim=1)

    def split_outputs(self, pred: np.ndarray) -> list[np.ndarray]:
        n = pred.shape[0]
        return [pred[:, s.pred[0]:s.pred[1]].reshape(n, *s.shape) for s in self.slots]


class OutputMetric(Metric):
    """A metric (or, with kind ``"loss"``, the loss) of one output of a multi-output model,
    named ``<output>_<metric>`` as Keras names it. As in Keras 3, an output's loss is weighted
    by the sample weights (``sum(w loss) / n``, before ``loss_weights``); its metrics are
    not."""

    def __init__(self, name: str, kind: str, slot: OutputSlot):
        self.slot = slot
        super().__init__(name, kind)

    @torch.no_grad()
    def update(self, pred: torch.Tensor, y: torch.Tensor, logits: bool) -> None:
        p, t = self.slot.split(pred, y)
        if self.kind != "loss":
            super().update(p, t, logits)
            return
        value = self.slot.loss(p, t)
        if y.shape[1] > self.slot.y_width:  # sample weights: Keras's sum(w loss) / n
            value = value * y[:, self.slot.y_width]
        value = value.sum()
        self.total = value.clone() if not isinstance(self.total, torch.Tensor) \
            else self.total.add_(value)
        self.count += p.shape[0]


class PackedModule(nn.Module):
    """A graph module seen as one-tensor-in, one-tensor-out for the training loop: splits the
    packed inputs (``layout``: per-input sample shape and whether it holds token ids) and
    flattens several outputs side by side."""

    def __init__(self, inner: nn.Module, several_outputs: bool):
        super().__init__()
        self.inner = inner
        self.several_outputs = several_outputs
        self.layout: list[tuple[tuple, bool]] | None = None

    def forward(self, x, logits: bool = False, upto: int | None = None):
        xs = self.unpack(x) if self.layout is not None else x
        out = self.inner(xs, upto=upto) if upto is not None else self.inner(xs, logits=logits)
        if upto is None and self.several_outputs:
            return torch.cat([o.reshape(o.shape[0], -1) for o in out], dim=1)
        return out

    def unpack(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, start, n = [], 0, x.shape[0]
        for shape, integer in self.layout or []:
            width = int(np.prod(shape, dtype=np.int64))
            part = x[:, start:start + width].reshape(n, *shape)
            out.append(part.long() if integer else part)
            start += width
        return out


class _PackedRows(InputRows):
    """Several inputs' ``InputRows`` read in step and packed into one float32 matrix (an
    ``InputRows`` to the loop: converted a batch at a time)."""

    def __init__(self, rows: list[InputRows]):  # noqa: D107 - no InputRows.__init__: no source
        self.rows = rows
        self.n = rows[0].n
        self.layout = [(tuple(r.shape[1:]), r.integer_input) for r in rows]
        width = sum(int(np.prod(s, dtype=np.int64)) for s, _ in self.layout)
        self.shape = (self.n, width)

    def tensor(self, start: int = 0, stop: int | None = None) -> torch.Tensor:
        return _pack([r.tensor(start, stop) for r in self.rows])

    def batches(self, batch_size: int):
        for start in range(0, self.n, batch_size):
            stop = min(start + batch_size, self.n)
            yield start, stop, self.tensor(start, stop)


def _pack(tensors: list[torch.Tensor]) -> torch.Tensor:
    cols = []
    for t in tensors:
        if not t.is_floating_point() and t.numel() and int(t.abs().max()) >= _EXACT_FLOAT32_INT:
            raise ConfigError(message(
                "x", f"token ids below {_EXACT_FLOAT32_INT} (a model with several inputs "
                "packs them into float32)", None, shown=str(int(t.abs().max())), verb="hold"))
        cols.append(t.reshape(t.shape[0], -1).to(torch.float32))
    return torch.cat(cols, dim=1)


# ----------------------------------------------------------------------------- the trainer
class Trainer:
    """compile / fit / evaluate / predict for every model (see the module docstring).

    The model provides ``module`` (its built torch module), ``build(shape)``, ``_input_specs()``
    (name, sample shape, token ids?) per input, ``_output_specs()`` (name, sample shape) per
    output, ``_final_activations()``, ``_shapes(sample_shape)`` (layer, input shape, output
    shape) for sizing inference batches, ``_find(layer)`` and ``_run_path`` for
    ``layer_output``, and ``regularized_weights()``.
    """

    _LOGIT_LAYERS = ("Dense", "Conv2D", "Conv2DTranspose", "Activation", "Conv1D",
                     "Conv1DTranspose")

    def _init_trainer(self) -> None:
        self._compiled: dict | None = None
        self._state: TrainingState | None = None
        self._packed: PackedModule | None = None
        self._outputs_loss: OutputsLoss | None = None
        self.optimizer_: Optimizer | None = None
        self._pending_compile: dict | None = None  # see compile: a subclass not yet built
        self._loss_tracker: Mean | None = None
        self._compile_metrics: CompileMetrics | None = None
        self._output_loss_trackers: list[Mean] = []
        self.history_ = None
        self.stop_training = False
        self.device_ = torch.device("cpu")

    # ------------------------------------------------------------------ Keras attributes
    @property
    def optimizer(self) -> Optimizer | None:
        """The optimiser given to ``compile`` (None before)."""
        return self.optimizer_

    @property
    def history(self):
        """The ``History`` of the last ``fit`` (None before)."""
        return self.history_

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                device="auto") -> None:
        """Choose the optimiser, loss(es) and metrics (Keras names), and the device.

        Parameters
        ----------
        optimizer : str or Optimizer
            ``"rmsprop"``, ``"adam"``, ``"sgd"``, ``"adagrad"`` with Keras defaults, or an
            object such as ``statdl.optimizers.RMSprop(learning_rate=0.01)``.
        loss : str, callable, list, dict or None
            None: no loss from targets, ``fit(x)`` trains on the terms layers add with
            ``add_loss`` (or on what an overridden ``train_step`` returns). Otherwise
            ``"mse"``, ``"mae"``, ``"binary_crossentropy"``, ``"categorical_crossentropy"``,
            ``"sparse_categorical_crossentropy"``, ``"poisson"``, or ``f(pred, y)`` returning
            per-sample (or per-element) losses. A model with several outputs takes one loss
            for all, a list (one per output, in order) or a dict by output name.
        metrics : list of str, or list of lists / dict per output
            ``"accuracy"`` (or ``"acc"``), ``"mae"``, ``"mse"``, ``"auc"``. Metrics that make
            no sense for the loss are refused: ``accuracy`` or ``auc`` with a regression loss,
            ``mae``, ``mse`` or ``auc`` with class indices (sparse categorical cross-entropy).
            With several outputs a plain list applies to every output.
        loss_weights : list or dict of float, optional
            Weight of each output's loss in the total (several outputs only; default 1 each).
        device : {"auto", "cpu", "cuda"}
            Where to train; ``"auto"`` picks a GPU when torch sees one.

        A subclassed model (with ``call``) not yet built, given one loss, weight or metric
        list per output, is compiled when it is built (by its first data or ``build``): only
        then are its outputs known.
        """
        if getattr(self, "_by_call", False) and not self.built \
                and _per_output(loss, metrics, loss_weights):
            self._pending_compile = {"loss": loss, "metrics": metrics,
                                     "loss_weights": loss_weights, "device": device}
            self.optimizer_ = get_optimizer(optimizer)
            return
        self._pending_compile = None
        names = [name for name, _ in self._output_specs()]
        if loss is None:  # the loss comes from add_loss terms, or from an own train_step
            if metrics is not None and not (isinstance(metrics, list | tuple | dict)
                                            and len(metrics) == 0):
                raise ConfigError(message(
                    "metrics", "empty when no `loss` is given (metrics compare with targets)",
                    metrics, "compile",
                    fix="Compile without loss trains on add_loss terms only."))
            loss_obj, metric_list, loss_name, metric_names = NO_LOSS, [], None, []
            self._outputs_loss = None
        elif len(names) == 1:
            loss_obj, metric_list, loss_name, metric_names = self._compile_one(loss, metrics,
                                                                               names[0])
            if loss_weights is not None:
                weights = self._per_output(loss_weights, names, "loss_weights")
                loss_obj = _scaled(loss_obj, _weight(weights[0]))
            self._outputs_loss = None
        else:
            loss_obj, metric_list, loss_name, metric_names = self._compile_several(
                loss, metrics, loss_weights, names)
        self.optimizer_ = get_optimizer(optimizer)
        self.device_ = resolve_device(device)
        self._compiled = {"optimizer": self.optimizer_, "loss": loss_obj, "metrics": metric_list,
                          "loss_name": loss_name, "metric_names": metric_names,
                          "loss_weights": loss_weights}
        self._make_trackers(metrics, metric_list, names)
        self._state = None
        if self.module_ is not None:
            self.module_.to(self.device_)

    def _make_trackers(self, metrics, metric_list: list[Metric], names: list[str]) -> None:
        """Keras 3's trackers of a compiled model (see ``metrics``): ``loss``, the compiled
        metrics as one ``compile_metrics`` tracker (when ``metrics`` was given), and each
        output's loss (several outputs)."""
        self._loss_tracker = Mean(name="loss")
        self._compile_metrics = None
        self._output_loss_trackers = []
        several = self._outputs_loss is not None
        if metrics is not None:
            position = {n: i for i, n in enumerate(names)}
            entries = [(Metric(m.name, m.kind), position[m.slot.name] if several else 0)
                       for m in metric_list if m.kind != "loss"]
            self._compile_metrics = CompileMetrics(entries, names)
        if several:
            self._output_loss_trackers = [Mean(name=f"{n}_loss") for n in names]

    def _compile_one(self, loss, metrics, name):
        if isinstance(loss, list | tuple | dict):
            loss = self._per_output(loss, [name], "loss")[0]
        if isinstance(metrics, dict):
            metrics = self._per_output(metrics, [name], "metrics")[0]
        elif isinstance(metrics, list | tuple) and len(metrics) == 1 \
                and isinstance(metrics[0], list | tuple):
            metrics = metrics[0]
        loss_obj = get_loss(loss)
        if isinstance(metrics, str):
            metrics = [metrics]
        metric_list = get_metrics(metrics, loss_obj)
        loss_name = loss if isinstance(loss, str) else loss_obj.name
        return loss_obj, metric_list, loss_name, list(metrics or [])

    def _compile_several(self, loss, metrics, loss_weights, names):
        losses = self._per_output(loss, names, "loss", broadcast=True)
        weights = [1.0] * len(names) if loss_weights is None else \
            [_weight(w) for w in self._per_output(loss_weights, names, "loss_weights")]
        if metrics is None:
            per_metrics = [[] for _ in names]
        elif isinstance(metrics, dict) or (isinstance(metrics, list | tuple) and metrics
                                           and all(isinstance(m, list | tuple | type(None))
                                                   for m in metrics)):
            per_metrics = [m or [] for m in self._per_output(metrics, names, "metrics",
                                                             missing_ok=True)]
        else:
            per_metrics = [list([metrics] if isinstance(metrics, str) else metrics)
                           for _ in names]
        slots, metric_list = [], []
        for name, spec, w in zip(names, losses, weights):
            slots.append(OutputSlot(name, self._output_shape_of(name), get_loss(spec), w))
        for slot in slots:
            metric_list.append(OutputMetric(f"{slot.name}_loss", "loss", slot))
        for slot, wanted in zip(slots, per_metrics):
            for m in get_metrics(list(wanted), slot.loss):
                metric_list.append(OutputMetric(f"{slot.name}_{m.name}", m.kind, slot))
        self._outputs_loss = OutputsLoss(slots)
        loss_names = {n: (s if isinstance(s, str) else None) for n, s in zip(names, losses)}
        return self._outputs_loss.loss, metric_list, loss_names, \
            {n: list(m) for n, m in zip(names, per_metrics)}

    def _output_shape_of(self, name: str) -> tuple:
        shape = dict(self._output_specs())[name]
        if any(d is None for d in shape):
            raise ConfigError(f"Output '{name}' of model '{self.name}' has shape "
                              f"{shape}; a model with several outputs needs every output's "
                              "shape known (no None).")
        return tuple(shape)

    def _per_output(self, value, names: list[str], argument: str, broadcast: bool = False,
                    missing_ok: bool = False) -> list:
        """``value`` as a list in output order: from a dict by name, a list in order, or (with
        ``broadcast``) one value for all."""
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(names))
            if unknown:
                raise ConfigError(message(
                    argument, f"keyed by the outputs of model '{self.name}', {names}", None,
                    shown=f"the key {unknown[0]!r}, which is not an output"))
            missing = [n for n in names if n not in value]
            if missing and not missing_ok:
                raise ConfigError(message(
                    argument, f"a dict with every output of model '{self.name}'", None,
                    shown=f"no entry for {missing}"))
            return [value.get(n) for n in names]
        if isinstance(value, list | tuple):
            if len(value) != len(names):
                raise ConfigError(message(
                    argument, f"one entry per output of model '{self.name}' ({len(names)}: "
                    f"{names})", None, shown=f"{len(value)}", verb="hold"))
            return list(value)
        if broadcast or len(names) == 1:
            return [value] * len(names)
        raise ConfigError(message(
            argument, f"a list or a dict by output name ({names}) for a model with "
            f"{len(names)} outputs", value))

    @property
    def compiled(self) -> bool:
        return self._compiled is not None

    @property
    def metrics_names(self) -> list[str]:
        """The names of ``metrics``, as Keras 3 gives them: ``['loss', 'compile_metrics']``
        once compiled with metrics (``evaluate(..., return_dict=True)`` names each value)."""
        return [m.name for m in self.metrics]

    def _evaluate_order(self, logs: dict) -> list:
        """``logs`` as a list in Keras 3's order (``Trainer._flatten_metrics_in_order``): the
        trackers' names, the compiled metrics' own names, then the other keys sorted."""
        names = []
        for m in self.metrics:
            if not isinstance(m, CompileMetrics):
                names.append(m.name)
            elif self._outputs_loss is None:  # Keras matches the bare names only
                names.extend(x.name for x in m.metrics)
        values = [logs[k] for k in names if k in logs]
        return values + [logs[k] for k in sorted(logs) if k not in names]

    def _record_results(self, logs: dict) -> None:
        """Hold a run's figures in the trackers of ``metrics`` (Keras's state after ``fit``
        or ``evaluate``: the last epoch's values, its validation ones when there were)."""
        if self._loss_tracker is None or "loss" not in logs:
            return
        self._loss_tracker.set_result(logs["loss"])
        if self._compile_metrics is not None:
            self._compile_metrics.set_results(logs)
        for tracker in self._output_loss_trackers:
            if tracker.name in logs:
                tracker.set_result(logs[tracker.name])

    def _compile_pending(self) -> None:
        """Compile a subclassed model as asked before it was built (see ``compile``)."""
        if self._pending_compile is not None and self.built:
            self.compile(self.optimizer_, **self._pending_compile)

    def _require_compiled(self, what: str) -> None:
        if self._compiled is None and self._pending_compile is None:
            raise NotFittedError(
                f"Call compile() before {what}(), e.g. model.compile(optimizer='rmsprop', "
                "loss='mse')."
            )

    # ------------------------------------------------------------------ state
    def _several_io(self) -> tuple[bool, bool]:
        return len(self._input_specs()) > 1, len(self._output_specs()) > 1

    def _train_module(self) -> nn.Module:
        """The module the loop runs: the model's own, or a ``PackedModule`` around it for
        several inputs or outputs."""
        module = self.module
        several_in, several_out = self._several_io()
        if not (several_in or several_out):
            return module
        if self._packed is None or self._packed.inner is not module:
            self._packed = PackedModule(module, several_out)
        return self._packed

    def _trainable_parameters(self) -> list[nn.Parameter]:
        seen, params = set(), []
        for p in self.module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        return params

    def _training_state(self) -> TrainingState:
        self._require_compiled("fit")
        module = self._train_module()
        params = self._trainable_parameters()
        state = self._state
        if state is not None and state.flat.intact(params) and state.module is module:
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
        finals = self._final_activations()
        final = finals[0] if len(finals) == 1 else None
        use_logits = loss.logits_from is not None and final == loss.logits_from
        activity = [m for m in module.modules() if getattr(m, "adds_penalties", False)]
        self._state = TrainingState(
            module=module, loss=loss, metrics=self._compiled["metrics"], optimizer=optimizer,
            flat=flat, device=self.device_, use_logits=use_logits,
            final_activation=get_activation(final), regularized=self.regularized_weights(),
            activity_modules=activity,
        )
        return self._state

    # ------------------------------------------------------------------ data
    def _input_rows(self, x, prefix: str = "", stream: bool = True):
        """``InputRows`` (one input) or ``_PackedRows`` (several) for ``x``; sets the packed
        module's layout."""
        specs = self._input_specs()
        if len(specs) == 1:
            name, shape, integer = specs[0]
            if isinstance(x, dict):
                x = self._per_output(x, [name], f"{prefix}x")[0]
            elif _one_array_in_a_list(x):
                x = x[0]
            return InputRows(x, shape, integer, f"{prefix}x")
        names = [n for n, _, _ in specs]
        if not isinstance(x, list | tuple | dict):
            raise ConfigError(message(
                f"{prefix}x", f"a list (one array per input, in order) or a dict by input name "
                f"({names}) for model '{self.name}'", None, shown=type(x).__name__))
        parts = self._per_output(x, names, f"{prefix}x")
        rows = [InputRows(part, shape, integer, f"{prefix}x[{name!r}]")
                for part, (name, shape, integer) in zip(parts, specs)]
        for r, name in zip(rows[1:], names[1:]):
            if r.n != rows[0].n:
                raise ShapeError(message(
                    f"{prefix}x", "inputs with the same number of rows", None, verb="hold",
                    shown=f"{rows[0].n} rows in {names[0]!r} and {r.n} in {name!r}"))
        packed = _PackedRows(rows)
        self._set_layout(packed.layout)
        return packed

    def _set_layout(self, layout) -> None:
        module = self._train_module()
        if isinstance(module, PackedModule) and self._several_io()[0]:
            module.layout = layout

    def _prepare_xy(self, x, y, sample_weight=None, class_weight=None, prefix: str = "",
                    stream: bool = False):
        """Checked ``x``, ``y``, weights; ``x`` as one tensor, or as rows converted a batch at
        a time with ``stream=True``."""
        self._build_for(x)  # a subclass with call(): from the data
        if self.module_ is None:
            specs = self._input_specs()
            if len(specs) == 1 and not isinstance(x, list | tuple | dict):
                probe = InputRows(x, specs[0][1], specs[0][2], f"{prefix}x")
                self.build(tuple(probe.shape[1:]))
        rows = self._input_rows(x, prefix)
        require_rows(rows.n, f"{prefix}x")
        if stream:
            xt = rows
        else:  # a sparse matrix stays sparse: fit densifies a batch at a time
            xt = SparseRows.of(rows) if getattr(rows, "sparse", False) else rows.tensor()
        n = rows.n
        outputs = self._output_specs()
        if self._compiled["loss"] is NO_LOSS:
            if y is not None or sample_weight is not None or class_weight is not None:
                given = [a for a, v in (("y", y), ("sample_weight", sample_weight),
                                        ("class_weight", class_weight)) if v is not None]
                raise ConfigError(message(
                    ["y", "sample_weight", "class_weight"], "None when compile() got no `loss` "
                    "(`y` and weights are unused: fit trains on add_loss terms only)", None,
                    shown="a value for " + " and ".join(f"`{a}`" for a in given),
                    fix="Give compile(loss=...) to fit targets."))
            return xt, torch.zeros((n, 0)), None
        if len(outputs) == 1:
            loss = self._compiled["loss"]
            out = outputs[0][1]
            if isinstance(y, dict) or _one_array_in_a_list(y):
                y = self._per_output(y, [outputs[0][0]], f"{prefix}y")[0]
            yt = prepare_y(y, loss, out, n, f"{prefix}y")
            w = prepare_weights(sample_weight, class_weight, yt, n, loss,
                                out[-1] if out else None, f"{prefix}sample_weight")
            return xt, yt, w
        return (xt, *self._prepare_several_y(y, sample_weight, class_weight, n, prefix))

    def _prepare_several_y(self, y, sample_weight, class_weight, n: int, prefix: str):
        names = [name for name, _ in self._output_specs()]
        if class_weight is not None:
            raise ConfigError(message(
                "class_weight", "None for a model with several outputs (as in Keras)",
                class_weight, fix="Give `sample_weight` instead."))
        if y is None:
            raise ConfigError(message(f"{prefix}y", "given to fit or evaluate", None))
        if not isinstance(y, list | tuple | dict):
            raise ConfigError(message(
                f"{prefix}y", f"a list (one array per output, in order) or a dict by output "
                f"name ({names}) for model '{self.name}'", None, shown=type(y).__name__))
        parts = self._per_output(y, names, f"{prefix}y")
        slots = self._outputs_loss.slots
        targets = [prepare_y(part, s.loss, s.shape, n, f"{prefix}y[{s.name!r}]")
                   for part, s in zip(parts, slots)]
        w = prepare_weights(sample_weight, None, targets[0], n, slots[0].loss,
                            slots[0].shape[-1], f"{prefix}sample_weight")
        return self._outputs_loss.pack_targets(targets, w), w

    # ------------------------------------------------------------------ fit / evaluate
    def fit(self, x=None, y=None, batch_size: int = 32, epochs: int = 1, verbose="auto",
            callbacks: list[Callback] | None = None, validation_split: float = 0.0,
            validation_data=None, shuffle: bool = True, class_weight: dict | None = None,
            sample_weight=None, initial_epoch: int = 0, precision: str | None = None):
        """Train for ``epochs`` epochs (Keras semantics) and return the ``History``.

        Parameters
        ----------
        x, y : array-like, or lists / dicts of them
            Inputs and targets: numpy arrays, pandas frames or torch tensors; a model with
            several inputs (outputs) takes a list in order or a dict by name.
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
            Weights of the loss per class (one output only) or per sample. As in Keras, the
            rows ``validation_split`` holds out keep their ``sample_weight`` but not the class
            weights.
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
        if overrides(self, "train_step"):  # the model trains its own way (Keras's pattern)
            if class_weight is not None:
                raise ConfigError(message(
                    "class_weight", "None for a model with its own train_step", class_weight,
                    "fit", fix="Give `sample_weight` (train_step gets (x, y, weights))."))
            return fit_with_train_step(
                self, x, y, sample_weight=sample_weight, batch_size=batch_size, epochs=epochs,
                verbose=verbose, callbacks=callbacks, shuffle=shuffle,
                initial_epoch=initial_epoch, validation_split=validation_split,
                validation_data=validation_data)
        xt, yt, w = self._prepare_xy(x, y, sample_weight, class_weight)
        if self._compiled["loss"] is NO_LOSS:
            state = self._training_state()
            if not state.activity_modules and not state.regularized:
                raise ConfigError(message(
                    "loss", f"given when no layer of model '{self.name}' adds loss terms "
                    "(add_loss)", None, "compile", fix="Give compile(loss=...) and fit(x, y)."))
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, tuple | list) or len(validation_data) not in (2, 3):
                kind = type(validation_data).__name__
                raise ConfigError(message(
                    "validation_data", "a tuple (x_val, y_val) or (x_val, y_val, weights)",
                    None, "fit", shown=f"a {kind} of {len(validation_data)} items"
                    if isinstance(validation_data, tuple | list) else kind))
            vw = validation_data[2] if len(validation_data) == 3 else None
            val = self._prepare_xy(validation_data[0], validation_data[1], vw,
                                   prefix="validation_data ")
        elif validation_split:
            given = w if class_weight is None else prepare_weights(
                sample_weight, None, yt, yt.shape[0], self._compiled["loss"])
            (xt, yt, w), val = split_validation(xt, yt, w, validation_split)
            if class_weight is not None:  # Keras weights the held-out rows by sample_weight
                val = (*val[:2], None if given is None else given[-val[1].shape[0]:])
        if verbose == "auto":
            verbose = 1
        if verbose not in (0, 1, 2):
            raise choice_error("verbose", verbose, ["auto", 0, 1, 2], "fit")
        callbacks = extra_fit_callbacks(list(callbacks or []))
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(message(
                    "callbacks", "statdl.callbacks.Callback objects", None, "fit",
                    shown=type(cb).__name__, verb="hold"))
        # threads: as many as the cores other processes leave free (statdl.threads); memory:
        # freed blocks reused step after step, given back after
        with governed(), keep_freed_memory():
            history = run_fit(self, xt, yt, w, val, batch_size=batch_size, epochs=epochs,
                              initial_epoch=initial_epoch, shuffle=shuffle,
                              callbacks=callbacks, verbose=verbose, precision=precision)
        last = {k: v[-1] for k, v in history.history.items() if v}
        self._record_results({k[4:]: v for k, v in last.items() if k.startswith("val_")}
                             if val is not None else last)
        return history

    def train_step(self, data):
        """One training step of ``fit``; override it to train your own way (Keras's pattern).

        ``data`` is the batch as Keras gives it: ``x``, ``(x, y)`` when ``fit`` got ``y``,
        ``(x, y, sample_weight)`` with weights, as torch tensors. Either update the weights
        in the step, as the Keras examples do::

            grads = torch.autograd.grad(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))

        (or ``self.zero_grad(); loss.backward()`` and ``self.optimizer.apply([w.grad for w in
        weights], weights)``), or return a dict whose ``"loss"`` is a scalar tensor and let
        ``fit`` run backward and the optimiser given to ``compile``. The dict returned is
        logged: with trackers (``statdl.metrics.Mean`` attributes, see ``metrics``) as Keras
        logs it, the last step's values of the epoch; otherwise each value averaged over the
        epoch. Layers and models called inside on tensors run in training mode (dropout,
        sampling) with gradients. See ``statdl.models.steps``.
        """
        raise NotImplementedError  # fit's own loop runs unless a subclass overrides this

    def test_step(self, data):
        """One step of ``evaluate`` (and of ``fit``'s validation) for a model with its own
        ``train_step``: ``data`` as in ``train_step``, run without gradients in inference
        mode; return the dict of values to report."""
        raise NotImplementedError  # evaluate's own loop runs unless a subclass overrides this

    @property
    def metrics(self) -> list:
        """The model's metric trackers, as Keras 3's ``Model.metrics``: once compiled, the
        ``loss`` tracker (a ``statdl.metrics.Mean``), the compiled metrics as one
        ``CompileMetrics`` tracker named ``compile_metrics`` (when ``compile`` got
        ``metrics``), each output's ``<name>_loss`` tracker (several outputs); then the
        ``statdl.metrics.Mean`` objects held in the model's attributes. Override the property
        to choose. A ``train_step`` updates them (``compute_loss`` the per-output ones,
        ``compute_metrics`` the compiled ones) and ``fit`` resets them when each epoch starts;
        after ``fit`` or ``evaluate`` they hold the run's last figures, as in Keras.

        Examples
        --------
        >>> import statdl as sd
        >>> m = sd.Sequential([sd.layers.Dense(1)], input_shape=(2,))
        >>> m.compile("sgd", "mse", metrics=["mae"])
        >>> [t.name for t in m.metrics], m.metrics_names
        (['loss', 'compile_metrics'], ['loss', 'compile_metrics'])
        """
        out: list = []
        if self._compiled is not None and self._loss_tracker is not None:
            out.append(self._loss_tracker)
            if self._compile_metrics is not None:
                out.append(self._compile_metrics)
            out.extend(self._output_loss_trackers)
        held = {id(m) for m in out}
        return out + [v for v in vars(self).values() if isinstance(v, Mean) and id(v) not in held]

    def reset_metrics(self) -> None:
        """Reset every tracker of ``metrics`` (Keras's ``reset_metrics``)."""
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self) -> dict:
        """``{name: result}`` of the trackers of ``metrics``, the compiled metrics' dict
        merged in (Keras's ``get_metrics_result``: what a ``train_step`` returns)."""
        out: dict = {}
        for m in self.metrics:
            value = m.result()
            if isinstance(value, dict):
                out.update(value)
            else:
                out[m.name] = value
        return out

    @property
    def compiled_metrics(self) -> CompileMetrics | None:
        """The metrics of ``compile`` as one tracker (``update_state(y, y_pred)``): Keras 2's
        ``self.compiled_metrics.update_state(y, y_pred)`` in a ``train_step`` works
        unchanged; it is the ``compile_metrics`` entry of ``metrics`` (None without
        ``metrics``)."""
        return self._compile_metrics

    def compiled_loss(self, y, y_pred, sample_weight=None, regularization_losses=None):
        """Keras 2's ``self.compiled_loss(y, y_pred, regularization_losses=self.losses)``:
        ``compute_loss`` (which already adds ``self.losses``, so ``regularization_losses`` is
        not added twice), recorded in the ``loss`` tracker weighted by the batch size as
        Keras 2 recorded it, so that ``{m.name: m.result() for m in self.metrics}`` reports
        the epoch's loss."""
        total = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        first = next(iter(y_pred.values() if isinstance(y_pred, dict) else y_pred), None) \
            if isinstance(y_pred, list | tuple | dict) else y_pred
        self._loss_tracker.update_state(total, sample_weight=first.shape[0])
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics with a batch and return ``get_metrics_result()``, as
        Keras's ``Model.compute_metrics`` (``x`` is unused; ``y``, ``y_pred`` one tensor, or
        lists / dicts by output name for several outputs)."""
        if self._compile_metrics is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    @property
    def losses(self) -> list[torch.Tensor]:
        """The extra loss terms, as Keras's ``Model.losses``: those the forward passes since
        the last step added (``add_loss``, activity regularisers) and the weight penalties.
        A ``train_step`` adds ``sum(self.losses)`` to its loss (``compute_loss`` does)."""
        terms: list[torch.Tensor] = []
        module = self.module_
        if module is None and self._subclassed and any(p.built for p in self.layers):
            module = self.module  # a train_step model: its built parts
        if module is not None:
            for m in module.modules():
                penalties = getattr(m, "penalties", None)
                if isinstance(penalties, list):
                    terms.extend(penalties)
        terms.extend(reg(w) for reg, w in self.regularized_weights())
        return terms

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training: bool = True) -> torch.Tensor:
        """The loss of ``compile`` on a batch, plus ``sum(self.losses)``, as Keras 3's
        ``Model.compute_loss`` (used in a ``train_step``: ``y_pred = self(x,
        training=True)``, ``loss = self.compute_loss(y=y, y_pred=y_pred)``).

        Each output's loss is the mean over the batch, or with sample weights ``sum(w loss) /
        n``. With several outputs, ``y`` and ``y_pred`` are lists in output order or dicts by
        output name, ``sample_weight`` one array for all outputs or a list / dict of them;
        the total is ``sum_k loss_weights[k] * loss_k``, and each unweighted ``loss_k`` goes
        to the tracker ``<output>_loss`` of ``metrics``, as in Keras.

        Examples
        --------
        >>> import torch, statdl as sd
        >>> inp = sd.Input((2,))
        >>> m = sd.Model(inp, [sd.layers.Dense(1, name="a")(inp), sd.layers.Dense(1, name="b")(inp)])
        >>> m.compile("sgd", loss=["mse", "mae"], loss_weights=[1.0, 0.5])
        >>> y_pred = [torch.zeros(4, 1), torch.ones(4, 1)]
        >>> float(m.compute_loss(y={"a": torch.ones(4), "b": torch.ones(4)}, y_pred=y_pred))
        1.0
        """
        self._require_compiled("compute_loss")
        loss = self._compiled["loss"]
        total = None
        if loss is NO_LOSS:
            pass
        elif self._outputs_loss is not None:
            total = self._outputs_compute_loss(y, y_pred, sample_weight)
        else:
            if isinstance(y_pred, list | tuple) and len(y_pred) == 1:
                y_pred = y_pred[0]
            if isinstance(y, list | tuple) and len(y) == 1 and not np.isscalar(y[0]):
                y = y[0]
            if not isinstance(y_pred, torch.Tensor):
                raise ConfigError(message(
                    "y_pred", "the model's output tensor (y_pred = self(x, training=True))",
                    None, "compute_loss", shown=type(y_pred).__name__))
            total = batch_loss(loss, y_pred, _batch_target(loss, y, y_pred), sample_weight,
                               False)
        for term in self.losses:
            total = term if total is None else total + term
        if total is None:
            raise ConfigError(message(
                "loss", f"given when model '{self.name}' added no loss terms", None,
                "compile", fix="Otherwise compute_loss has nothing to compute."))
        return total

    def _outputs_compute_loss(self, y, y_pred, sample_weight) -> torch.Tensor:
        """``sum_k w_k loss_k`` of a model with several outputs (see ``compute_loss``)."""
        slots = self._outputs_loss.slots
        names = [s.name for s in slots]
        preds = self._per_output(y_pred, names, "y_pred")
        targets = self._per_output(y, names, "y")
        weights = self._per_output(sample_weight, names, "sample_weight", broadcast=True) \
            if isinstance(sample_weight, list | tuple | dict) else [sample_weight] * len(slots)
        total = None
        for slot, p, t, w, tracker in zip(slots, preds, targets, weights,
                                          self._output_loss_trackers):
            if not isinstance(p, torch.Tensor):
                raise ConfigError(message(
                    f"y_pred[{slot.name!r}]", "a tensor (y_pred = self(x, training=True))",
                    None, "compute_loss", shown=type(p).__name__))
            if w is not None and not isinstance(w, torch.Tensor):
                w = torch.as_tensor(np.asarray(w), dtype=torch.float32)
            value = batch_loss(slot.loss, p, _batch_target(slot.loss, t, p),
                               None if w is None else w.to(p.device).reshape(-1), False)
            tracker.update_state(value, sample_weight=p.shape[0])  # unweighted, as Keras
            value = value * slot.weight if slot.weight != 1 else value
            total = value if total is None else total + value
        return total

    def zero_grad(self) -> None:
        """Set the gradients of the trainable weights to zero, in place (before
        ``loss.backward()`` in a ``train_step``, as with Keras's torch backend)."""
        with torch.no_grad():
            for p in self._trainable_parameters():
                if p.grad is not None:
                    p.grad.zero_()

    def _build_for(self, x) -> None:
        """Build a subclassed model (with ``call``) from its first data ``x`` (one array, a
        list or a dict of them) when it is not built yet."""
        if self.module_ is None and getattr(self, "_by_call", False):
            self._build_from_data(x)

    def evaluate(self, x=None, y=None, batch_size: int | None = None, sample_weight=None,
                 verbose: int = 0, return_dict: bool = False):
        """Loss and metrics on ``x``, ``y`` (no dropout or noise), as Keras returns them: the
        loss alone when there is nothing else, else a list in Keras 3's order (``loss``,
        then the compiled metrics, ``loss, mae = model.evaluate(x, y)``; for several outputs
        ``loss``, each ``<output>_loss``, then the per-output metrics sorted by name);
        ``return_dict=True`` gives a dict ``{name: value}``.

        Examples
        --------
        >>> import numpy as np, statdl as sd
        >>> m = sd.Sequential([sd.layers.Dense(1)], input_shape=(2,))
        >>> m.compile("sgd", "mse", metrics=["mae"])
        >>> loss, mae = m.evaluate(np.ones((4, 2)), np.ones(4))
        >>> sorted(m.evaluate(np.ones((4, 2)), np.ones(4), return_dict=True))
        ['loss', 'mae']
        """
        self._require_compiled("evaluate")
        check_batch_size(batch_size)
        if overrides(self, "test_step"):
            logs = evaluate_with_test_step(self, x, y, sample_weight, batch_size)
            if return_dict:
                return logs
            values = self._evaluate_order(logs)
            return values[0] if len(values) == 1 else values
        xt, yt, w = self._prepare_xy(x, y, sample_weight, stream=True)
        with governed(), inference.kernel_copies(rows=xt.shape[0]):
            logs = run_evaluate(self, xt, yt, w, batch_size=batch_size)
        self._record_results(logs)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        if return_dict:
            return logs
        values = self._evaluate_order(logs)
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------ predict
    def _forward_batches(self, x, batch_size: int | None, path: list[int] | None = None,
                         logits: bool = False) -> np.ndarray:
        self._build_for(x)  # a subclass with call(): from the data
        if self.module_ is None:
            specs = self._input_specs()
            if specs[0][1] is None:
                raise NotFittedError(
                    f"Model '{self.name}' is not built: give `input_shape=` to Sequential or "
                    "fit it before predict()."
                )
            self.build(specs[0][1])
        check_batch_size(batch_size)
        rows = self._input_rows(x)  # converted batch by batch
        bs = inference_batch(self, batch_size, rows.shape[1:])
        module = self._train_module()
        modules = list(module.modules())  # one walk for eval and the penalties
        if any(m.training for m in modules):
            module.eval()
        weight = next(module.parameters(), None)
        device = torch.device("cpu") if weight is None else weight.device
        # Each batch's output goes straight into one preallocated array: a list of batch
        # outputs joined at the end pins the heap holes between them, which cost +250 MB of
        # peak RSS on 1M x 20 rows (bench/memory.py) against +6 MB this way. Freed activations
        # are kept for the next batch, as in fit (fresh pages: the course CNN at ~4,000
        # images/s in batches of 1,024 instead of ~10,000).
        out: torch.Tensor | None = None
        with torch.inference_mode(), governed() as governor, keep_freed_memory(), \
                inference.kernel_copies(rows=rows.n):
            workers, bs = worker_plan(module, rows, bs, device, governor,
                                      automatic=batch_size is None)
            for start, stop, yb in forward_batches(
                    rows, bs, lambda xb: self._run_path(module, xb.to(device), path, logits),
                    workers):
                if out is None:
                    out = torch.empty((rows.n, *yb.shape[1:]), dtype=torch.float32)
                out[start:stop].copy_(yb)  # dtype and device in the same pass
        for m in modules:
            if hasattr(m, "penalties"):
                m.penalties.clear()
        if out is None:
            widths = [s for _, s in self._output_specs()] if path is None else [()]
            if len(widths) == 1 and path is None:
                return np.zeros((0, *widths[0]), dtype=np.float32)
            return np.zeros((0, 0), dtype=np.float32)
        return out.numpy()

    def predict(self, x, batch_size: int | None = None, verbose: int = 0):
        """Model outputs for ``x`` (probabilities for classifiers), as a numpy array; a list
        (or a dict, when the model's outputs were given as one) for several outputs."""
        out = self._forward_batches(x, batch_size)
        if self._several_io()[1]:
            return self._structure_outputs(_split_outputs(out, self._output_specs()))
        return out

    def _structure_outputs(self, values: list):
        return values

    def predict_proba(self, x, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities (the same as ``predict`` for softmax/sigmoid outputs)."""
        return self.predict(x, batch_size)

    def predict_classes(self, x, batch_size: int | None = None) -> np.ndarray:
        """Predicted class: the argmax of the outputs, or ``p > 0.5`` for one sigmoid output."""
        probs = self.predict(x, batch_size)
        if probs.ndim == 2 and probs.shape[1] == 1:
            return (probs[:, 0] > 0.5).astype(np.int64)
        return probs.argmax(axis=-1)

    def layer_output(self, x, layer, batch_size: int | None = None) -> np.ndarray:
        """Activations of any layer (nested models included) for inputs ``x``.

        Examples
        --------
        >>> import statdl as sd
        >>> m = sd.Sequential([sd.layers.Dense(4, activation="relu"), sd.layers.Dense(1)],
        ...                   input_shape=(3,))
        >>> m.layer_output(np.ones((2, 3)), 0).shape
        (2, 4)
        """
        return self._forward_batches(x, batch_size, path=self._find(layer))

    # ------------------------------------------------------------------ device
    def to(self, device: str | torch.device):
        """Move the weights to ``device`` (``"cpu"``, ``"cuda"`` or ``"auto"``); the next ``fit``
        rebinds them to the flat buffers there, carrying the optimiser state over."""
        self.device_ = resolve_device(device)
        if self._state is not None:
            self._state.device = self.device_
        if self.module_ is not None:
            self.module_.to(self.device_)
        return self


def _one_array_in_a_list(value) -> bool:
    """``[array]``: the list form of one input or target (a list of rows stays data)."""
    return isinstance(value, list | tuple) and len(value) == 1 and (
        isinstance(value[0], np.ndarray | torch.Tensor) or hasattr(value[0], "to_numpy"))


def _per_output(loss, metrics, loss_weights) -> bool:
    """Whether ``compile``'s arguments give one entry per output of several."""
    def several(value, nested=False):
        if isinstance(value, dict):
            return len(value) > 1
        if not isinstance(value, list | tuple) or len(value) < 2:
            return False
        return not nested or all(isinstance(v, list | tuple | type(None)) for v in value)

    return several(loss) or several(loss_weights) or several(metrics, nested=True)


def _batch_target(loss: Loss, y, pred: torch.Tensor) -> torch.Tensor:
    """``y`` of one batch in the form ``loss`` takes for ``pred``: class indices as int64, other
    targets in the outputs' dtype, (n,) targets of an (n, 1) output reshaped."""
    if y is None:
        raise ConfigError(message("y", "given for the loss given to compile", None,
                                  "compute_loss"))
    t = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    t = t.to(pred.device)
    if loss.target == "int":
        if t.dim() == 2 and t.shape[1] == 1:
            t = t[:, 0]
        return t.long()
    if loss.target != "any":
        t = t.to(pred.dtype if pred.is_floating_point() else torch.float32)
    if t.is_floating_point() and t.numel() == pred.numel() and t.shape != pred.shape:
        t = t.reshape(pred.shape)
    return t


def _split_outputs(out: np.ndarray, specs) -> list[np.ndarray]:
    values, start, n = [], 0, out.shape[0]
    for _, shape in specs:
        width = int(np.prod(shape, dtype=np.int64))
        values.append(out[:, start:start + width].reshape(n, *shape))
        start += width
    return values


def _scaled(loss: Loss, weight: float) -> Loss:
    if weight == 1.0:
        return loss
    # a name of its own: dense_step's closed-form gradients go by the loss's name
    return Loss(f"{loss.name}_weighted",
                lambda p, y, from_logits=False: weight * loss(p, y, from_logits),
                loss.logits_from, loss.target)


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



def _weight(value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating) \
            or not math.isfinite(value) or value < 0:
        raise ConfigError(message("loss_weights", "finite numbers >= 0", value, "compile",
                                  verb="hold"))
    return float(value)
