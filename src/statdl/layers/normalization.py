"""Batch normalisation with Keras's defaults (momentum 0.99, epsilon 1e-3, last axis)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ConfigError
from .base import Layer, Shape

__all__ = ["BatchNormalization"]


class BatchNormModule(nn.Module):
    def __init__(self, n: int, momentum: float, epsilon: float, center: bool, scale: bool):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n)) if scale else None
        self.beta = nn.Parameter(torch.zeros(n)) if center else None
        self.register_buffer("moving_mean", torch.zeros(n))
        self.register_buffer("moving_variance", torch.ones(n))
        self.momentum, self.epsilon = momentum, epsilon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype in (torch.float16, torch.bfloat16):  # fit(precision=...): statistics in 32 bits
            x = x.float()
        if self.training:
            return self._train_forward(x)
        # feature axis last (Keras); torch wants it second
        moved = x.movedim(-1, 1) if x.dim() > 2 else x
        y = F.batch_norm(moved, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                         False, 0.0, self.epsilon)
        return y.movedim(1, -1) if x.dim() > 2 else y

    def _train_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Keras's training step: normalise by the batch's mean and biased variance (so a
        batch of one row gives ``beta``), and move the averages toward those same values
        (torch would use the unbiased variance, and refuses a single value per feature)."""
        axes = tuple(range(x.dim() - 1))
        var, mean = torch.var_mean(x, dim=axes, correction=0)
        with torch.no_grad():
            self.moving_mean.lerp_(mean.detach(), 1.0 - self.momentum)
            self.moving_variance.lerp_(var.detach(), 1.0 - self.momentum)
        scale = torch.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            scale = scale * self.gamma
        y = (x - mean) * scale
        return y + self.beta if self.beta is not None else y


class BatchNormalization(Layer):
    """Normalise each feature (last axis) by batch statistics in training and by moving
    averages at evaluation; then scale by ``gamma`` and shift by ``beta``.

    Keras counts four weights per feature: ``gamma`` and ``beta`` are trainable, the moving
    mean and variance are not.

    Examples
    --------
    >>> bn = BatchNormalization()
    >>> bn.param_count((64,)), bn.count_non_trainable_params((64,))
    (256, 128)
    """

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(momentum, int | float) or not 0 <= momentum < 1:
            raise ConfigError(
                f"`momentum` of BatchNormalization must be a number in [0, 1); got {momentum!r}."
            )
        if not isinstance(epsilon, int | float) or epsilon <= 0:
            raise ConfigError(
                f"`epsilon` of BatchNormalization must be a number > 0; got {epsilon!r}."
            )
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_known(input_shape, -1, "number of features (last axis)")
        return input_shape

    def count_params(self, input_shape: Shape) -> int:
        n = int(input_shape[-1])
        return n * (2 + int(self.center) + int(self.scale))

    def count_non_trainable_params(self, input_shape: Shape) -> int:
        return 2 * int(input_shape[-1])

    def make_module(self, input_shape: Shape) -> nn.Module:
        return BatchNormModule(int(input_shape[-1]), self.momentum, self.epsilon, self.center,
                               self.scale)

    def get_config(self) -> dict:
        return {"momentum": self.momentum, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale}
