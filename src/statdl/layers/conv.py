"""Convolution and pooling layers on channels-last images ``(height, width, channels)``.

Users pass images as Keras does, ``(n, h, w, c)``. Inside, the module views them as
channels-last NCHW tensors (a free permutation), so torch's convolution kernels run on them
without copies.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .. import validation
from ..activations import ActivationModule
from ..errors import ShapeError
from ..initializers import initialize
from .base import Layer, Shape, as_pair, check_positive_int, format_shape
from .core import KernelLayer

__all__ = [
    "Conv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
    "GlobalMaxPooling2D", "UpSampling2D",
]

_PADDINGS = ("valid", "same")


def _out_len(n: int | None, k: int, s: int, padding: str) -> int | None:
    if n is None:
        return None
    if padding == "same":
        return math.ceil(n / s)
    return (n - k) // s + 1


def _same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding: the extra pixel (if any) goes after (bottom / right)."""
    out = math.ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _check_padding(padding: str, owner: str) -> str:
    lower = padding.lower() if isinstance(padding, str) else padding
    return validation.check_choice(lower, "padding", _PADDINGS, owner)


def _spatial_out(layer: Layer, input_shape: Shape, k: tuple[int, int], s: tuple[int, int],
                 padding: str) -> tuple[int | None, int | None]:
    layer._require_rank(input_shape, 3, "images of shape (height, width, channels)")
    h, w = input_shape[0], input_shape[1]
    oh, ow = _out_len(h, k[0], s[0], padding), _out_len(w, k[1], s[1], padding)
    if (oh is not None and oh < 1) or (ow is not None and ow < 1):
        raise ShapeError(validation.message(
            "inputs", f"large enough for size {k} with padding '{padding}'", input_shape,
            type(layer).__name__,
            shown=f"input shape {format_shape(input_shape)}: the output would be empty"))
    return oh, ow


class _ChannelsLast(nn.Module):
    """Base for modules that take (n, h, w, c) and work on channels-last NCHW views."""

    @staticmethod
    def to_nchw(x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2)

    @staticmethod
    def to_nhwc(x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1)


class Conv2DModule(_ChannelsLast):
    def __init__(self, cin: int, filters: int, k: tuple[int, int], s: tuple[int, int],
                 padding: str, use_bias: bool, activation):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(filters, cin, *k))
        self.bias = nn.Parameter(torch.zeros(filters)) if use_bias else None
        self.stride, self.k, self.padding = s, k, padding
        self.activation = ActivationModule(activation)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        x = self.to_nchw(x)
        pad: int | tuple[int, int] = 0
        if self.padding == "same":
            top, bottom = _same_pads(x.shape[2], self.k[0], self.stride[0])
            left, right = _same_pads(x.shape[3], self.k[1], self.stride[1])
            if top == bottom and left == right:
                pad = (top, left)  # symmetric: the convolution pads by itself (cheaper)
            else:
                x = F.pad(x, (left, right, top, bottom))
        return self.to_nhwc(F.conv2d(x, self.weight, self.bias, self.stride, pad))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.forward_logits(x))


class Conv2D(KernelLayer):
    """2-D convolution over ``(height, width, channels)`` images.

    Parameters
    ----------
    filters : int
        Number of output channels.
    kernel_size : int or (int, int)
        Height and width of the window.
    strides : int or (int, int)
        Step of the window (default 1).
    padding : {"valid", "same"}
        ``"valid"`` uses no padding; ``"same"`` pads so that the output has
        ``ceil(input / stride)`` rows and columns (the extra pixel goes bottom/right, as in Keras).
    activation : str, optional
        Activation name.

    Examples
    --------
    >>> layer = Conv2D(32, (3, 3), activation="relu")
    >>> layer.compute_output_shape((28, 28, 1)), layer.count_params((28, 28, 1))
    ((26, 26, 32), 320)
    """

    kernel_attribute = "weight"

    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding: str = "valid",
                 activation=None, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, **kwargs)
        self.filters = check_positive_int(filters, "filters", "Conv2D")
        self.kernel_size = as_pair(kernel_size, "kernel_size", "Conv2D")
        self.strides = as_pair(strides, "strides", "Conv2D")
        self.padding = _check_padding(padding, "Conv2D")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        oh, ow = _spatial_out(self, input_shape, self.kernel_size, self.strides, self.padding)
        self._require_known(input_shape, -1, "number of channels")
        return (oh, ow, self.filters)

    def count_params(self, input_shape: Shape) -> int:
        kh, kw = self.kernel_size
        return kh * kw * int(input_shape[-1]) * self.filters + (self.filters if self.use_bias else 0)

    def make_module(self, input_shape: Shape) -> nn.Module:
        cin = int(input_shape[-1])
        m = Conv2DModule(cin, self.filters, self.kernel_size, self.strides, self.padding,
                         self.use_bias, self.activation)
        receptive = self.kernel_size[0] * self.kernel_size[1]
        initialize(m.weight, self.kernel_initializer, cin * receptive, self.filters * receptive)
        if m.bias is not None:
            initialize(m.bias, self.bias_initializer, 1, 1, "bias_initializer")
        return m.to(memory_format=torch.channels_last)

    def get_config(self) -> dict:
        return {"filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, **self.kernel_config()}


class Conv2DTransposeModule(_ChannelsLast):
    def __init__(self, cin: int, filters: int, k, s, padding: str, use_bias: bool, activation):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cin, filters, *k))
        self.bias = nn.Parameter(torch.zeros(filters)) if use_bias else None
        self.k, self.stride, self.padding = k, s, padding
        self.activation = ActivationModule(activation)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[1], x.shape[2]
        short = self.k[0] < self.stride[0] or self.k[1] < self.stride[1]
        # A kernel shorter than its stride leaves the last outputs without input: Keras
        # still counts them (bias only), so the bias is added after padding to its length.
        y = F.conv_transpose2d(self.to_nchw(x), self.weight, None if short else self.bias,
                               self.stride)
        oh = _transpose_length(h, self.k[0], self.stride[0], self.padding)
        ow = _transpose_length(w, self.k[1], self.stride[1], self.padding)
        if self.padding == "same":  # Keras drops floor((k - s) / 2) rows/columns first
            top = max(self.k[0] - self.stride[0], 0) // 2
            left = max(self.k[1] - self.stride[1], 0) // 2
            y = y[:, :, top:top + oh, left:left + ow]
        if short:
            y = F.pad(y, (0, ow - y.shape[3], 0, oh - y.shape[2]))
            if self.bias is not None:
                y = y + self.bias.view(1, -1, 1, 1)
        return self.to_nhwc(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.forward_logits(x))


def _transpose_length(n: int | None, k: int, s: int, padding: str) -> int | None:
    """Keras's output length of a transposed convolution along one axis, for a window of
    ``k`` steps (the dilated span) and stride ``s`` (no ``output_padding``)."""
    if n is None:
        return None
    return n * s if padding == "same" else (n - 1) * s + max(k, s)


class Conv2DTranspose(Conv2D):
    """Transposed 2-D convolution (a learned upsampling), as Keras's ``Conv2DTranspose``.

    Examples
    --------
    >>> Conv2DTranspose(16, 3, strides=2, padding="same").compute_output_shape((7, 7, 32))
    (14, 14, 16)
    """

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_rank(input_shape, 3, "images of shape (height, width, channels)")
        self._require_known(input_shape, -1, "number of channels")

        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        return (_transpose_length(input_shape[0], kh, sh, self.padding),
                _transpose_length(input_shape[1], kw, sw, self.padding), self.filters)

    def make_module(self, input_shape: Shape) -> nn.Module:
        cin = int(input_shape[-1])
        m = Conv2DTransposeModule(cin, self.filters, self.kernel_size, self.strides,
                                  self.padding, self.use_bias, self.activation)
        receptive = self.kernel_size[0] * self.kernel_size[1]
        initialize(m.weight, self.kernel_initializer, self.filters * receptive, cin * receptive)
        return m


class PoolModule(_ChannelsLast):
    def __init__(self, kind: str, pool, strides, padding: str):
        super().__init__()
        self.kind, self.pool, self.strides, self.padding = kind, pool, strides, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.to_nchw(x)
        if self.padding == "same":
            top, bottom = _same_pads(x.shape[2], self.pool[0], self.strides[0])
            left, right = _same_pads(x.shape[3], self.pool[1], self.strides[1])
            if top or bottom or left or right:
                if self.kind == "max":
                    x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
                else:
                    # average over real pixels only, as Keras does
                    ones = torch.ones_like(x[:1, :1])
                    num = F.avg_pool2d(F.pad(x, (left, right, top, bottom)), self.pool,
                                       self.strides)
                    den = F.avg_pool2d(F.pad(ones, (left, right, top, bottom)), self.pool,
                                       self.strides)
                    return self.to_nhwc(num / den)
        if self.kind == "max":
            y = F.max_pool2d(x, self.pool, self.strides)
        else:
            y = F.avg_pool2d(x, self.pool, self.strides)
        return self.to_nhwc(y)


class _Pooling2D(Layer):
    kind = "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding: str = "valid", **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = as_pair(pool_size, "pool_size", owner)
        self.strides = self.pool_size if strides is None else as_pair(strides, "strides", owner)
        self.padding = _check_padding(padding, owner)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        oh, ow = _spatial_out(self, input_shape, self.pool_size, self.strides, self.padding)
        return (oh, ow, input_shape[-1])

    def make_module(self, input_shape: Shape) -> nn.Module:
        return PoolModule(self.kind, self.pool_size, self.strides, self.padding)

    def get_config(self) -> dict:
        return {"pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}


class MaxPooling2D(_Pooling2D):
    """Maximum over each ``pool_size`` window (default non-overlapping 2x2).

    Examples
    --------
    >>> MaxPooling2D((2, 2)).compute_output_shape((26, 26, 32))
    (13, 13, 32)
    """

    kind = "max"


class AveragePooling2D(_Pooling2D):
    """Mean over each ``pool_size`` window (default non-overlapping 2x2).

    Examples
    --------
    >>> AveragePooling2D(2, padding="same").compute_output_shape((5, 5, 3))
    (3, 3, 3)
    """

    kind = "avg"


class GlobalPoolModule(nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2)) if self.kind == "avg" else x.amax(dim=(1, 2))


class GlobalAveragePooling2D(Layer):
    """Average each channel over the whole image: ``(h, w, c) -> (c,)``.

    Examples
    --------
    >>> GlobalAveragePooling2D().compute_output_shape((7, 7, 64))
    (64,)
    """

    kind = "avg"

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_rank(input_shape, 3, "images of shape (height, width, channels)")
        return (input_shape[-1],)

    def make_module(self, input_shape: Shape) -> nn.Module:
        return GlobalPoolModule(self.kind)


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    """Maximum of each channel over the whole image: ``(h, w, c) -> (c,)``."""

    kind = "max"


class UpSampleModule(_ChannelsLast):
    def __init__(self, size):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(self.size[0], dim=1).repeat_interleave(self.size[1], dim=2)


class UpSampling2D(Layer):
    """Repeat rows and columns ``size`` times (nearest-neighbour upsampling).

    Examples
    --------
    >>> UpSampling2D(2).compute_output_shape((7, 7, 16))
    (14, 14, 16)
    """

    def __init__(self, size=(2, 2), **kwargs):
        super().__init__(**kwargs)
        self.size = as_pair(size, "size", "UpSampling2D")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_rank(input_shape, 3, "images of shape (height, width, channels)")
        h, w, c = input_shape
        return (None if h is None else h * self.size[0],
                None if w is None else w * self.size[1], c)

    def make_module(self, input_shape: Shape) -> nn.Module:
        return UpSampleModule(self.size)

    def get_config(self) -> dict:
        return {"size": list(self.size)}
