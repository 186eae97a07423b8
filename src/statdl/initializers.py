"""Weight initialisers by Keras name, with Keras's fan conventions.

Keras computes fans from the *Keras* kernel shape: a Dense kernel is (in, out) and a Conv2D
kernel is (kh, kw, in, out), so ``fan_in = kh*kw*in`` and ``fan_out = kh*kw*out``.
"""

from __future__ import annotations

import math

import torch

from .validation import choice_error

__all__ = ["initialize", "check_initializer", "INITIALIZERS"]

INITIALIZERS = (
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
    "lecun_normal", "zeros", "ones", "orthogonal", "uniform", "random_uniform", "normal",
    "random_normal",
)


def check_initializer(name: str, argument: str = "kernel_initializer") -> str:
    """Check that ``name`` is a Keras initialiser name, without drawing a random number.

    Layers call this when they are created, so that a typo fails at once, not at build
    time; filling a throw-away tensor instead would advance torch's global generator and
    change every weight drawn after it under a fixed seed.

    Examples
    --------
    >>> check_initializer("he_normal")
    'he_normal'
    """
    if not isinstance(name, str) or name.lower() not in INITIALIZERS:
        raise choice_error(argument, name, INITIALIZERS)
    return name


@torch.no_grad()
def initialize(tensor: torch.Tensor, name: str, fan_in: int, fan_out: int,
               argument: str = "kernel_initializer") -> torch.Tensor:
    """Fill ``tensor`` in place following the Keras initialiser ``name``.

    Parameters
    ----------
    tensor : torch.Tensor
        The weight to fill (any layout; only its number of elements matters, except for
        ``orthogonal`` which uses its first dimension as rows).
    name : str
        A Keras initialiser name, e.g. ``"glorot_uniform"``.
    fan_in, fan_out : int
        Fans computed from the Keras kernel shape.

    Examples
    --------
    >>> w = torch.empty(3, 2)
    >>> _ = initialize(w, "zeros", 3, 2)
    >>> float(w.abs().sum())
    0.0
    """
    key = name.lower() if isinstance(name, str) else name
    if key == "glorot_uniform":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return tensor.uniform_(-limit, limit)
    if key == "glorot_normal":
        return _truncated_normal(tensor, math.sqrt(2.0 / (fan_in + fan_out)))
    if key == "he_uniform":
        limit = math.sqrt(6.0 / fan_in)
        return tensor.uniform_(-limit, limit)
    if key == "he_normal":
        return _truncated_normal(tensor, math.sqrt(2.0 / fan_in))
    if key == "lecun_uniform":
        limit = math.sqrt(3.0 / fan_in)
        return tensor.uniform_(-limit, limit)
    if key == "lecun_normal":
        return _truncated_normal(tensor, math.sqrt(1.0 / fan_in))
    if key == "zeros":
        return tensor.zero_()
    if key == "ones":
        return tensor.fill_(1.0)
    if key in ("uniform", "random_uniform"):
        return tensor.uniform_(-0.05, 0.05)
    if key in ("normal", "random_normal"):
        return tensor.normal_(0.0, 0.05)
    if key == "orthogonal":
        return torch.nn.init.orthogonal_(tensor)
    raise choice_error(argument, name, INITIALIZERS)


def _truncated_normal(tensor: torch.Tensor, std: float) -> torch.Tensor:
    # Keras's variance-scaling normal: truncated at 2 sd, sd corrected by 0.8796...
    std = std / 0.87962566103423978
    return torch.nn.init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std)
