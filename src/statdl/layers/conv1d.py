"""Convolution and pooling layers on sequences ``(timesteps, channels)``, as Keras's 1-D layers.

Users pass sequences as Keras does, ``(n, timesteps, channels)``. Inside, the module views
them as ``(n, channels, timesteps)`` (a transpose) for torch's 1-D kernels. Kernels are stored
in torch layout, ``(filters, in_channels, kernel_size)`` for ``Conv1D`` (Keras:
``(kernel_size, in_channels, filters)``) and ``(in_channels, filters, kernel_size)`` for
``Conv1DTranspose`` (Keras: ``(kernel_size, filters, in_channels)``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import validation
from ..activations import ActivationModule
from ..errors import ConfigError, ShapeError
from ..initializers import initialize
from .base import Layer, Shape, format_shape
from .conv import _out_len, _same_pads
from .core import KernelLayer

__all__ = [
    "Conv1D", "Conv1DTranspose", "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D",
    "GlobalAveragePooling1D", "UpSampling1D",
]

_SEQUENCE = "sequences of shape (timesteps, channels)"


def as_int(value, argument: str, owner: str) -> int:
    """Accept ``3`` or ``(3,)`` for 1-D kernel sizes, strides and pool sizes (Keras takes both).

    Examples
    --------
    >>> as_int((3,), "kernel_size", "Conv1D")
    3
    """
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    return validation.check_int(value, argument, owner, low=1)  # type: ignore[return-value]


def _check_padding(padding, owner: str, allowed: tuple[str, ...]) -> str:
    lower = padding.lower() if isinstance(padding, str) else padding
    return validation.check_choice(lower, "padding", allowed, owner)


def _steps_out(layer: Layer, input_shape: Shape, k: int, s: int, padding: str) -> int | None:
    """Output length of a window of (effective) size ``k`` and stride ``s``; ``causal`` gives
    the same length as ``same``."""
    layer._require_rank(input_shape, 2, _SEQUENCE)
    n = input_shape[0]
    out = _out_len(n, k, s, "same" if padding == "causal" else padding)
    if out is not None and out < 1:
        raise ShapeError(validation.message(
            "inputs", f"long enough for window {k} with padding '{padding}'", input_shape,
            type(layer).__name__,
            shown=f"input shape {format_shape(input_shape)}: the output would be empty"))
    return out


def _channels_first(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(1, 2)


class Conv1DModule(nn.Module):
    def __init__(self, cin: int, filters: int, k: int, s: int, padding: str, dilation: int,
                 use_bias: bool, activation, groups: int = 1):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(filters, cin // groups, k))
        self.bias = nn.Parameter(torch.zeros(filters)) if use_bias else None
        self.k, self.stride, self.padding, self.dilation = k, s, padding, dilation
        self.groups = groups
        self.activation = ActivationModule(activation)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        x = _channels_first(x)
        span = self.dilation * (self.k - 1) + 1
        pad = 0
        if self.padding == "causal":  # output t sees inputs up to t only
            x = F.pad(x, (span - 1, 0))
        elif self.padding == "same":
            left, right = _same_pads(x.shape[2], span, self.stride)
            if left == right:
                pad = left  # symmetric: the convolution pads by itself (cheaper)
            else:
                x = F.pad(x, (left, right))
        y = F.conv1d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)
        return _channels_first(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.forward_logits(x))


class Conv1D(KernelLayer):
    """1-D convolution over sequences ``(timesteps, channels)``, as Keras's ``Conv1D``.

    Parameters
    ----------
    filters : int
        Number of output channels.
    kernel_size : int
        Length of the window.
    strides : int
        Step of the window (default 1).
    padding : {"valid", "same", "causal"}
        ``"valid"`` uses no padding; ``"same"`` gives ``ceil(timesteps / strides)`` outputs
        (the extra step of padding goes at the end, as in Keras); ``"causal"`` pads only at
        the start, so output ``t`` depends on inputs up to ``t``.
    dilation_rate : int
        Spacing between the taps of the window (``strides`` must then be 1, as in Keras).
    groups : int
        Number of groups the input channels are split into, each convolved with its own
        ``filters // groups`` filters (Keras's ``groups``; both counts must divide).
    activation : str, optional
        Activation name.
    use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer
        As for ``Conv2D``.

    Notes
    -----
    The kernel is stored in torch layout ``(filters, in_channels // groups, kernel_size)``;
    Keras's ``(kernel_size, in_channels // groups, filters)`` is ``kernel.transpose(2, 1, 0)``
    of it.

    Examples
    --------
    >>> layer = Conv1D(32, 7, activation="relu")
    >>> layer.compute_output_shape((500, 128)), layer.count_params((500, 128))
    ((494, 32), 28704)
    """

    kernel_attribute = "weight"

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid",
                 dilation_rate=1, groups=1, activation=None, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, **kwargs)
        owner = type(self).__name__
        self.filters = as_int(filters, "filters", owner)
        self.kernel_size = as_int(kernel_size, "kernel_size", owner)
        self.strides = as_int(strides, "strides", owner)
        self.dilation_rate = as_int(dilation_rate, "dilation_rate", owner)
        self.groups = as_int(groups, "groups", owner)
        if self.filters % self.groups:
            raise ConfigError(validation.message(
                "filters", f"a multiple of `groups` ({self.groups})", self.filters, owner))
        self.padding = _check_padding(padding, owner, self._paddings)
        if self.strides > 1 and self.dilation_rate > 1:
            raise ConfigError(validation.message(
                "strides", "1 when `dilation_rate` > 1 (as in Keras)", self.strides, owner,
                shown=f"strides={self.strides}, dilation_rate={self.dilation_rate}"))

    _paddings: tuple[str, ...] = ("valid", "same", "causal")

    @property
    def span(self) -> int:
        """Number of time steps one window covers: ``dilation_rate * (kernel_size - 1) + 1``."""
        return self.dilation_rate * (self.kernel_size - 1) + 1

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        steps = _steps_out(self, input_shape, self.span, self.strides, self.padding)
        cin = self._require_known(input_shape, -1, "number of channels")
        if cin % self.groups:
            raise ShapeError(validation.message(
                "inputs", f"a number of channels divisible by groups={self.groups}",
                input_shape, type(self).__name__, verb="have",
                shown=f"input shape {format_shape(input_shape)}"))
        return (steps, self.filters)

    def count_params(self, input_shape: Shape) -> int:
        return (self.kernel_size * int(input_shape[-1]) // self.groups * self.filters
                + (self.filters if self.use_bias else 0))

    def make_module(self, input_shape: Shape) -> nn.Module:
        cin = int(input_shape[-1])
        m = Conv1DModule(cin, self.filters, self.kernel_size, self.strides, self.padding,
                         self.dilation_rate, self.use_bias, self.activation, self.groups)
        k = self.kernel_size
        # Keras's fans of the kernel (k, cin // groups, filters)
        initialize(m.weight, self.kernel_initializer, cin // self.groups * k, self.filters * k)
        if m.bias is not None:
            initialize(m.bias, self.bias_initializer, 1, 1, "bias_initializer")
        return m

    def get_config(self) -> dict:
        config = {"filters": self.filters, "kernel_size": self.kernel_size,
                  "strides": self.strides, "padding": self.padding,
                  "dilation_rate": self.dilation_rate, **self.kernel_config()}
        if self.groups != 1:
            config["groups"] = self.groups
        return config


def _transpose_window(n: int, span: int, s: int, padding: str,
                      output_padding: int | None) -> tuple[int, int]:
    """(first step kept, output length) of Keras's transposed convolution, out of the full
    one (``(n - 1) s + span`` steps, zeros beyond): the padding Keras's JAX backend gives
    ``lax.conv_transpose`` (``keras.src.backend.common.backend_utils``).

    Examples
    --------
    >>> _transpose_window(10, 3, 2, "same", None), _transpose_window(10, 3, 2, "valid", 1)
    ((0, 20), (0, 22))
    """
    if padding == "valid":
        extra = max(span, s) - span if output_padding is None else output_padding
        return 0, (n - 1) * s + span + extra
    if output_padding is None:
        pad = s + span - 2
    else:
        pad = span + span % 2 - 2 + output_padding
    left = min(pad // 2 + pad % 2, span - 1)
    return span - 1 - left, (n - 1) * s + 1 + pad - span + 1


class Conv1DTransposeModule(nn.Module):
    def __init__(self, cin: int, filters: int, k: int, s: int, padding: str, dilation: int,
                 use_bias: bool, activation, output_padding: int | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cin, filters, k))
        self.bias = nn.Parameter(torch.zeros(filters)) if use_bias else None
        self.k, self.stride, self.padding, self.dilation = k, s, padding, dilation
        self.output_padding = output_padding
        self.activation = ActivationModule(activation)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        y = F.conv_transpose1d(_channels_first(x), self.weight, None, self.stride,
                               dilation=self.dilation)
        span = self.dilation * (self.k - 1) + 1
        # Keras (TF convention): 'same' drops floor((span - stride) / 2) steps at the start;
        # when the window is shorter than the stride the last outputs get no input at all
        start, target = _transpose_window(n, span, self.stride, self.padding,
                                          self.output_padding)
        y = y[:, :, start:start + target]
        if y.shape[2] < target:
            y = F.pad(y, (0, target - y.shape[2]))
        y = _channels_first(y)
        return y if self.bias is None else y + self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.forward_logits(x))


class Conv1DTranspose(Conv1D):
    """Transposed 1-D convolution (a learned upsampling of sequences), as Keras's
    ``Conv1DTranspose``.

    Output length: ``timesteps * strides`` with ``padding="same"``, else
    ``(timesteps - 1) * strides + max(span, strides)`` where ``span = dilation_rate *
    (kernel_size - 1) + 1``. The kernel is stored as ``(in_channels, filters, kernel_size)``;
    Keras's ``(kernel_size, filters, in_channels)`` is ``kernel.transpose(2, 1, 0)`` of it.

    Examples
    --------
    >>> Conv1DTranspose(16, 3, strides=2, padding="same").compute_output_shape((50, 32))
    (100, 16)
    """

    _paddings = ("valid", "same")

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid",
                 output_padding=None, dilation_rate=1, activation=None, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, **kwargs)
        self.output_padding = None
        if output_padding is not None:
            if isinstance(output_padding, list | tuple) and len(output_padding) == 1:
                output_padding = output_padding[0]
            if isinstance(output_padding, bool) or not isinstance(output_padding,
                                                                  int | np.integer) \
                    or not 0 <= output_padding < self.strides:
                raise ConfigError(validation.message(
                    "output_padding", f"an int >= 0 and below `strides` ({self.strides}), as "
                    "in Keras", output_padding, "Conv1DTranspose"))
            self.output_padding = int(output_padding)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_rank(input_shape, 2, _SEQUENCE)
        self._require_known(input_shape, -1, "number of channels")
        n = input_shape[0]
        steps = None if n is None else _transpose_window(n, self.span, self.strides,
                                                         self.padding, self.output_padding)[1]
        return (steps, self.filters)

    def get_config(self) -> dict:
        config = super().get_config()
        if self.output_padding is not None:
            config["output_padding"] = self.output_padding
        return config

    def make_module(self, input_shape: Shape) -> nn.Module:
        cin = int(input_shape[-1])
        m = Conv1DTransposeModule(cin, self.filters, self.kernel_size, self.strides,
                                  self.padding, self.dilation_rate, self.use_bias,
                                  self.activation, self.output_padding)
        k = self.kernel_size
        initialize(m.weight, self.kernel_initializer, self.filters * k, cin * k)
        if m.bias is not None:
            initialize(m.bias, self.bias_initializer, 1, 1, "bias_initializer")
        return m


class Pool1DModule(nn.Module):
    def __init__(self, kind: str, pool: int, strides: int, padding: str):
        super().__init__()
        self.kind, self.pool, self.strides, self.padding = kind, pool, strides, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _channels_first(x)
        pool = F.max_pool1d if self.kind == "max" else F.avg_pool1d
        if self.padding == "same":
            left, right = _same_pads(x.shape[2], self.pool, self.strides)
            if left or right:
                if self.kind == "max":
                    x = F.pad(x, (left, right), value=float("-inf"))
                else:  # average over real steps only, as Keras does
                    ones = torch.ones_like(x[:1, :1])
                    num = pool(F.pad(x, (left, right)), self.pool, self.strides)
                    den = pool(F.pad(ones, (left, right)), self.pool, self.strides)
                    return _channels_first(num / den)
        return _channels_first(pool(x, self.pool, self.strides))


class _Pooling1D(Layer):
    kind = "max"

    def __init__(self, pool_size=2, strides=None, padding: str = "valid", **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = as_int(pool_size, "pool_size", owner)
        self.strides = self.pool_size if strides is None else as_int(strides, "strides", owner)
        self.padding = _check_padding(padding, owner, ("valid", "same"))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        steps = _steps_out(self, input_shape, self.pool_size, self.strides, self.padding)
        return (steps, input_shape[-1])

    def make_module(self, input_shape: Shape) -> nn.Module:
        return Pool1DModule(self.kind, self.pool_size, self.strides, self.padding)

    def get_config(self) -> dict:
        return {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding}


class MaxPooling1D(_Pooling1D):
    """Maximum over each window of ``pool_size`` steps (default 2, non-overlapping).

    Parameters
    ----------
    pool_size : int
        Window length.
    strides : int, optional
        Step of the window; ``pool_size`` by default.
    padding : {"valid", "same"}
        ``"same"`` gives ``ceil(timesteps / strides)`` outputs.

    Examples
    --------
    >>> MaxPooling1D(5).compute_output_shape((494, 32))
    (98, 32)
    """

    kind = "max"


class AveragePooling1D(_Pooling1D):
    """Mean over each window of ``pool_size`` steps (default 2, non-overlapping); with
    ``padding="same"`` the windows at the edges average the real steps only, as in Keras.

    Examples
    --------
    >>> AveragePooling1D(2, padding="same").compute_output_shape((5, 3))
    (3, 3)
    """

    kind = "avg"


class GlobalPool1DModule(nn.Module):
    def __init__(self, kind: str, keepdims: bool):
        super().__init__()
        self.kind, self.keepdims = kind, keepdims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "avg":
            return x.mean(dim=1, keepdim=self.keepdims)
        return x.amax(dim=1, keepdim=self.keepdims)


class GlobalAveragePooling1D(Layer):
    """Average each channel over time: ``(timesteps, c) -> (c,)`` (``(1, c)`` with
    ``keepdims=True``).

    Examples
    --------
    >>> GlobalAveragePooling1D().compute_output_shape((None, 64))
    (64,)
    """

    kind = "avg"

    def __init__(self, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_rank(input_shape, 2, _SEQUENCE)
        return (1, input_shape[-1]) if self.keepdims else (input_shape[-1],)

    def make_module(self, input_shape: Shape) -> nn.Module:
        return GlobalPool1DModule(self.kind, self.keepdims)

    def get_config(self) -> dict:
        return {"keepdims": self.keepdims}


class GlobalMaxPooling1D(GlobalAveragePooling1D):
    """Maximum of each channel over time: ``(timesteps, c) -> (c,)``.

    Examples
    --------
    >>> GlobalMaxPooling1D().compute_output_shape((494, 32))
    (32,)
    """

    kind = "max"


class UpSample1DModule(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(self.size, dim=1)


class UpSampling1D(Layer):
    """Repeat each time step ``size`` times.

    Examples
    --------
    >>> UpSampling1D(2).compute_output_shape((7, 16))
    (14, 16)
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = as_int(size, "size", "UpSampling1D")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_rank(input_shape, 2, _SEQUENCE)
        steps = input_shape[0]
        return (None if steps is None else steps * self.size, input_shape[1])

    def make_module(self, input_shape: Shape) -> nn.Module:
        return UpSample1DModule(self.size)

    def get_config(self) -> dict:
        return {"size": self.size}

