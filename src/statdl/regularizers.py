"""Keras weight and activity penalties: ``L1``, ``L2``, ``L1L2``.

Keras adds ``l1 * sum(|w|) + l2 * sum(w**2)`` (no one-half) to the training loss, and the
reported loss includes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import ConfigError
from .validation import message

__all__ = ["L1", "L2", "L1L2", "get_regularizer"]


@dataclass(frozen=True)
class L1L2:
    """Penalty ``l1 * sum(|w|) + l2 * sum(w**2)``.

    Examples
    --------
    >>> round(float(L1L2(l1=0.1, l2=0.5)(torch.tensor([1.0, -2.0]))), 6)  # 0.1*3 + 0.5*5
    2.8
    """

    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self) -> None:
        for arg in ("l1", "l2"):
            value = getattr(self, arg)
            if not isinstance(value, int | float) or value < 0:
                raise ConfigError(message(arg, "a number >= 0", value, "a regularizer"))

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        total = w.new_zeros(())
        if self.l1:
            total = total + self.l1 * w.abs().sum()
        if self.l2:
            total = total + self.l2 * w.square().sum()
        return total

    def get_config(self) -> dict:
        return {"l1": float(self.l1), "l2": float(self.l2)}


def L1(l1: float = 0.01) -> L1L2:  # noqa: N802 - Keras name
    """Lasso penalty ``l1 * sum(|w|)`` (Keras ``regularizers.L1``)."""
    return L1L2(l1=l1)


def L2(l2: float = 0.01) -> L1L2:  # noqa: N802 - Keras name
    """Ridge penalty ``l2 * sum(w**2)`` (Keras ``regularizers.L2``, no one-half)."""
    return L1L2(l2=l2)


def get_regularizer(value, argument: str) -> L1L2 | None:
    """Accept ``None``, an ``L1L2``, a dict config or the names ``"l1"``, ``"l2"``, ``"l1_l2"``."""
    if value is None or isinstance(value, L1L2):
        return value
    if isinstance(value, dict):
        return L1L2(**value)
    if isinstance(value, str) and value.lower() in ("l1", "l2", "l1_l2", "l1l2"):
        key = value.lower()
        return L1() if key == "l1" else L2() if key == "l2" else L1L2(0.01, 0.01)
    raise ConfigError(message(
        argument, "None, statdl.regularizers.L1(...), L2(...) or L1L2(...)", value))
