"""Mixed precision for ``fit(..., precision=...)``.

``precision="bf16"`` or ``"16"`` runs each forward pass under ``torch.autocast`` with that
dtype (matrix products and convolutions in 16 bits, reductions in 32), then casts the output
back to float32 for the loss, the metrics and the backward pass's start. Weights, gradients and
optimiser state stay float32 (one flat buffer, as always). ``"16"`` (float16, whose range ends
at 65504) also scales the loss with ``torch.amp.GradScaler`` so that small gradients do not
round to zero; a step whose gradients overflow is skipped, which the scaler learns by reading
one flag per step from the device. ``"bf16"`` has float32's range, needs no scaling and no such
read: prefer it on GPUs that have it (NVIDIA Ampere and later) and on CPUs.

Reduced precision trains through autograd: the hand-written Dense pass
(``training.dense_step``) runs only in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..validation import message

__all__ = ["MixedPrecision", "resolve_precision", "PRECISIONS"]

#: ``precision`` values of ``fit`` -> the autocast dtype (None: float32 throughout).
PRECISIONS: dict[str | None, torch.dtype | None] = {
    None: None, "32": None, "bf16": torch.bfloat16, "16": torch.float16,
}


class _FlatOptimizer:
    """What ``GradScaler`` needs of an optimiser: one "parameter" whose ``.grad`` is the flat
    gradient buffer (unscaled in place), and a ``step()`` that updates the flat weights."""

    def __init__(self, optimizer, flat):
        self.optimizer, self.flat = optimizer, flat
        weights = flat.w.detach()  # a separate tensor object over the same storage
        weights.grad = flat.g
        self.param_groups = [{"params": [weights]}]

    def step(self) -> None:
        self.optimizer.step(self.flat.w, self.flat.g)


@dataclass
class MixedPrecision:
    """The autocast settings and (float16) loss scaler of one ``fit`` call."""

    name: str
    device_type: str
    dtype: torch.dtype
    scaler: torch.amp.GradScaler | None = None
    _target: _FlatOptimizer | None = None

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device_type, dtype=self.dtype)

    def bind(self, optimizer, flat) -> None:
        """Use ``optimizer`` on the flat buffers ``flat`` in ``backward_and_step``."""
        self._target = _FlatOptimizer(optimizer, flat)

    def backward_and_step(self, total: torch.Tensor) -> None:
        """Backward pass from the float32 batch loss ``total`` and one optimiser step (skipped
        by the scaler when a scaled gradient overflowed)."""
        target = self._target
        if self.scaler is None:
            total.backward()
            target.step()
            return
        self.scaler.scale(total).backward()
        self.scaler.step(target)
        self.scaler.update()


def resolve_precision(precision, device: torch.device) -> MixedPrecision | None:
    """``fit``'s ``precision`` checked for ``device``: None for float32, else the settings.

    Examples
    --------
    >>> resolve_precision("32", torch.device("cpu")) is None
    True
    >>> resolve_precision("bf16", torch.device("cpu")).dtype
    torch.bfloat16
    """
    if not isinstance(precision, str | type(None)) or precision not in PRECISIONS:
        raise ConfigError(message(
            "precision", "None, '32', 'bf16' or '16'", precision, "fit",
            fix="'bf16' (bfloat16) is the safe choice on recent GPUs and on CPUs."))
    dtype = PRECISIONS[precision]
    if dtype is None:
        return None
    kind = device.type
    if not torch.amp.autocast_mode.is_autocast_available(kind):
        raise ConfigError(message(
            "precision", f"None on device '{kind}', where this torch has no torch.autocast",
            precision, "fit"))
    if kind == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ConfigError(message(
            "precision", f"'16' (float16 with loss scaling) or None on the GPU "
            f"{torch.cuda.get_device_name(device)}, which has no bfloat16 support", precision,
            "fit"))
    scaler = torch.amp.GradScaler(kind) if dtype == torch.float16 else None
    return MixedPrecision(precision, kind, dtype, scaler)
