"""All trainable weights of a model as views into one flat buffer.

Every trainable parameter's data and gradient become slices of two contiguous vectors, so that
clearing the gradients is one ``zero_`` and an optimiser step is a few vectorised operations
over the whole model instead of a loop over tensors.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FlatParameters"]


def _view(buffer: torch.Tensor, offset: int, like: torch.Tensor) -> torch.Tensor:
    n = like.numel()
    chunk = buffer[offset:offset + n]
    if like.dim() == 4 and like.is_contiguous(memory_format=torch.channels_last) \
            and not like.is_contiguous():
        o, i, h, w = like.shape
        return chunk.view(o, h, w, i).permute(0, 3, 1, 2)
    return chunk.view(like.shape)


class FlatParameters:
    """Bind ``params`` to a flat weight vector ``w`` and gradient vector ``g``.

    Examples
    --------
    >>> layer = nn.Linear(3, 2)
    >>> flat = FlatParameters(list(layer.parameters()))
    >>> flat.w.numel(), layer.weight.data_ptr() == flat.w.data_ptr()
    (8, True)
    """

    def __init__(self, params: list[nn.Parameter]):
        self.params = list(params)
        if not self.params:
            device = torch.device("cpu")
            self.w = torch.zeros(0, device=device)
            self.g = torch.zeros(0, device=device)
            self.offsets: list[int] = []
            return
        first = self.params[0]
        total = sum(p.numel() for p in self.params)
        self.w = torch.empty(total, dtype=first.dtype, device=first.device)
        self.g = torch.zeros(total, dtype=first.dtype, device=first.device)
        self.offsets = []
        offset = 0
        with torch.no_grad():
            for p in self.params:
                view = _view(self.w, offset, p)
                view.copy_(p.data)
                p.data = view
                p.grad = _view(self.g, offset, p)
                self.offsets.append(offset)
                offset += p.numel()

    def intact(self, params: list[nn.Parameter]) -> bool:
        """Whether ``params`` are exactly the bound parameters, still viewing the buffers."""
        if len(params) != len(self.params):
            return False
        size = self.w.element_size()
        for p, q, offset in zip(params, self.params, self.offsets):
            if p is not q or p.data_ptr() != self.w.data_ptr() + offset * size:
                return False
            if p.grad is None or p.grad.data_ptr() != self.g.data_ptr() + offset * size:
                return False
        return True

    def slices(self) -> dict[int, tuple[int, int]]:
        """``id(param) -> (offset, numel)``, to carry optimiser state over a rebuild."""
        return {id(p): (o, p.numel()) for p, o in zip(self.params, self.offsets)}

    def zero_grad(self) -> None:
        self.g.zero_()
