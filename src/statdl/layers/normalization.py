"""Batch and layer normalisation with Keras's defaults (epsilon 1e-3, last axis; batch
normalisation's momentum 0.99)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .. import validation
from ..errors import ConfigError, ShapeError
from ..initializers import check_initializer, initialize
from ..regularizers import L1L2, get_regularizer
from .base import Layer, Shape, format_shape

__all__ = ["BatchNormalization", "LayerNormalization"]


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
    >>> bn.count_params((64,)), bn.count_non_trainable_params((64,))
    (256, 128)
    """

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.momentum = validation.check_rate(momentum, "momentum", "BatchNormalization")
        self.epsilon = validation.check_positive(epsilon, "epsilon", "BatchNormalization")
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


class LayerNormModule(nn.Module):
    """Normalise each sample over ``axes`` (sample axes, sorted), then ``* gamma + beta``."""

    def __init__(self, param_shape: tuple[int, ...], axes: tuple[int, ...], rank: int,
                 epsilon: float, center: bool, scale: bool):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(param_shape)) if scale else None
        self.beta = nn.Parameter(torch.zeros(param_shape)) if center else None
        self.axes, self.epsilon = axes, epsilon
        self.trailing = axes == tuple(range(rank - len(axes), rank))
        # gamma and beta seen with a 1 on every other axis (batch axis included)
        self.view = [1] + [param_shape[axes.index(i)] if i in axes else 1 for i in range(rank)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype in (torch.float16, torch.bfloat16):  # fit(precision=...): statistics in 32 bits
            x = x.float()
        if self.trailing:  # torch's fused kernel (biased variance, as Keras)
            shape = x.shape[x.dim() - len(self.axes):]
            return F.layer_norm(x, shape, self.gamma, self.beta, self.epsilon)
        dims = tuple(a + 1 for a in self.axes)
        var, mean = torch.var_mean(x, dim=dims, correction=0, keepdim=True)
        y = (x - mean) * torch.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            y = y * self.gamma.reshape(self.view)
        return y + self.beta.reshape(self.view) if self.beta is not None else y


class LayerNormalization(Layer):
    """Normalise each sample over ``axis`` by its own mean and variance (no batch statistics,
    the same in training and prediction), then scale by ``gamma`` and shift by ``beta``.

    Parameters
    ----------
    axis : int or list of int
        Axes to normalise over, counting the batch axis as Keras does: ``-1`` (the default)
        is the last axis, ``1`` the first axis of a sample. ``gamma`` and ``beta`` have the
        sizes of these axes.
    epsilon : float
        Added to the variance (Keras's default 1e-3).
    center, scale : bool
        Whether to learn ``beta`` and ``gamma``.
    beta_initializer, gamma_initializer : str
        Keras initialiser names (``"zeros"`` and ``"ones"``).
    beta_regularizer, gamma_regularizer : L1L2, optional
        Penalties added to the training loss.

    Examples
    --------
    >>> LayerNormalization().count_params((10, 64))
    128
    >>> LayerNormalization(axis=[1, 2]).count_params((10, 64))
    1280
    """

    def __init__(self, axis=-1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: str = "zeros",
                 gamma_initializer: str = "ones", beta_regularizer=None,
                 gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        axes = list(axis) if isinstance(axis, list | tuple) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, int) or a == 0
                           for a in axes) or len(set(axes)) != len(axes):
            raise ConfigError(validation.message(
                "axis", "a non-zero int or a list of distinct ones (axis 0 is the batch axis)",
                axis, "LayerNormalization"))
        validation.check_positive(epsilon, "epsilon", "LayerNormalization")
        check_initializer(beta_initializer, "beta_initializer")
        check_initializer(gamma_initializer, "gamma_initializer")
        self.axis: int | list[int] = list(axes) if isinstance(axis, list | tuple) else axes[0]
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.beta_regularizer = get_regularizer(beta_regularizer, "beta_regularizer")
        self.gamma_regularizer = get_regularizer(gamma_regularizer, "gamma_regularizer")

    def _axes(self, input_shape: Shape) -> tuple[int, ...]:
        """The sample axes normalised over (sorted), checked against ``input_shape``."""
        rank = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        out = []
        for a in axes:
            full = a + rank + 1 if a < 0 else a
            if not 1 <= full <= rank:
                raise ShapeError(validation.message(
                    "axis", f"in [-{rank}, -1] or [1, {rank}] for input shape "
                    f"{format_shape(input_shape)}", self.axis, "LayerNormalization"))
            out.append(full - 1)
        if len(set(out)) != len(out):
            raise ShapeError(validation.message(
                "axis", f"distinct axes of input shape {format_shape(input_shape)}", self.axis,
                "LayerNormalization", verb="name",
                shown=f"{self.axis!r}, which names an axis twice"))
        for i in out:
            self._require_known(input_shape, i, "size on every normalised axis")
        return tuple(sorted(out))

    def _param_shape(self, input_shape: Shape) -> tuple[int, ...]:
        return tuple(int(input_shape[i]) for i in self._axes(input_shape))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._axes(input_shape)
        return input_shape

    def count_params(self, input_shape: Shape) -> int:
        n = 1
        for d in self._param_shape(input_shape):
            n *= d
        return n * (int(self.center) + int(self.scale))

    def make_module(self, input_shape: Shape) -> nn.Module:
        m = LayerNormModule(self._param_shape(input_shape), self._axes(input_shape),
                            len(input_shape), self.epsilon, self.center, self.scale)
        if m.gamma is not None:
            initialize(m.gamma.data, self.gamma_initializer, 1, 1, "gamma_initializer")
        if m.beta is not None:
            initialize(m.beta.data, self.beta_initializer, 1, 1, "beta_initializer")
        return m

    def regularized_weights(self) -> list[tuple[L1L2, torch.Tensor]]:
        out = []
        if self.gamma_regularizer is not None and self.scale:
            out.append((self.gamma_regularizer, self.module.gamma))
        if self.beta_regularizer is not None and self.center:
            out.append((self.beta_regularizer, self.module.beta))
        return out

    def get_config(self) -> dict:
        def reg(r: L1L2 | None) -> dict | None:
            return None if r is None else r.get_config()

        return {"axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": self.beta_initializer,
                "gamma_initializer": self.gamma_initializer,
                "beta_regularizer": reg(self.beta_regularizer),
                "gamma_regularizer": reg(self.gamma_regularizer)}
