"""The layer specification every statdl layer derives from.

A layer is a cheap *spec*: creating one allocates nothing. ``output_shape`` and
``param_count`` work on shapes alone; ``build(input_shape)`` creates the torch module that
holds the weights. Shapes never include the batch dimension and follow Keras's layout:
images are ``(height, width, channels)``, sequences ``(timesteps, features)``.
A dimension that is unknown until data arrives is ``None``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .._naming import snake_case, unique_name
from ..errors import ConfigError, NotFittedError, ShapeError
from ..regularizers import L1L2, get_regularizer

__all__ = ["Layer", "Shape", "check_positive_int", "check_rate", "as_pair"]

Shape = tuple[int | None, ...]


class Layer:
    """Base class of all layers.

    Subclasses implement ``compute_output_shape``, ``make_module`` and, when they hold weights,
    ``count_params`` (and ``count_non_trainable_params`` for state such as moving averages).
    ``get_config`` returns the constructor arguments so that ``type(layer)(**config)``
    re-creates the spec (used to save models as JSON).

    Parameters
    ----------
    name : str, optional
        Unique name shown by ``summary()``; Keras-style ``dense``, ``dense_1``... by default.
    trainable : bool
        ``False`` freezes the layer: no gradient reaches its weights and they count as
        non-trainable.
    input_shape : tuple, optional
        Shape of one sample, accepted on the first layer of a model as in Keras.
    activity_regularizer : L1L2, optional
        Penalty on the layer's output, added to the training loss.

    Examples
    --------
    >>> from statdl.layers import Dense
    >>> layer = Dense(4)
    >>> layer.output_shape((3,)), layer.param_count((3,))
    ((4,), 16)
    """

    def __init__(self, *, name: str | None = None, trainable: bool = True,
                 input_shape: tuple | None = None, activity_regularizer: Any = None):
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError(f"`name` must be a non-empty string; got {name!r}.")
        self.name: str = name or unique_name(snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.input_shape: Shape | None = normalize_shape(input_shape, "input_shape")
        self.activity_regularizer: L1L2 | None = get_regularizer(
            activity_regularizer, "activity_regularizer")
        self.module_: nn.Module | None = None
        self.built_shape_: Shape | None = None

    # ---------------------------------------------------------------- to override
    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """Shape of one output sample for an input sample of ``input_shape``."""
        return input_shape

    def count_params(self, input_shape: Shape) -> int:
        """Number of weights (trainable and not), as Keras counts them."""
        return 0

    def count_non_trainable_params(self, input_shape: Shape) -> int:
        """Weights that are never trained (e.g. batch-norm moving statistics)."""
        return 0

    def make_module(self, input_shape: Shape) -> nn.Module:
        """Create the torch module with Keras-initialised weights."""
        return nn.Identity()

    def get_config(self) -> dict:
        """Constructor arguments of this layer (JSON-serialisable)."""
        return {}

    def regularized_weights(self) -> list[tuple[L1L2, torch.Tensor]]:
        """Pairs (penalty, weight) for weight regularisers; empty by default."""
        return []

    # ---------------------------------------------------------------- provided
    def __call__(self, *inputs, **kwargs):
        """Call the layer on symbolic tensors (``statdl.Input``) to add it to a graph, or on
        arrays to compute its output (``statdl.layers.symbolic.call_layer``)."""
        from .symbolic import call_layer

        return call_layer(self, *inputs, **kwargs)

    def output_shape(self, input_shape: Shape) -> Shape:
        """Validated output shape (raises ``ShapeError`` when the input does not fit)."""
        return tuple(self.compute_output_shape(tuple(input_shape)))

    def param_count(self, input_shape: Shape) -> int:
        """Number of weights for ``input_shape``, computed without building."""
        return int(self.count_params(tuple(input_shape)))

    def build(self, input_shape: Shape) -> nn.Module:
        """Create (or reuse) the torch module for ``input_shape`` and return it.

        A layer that is already built for the same input shape keeps its module, so a layer or
        a model used inside several models shares its weights between them.
        """
        input_shape = tuple(input_shape)
        if self.module_ is not None:
            if _compatible(self.built_shape_, input_shape):
                return self.module_
            raise ShapeError(
                f"Layer '{self.name}' was built for input shape {_fmt(self.built_shape_)} and "
                f"cannot be reused with input shape {_fmt(input_shape)}; create a new layer."
            )
        self.output_shape(input_shape)
        self.module_ = self.make_module(input_shape)
        self.built_shape_ = input_shape
        self._apply_trainable()
        return self.module_

    @property
    def built(self) -> bool:
        return self.module_ is not None

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        self._apply_trainable()

    def _apply_trainable(self) -> None:
        if self.module_ is not None:
            for p in self.module_.parameters():
                p.requires_grad_(self._trainable)

    @property
    def module(self) -> nn.Module:
        if self.module_ is None:
            raise NotFittedError(
                f"Layer '{self.name}' has no weights yet: build it (or the model holding it) "
                "first, e.g. by giving `input_shape=` to the model."
            )
        return self.module_

    def weights(self) -> list[torch.Tensor]:
        """Parameters then buffers of the built module, in a fixed order."""
        m = self.module
        return [p for p in m.parameters()] + [b for b in m.buffers()]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights as numpy arrays (torch layout)."""
        return [w.detach().cpu().numpy().copy() for w in self.weights()]

    def set_weights(self, values: list) -> None:
        """Replace the weights; shapes must match ``get_weights()``."""
        targets = self.weights()
        if len(values) != len(targets):
            raise ShapeError(
                f"`weights` for layer '{self.name}' must hold {len(targets)} arrays; "
                f"got {len(values)}."
            )
        with torch.no_grad():
            for i, (t, v) in enumerate(zip(targets, values)):
                v = torch.as_tensor(np.asarray(v), dtype=t.dtype)
                if tuple(v.shape) != tuple(t.shape):
                    raise ShapeError(
                        f"`weights[{i}]` for layer '{self.name}' must have shape "
                        f"{tuple(t.shape)}; got {tuple(v.shape)}."
                    )
                t.copy_(v)

    def full_config(self) -> dict:
        """Config including the base arguments (name, trainable, ...)."""
        cfg = dict(self.get_config())
        cfg["name"] = self.name
        cfg["trainable"] = self._trainable
        if self.input_shape is not None:
            cfg["input_shape"] = list(self.input_shape)
        if self.activity_regularizer is not None:
            cfg["activity_regularizer"] = self.activity_regularizer.get_config()
        return cfg

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args}, name={self.name!r})"

    # helpers for subclasses ---------------------------------------------------
    def _require_rank(self, input_shape: Shape, rank: int | tuple[int, ...], expected: str) -> None:
        ranks = (rank,) if isinstance(rank, int) else rank
        if len(input_shape) not in ranks:
            raise ShapeError(
                f"{type(self).__name__} expects {expected}; got input shape "
                f"{_fmt(input_shape)}."
            )

    def _require_known(self, input_shape: Shape, axis: int, what: str) -> int:
        value = input_shape[axis]
        if value is None:
            raise ShapeError(
                f"{type(self).__name__} needs a known {what}; got input shape "
                f"{_fmt(input_shape)}."
            )
        return int(value)


def _compatible(a: Shape | None, b: Shape) -> bool:
    if a is None or len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a, b))


def _fmt(shape: Shape | None) -> str:
    if shape is None:
        return "None"
    return "(None, " + ", ".join("None" if d is None else str(d) for d in shape) + ")"


format_shape = _fmt


def normalize_shape(shape, argument: str) -> Shape | None:
    """Turn an int or sequence into a shape tuple, checking each dimension."""
    if shape is None:
        return None
    if isinstance(shape, int | np.integer):
        shape = (int(shape),)
    try:
        dims = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise ConfigError(
            f"`{argument}` must be a tuple of positive ints (None for unknown); got {shape!r}."
        ) from None
    if any(d is not None and d <= 0 for d in dims) or not dims:
        raise ConfigError(
            f"`{argument}` must be a non-empty tuple of positive ints; got {shape!r}."
        )
    return dims


def check_positive_int(value, argument: str, owner: str) -> int:
    """Validate a positive integer argument."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"`{argument}` of {owner} must be an int >= 1; got {value!r}.")
    return int(value)


def check_rate(value, argument: str, owner: str) -> float:
    """Validate a rate in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigError(f"`{argument}` of {owner} must be a number in [0, 1); got {value!r}.")
    return float(value)


def as_pair(value, argument: str, owner: str) -> tuple[int, int]:
    """Accept ``3`` or ``(3, 3)`` for kernel sizes, strides and pool sizes."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        pair = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        pair = ()
    if len(pair) != 2 or min(pair) < 1:
        raise ConfigError(
            f"`{argument}` of {owner} must be an int >= 1 or a pair of them; got {value!r}."
        )
    return pair  # type: ignore[return-value]
