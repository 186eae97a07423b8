"""Layers that work along the time axis: RepeatVector and TimeDistributed (Keras 3 semantics)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .. import validation
from ..errors import ConfigError, ShapeError
from ..regularizers import L1L2
from .base import Layer, Shape, check_positive_int, format_shape

__all__ = ["RepeatVector", "TimeDistributed"]


class RepeatModule(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1).repeat(1, self.n, 1)


class RepeatVector(Layer):
    """Repeat each input vector ``n`` times: ``(features,) -> (n, features)``.

    The usual bridge from an encoder's coding to a recurrent decoder.

    Parameters
    ----------
    n : int
        Number of repetitions (time steps of the output).

    Examples
    --------
    >>> RepeatVector(30).compute_output_shape((32,))
    (30, 32)
    """

    def __init__(self, n: int, **kwargs):
        super().__init__(**kwargs)
        self.n = check_positive_int(n, "n", "RepeatVector")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_rank(input_shape, 1, "vectors of shape (features,)")
        return (self.n, input_shape[0])

    def make_module(self, input_shape: Shape) -> nn.Module:
        return RepeatModule(self.n)

    def get_config(self) -> dict:
        return {"n": self.n}


class TimeDistributedModule(nn.Module):
    """Runs the inner module on ``(batch * timesteps, ...)`` and restores the time axis."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.inner(x.flatten(0, 1))
        return y.unflatten(0, (x.shape[0], x.shape[1]))


def _inner_from_spec(spec: dict) -> Layer:
    from ..saving import layer_from_spec  # saving imports this package: import when needed

    return layer_from_spec(spec, "layer` of `TimeDistributed")


class TimeDistributed(Layer):
    """Apply the same layer (same weights) to every time step of a sequence.

    An input ``(timesteps, *inner)`` gives ``(timesteps, *inner_output)``, where the wrapped
    layer maps ``inner`` to ``inner_output``. Parameters: those of the wrapped layer, as in
    Keras.

    Parameters
    ----------
    layer : Layer
        The layer to apply (an instance, or ``{"class_name": ..., "config": ...}`` as saved).
        It must take one input; its activity regulariser, if any, belongs on
        ``TimeDistributed`` itself.

    Examples
    --------
    >>> from statdl.layers import Dense
    >>> layer = TimeDistributed(Dense(8))
    >>> layer.compute_output_shape((10, 16)), layer.count_params((10, 16))
    ((10, 8), 136)
    """

    def __init__(self, layer: Any, **kwargs):
        super().__init__(**kwargs)
        if isinstance(layer, dict):
            layer = _inner_from_spec(layer)
        if not isinstance(layer, Layer):
            raise ConfigError(validation.message("layer", "a statdl layer", layer,
                                                 "TimeDistributed", shown=type(layer).__name__))
        if layer.activity_regularizer is not None:
            raise ConfigError(validation.message(
                "layer", "a layer without an activity_regularizer (it would not be applied "
                "inside)", layer, "TimeDistributed",
                shown=f"activity_regularizer={layer.activity_regularizer!r}",
                fix="Give `activity_regularizer=` to TimeDistributed instead."))
        self.layer = layer

    def _inner_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 2:
            raise ShapeError(validation.message(
                "inputs", "of shape (timesteps, ...) with at least one axis per time step",
                input_shape, "TimeDistributed",
                shown=f"input shape {format_shape(input_shape)}"))
        return tuple(input_shape[1:])

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], *self.layer.compute_output_shape(self._inner_shape(input_shape)))

    def count_params(self, input_shape: Shape) -> int:
        return self.layer.count_params(self._inner_shape(input_shape))

    def count_non_trainable_params(self, input_shape: Shape) -> int:
        return self.layer.count_non_trainable_params(self._inner_shape(input_shape))

    def make_module(self, input_shape: Shape) -> nn.Module:
        return TimeDistributedModule(self.layer.build(self._inner_shape(input_shape)))

    def _apply_trainable(self) -> None:
        if self.module_ is not None:  # a frozen inner layer stays frozen
            for p in self.module_.parameters():
                p.requires_grad_(self._trainable and self.layer.trainable)

    def regularized_weights(self) -> list[tuple[L1L2, torch.Tensor]]:
        return self.layer.regularized_weights()

    def get_config(self) -> dict:
        inner = self.layer.full_config()
        inner.pop("input_shape", None)
        return {"layer": {"class_name": type(self.layer).__name__, "config": inner}}
