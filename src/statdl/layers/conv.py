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


def conv_max_pool(conv: Conv2DModule, pool: PoolModule, x: torch.Tensor) -> torch.Tensor:
    """``pool(conv.forward_logits(x))`` for inference: the pooled logits of a convolution
    followed by a max pooling (``statdl.training.inference.forward``'s shortcut, which then
    applies the convolution's activation to the pooled values).

    With the ``conv_pool`` fast path on (``CONV_POOL``), a valid pooling and nothing for
    autograd to record, the convolution runs on slices of the batch of at most
    ``CONV_POOL_BYTES`` of output, each pooled into the result while it is still in the cache,
    so the full-size output never exists; and a valid convolution reads only the input rows
    and columns whose outputs some pooling window reads (``_pooled_input``). Otherwise it is
    ``pool(conv.forward_logits(x))``.

    Examples
    --------
    >>> import statdl as sd
    >>> conv = sd.layers.Conv2D(4, 3).make_module((9, 9, 2))
    >>> pool = sd.layers.MaxPooling2D(2).make_module((7, 7, 4))
    >>> x = torch.randn(5, 9, 9, 2)
    >>> with torch.no_grad():
    ...     torch.equal(conv_max_pool(conv, pool, x), pool(conv.forward_logits(x)))
    True
    """
    n = x.shape[0]
    if not (CONV_POOL and pool.padding == "valid" and pool.views_apply(x)
            and not (torch.is_grad_enabled() and conv.weight.requires_grad)):
        return pool(conv.forward_logits(x))
    x = _pooled_input(conv, pool, x)
    oh = _out_len(x.shape[1], conv.k[0], conv.stride[0], conv.padding)
    ow = _out_len(x.shape[2], conv.k[1], conv.stride[1], conv.padding)
    step = max(1, CONV_POOL_BYTES // (oh * ow * conv.weight.shape[0] * x.element_size()))
    if step >= n:
        return _max_of_views(conv.forward_logits(x), pool.pool, pool.strides)
    rows = (oh - pool.pool[0]) // pool.strides[0] + 1
    cols = (ow - pool.pool[1]) // pool.strides[1] + 1
    out = x.new_empty((n, rows, cols, conv.weight.shape[0]))
    for start in range(0, n, step):
        _max_of_views(conv.forward_logits(x[start:start + step]), pool.pool, pool.strides,
                      out=out[start:start + step])
    return out


def _pooled_input(conv: Conv2DModule, pool: PoolModule, x: torch.Tensor) -> torch.Tensor:
    """``x`` cut to the rows and columns that a valid convolution reads for the outputs a
    valid pooling reads: a pooling that does not tile the convolution's output leaves its last
    rows and columns unread. The course CNN's second convolution makes 11 x 11 outputs, of
    which its 2 x 2 pooling reads 10 x 10, so it runs on 12 x 12 of its 13 x 13 inputs: 16.4
    against 17.8 ms on 800 images (2 cores; min of 15). The outputs it makes are bitwise those
    of the whole input. A "same" convolution is left whole (its padding depends on the size).
    """
    if conv.padding != "valid":
        return x
    keep = []
    for axis in (0, 1):
        n = x.shape[1 + axis]
        made = _out_len(n, conv.k[axis], conv.stride[axis], "valid")
        windows = (made - pool.pool[axis]) // pool.strides[axis] + 1
        read = (windows - 1) * pool.strides[axis] + pool.pool[axis]  # outputs some window reads
        keep.append(min(n, (read - 1) * conv.stride[axis] + conv.k[axis]))
    return x if keep == [x.shape[1], x.shape[2]] else x[:, :keep[0], :keep[1]]


def pooled_in_slices(layer: Layer, next_layer: Layer | None) -> bool:
    """Whether ``predict``/``evaluate`` of a Sequential chain run ``layer`` into ``next_layer``
    through ``conv_max_pool`` a slice at a time, so that ``layer``'s whole output never exists
    (``statdl.training.data.inference_batch`` can leave it out of the widest activation): a
    Conv2D whose activation commutes with the maximum, then a valid MaxPooling2D, both fast
    paths on.

    Examples
    --------
    >>> import statdl as sd
    >>> with sd.fast_paths.on("conv_pool", "max_pool_views"):
    ...     print(pooled_in_slices(sd.layers.Conv2D(8, 3, activation="relu"),
    ...                            sd.layers.MaxPooling2D(2)),
    ...           pooled_in_slices(sd.layers.Conv2D(8, 3, activation="elu"),
    ...                            sd.layers.MaxPooling2D(2)))
    True False
    """
    return CONV_POOL and PoolModule.strided_max and type(layer) is Conv2D \
        and type(next_layer) is MaxPooling2D and next_layer.padding == "valid" \
        and next_layer.pool_size != (1, 1) and layer.activation in _MONOTONE


#: activation names ``statdl.training.inference`` applies after a max pooling (in place)
_MONOTONE = ("relu", "tanh", "sigmoid", "linear", None)

#: The ``conv_pool`` fast path's switch (``conv_max_pool``).
CONV_POOL = True
#: Most bytes of convolution output made before they are pooled (``conv_max_pool``). The
#: course CNN's first convolution + pooling on 1,024 images (2 cores, min of 15 in turn): the
#: whole 88 MB output 80 ms, slices of 8 / 4 / 2 / 1 MB 31 / 18 / 18 / 24 ms. Its whole
#: predict (bench/infer_speed.py --models cnn, 2026-12-01, samples/s, same run as Keras-JAX
#: at batch 1,024): before (193-row batches, F.max_pool2d) 18,857 vs 20,655 quiet, 8,970 vs
#: 13,209 with one busy process; with these paths (775-row batches) 20,405 vs 21,396 quiet,
#: 10,106 vs 13,255 busy.
CONV_POOL_BYTES = 4 * 2**20


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
    #: Max pooling without autograd as the elementwise maximum of the input's strided views
    #: (``_max_of_views``, the ``max_pool_views`` fast path of ``statdl.fast_paths``) instead of
    #: ``F.max_pool2d``, whose CPU kernel also writes an int64 index per output. Measured on 2
    #: cores, the course CNN's first pooling ((193, 26, 26, 32) -> 13 x 13, 30 calls in turn):
    #: 1.49 against 2.42 ms (min), 1.68 against 2.64 ms (p25).
    strided_max = True

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
            if self.views_apply(x):
                return _max_of_views(self.to_nhwc(x), self.pool, self.strides)
            y = F.max_pool2d(x, self.pool, self.strides)
        else:
            y = F.avg_pool2d(x, self.pool, self.strides)
        return self.to_nhwc(y)


    def views_apply(self, x: torch.Tensor) -> bool:
        """Whether ``_max_of_views`` pools ``x``: max pooling, switched on, nothing for autograd
        to record (``F.max_pool2d``'s gradient goes to one input of a window, the maximum's
        would be split between ties), a window of more than one pixel."""
        return self.kind == "max" and PoolModule.strided_max and self.pool != (1, 1) \
            and not (x.requires_grad and torch.is_grad_enabled())


def _max_of_views(x: torch.Tensor, pool: tuple[int, int], strides: tuple[int, int],
                  out: torch.Tensor | None = None) -> torch.Tensor:
    """Valid max pooling of channels-last ``x`` (n, h, w, c): the maximum of the ``pool[1]``
    views of the columns each window reads, then of the ``pool[0]`` views of their rows.
    Exactly ``F.max_pool2d``'s values (a maximum rounds nothing); a new tensor, or ``out``.

    Examples
    --------
    >>> x = torch.arange(16.0).reshape(1, 4, 4, 1)
    >>> _max_of_views(x, (2, 2), (2, 2))[0, :, :, 0]
    tensor([[ 5.,  7.],
            [13., 15.]])
    """
    rows = (x.shape[1] - pool[0]) // strides[0] + 1
    cols = (x.shape[2] - pool[1]) // strides[1] + 1
    # columns first: measured 1.49 against 1.69 ms (min of 30) for (193, 26, 26, 32)
    y = _fold_max(x, 2, pool[1], strides[1], cols, None if pool[0] > 1 else out)
    return y if pool[0] == 1 else _fold_max(y, 1, pool[0], strides[0], rows, out)


def _fold_max(x: torch.Tensor, dim: int, size: int, stride: int, length: int,
              out: torch.Tensor | None) -> torch.Tensor:
    """The maximum over ``a < size`` of ``x``'s views ``a, a + stride, ...`` (``length`` of
    them) along ``dim``; ``x`` itself when ``size`` is 1 (and no ``out``)."""
    def view(a: int) -> torch.Tensor:
        return x.narrow(dim, a, (length - 1) * stride + 1)[(slice(None),) * dim
                                                            + (slice(None, None, stride),)]
    if size == 1:
        return view(0) if out is None else out.copy_(view(0))
    y = torch.maximum(view(0), view(1), out=out) if out is not None else \
        torch.maximum(view(0), view(1))
    for a in range(2, size):
        torch.maximum(y, view(a), out=y)
    return y


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
