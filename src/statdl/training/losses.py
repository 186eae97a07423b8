"""Losses by Keras name, computed per sample.

Each loss takes the model output and the target and returns one value per sample (the mean
over the output's last axes, as Keras does). When the model ends in ``softmax`` or ``sigmoid``
and the loss is a cross-entropy, the loop passes *logits* (``from_logits=True``) so that the
loss is computed stably by a fused kernel; Keras's TensorFlow backend did the same. Keras clips
probabilities to ``[1e-7, 1 - 1e-7]`` instead, which differs only for saturated outputs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..errors import ConfigError
from ..validation import choice_error, message

__all__ = ["Loss", "QuantileLoss", "get_loss", "loss_key", "LOSSES", "batch_loss",
           "mean_loss_and_gradient", "quantile"]

EPSILON = 1e-7


def _per_sample(values: torch.Tensor) -> torch.Tensor:
    return values.reshape(values.shape[0], -1).mean(dim=1) if values.dim() > 1 else values


def mse(pred, y, from_logits=False):
    return _per_sample((pred - y).square())


def mae(pred, y, from_logits=False):
    return _per_sample((pred - y).abs())


def binary_crossentropy(pred, y, from_logits=False):
    if from_logits:
        return _per_sample(F.binary_cross_entropy_with_logits(pred, y, reduction="none"))
    p = pred.clamp(EPSILON, 1 - EPSILON)
    return _per_sample(-(y * p.log() + (1 - y) * (1 - p).log()))


def categorical_crossentropy(pred, y, from_logits=False):
    if from_logits:
        return -(y * torch.log_softmax(pred, dim=-1)).sum(dim=-1)
    p = pred / pred.sum(dim=-1, keepdim=True)
    return -(y * p.clamp(EPSILON, 1 - EPSILON).log()).sum(dim=-1)


def sparse_categorical_crossentropy(pred, y, from_logits=False):
    if from_logits:
        if _few_classes_without_grad(pred):
            return _cross_entropy_few(pred, y)
        return F.cross_entropy(pred, y, reduction="none")
    p = pred / pred.sum(dim=-1, keepdim=True)
    return F.nll_loss(p.clamp(EPSILON, 1 - EPSILON).log(), y, reduction="none")


#: Whether evaluate's cross-entropy from 2 to 15 logits a row is computed with elementwise
#: passes (``_cross_entropy_few``; the ``few_class_cross_entropy`` fast path).
FEW_CLASS_CROSS_ENTROPY = True


def _few_classes_without_grad(pred: torch.Tensor) -> bool:
    return FEW_CLASS_CROSS_ENTROPY and pred.dim() == 2 and 1 < pred.shape[1] < 16 \
        and not pred.requires_grad and pred.device.type == "cpu"


def _cross_entropy_few(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``F.cross_entropy(z, y, reduction="none")`` for class indices ``y``, as ``logsumexp(z)
    - z[y]`` in elementwise passes: torch's CPU log-softmax kernel is slow for 2 to 15 values
    a row (on (2,048, 10) the whole cross-entropy took 167 us, a sixth of the course's softmax
    regression's evaluate, and these passes 100 us; the same weakness as
    ``inference._softmax_few_``).

    Examples
    --------
    >>> z, y = torch.tensor([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0]]), torch.tensor([0, 2])
    >>> torch.allclose(_cross_entropy_few(z, y), F.cross_entropy(z, y, reduction="none"))
    True
    """
    top = z.amax(1, keepdim=True)
    log_sum = (z - top).exp_().sum(1).log_().add_(top.squeeze(1))
    return log_sum.sub_(z.gather(1, y.reshape(-1, 1)).squeeze(1))


def poisson(pred, y, from_logits=False):
    return _per_sample(pred - y * torch.log(pred + EPSILON))


@dataclass(frozen=True)
class Loss:
    """A named loss: ``fn(pred, y, from_logits) -> per-sample tensor``.

    ``logits_from`` names the output activation whose pre-activation values the loss can
    take directly (``"softmax"`` or ``"sigmoid"``), and ``target`` says which targets fit:
    ``"onehot"``, ``"int"`` (class indices), ``"binary"`` (0/1), ``"real"`` or ``"column"``
    (one real column scored against every output column: the quantile loss).
    """

    name: str
    fn: Callable
    logits_from: str | None
    target: str

    def __call__(self, pred, y, from_logits: bool = False) -> torch.Tensor:
        return self.fn(pred, y, from_logits)


@dataclass(frozen=True)
class QuantileLoss(Loss):
    """The pinball loss of a model with one output column per quantile in ``quantiles``."""

    quantiles: tuple[float, ...] = ()


def quantile(quantiles=(0.05, 0.5, 0.95)) -> QuantileLoss:
    """Pinball (quantile) loss: output column ``j`` estimates the ``quantiles[j]`` quantile of y.

    Per sample, the mean over columns of ``max(tau (y - q), (tau - 1) (y - q))``, whose
    minimiser is the ``tau`` quantile (Koenker and Bassett, 1978). ``y`` is one column, scored
    against every output column; ``statdl.intervals.predict_interval(method="cqr")`` turns the
    outer two columns into conformalized quantile regression intervals.

    Examples
    --------
    >>> loss = quantile([0.1, 0.9])
    >>> round(float(loss(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0]]))), 6)  # (.1 + .1) / 2
    0.1
    """
    taus = tuple(float(q) for q in (quantiles if hasattr(quantiles, "__len__") else [quantiles]))
    if not taus or any(not 0.0 < q < 1.0 for q in taus):
        raise ConfigError(message("quantiles", "numbers strictly between 0 and 1", quantiles,
                                  "quantile"))
    tau_row = torch.tensor(taus, dtype=torch.float32)

    def pinball(pred, y, from_logits=False):
        diff = y.reshape(y.shape[0], -1)[:, :1] - pred
        tau = tau_row.to(pred.device, pred.dtype)
        return _per_sample(torch.maximum(tau * diff, (tau - 1) * diff))

    name = "quantile(" + ", ".join(f"{q:g}" for q in taus) + ")"  # get_loss(name) rebuilds it
    return QuantileLoss(name, pinball, None, "column", taus)


LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", mse, None, "real"),
    "mae": Loss("mae", mae, None, "real"),
    "binary_crossentropy": Loss("binary_crossentropy", binary_crossentropy, "sigmoid", "binary"),
    "categorical_crossentropy": Loss("categorical_crossentropy", categorical_crossentropy,
                                     "softmax", "onehot"),
    "sparse_categorical_crossentropy": Loss("sparse_categorical_crossentropy",
                                            sparse_categorical_crossentropy, "softmax", "int"),
    "poisson": Loss("poisson", poisson, None, "real"),
}
#: Keras's other names for the same losses (``keras.losses.get``): function names, class
#: names, short names; matched without case.
_ALIASES = {"mean_squared_error": "mse", "meansquarederror": "mse",
            "mean_absolute_error": "mae", "meanabsoluteerror": "mae",
            "bce": "binary_crossentropy", "binarycrossentropy": "binary_crossentropy",
            "categoricalcrossentropy": "categorical_crossentropy",
            "sparsecategoricalcrossentropy": "sparse_categorical_crossentropy"}


def loss_key(name: str) -> str | None:
    """The name in ``LOSSES`` of a Keras loss name or alias (any case), or None.

    Examples
    --------
    >>> loss_key("mean_absolute_error"), loss_key("MSE"), loss_key("BinaryCrossentropy")
    ('mae', 'mse', 'binary_crossentropy')
    >>> loss_key("accuracy") is None
    True
    """
    key = name.lower()
    key = _ALIASES.get(key, key)
    return key if key in LOSSES else None


def batch_loss(loss: Loss, out: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None,
               from_logits: bool) -> torch.Tensor:
    """The loss of a training batch: the mean of the per-sample losses, or with sample weights
    their weighted sum divided by the batch size (Keras's convention)."""
    per_sample = loss(out, y, from_logits=from_logits)
    if weights is None:
        return per_sample.mean()
    return (per_sample * weights).sum() / per_sample.shape[0]


def mean_loss_and_gradient(loss: Loss, z: torch.Tensor, y: torch.Tensor,
                           from_logits: bool) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The batch-mean loss and its gradient with respect to the model output ``z``, in closed
    form, for the losses where that is short; None for the others (use autograd).

    Covered: cross-entropy on logits with class-index targets, ``softmax(z) - onehot(y)``;
    binary cross-entropy on logits, ``sigmoid(z) - y``; mean squared error on a linear
    output, ``2 (z - y)``; each divided by the number of terms averaged.

    Examples
    --------
    >>> z = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> value, dz = mean_loss_and_gradient(LOSSES["mse"], z, torch.zeros(2, 2), False)
    >>> float(value), dz.tolist()
    (1.25, [[1.0, 0.0], [0.0, 0.5]])
    """
    if loss.name == "sparse_categorical_crossentropy" and from_logits and z.dim() == 2 \
            and y.dim() == 1:
        log_p = torch.log_softmax(z, dim=1)
        value = F.nll_loss(log_p, y)
        dz = log_p.exp_()
        dz.scatter_add_(1, y.view(-1, 1), _minus_ones(y.shape[0], z.device, z.dtype))
        return value, dz.div_(z.shape[0])
    if y.shape != z.shape:
        return None
    if loss.name == "binary_crossentropy" and from_logits:
        value = F.binary_cross_entropy_with_logits(z, y)
        return value, torch.sigmoid(z).sub_(y).div_(z.numel())
    if loss.name == "mse":
        diff = z - y
        return diff.square().mean(), diff.mul_(2.0 / z.numel())
    return None


@functools.lru_cache(maxsize=16)
def _minus_ones(n: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A column of -1s (the one-hot subtracted from softmax), made once per batch size."""
    return torch.full((n, 1), -1.0, dtype=dtype, device=device)


def get_loss(loss) -> Loss:
    """Return the ``Loss`` called ``loss`` (or wrap a callable ``f(pred, y) -> tensor``).

    Keras's aliases are accepted: ``"mean_squared_error"``, ``"MeanSquaredError"``, ``"MSE"``,
    ``"mean_absolute_error"``, ``"bce"``, ``"CategoricalCrossentropy"`` ...

    Examples
    --------
    >>> float(get_loss("mse")(torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [0.0]])).mean())
    5.0
    >>> get_loss("mean_absolute_error").name
    'mae'
    >>> get_loss("quantile(0.1, 0.9)").quantiles
    (0.1, 0.9)
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        key = loss_key(loss)
        if key is not None:
            return LOSSES[key]
        if loss.startswith("quantile(") and loss.endswith(")"):  # a saved model's loss
            try:
                return quantile([float(q) for q in loss[9:-1].split(",")])
            except ValueError:
                pass
        raise choice_error("loss", loss, list(LOSSES))
    if callable(loss):
        name = getattr(loss, "__name__", "custom_loss")

        def custom(pred, y, from_logits=False):
            value = loss(pred, y)
            if not isinstance(value, torch.Tensor):
                raise TypeError(message(
                    "loss", "a torch tensor of per-sample losses (computed from its torch "
                    "arguments)", value, "compile", verb="return",
                    shown=f"{name!r} returning {type(value).__name__}"))
            return _per_sample(value)

        return Loss(name, custom, None, "any")
    raise choice_error("loss", loss, list(LOSSES))
