"""Metrics by Keras name, accumulated over an epoch without leaving the device.

Each metric adds per-batch sums to a running state; ``result()`` returns the epoch value. As in
Keras, ``accuracy`` means categorical, sparse-categorical or binary accuracy depending on the
loss. ``auc`` is computed exactly (trapezoid over all distinct thresholds, i.e. the
Mann-Whitney statistic) at the end of the epoch; Keras approximates it with 200 thresholds.

``Mean`` is Keras's ``keras.metrics.Mean`` tracker (``update_state`` / ``result`` /
``reset_state``), which a model's own ``train_step`` updates with the values it wants logged.
``CompileMetrics`` is Keras 3's tracker of the metrics given to ``compile``: it sits in
``model.metrics`` beside the ``loss`` tracker, so the Keras guides' loop ``for metric in
self.metrics: ...update_state(y, y_pred)`` updates them.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError, ShapeError
from ..validation import choice_error, message

__all__ = ["Metric", "Mean", "CompileMetrics", "get_metric", "get_metrics", "METRIC_NAMES"]

METRIC_NAMES = ("accuracy", "acc", "mae", "mse", "auc", "binary_accuracy",
                "categorical_accuracy", "sparse_categorical_accuracy", "mean_absolute_error",
                "mean_squared_error", "binary_crossentropy", "categorical_crossentropy",
                "sparse_categorical_crossentropy", "poisson")

#: Keras's other names (``keras.metrics.get``), matched without case: each maps to the kind
#: of metric computed and the name it is logged under (Keras's default name for a class).
_ALIASES = {
    "mean_absolute_error": ("mae", "mean_absolute_error"),
    "meanabsoluteerror": ("mae", "mean_absolute_error"),
    "mean_squared_error": ("mse", "mean_squared_error"),
    "meansquarederror": ("mse", "mean_squared_error"),
    "binaryaccuracy": ("binary_accuracy", "binary_accuracy"),
    "categoricalaccuracy": ("categorical_accuracy", "categorical_accuracy"),
    "sparsecategoricalaccuracy": ("sparse_categorical_accuracy", "sparse_categorical_accuracy"),
    "bce": ("loss:binary_crossentropy", "bce"),
    "binarycrossentropy": ("loss:binary_crossentropy", "binary_crossentropy"),
    "categoricalcrossentropy": ("loss:categorical_crossentropy", "categorical_crossentropy"),
    "sparsecategoricalcrossentropy": ("loss:sparse_categorical_crossentropy",
                                      "sparse_categorical_crossentropy"),
    "binary_crossentropy": ("loss:binary_crossentropy", "binary_crossentropy"),
    "categorical_crossentropy": ("loss:categorical_crossentropy", "categorical_crossentropy"),
    "sparse_categorical_crossentropy": ("loss:sparse_categorical_crossentropy",
                                        "sparse_categorical_crossentropy"),
    "poisson": ("loss:poisson", "poisson"),
}


def first_max_index(t: torch.Tensor) -> torch.Tensor:
    """``t.argmax(-1)``: the index of the first largest value along the last axis, a NaN
    counting as the largest. It is taken from ``t.max(-1)``, whose CPU kernel gives the same
    indices (ties and NaN included) in less time: on (2,048, 10) float32, 14 against 25 us
    (2 cores, min of 200), which took the course's softmax regression's ``evaluate``
    accuracy from 56 to 32 us a batch; 2 classes 7 against 11 us, 1,000 classes 890
    against 915.

    Examples
    --------
    >>> first_max_index(torch.tensor([[1.0, 3.0, 3.0], [float("nan"), 2.0, float("nan")]]))
    tensor([1, 0])
    """
    return t.max(-1).indices


class Metric:
    """Running metric. ``update(pred, y, logits)`` takes the batch output (probabilities, or
    logits when ``logits`` is true) and targets; ``result()`` gives the epoch value."""

    def __init__(self, name: str, kind: str):
        self.name, self.kind = name, kind
        self.reset()

    @property
    def needs_probabilities(self) -> bool:
        """Whether ``update`` must get probabilities rather than logits."""
        return self.kind in ("mae", "mse") or self.kind.startswith("loss:")

    def reset(self) -> None:
        self.total: torch.Tensor | float = 0.0
        self.count = 0
        self._scores: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []

    @torch.no_grad()
    def update(self, pred: torch.Tensor, y: torch.Tensor, logits: bool) -> None:
        n = pred.shape[0]
        kind = self.kind
        if kind == "categorical_accuracy":
            value = (first_max_index(pred) == first_max_index(y)).sum()
        elif kind == "sparse_categorical_accuracy":
            value = (first_max_index(pred) == y).sum()
        elif kind == "binary_accuracy":
            cut = 0.0 if logits else 0.5
            hits = (pred > cut) == (y > 0.5)
            if hits.dim() == 1 or hits.shape[1:].numel() == 1:
                value = hits.sum()  # one output per sample: no per-row mean needed
            else:
                value = hits.float().reshape(n, -1).mean(dim=1).sum()
        elif kind in ("mae", "mse"):
            d = (pred - y).abs() if kind == "mae" else (pred - y).square()
            value = d.reshape(n, -1).mean(dim=1).sum()
        elif kind.startswith("loss:"):
            value = _loss_values(kind[5:], pred, y).sum()
        elif kind == "auc":
            # a copy: pred may be a view of the loop's reused output buffer (PendingOutputs),
            # which later batches overwrite (AUC 0.63 instead of 0.97 when fed every batch)
            self._scores.append(pred.detach().reshape(-1).float().cpu().clone())
            self._labels.append(y.detach().reshape(-1).float().cpu())
            self.count += n
            return
        else:  # pragma: no cover - guarded by get_metric
            raise RuntimeError(kind)
        if isinstance(self.total, torch.Tensor):
            self.total.add_(value)  # in place: one operation per batch
        else:
            self.total = value.clone()  # integer counts stay exact
        self.count += n

    def result(self) -> float:
        if self.kind == "auc":
            if not self._scores:
                return float("nan")
            return exact_auc(torch.cat(self._labels).numpy(), torch.cat(self._scores).numpy())
        if self.count == 0:
            return float("nan")
        return float(self.total) / self.count


class Mean:
    """Keras's ``keras.metrics.Mean``: the (weighted) mean of the values given so far.

    A tracker a model's own ``train_step`` updates each step; a model resets the trackers of
    its ``metrics`` property at the start of every epoch (Keras's ``reset_metrics``), so that
    ``result()`` is the epoch's running mean. As in Keras, a value of shape ``(n, ...)`` counts
    as ``n`` samples, each the mean over its other axes; with ``sample_weight`` the result is
    ``sum(w * value) / sum(w)``.

    Parameters
    ----------
    name : str
        The tracker's name (``keras.metrics.Mean(name="total_loss")``).
    dtype : str
        ``"float32"`` (Keras's default) or ``"float64"``: the type of the running sums.

    Examples
    --------
    >>> tracker = Mean(name="total_loss")
    >>> tracker.update_state(torch.tensor(2.0)); tracker.update_state([4.0, 6.0])
    >>> round(float(tracker.result()), 6)   # (2 + 4 + 6) / 3
    4.0
    >>> tracker.reset_state(); float(tracker.result())
    0.0
    """

    def __init__(self, name: str = "mean", dtype: str | None = None):
        if not isinstance(name, str) or not name:
            raise ConfigError(message("name", "a non-empty string", name, "Mean"))
        if dtype not in (None, "float32", "float64"):
            raise ConfigError(message("dtype", "'float32' or 'float64'", dtype, "Mean"))
        self.name = name
        self.dtype = torch.float64 if dtype == "float64" else torch.float32
        self.reset_state()

    def reset_state(self) -> None:
        """Forget every value (Keras's ``reset_state``)."""
        self.total = torch.zeros((), dtype=self.dtype)
        self.count = torch.zeros((), dtype=self.dtype)
        self.updates = 0  # update_state calls since the reset: was the tracker used?

    @torch.no_grad()
    def update_state(self, values, sample_weight=None) -> None:
        """Add ``values`` (a number, an array or a tensor; gradients are not kept), weighted by
        ``sample_weight`` when given (Keras's per-sample reduction)."""
        values = self._tensor(values)
        self.updates += 1
        if self.total.device != values.device:
            self.total, self.count = self.total.to(values.device), self.count.to(values.device)
        if sample_weight is None:
            if values.dim() > 1:
                values = values.reshape(values.shape[0], -1).mean(dim=1)
            self.total.add_(values.sum())
            self.count.add_(values.shape[0] if values.dim() >= 1 else 1)
            return
        weight = self._tensor(sample_weight).to(values.device)
        while weight.dim() > values.dim() and weight.shape[-1] == 1:
            weight = weight.squeeze(-1)  # Keras squeezes or expands to the same rank
        while values.dim() > weight.dim() and values.shape[-1] == 1:
            values = values.squeeze(-1)
        if values.dim() > weight.dim():  # per-sample means over the axes the weights lack
            values = values.mean(dim=tuple(range(weight.dim(), values.dim())))
        try:
            weight = torch.broadcast_to(weight, values.shape)
        except RuntimeError:
            raise ShapeError(message(
                "sample_weight", f"broadcastable to the values' shape {tuple(values.shape)}",
                weight, f"Mean '{self.name}'", shown=f"shape {tuple(weight.shape)}")) from None
        self.total.add_((values * weight).sum())
        self.count.add_(weight.sum())

    def _tensor(self, value) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value.detach().to(self.dtype)
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise ConfigError(message("values", "numbers", value, f"Mean '{self.name}'",
                                      shown=type(value).__name__))
        return torch.as_tensor(array, dtype=self.dtype)

    def result(self) -> torch.Tensor:
        """The mean so far as a scalar tensor; 0 before any value (Keras's divide-no-nan)."""
        empty = self.count == 0  # no read-back: a step may call this on a GPU
        return torch.where(empty, torch.zeros_like(self.total),
                           self.total / torch.where(empty, torch.ones_like(self.count),
                                                    self.count))

    def __repr__(self) -> str:
        return f"Mean(name={self.name!r})"

    def set_result(self, value: float) -> None:
        """Hold ``value`` as the result (the trainer records a run's figure this way)."""
        self.reset_state()
        self.total.fill_(float(value))
        self.count.fill_(1.0)


class CompileMetrics:
    """The metrics given to ``compile`` as one tracker, as Keras 3 holds them: named
    ``"compile_metrics"``, listed in ``model.metrics`` after the ``loss`` tracker.

    ``update_state(y, y_pred)`` adds a batch (``y`` and ``y_pred`` one tensor each, or lists
    / dicts by output name for several outputs); ``result()`` is a dict ``{name: value}``
    (``{"mae": ...}``, or ``{"salary_mae": ..., "league_accuracy": ...}``), which ``fit``
    logs key by key. As in Keras, sample weights are not applied to these metrics.

    Parameters
    ----------
    entries : list of (Metric, int)
        Each metric (named as logged) and the position of the output it reads.
    output_names : list of str
        The model's outputs, to read dicts of targets and outputs by name.

    Examples
    --------
    >>> tracker = CompileMetrics([(get_metric("mae", "real"), 0)], ["output"])
    >>> tracker.update_state(torch.tensor([1.0, 2.0]), torch.tensor([[1.5], [2.0]]))
    >>> {k: round(float(v), 4) for k, v in tracker.result().items()}
    {'mae': 0.25}
    """

    name = "compile_metrics"

    def __init__(self, entries: list[tuple[Metric, int]], output_names: list[str]):
        self.entries = entries
        self.output_names = list(output_names)
        self.reset_state()

    @property
    def metrics(self) -> list[Metric]:
        """The metrics held, in order."""
        return [m for m, _ in self.entries]

    def reset_state(self) -> None:
        """Forget every batch."""
        for m, _ in self.entries:
            m.reset()
        self.updates = 0
        self._held: dict[str, float] | None = None

    def _pick(self, value, index: int, argument: str) -> torch.Tensor:
        if isinstance(value, dict):
            name = self.output_names[index]
            if name not in value:
                raise ConfigError(message(argument, f"a dict with output {name!r}", value,
                                          "compile_metrics", shown=f"keys {sorted(value)}"))
            value = value[name]
        elif isinstance(value, list | tuple) and len(self.output_names) > 1:
            if len(value) != len(self.output_names):
                raise ConfigError(message(argument, f"one entry per output ({self.output_names})",
                                          value, "compile_metrics", verb="hold",
                                          shown=f"{len(value)}"))
            value = value[index]
        elif isinstance(value, list | tuple) and len(value) == 1:
            value = value[0]
        return value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))

    @torch.no_grad()
    def update_state(self, y, y_pred, sample_weight=None) -> None:
        """Add one batch of targets ``y`` and outputs ``y_pred`` (probabilities, as the model
        returns them); ``sample_weight`` is accepted and, as in Keras, not applied."""
        for m, index in self.entries:
            pred = self._pick(y_pred, index, "y_pred").detach()
            target = self._pick(y, index, "y").to(pred.device)
            if target.is_floating_point() and target.numel() == pred.numel():
                target = target.reshape(pred.shape)  # (n,) targets of an (n, 1) output
            m.update(pred.float() if pred.is_floating_point() else pred, target, False)
        self.updates += 1
        self._held = None

    def result(self) -> dict[str, torch.Tensor]:
        """``{name: value}`` of every metric (0-dim float32 tensors)."""
        if self._held is not None:
            return {k: torch.tensor(v, dtype=torch.float32) for k, v in self._held.items()}
        return {m.name: torch.tensor(m.result(), dtype=torch.float32) for m, _ in self.entries}

    def set_results(self, values: dict[str, float]) -> None:
        """Hold ``values`` as the results (the trainer records a run's figures this way)."""
        self.reset_state()
        self._held = {m.name: float(values.get(m.name, float("nan"))) for m, _ in self.entries}

    def __repr__(self) -> str:
        return f"CompileMetrics({[m.name for m, _ in self.entries]})"


def _loss_values(name: str, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample values of the loss ``name`` used as a metric (on probabilities), with the
    targets in the form it needs: the loop may hand class indices for one-hot rows."""
    from .losses import LOSSES

    loss = LOSSES[name]
    if loss.target == "int" and y.dim() == pred.dim():
        y = first_max_index(y)
    elif loss.target != "int" and y.dim() == pred.dim() - 1 and not y.is_floating_point():
        y = torch.nn.functional.one_hot(y, pred.shape[-1])
    if loss.target != "int":
        y = y.to(pred.dtype)
    return loss(pred, y, from_logits=False)


def exact_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank (Mann-Whitney) formula, ties counted as one half.

    Examples
    --------
    >>> exact_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    from scipy.stats import rankdata

    labels = labels > 0.5
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# metric kinds that give no meaningful number for a loss's targets, with the reason
_CLASS_LOSSES = {"loss:binary_crossentropy", "loss:categorical_crossentropy",
                 "loss:sparse_categorical_crossentropy"}
_UNFIT = {
    "real": ({"binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "auc",
              *_CLASS_LOSSES},
             "{loss!r} is a regression loss and {metric!r} compares classes; for classes "
             "use loss='binary_crossentropy' or 'categorical_crossentropy', for regression "
             "metrics=['mae'] or ['mse']."),
    "int": ({"mae", "mse", "auc", "binary_accuracy", "categorical_accuracy", "loss:poisson",
             "loss:binary_crossentropy"},
            "its targets are class indices (one int per sample), not one value per output; "
            "use metrics=['accuracy'], or one-hot targets with "
            "loss='categorical_crossentropy' to get {metric!r}."),
    "onehot": ({"sparse_categorical_accuracy"},
               "its targets are one-hot rows, not class indices; use metrics=['accuracy']."),
    "binary": ({"sparse_categorical_accuracy", "loss:categorical_crossentropy",
                "loss:sparse_categorical_crossentropy"},
               "its targets are 0/1 values, not class indices; use metrics=['accuracy']."),
}


def get_metrics(metrics, loss) -> list[Metric]:
    """Resolve ``compile``'s ``metrics`` for ``loss`` (a ``Loss``), rejecting metrics that
    make no sense for its targets (``auc`` on a regression, ``mae`` on class indices).

    Examples
    --------
    >>> from statdl.training.losses import get_loss
    >>> [m.kind for m in get_metrics(["accuracy"], get_loss("binary_crossentropy"))]
    ['binary_accuracy']
    """
    if metrics is None:
        return []
    if not isinstance(metrics, list | tuple):
        raise ConfigError(message(
            "metrics", "a list of metric names such as ['accuracy'] or ['mae']", metrics,
            "compile", shown=f"{type(metrics).__name__} {metrics!r}"))
    out = [get_metric(name, loss.target) for name in metrics]
    unfit, reason = _UNFIT.get(loss.target, (set(), ""))
    for metric in out:
        if metric.kind in unfit:
            raise ConfigError(message(
                "metrics", f"metrics that fit loss {loss.name!r}", metric.name, "compile",
                reason.format(loss=loss.name, metric=metric.name)))
    return out


def get_metric(name: str, loss_target: str) -> Metric:
    """Resolve a Keras metric name or alias; ``accuracy`` depends on the loss's target kind.

    Keras's aliases are accepted (``"mean_absolute_error"``, ``"MeanSquaredError"``,
    ``"acc"`` ...), and so are the losses' names (``"binary_crossentropy"`` ...: the mean loss
    on the outputs as probabilities). The metric is logged under the name given, or Keras's
    default name for a class name.

    Examples
    --------
    >>> m = get_metric("MeanAbsoluteError", "real")
    >>> m.name, m.kind
    ('mean_absolute_error', 'mae')
    >>> get_metric("acc", "onehot").kind
    'categorical_accuracy'
    """
    key = name.lower() if isinstance(name, str) else None
    if key in _ALIASES:
        kind, label = _ALIASES[key]
        return Metric(label, kind)
    if key not in METRIC_NAMES:
        raise choice_error("metrics", name, sorted({*METRIC_NAMES, *_ALIASES}))
    if key in ("accuracy", "acc"):
        kind = {"onehot": "categorical_accuracy", "int": "sparse_categorical_accuracy",
                "binary": "binary_accuracy"}.get(loss_target, "binary_accuracy")
        return Metric(key, kind)
    return Metric(key, key)
