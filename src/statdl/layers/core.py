"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, GaussianNoise."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import validation
from .._torch_private import onednn_linear, onednn_linear_ok
from ..activations import ActivationModule, activation_spec
from ..errors import ConfigError, ShapeError
from ..initializers import check_initializer, initialize
from ..regularizers import L1L2, get_regularizer
from .base import Layer, Shape, check_positive_int, check_rate, format_shape, normalize_shape
from .dropout_masks import KeepMasks, dropout_mask, keep_mask, threshold_16

__all__ = ["KernelLayer", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "GaussianNoise"]


class DenseModule(nn.Module):
    """``activation(x @ kernel + bias)`` with a Keras-layout kernel of shape (in, units)."""

    def __init__(self, n_in: int, units: int, use_bias: bool, activation):
        super().__init__()
        self.kernel = nn.Parameter(torch.empty(n_in, units))
        self.bias = nn.Parameter(torch.zeros(units)) if use_bias else None
        self.activation = ActivationModule(activation)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The pre-activation values ``x @ kernel + bias`` (through oneDNN's matrix product
        where ``uses_onednn`` allows it: rows, and nothing for autograd to record)."""
        if x.dim() == 2 and uses_onednn(self.kernel, x):
            return onednn_linear(x, self.kernel, self.bias)
        if self.bias is None:
            return torch.matmul(x, self.kernel)
        if x.dim() == 2:
            return torch.addmm(self.bias, x, self.kernel)
        return torch.matmul(x, self.kernel) + self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.forward_logits(x))


#: Whether a Dense layer's product on rows goes through oneDNN when nothing is recorded for
#: autograd (``uses_onednn``; the ``onednn_dense`` fast path).
ONEDNN_DENSE = True
#: Fewest multiply-adds in a product for oneDNN's: below, its fixed cost loses to MKL's
#: (2,048 x 32 x 1: 18 against 9 us; 2,048 x 160 x 1: 30 against 35 us).
ONEDNN_DENSE_MIN = 2**18


def uses_onednn(kernel: torch.Tensor, x: torch.Tensor) -> bool:
    """Whether ``x @ kernel`` (rows ``x``, a Dense kernel of shape (in, out)) goes through
    oneDNN's matrix product (``_torch_private.onednn_linear``) rather than MKL's ``addmm``:
    float32 on the CPU, nothing for autograd to record, no autocast, at least
    ``ONEDNN_DENSE_MIN`` multiply-adds, and the op checked once per process. On these 2
    cores oneDNN was faster on every inference shape measured (min of 40, in turn, ms): the
    course's softmax regression (2,048 x 784 x 10) 0.53 -> 0.25 against MKL with a
    column-major kernel, the MLP's first layer (2,048 x 784 x 512) 8.6 -> 7.7, the CNN's
    (775 x 576 x 512) 2.25 -> 2.12. Predict and evaluate of every model form take it.

    Examples
    --------
    >>> k = torch.ones(784, 512)
    >>> with torch.no_grad():
    ...     print(uses_onednn(k, torch.ones(2048, 784)) == ONEDNN_DENSE,
    ...           uses_onednn(k, torch.ones(2048, 784, dtype=torch.float64)))
    True False
    """
    return ONEDNN_DENSE and x.dtype == torch.float32 and kernel.dtype == torch.float32 \
        and x.device.type == "cpu" and kernel.device.type == "cpu" \
        and x.shape[0] * kernel.numel() >= ONEDNN_DENSE_MIN \
        and not (torch.is_grad_enabled() and (kernel.requires_grad or x.requires_grad)) \
        and not torch.is_autocast_enabled("cpu") \
        and onednn_linear_ok(x.device, torch.float32)


class KernelLayer(Layer):
    """Shared arguments of layers with a kernel and a bias (Dense, Conv2D ...): activation,
    initialisers and weight penalties. The built module holds the kernel in the attribute
    named by ``kernel_attribute`` and the bias in ``bias``."""

    kernel_attribute = "kernel"

    def __init__(self, activation=None, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation_spec(activation)
        self.use_bias = bool(use_bias)
        check_initializer(kernel_initializer, "kernel_initializer")
        check_initializer(bias_initializer, "bias_initializer")
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = get_regularizer(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = get_regularizer(bias_regularizer, "bias_regularizer")

    def regularized_weights(self) -> list[tuple[L1L2, torch.Tensor]]:
        out = []
        if self.kernel_regularizer is not None:
            out.append((self.kernel_regularizer, getattr(self.module, self.kernel_attribute)))
        if self.bias_regularizer is not None and self.use_bias:
            out.append((self.bias_regularizer, self.module.bias))
        return out

    def kernel_config(self) -> dict:
        """The shared arguments, for ``get_config``."""
        def reg(r: L1L2 | None) -> dict | None:
            return None if r is None else r.get_config()

        return {
            "activation": self.activation, "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "bias_initializer": self.bias_initializer,
            "kernel_regularizer": reg(self.kernel_regularizer),
            "bias_regularizer": reg(self.bias_regularizer),
        }


class Dense(KernelLayer):
    """Fully connected layer: ``activation(x @ kernel + bias)`` on the last axis.

    Parameters
    ----------
    units : int
        Number of output units.
    activation : str, optional
        Activation name (``"relu"``, ``"softmax"`` ...); ``None`` is linear.
    use_bias : bool
        Whether to add a bias vector.
    kernel_initializer, bias_initializer : str
        Keras initialiser names (defaults ``"glorot_uniform"`` and ``"zeros"``).
    kernel_regularizer, bias_regularizer : L1L2, optional
        Penalties added to the training loss.

    Examples
    --------
    >>> Dense(64, activation="relu").count_params((20,))
    1344
    """

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, **kwargs)
        self.units = check_positive_int(units, "units", "Dense")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 1:
            raise ShapeError(validation.message("inputs", "at least one feature axis",
                                                input_shape, "Dense", verb="have",
                                                shown=f"input shape {input_shape}"))
        self._require_known(input_shape, -1, "last dimension (number of features)")
        return (*input_shape[:-1], self.units)

    def count_params(self, input_shape: Shape) -> int:
        n_in = int(input_shape[-1])
        return n_in * self.units + (self.units if self.use_bias else 0)

    def make_module(self, input_shape: Shape) -> nn.Module:
        n_in = int(input_shape[-1])
        m = DenseModule(n_in, self.units, self.use_bias, self.activation)
        initialize(m.kernel, self.kernel_initializer, n_in, self.units)
        if m.bias is not None:
            initialize(m.bias, self.bias_initializer, n_in, self.units, "bias_initializer")
        return m

    def get_config(self) -> dict:
        return {"units": self.units, **self.kernel_config()}


class Activation(Layer):
    """Apply a named activation function.

    Examples
    --------
    >>> Activation("relu").compute_output_shape((5,))
    (5,)
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation_spec(activation)

    def make_module(self, input_shape: Shape) -> nn.Module:
        return ActivationModule(self.activation)

    def get_config(self) -> dict:
        return {"activation": self.activation}


class DropoutModule(nn.Module):
    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        return x * dropout_mask(x, self.rate)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class Dropout(Layer):
    """Inverted dropout: during training, zero a fraction ``rate`` of inputs and scale the rest
    by ``1 / (1 - rate)``; identity at evaluation and prediction.

    Examples
    --------
    >>> Dropout(0.4).count_params((64,))
    0
    """

    def __init__(self, rate: float, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate(rate, "rate", "Dropout")

    def make_module(self, input_shape: Shape) -> nn.Module:
        return DropoutModule(self.rate)

    def get_config(self) -> dict:
        return {"rate": self.rate}


class FlattenModule(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1)


class Flatten(Layer):
    """Flatten each sample to a vector (row-major over the Keras layout, as Keras does).

    Examples
    --------
    >>> Flatten().compute_output_shape((3, 3, 64))
    (576,)
    """

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if any(d is None for d in input_shape):
            raise ShapeError(validation.message(
                "inputs", "every dimension known", input_shape, "Flatten", verb="have",
                shown=f"input shape {format_shape(input_shape)}",
                fix="Give the sequence length (e.g. `input_shape=(maxlen,)`) to the model."))
        return (math.prod(input_shape),)

    def make_module(self, input_shape: Shape) -> nn.Module:
        return FlattenModule()


class ReshapeModule(nn.Module):
    def __init__(self, target: Shape):
        super().__init__()
        self.target = tuple(target)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.target)


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (one dimension may be -1).

    Examples
    --------
    >>> Reshape((28, 28, 1)).compute_output_shape((784,))
    (28, 28, 1)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(int(d) for d in (target_shape if not isinstance(target_shape, int)
                                      else (target_shape,)))
        if sum(d == -1 for d in dims) > 1 or any(d == 0 or d < -1 for d in dims):
            raise ConfigError(validation.message(
                "target_shape", "positive ints and at most one -1", target_shape, "Reshape",
                verb="hold"))
        self.target_shape = dims

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if any(d is None for d in input_shape):
            raise ShapeError(validation.message("inputs", "a fully known shape", input_shape,
                                                "Reshape", verb="have",
                                                shown=f"input shape {input_shape}"))
        total = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if total % known:
                raise ShapeError(validation.message(
                    "target_shape", f"sizes whose product divides the input's {total} values",
                    self.target_shape, "Reshape",
                    shown=f"{self.target_shape} for input shape {format_shape(input_shape)}"))
            return tuple(total // known if d == -1 else d for d in self.target_shape)
        if known != total:
            raise ShapeError(validation.message(
                "target_shape", f"as many values as the input {format_shape(input_shape)} "
                f"({total})", self.target_shape, "Reshape", verb="hold",
                shown=f"{self.target_shape}, {known} values"))
        return self.target_shape

    def make_module(self, input_shape: Shape) -> nn.Module:
        return ReshapeModule(self.compute_output_shape(input_shape))

    def get_config(self) -> dict:
        return {"target_shape": list(self.target_shape)}


class GaussianNoiseModule(nn.Module):
    def __init__(self, stddev: float):
        super().__init__()
        self.stddev = stddev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.stddev == 0:
            return x
        return x + torch.randn_like(x) * self.stddev


class GaussianNoise(Layer):
    """Add zero-mean Gaussian noise of sd ``stddev`` during training only.

    Examples
    --------
    >>> GaussianNoise(0.1).compute_output_shape((784,))
    (784,)
    """

    def __init__(self, stddev: float, **kwargs):
        super().__init__(**kwargs)
        self.stddev = validation.check_number(stddev, "stddev", "GaussianNoise", low=0)

    def make_module(self, input_shape: Shape) -> nn.Module:
        return GaussianNoiseModule(self.stddev)

    def get_config(self) -> dict:
        return {"stddev": self.stddev}


_ = normalize_shape  # re-exported helper used by models
# the dropout random numbers moved to dropout_masks.py; these names stay importable from here
_ = (KeepMasks, dropout_mask, keep_mask, threshold_16)
