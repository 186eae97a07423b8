"""Input corruption for denoising autoencoders: a training-only masking layer and ``corrupt``.

Denoising autoencoders (Vincent et al., 2008) see a corrupted copy of each input and are
trained to reproduce the clean one. Corruption happens inside the model, in a layer placed
before the encoder, so every batch of every epoch gets fresh noise while the targets stay
clean; at prediction time the layer is the identity.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..layers import register_layer
from ..layers.base import Layer, Shape
from ..layers.core import GaussianNoise
from ..validation import choice_error, message

__all__ = ["MaskingNoise", "corrupt", "corruption_layer", "CORRUPTIONS", "check_corruption"]

CORRUPTIONS = ("masking", "salt_and_pepper", "gaussian")


def check_corruption(kind: str, rate: float, argument: str = "corruption_rate") -> float:
    """Validate a corruption kind and its rate (a fraction in [0, 1), or an sd >= 0)."""
    if kind not in CORRUPTIONS:
        raise choice_error("corruption", kind, CORRUPTIONS)
    if isinstance(rate, bool) or not isinstance(rate, int | float | np.floating) \
            or not np.isfinite(rate):
        raise ConfigError(message(argument, "a number", rate))
    if kind == "gaussian":
        if rate < 0:
            raise ConfigError(message(argument, "a number >= 0 (the noise sd for "
                                      "corruption='gaussian')", rate))
    elif not 0 <= rate < 1:
        raise ConfigError(message(argument, f"a number in [0, 1) (the fraction of inputs "
                                  f"corrupted with corruption={kind!r})", rate))
    return float(rate)


class MaskingNoiseModule(nn.Module):
    """Zero (or set to 0/1 at random) a fraction ``rate`` of the entries, in training only."""

    def __init__(self, rate: float, salt_and_pepper: bool):
        super().__init__()
        self.rate = rate
        self.salt_and_pepper = salt_and_pepper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        hit = torch.rand_like(x) < self.rate
        if self.salt_and_pepper:
            values = (torch.rand_like(x) < 0.5).to(x.dtype)
            return torch.where(hit, values, x)
        return x.masked_fill(hit, 0.0)

    def extra_repr(self) -> str:
        return f"rate={self.rate}, salt_and_pepper={self.salt_and_pepper}"


@register_layer
class MaskingNoise(Layer):
    """On/off imputation: during training, set a random fraction ``rate`` of inputs to 0.

    With ``salt_and_pepper=True`` the chosen inputs are set to 0 or 1 with equal probability
    instead (for inputs scaled to [0, 1]). Unlike ``Dropout`` the survivors are not rescaled.
    The identity at evaluation and prediction.

    Parameters
    ----------
    rate : float
        Fraction of the entries corrupted, in [0, 1).
    salt_and_pepper : bool
        Set the corrupted entries to 0/1 at random instead of 0.

    Examples
    --------
    >>> MaskingNoise(0.25).output_shape((784,))
    (784,)
    """

    def __init__(self, rate: float, salt_and_pepper: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_corruption("masking", rate, "rate")
        self.salt_and_pepper = bool(salt_and_pepper)

    def make_module(self, input_shape: Shape) -> nn.Module:
        return MaskingNoiseModule(self.rate, self.salt_and_pepper)

    def get_config(self) -> dict:
        return {"rate": self.rate, "salt_and_pepper": self.salt_and_pepper}


def corruption_layer(kind: str, rate: float) -> Layer:
    """The training-only layer for ``kind`` ("masking", "salt_and_pepper" or "gaussian")."""
    rate = check_corruption(kind, rate)
    if kind == "gaussian":
        return GaussianNoise(rate, name=None)
    return MaskingNoise(rate, salt_and_pepper=kind == "salt_and_pepper")


def corrupt(x, kind: str = "masking", rate: float = 0.25, seed: int | None = None
            ) -> np.ndarray:
    """A corrupted copy of ``x`` (for display, as in the course's Figure 20).

    Parameters
    ----------
    x : array-like
        Inputs, any shape (rows first).
    kind : {"masking", "salt_and_pepper", "gaussian"}
        ``"masking"`` sets a fraction ``rate`` of entries to 0 (on/off imputation);
        ``"salt_and_pepper"`` sets them to 0 or 1; ``"gaussian"`` adds N(0, rate**2) noise.
    rate : float
        The fraction corrupted (in [0, 1)), or the noise sd for ``"gaussian"``.
    seed : int, optional
        Seed of the random generator (repeatable output).

    Returns
    -------
    numpy.ndarray
        Float32 array of the same shape as ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> out = corrupt(np.ones((2, 100)), "masking", 0.3, seed=0)
    >>> out.shape, bool((out == 0).any())
    ((2, 100), True)
    """
    rate = check_corruption(kind, rate, "rate")
    arr = np.array(x, dtype=np.float32, copy=True)
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return (arr + rng.normal(0.0, rate, size=arr.shape)).astype(np.float32)
    hit = rng.random(arr.shape) < rate
    if kind == "salt_and_pepper":
        arr[hit] = (rng.random(int(hit.sum())) < 0.5).astype(np.float32)
    else:
        arr[hit] = 0.0
    return arr
