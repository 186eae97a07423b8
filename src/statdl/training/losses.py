"""Losses by Keras name, computed per sample.

Each loss takes the model output and the target and returns one value per sample (the mean
over the output's last axes, as Keras does). When the model ends in ``softmax`` or ``sigmoid``
and the loss is a cross-entropy, the loop passes *logits* (``from_logits=True``) so that the
loss is computed stably by a fused kernel; Keras's TensorFlow backend did the same. Keras clips
probabilities to ``[1e-7, 1 - 1e-7]`` instead, which differs only for saturated outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..errors import choice_error

__all__ = ["Loss", "get_loss", "LOSSES"]

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
        return F.cross_entropy(pred, y, reduction="none")
    p = pred / pred.sum(dim=-1, keepdim=True)
    return F.nll_loss(p.clamp(EPSILON, 1 - EPSILON).log(), y, reduction="none")


def poisson(pred, y, from_logits=False):
    return _per_sample(pred - y * torch.log(pred + EPSILON))


@dataclass(frozen=True)
class Loss:
    """A named loss: ``fn(pred, y, from_logits) -> per-sample tensor``.

    ``logits_from`` names the output activation whose pre-activation values the loss can
    take directly (``"softmax"`` or ``"sigmoid"``), and ``target`` says which targets fit:
    ``"onehot"``, ``"int"`` (class indices), ``"binary"`` (0/1) or ``"real"``.
    """

    name: str
    fn: Callable
    logits_from: str | None
    target: str

    def __call__(self, pred, y, from_logits: bool = False) -> torch.Tensor:
        return self.fn(pred, y, from_logits)


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
_ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}


def get_loss(loss) -> Loss:
    """Return the ``Loss`` called ``loss`` (or wrap a callable ``f(pred, y) -> tensor``).

    Examples
    --------
    >>> float(get_loss("mse")(torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [0.0]])).mean())
    5.0
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        key = _ALIASES.get(loss.lower(), loss.lower())
        if key in LOSSES:
            return LOSSES[key]
        raise choice_error("loss", loss, list(LOSSES))
    if callable(loss):
        name = getattr(loss, "__name__", "custom_loss")

        def custom(pred, y, from_logits=False):
            return _per_sample(loss(pred, y))

        return Loss(name, custom, None, "any")
    raise choice_error("loss", loss, list(LOSSES))
