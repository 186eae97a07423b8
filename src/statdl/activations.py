"""Activation functions by Keras name."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .validation import choice_error

__all__ = ["get_activation", "activation_spec", "activation_name", "ACTIVATIONS", "ActivationModule"]


def _softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=-1)


def _linear(x: torch.Tensor) -> torch.Tensor:
    return x


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": _softmax,
    "linear": _linear,
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "exponential": torch.exp,
}


def get_activation(name: str | Callable | None, argument: str = "activation") -> Callable:
    """Return the activation function called ``name`` (``None`` means linear).

    Examples
    --------
    >>> get_activation("relu")(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    if name is None:
        return _linear
    if callable(name) and not isinstance(name, str):
        return name
    if isinstance(name, str) and name.lower() in ACTIVATIONS:
        return ACTIVATIONS[name.lower()]
    raise choice_error(argument, name, list(ACTIVATIONS))


def activation_spec(fn: str | Callable | None, argument: str = "activation") -> str | Callable:
    """What a layer keeps of its ``activation`` argument: the Keras name of a built-in
    activation (given by name or as the function itself), or the user's own function.

    Keeping the function, not its ``__name__``, matters: a user's ``def relu(x)`` must not
    turn into the built-in relu when the layer is built, nor route through a fast path
    written for the built-in.

    Examples
    --------
    >>> activation_spec("ReLU"), activation_spec(torch.tanh)
    ('relu', 'tanh')
    >>> def relu(x):
    ...     return 2 * x
    >>> activation_spec(relu) is relu
    True
    """
    get_activation(fn, argument)  # raises on an unknown name
    if fn is None:
        return "linear"
    if isinstance(fn, str):
        return fn.lower()
    for key, value in ACTIVATIONS.items():
        if value is fn:
            return key
    return fn


def activation_name(fn: str | Callable | None) -> str:
    """The name shown for an activation: the Keras name of a built-in, and for a user's
    function its ``__name__`` marked ``(custom)``, which never equals a built-in's name (fast
    paths pick their formulas by name)."""
    spec = activation_spec(fn)
    if isinstance(spec, str):
        return spec
    return f"{getattr(spec, '__name__', type(spec).__name__)} (custom)"


class ActivationModule(nn.Module):
    """The torch module that applies a named activation inside a built layer (keeps modules
    picklable and printable); the layer users add is ``statdl.layers.Activation``."""

    def __init__(self, name: str | Callable | None):
        super().__init__()
        self.name = activation_name(name)
        self.fn = get_activation(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The input itself: what this activation would be applied to."""
        return x

    def extra_repr(self) -> str:
        return self.name


#: The module's old name, kept so that code (and pickles) naming it still work; it is not the
#: ``Activation`` layer users add to models (``statdl.layers.Activation``).
Activation = ActivationModule
