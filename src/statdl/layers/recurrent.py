"""Recurrent layers with Keras 3 semantics: SimpleRNN, LSTM, GRU and Bidirectional.

Inputs are sequences ``(timesteps, features)`` (``timesteps`` may be ``None``); the output is
``(units,)``, or ``(timesteps, units)`` with ``return_sequences=True``. Weights, parameter
counts, initialisation, gate order and dropout match Keras (see ``recurrent_cells``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .. import validation
from ..activations import activation_name, get_activation
from ..errors import ConfigError, ShapeError
from ..initializers import check_initializer, initialize
from ..regularizers import L1L2, get_regularizer
from .base import Layer, Shape, check_positive_int, check_rate, format_shape
from .recurrent_cells import GATES, RecurrentModule

__all__ = ["SimpleRNN", "LSTM", "GRU", "Bidirectional", "RNNLayer"]


def _reg_config(reg: L1L2 | None) -> dict | None:
    return None if reg is None else reg.get_config()


class RNNLayer(Layer):
    """Shared spec of SimpleRNN, LSTM and GRU (not used directly)."""

    _kind = "simple_rnn"

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform",
                 recurrent_initializer: str = "orthogonal", bias_initializer: str = "zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, go_backwards: bool = False,
                 unit_forget_bias: bool = True, reset_after: bool = True, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = check_positive_int(units, "units", owner)
        get_activation(activation, "activation")
        get_activation(recurrent_activation, "recurrent_activation")
        self.activation = activation_name(activation)
        self.recurrent_activation = activation_name(recurrent_activation)
        self.use_bias = bool(use_bias)
        for arg, value in (("kernel_initializer", kernel_initializer),
                           ("recurrent_initializer", recurrent_initializer),
                           ("bias_initializer", bias_initializer)):
            check_initializer(value, arg)
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = get_regularizer(kernel_regularizer, "kernel_regularizer")
        self.recurrent_regularizer = get_regularizer(recurrent_regularizer,
                                                     "recurrent_regularizer")
        self.bias_regularizer = get_regularizer(bias_regularizer, "bias_regularizer")
        self.dropout = check_rate(dropout, "dropout", owner)
        self.recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout", owner)
        self.return_sequences = bool(return_sequences)
        self.go_backwards = bool(go_backwards)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.reset_after = bool(reset_after)

    # ------------------------------------------------------------------ shapes
    def _n_in(self, input_shape: Shape) -> int:
        if len(input_shape) != 2:
            hint = None
            if len(input_shape) == 1:
                hint = ("Integer word ids need an Embedding layer first; a single series can "
                        "be given as (timesteps, 1), e.g. with Reshape((timesteps, 1)).")
            elif len(input_shape) > 2:
                hint = ("Flatten or reshape each sample to (timesteps, features) first, or use "
                        "return_sequences=True on a previous recurrent layer only.")
            raise ShapeError(validation.message(
                "inputs", "of shape (timesteps, features)", input_shape, type(self).__name__,
                shown=format_shape(input_shape), fix=hint))
        return self._require_known(input_shape, -1, "number of features (last dimension)")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._n_in(input_shape)
        if self.return_sequences:
            return (input_shape[0], self.units)
        return (self.units,)

    def _n_bias(self) -> int:
        k = GATES[self._kind]
        if not self.use_bias:
            return 0
        return 2 * k * self.units if self._kind == "gru" and self.reset_after else k * self.units

    def count_params(self, input_shape: Shape) -> int:
        n_in = self._n_in(input_shape)
        k, u = GATES[self._kind], self.units
        return k * u * (n_in + u) + self._n_bias()

    # ------------------------------------------------------------------ weights
    def make_module(self, input_shape: Shape) -> nn.Module:
        n_in = self._n_in(input_shape)
        u, k = self.units, GATES[self._kind]
        m = RecurrentModule(
            self._kind, n_in, u, activation=self.activation,
            recurrent_activation=self.recurrent_activation, use_bias=self.use_bias,
            dropout=self.dropout, recurrent_dropout=self.recurrent_dropout,
            return_sequences=self.return_sequences, go_backwards=self.go_backwards,
            reset_after=self.reset_after,
        )
        # Keras fans come from the whole kernel: (n_in, k*u) and (u, k*u).
        initialize(m.kernel, self.kernel_initializer, n_in, k * u)
        initialize(m.recurrent_kernel, self.recurrent_initializer, u, k * u,
                   "recurrent_initializer")
        if m.bias is not None:
            initialize(m.bias, self.bias_initializer, n_in, k * u, "bias_initializer")
            if self._kind == "lstm" and self.unit_forget_bias:
                with torch.no_grad():
                    m.bias[u:2 * u] = 1.0
        return m

    def regularized_weights(self) -> list[tuple[L1L2, torch.Tensor]]:
        m = self.module
        out = []
        if self.kernel_regularizer is not None:
            out.append((self.kernel_regularizer, m.kernel))
        if self.recurrent_regularizer is not None:
            out.append((self.recurrent_regularizer, m.recurrent_kernel))
        if self.bias_regularizer is not None and m.bias is not None:
            out.append((self.bias_regularizer, m.bias))
        return out

    def get_config(self) -> dict:
        cfg = {
            "units": self.units, "activation": self.activation,
            "recurrent_activation": self.recurrent_activation, "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer,
            "recurrent_initializer": self.recurrent_initializer,
            "bias_initializer": self.bias_initializer,
            "kernel_regularizer": _reg_config(self.kernel_regularizer),
            "recurrent_regularizer": _reg_config(self.recurrent_regularizer),
            "bias_regularizer": _reg_config(self.bias_regularizer),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "return_sequences": self.return_sequences, "go_backwards": self.go_backwards,
        }
        if self._kind == "simple_rnn":
            del cfg["recurrent_activation"]
        if self._kind == "lstm":
            cfg["unit_forget_bias"] = self.unit_forget_bias
        if self._kind == "gru":
            cfg["reset_after"] = self.reset_after
        return cfg


class SimpleRNN(RNNLayer):
    """Fully connected recurrent layer: ``h_t = activation(x_t W + h_{t-1} U + b)``.

    Parameters
    ----------
    units : int
        Size of the state ``h``.
    activation : str
        ``"tanh"`` (default) or another activation name.
    use_bias : bool
        Whether to add the bias ``b``.
    kernel_initializer, recurrent_initializer, bias_initializer : str
        Keras initialiser names (``"glorot_uniform"``, ``"orthogonal"``, ``"zeros"``).
    kernel_regularizer, recurrent_regularizer, bias_regularizer : L1L2, optional
        Penalties on ``W``, ``U`` and ``b``.
    dropout, recurrent_dropout : float
        Rates in [0, 1) for the inputs and the state; one mask per sequence, the same at every
        step (Keras, after Gal and Ghahramani), during training only.
    return_sequences : bool
        Return the whole output sequence ``(timesteps, units)`` instead of the last output.
    go_backwards : bool
        Read the sequence from its end; the returned sequence is then in reversed order too.

    Examples
    --------
    >>> SimpleRNN(12).count_params((20, 3))
    192
    >>> SimpleRNN(12, return_sequences=True).compute_output_shape((None, 3))
    (None, 12)
    """

    _kind = "simple_rnn"

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform",
                 recurrent_initializer: str = "orthogonal", bias_initializer: str = "zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, go_backwards: bool = False, **kwargs):
        super().__init__(
            units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            dropout=dropout, recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences, go_backwards=go_backwards, **kwargs)


class LSTM(RNNLayer):
    """Long short-term memory layer (Hochreiter and Schmidhuber, 1997), as in Keras.

    Gates ``i, f, o = recurrent_activation(x W + h U + b)`` (per gate), candidate
    ``c~ = activation(...)``, ``c_t = f c_{t-1} + i c~``, ``h_t = o activation(c_t)``.
    Weights as Keras stores them: kernel ``(features, 4u)``, recurrent kernel ``(u, 4u)``,
    **one** bias ``(4u,)``, gate order i, f, c, o; 4u(features + u + 1) parameters.

    Parameters
    ----------
    units : int
        Size of the state.
    activation, recurrent_activation : str
        ``"tanh"`` and ``"sigmoid"`` by default (the fast fused kernel needs these).
    unit_forget_bias : bool
        Initialise the forget-gate bias to 1 (Jozefowicz et al., 2015), as Keras does.
    **others
        As for :class:`SimpleRNN` (``use_bias``, initialisers, regularisers, ``dropout``,
        ``recurrent_dropout``, ``return_sequences``, ``go_backwards``). With
        ``recurrent_dropout`` there is one mask per gate, as in Keras.

    Examples
    --------
    >>> LSTM(32).count_params((500, 32))
    8320
    >>> LSTM(32, return_sequences=True).compute_output_shape((500, 8))
    (500, 32)
    """

    _kind = "lstm"

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform",
                 recurrent_initializer: str = "orthogonal", bias_initializer: str = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, return_sequences: bool = False,
                 go_backwards: bool = False, **kwargs):
        super().__init__(
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            dropout=dropout, recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences, go_backwards=go_backwards, **kwargs)


class GRU(RNNLayer):
    """Gated recurrent unit layer (Cho et al., 2014), as in Keras.

    ``z, r = recurrent_activation(...)``, ``h~ = activation(x W_h + r * (h U_h + b_rh))``
    (``reset_after=True``, the Keras 3 and cuDNN/torch form) or
    ``activation(x W_h + (r * h) U_h + b_h)`` (``reset_after=False``), and
    ``h_t = z h_{t-1} + (1 - z) h~``. Gate order z, r, h. Parameters: 3u(features + u + 2)
    with ``reset_after=True`` (bias of shape (2, 3u)), 3u(features + u + 1) otherwise.

    Parameters
    ----------
    units : int
        Size of the state.
    reset_after : bool
        Apply the reset gate after the recurrent matrix product (default, fast fused kernel).
    **others
        As for :class:`LSTM` (no ``unit_forget_bias``).

    Examples
    --------
    >>> GRU(32).count_params((20, 32))
    6336
    >>> GRU(32, reset_after=False).count_params((20, 32))
    6240
    """

    _kind = "gru"

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform",
                 recurrent_initializer: str = "orthogonal", bias_initializer: str = "zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, go_backwards: bool = False,
                 reset_after: bool = True, **kwargs):
        super().__init__(
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, dropout=dropout,
            recurrent_dropout=recurrent_dropout, return_sequences=return_sequences,
            go_backwards=go_backwards, reset_after=reset_after, **kwargs)


_RNN_CLASSES: dict[str, type[RNNLayer]] = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
MERGE_MODES = ("concat", "sum", "ave", "mul")


class BidirectionalModule(nn.Module):
    """Run a forward and a backward recurrent module and merge their outputs."""

    def __init__(self, forward_layer: nn.Module, backward_layer: nn.Module, merge_mode: str,
                 return_sequences: bool):
        super().__init__()
        self.forward_layer = forward_layer
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._merge(self.forward_layer(x), self.backward_layer(x))

    def forward_from_ids(self, embedding: nn.Module, ids: torch.Tensor) -> torch.Tensor | None:
        """``self(embedding(ids))`` through both directions' ``forward_from_ids`` (predict,
        evaluate); None where either does not apply."""
        forward_from_ids = getattr(self.forward_layer, "forward_from_ids", None)
        backward_from_ids = getattr(self.backward_layer, "forward_from_ids", None)
        if forward_from_ids is None or backward_from_ids is None:
            return None
        y = forward_from_ids(embedding, ids)
        if y is None:
            return None
        y_rev = backward_from_ids(embedding, ids)
        return None if y_rev is None else self._merge(y, y_rev)

    def _merge(self, y: torch.Tensor, y_rev: torch.Tensor) -> torch.Tensor:
        if self.return_sequences:  # align the backward outputs with time, as Keras does
            y_rev = y_rev.flip(1)
        mode = self.merge_mode
        if mode == "concat":
            return torch.cat([y, y_rev], -1)
        if mode == "sum":
            return y + y_rev
        if mode == "ave":
            return (y + y_rev) / 2
        return y * y_rev

    def extra_repr(self) -> str:
        return f"merge_mode={self.merge_mode!r}"


def _layer_from_config(spec: dict) -> Layer:
    class_name, config = spec.get("class_name"), spec.get("config")
    if not isinstance(class_name, str) or not isinstance(config, dict):
        raise ConfigError(validation.message(
            "layer", "a layer or a dict {'class_name': ..., 'config': {...}}", spec,
            "Bidirectional"))
    registry: dict[str, type] = dict(_RNN_CLASSES)
    try:  # the package registry, when present, also knows layers defined elsewhere
        from . import LAYER_CLASSES  # type: ignore[attr-defined]
        registry.update(LAYER_CLASSES)
    except ImportError:
        pass
    cls = registry.get(class_name)
    if cls is None:
        raise validation.choice_error("layer['class_name']", class_name, registry,
                                      "Bidirectional")
    return cls(**config)


class Bidirectional(Layer):
    """Bidirectional wrapper: run a recurrent layer forwards and a copy backwards, then merge.

    The backward copy is the wrapped layer's config with ``go_backwards`` flipped (fresh
    weights); with ``return_sequences=True`` its outputs are reversed back so both directions
    line up in time, as in Keras. Parameters: twice the wrapped layer's.

    Parameters
    ----------
    layer : SimpleRNN, LSTM or GRU
        The forward layer (a layer instance, or ``{"class_name": ..., "config": ...}``).
    merge_mode : {"concat", "sum", "ave", "mul"}
        How the two outputs are combined; ``"concat"`` doubles the output size. Keras's
        ``None`` (a list of two outputs) is not supported in a ``Sequential`` model.

    Examples
    --------
    >>> layer = Bidirectional(LSTM(32))
    >>> layer.compute_output_shape((100, 32)), layer.count_params((100, 32))
    ((64,), 16640)
    """

    def __init__(self, layer: Any, merge_mode: str | None = "concat", **kwargs):
        super().__init__(**kwargs)
        if isinstance(layer, dict):
            layer = _layer_from_config(layer)
        if not isinstance(layer, RNNLayer):
            raise ConfigError(validation.message(
                "layer", "a SimpleRNN, LSTM or GRU layer", layer, "Bidirectional",
                shown=type(layer).__name__))
        if merge_mode is None:
            raise validation.choice_error(
                "merge_mode", None, MERGE_MODES, "Bidirectional",
                fix="Keras returns the two outputs as a list for None, which a Sequential model "
                    "cannot pass on.")
        if merge_mode not in MERGE_MODES:
            raise validation.choice_error("merge_mode", merge_mode, MERGE_MODES,
                                          "Bidirectional")
        self.merge_mode = merge_mode
        self.forward_layer: RNNLayer = layer
        back_cfg = dict(layer.get_config())
        back_cfg["go_backwards"] = not layer.go_backwards
        self.backward_layer: RNNLayer = type(layer)(
            **back_cfg, name=f"backward_{layer.name}", trainable=layer.trainable)
        if self.input_shape is None and layer.input_shape is not None:
            self.input_shape = layer.input_shape

    @property
    def layer(self) -> RNNLayer:
        return self.forward_layer

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self.forward_layer.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            return (*shape[:-1], 2 * shape[-1])
        return shape

    def count_params(self, input_shape: Shape) -> int:
        return 2 * self.forward_layer.count_params(input_shape)

    def make_module(self, input_shape: Shape) -> nn.Module:
        return BidirectionalModule(
            self.forward_layer.build(input_shape), self.backward_layer.build(input_shape),
            self.merge_mode, self.forward_layer.return_sequences)

    def regularized_weights(self) -> list[tuple[L1L2, torch.Tensor]]:
        return (self.forward_layer.regularized_weights()
                + self.backward_layer.regularized_weights())

    def get_config(self) -> dict:
        inner = dict(self.forward_layer.get_config())
        inner["name"] = self.forward_layer.name
        return {
            "layer": {"class_name": type(self.forward_layer).__name__, "config": inner},
            "merge_mode": self.merge_mode,
        }
