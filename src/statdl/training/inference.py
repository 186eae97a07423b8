"""The forward pass of ``predict`` and ``evaluate``: the model's layers without autograd.

With no gradient to record, a layer's activation can overwrite the pre-activation it was
computed from, and a max pooling can come before a monotone activation instead of after
(``relu(max(z)) == max(relu(z))`` exactly, on a quarter of the values). Both save a pass over
the largest tensors of a convolutional network; measured on 2 cores, the course CNN's forward
pass went from about 9,700 to 11,500 images/s in batches of 128. A Dense layer with a few
outputs multiplies by a column-major copy of its kernel (``_logits``): the course's softmax
regression (784 -> 10) predicted 640,000 -> 1,000,000 samples/s. Anything else runs as in
training, module by module.

Examples
--------
>>> import torch, statdl as sd
>>> m = sd.Sequential([sd.layers.Dense(4, activation="relu"), sd.layers.Dense(2)],
...                   input_shape=(3,))
>>> x = torch.ones(5, 3)
>>> with torch.inference_mode():
...     bool(torch.equal(forward(m.module, x), m.module(x)))
True
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator

import torch
from torch import nn

from ..activations import ACTIVATIONS
from ..layers.conv import Conv2DModule, PoolModule
from ..layers.core import DenseModule, DropoutModule
from ..layers.modules import SequentialModule
from .data import vouch_finite

__all__ = ["forward", "kernel_copies"]

#: activations applied in place, all monotone non-decreasing (so they commute with max)
_IN_PLACE = {"relu": torch.relu_, "tanh": torch.tanh_, "sigmoid": torch.sigmoid_,
             "linear": lambda z: z}


def forward(module: nn.Module, x: torch.Tensor, logits: bool = False) -> torch.Tensor:
    """``module(x, logits=logits)`` for a model's module under ``torch.inference_mode``.

    Only the layers of a plain ``SequentialModule`` (no activity penalties to collect) take
    the shortcuts; every other module is called as it is.
    """
    if type(module) is not SequentialModule or module.activity:
        return module(x, logits=logits)
    layers, i = module.layers, 0
    last = len(layers) - 1
    while i <= last:
        m = layers[i]
        if logits and i == last:
            return _logits(m, x, i == 0) if hasattr(m, "forward_logits") else m(x)
        activate = _in_place_activation(m)
        if activate is None:
            if type(m) is DenseModule:
                x = m.activation(_logits(m, x, i == 0))
            elif type(m) is not DropoutModule:  # dropout is the identity here
                x = m(x)
        else:
            z = _logits(m, x, i == 0)  # a fresh tensor, free to overwrite
            if i < last and _is_max_pool(layers[i + 1]) and not (logits and i + 1 == last):
                i += 1
                z = layers[i](z)
            x = activate(z)
        i += 1
    return x


def _logits(m: nn.Module, x: torch.Tensor, first: bool = False) -> torch.Tensor:
    """``m.forward_logits(x)``; for a Dense layer with 2 to 15 outputs, from a column-major
    copy of its kernel (a few KB), which MKL multiplies faster: (1024, 784) x (784, 10) took
    1,040 against 510 us, 2 outputs 825 against 303 us, while 16 or more outputs are as fast
    or faster row-major (2 threads, 40 batches in turn; 1 thread 1,885 against 1,004 us).

    For the network's ``first`` layer, logits found finite vouch for the input batch
    (``_vouch``)."""
    if type(m) is not DenseModule or x.dim() != 2 or not 1 < m.kernel.shape[1] < 16:
        z = m.forward_logits(x)
    else:
        kernel = _column_major(m)
        z = torch.mm(x, kernel) if m.bias is None else torch.addmm(m.bias, x, kernel)
    if first and type(m) is DenseModule:
        _vouch(x, z)
    return z


def _column_major(m: DenseModule) -> torch.Tensor:
    # Made once per call inside ``kernel_copies()`` (predict, evaluate), else per batch. A
    # copy kept across calls went stale: fit updates the kernel through its flat weight
    # buffer, which leaves the kernel's own version counter unchanged, so predict after a fit
    # with validation used the weights of the last validation pass.
    copies = getattr(_copies, "kernels", None)
    if copies is None:
        return m.kernel.t().contiguous().t()
    kernel = copies.get(m)
    if kernel is None:
        kernel = copies[m] = m.kernel.t().contiguous().t()
    return kernel


_copies = threading.local()


@contextlib.contextmanager
def kernel_copies() -> Iterator[None]:
    """Inside the block, each Dense layer's column-major kernel copy (``_logits``) is made
    once and reused by every batch: the weights cannot change within one ``predict`` or
    ``evaluate`` call. A fresh copy per batch of 2,048 rows of the MNIST softmax regression
    cost 7% of its predict (20,000 rows, p25 of 60 calls in turn: 1.01M against 1.08M
    samples/s). Nested blocks share the outer one's copies.

    Examples
    --------
    >>> import statdl as sd
    >>> m = sd.Sequential([sd.layers.Dense(3)], input_shape=(4,))
    >>> with kernel_copies():
    ...     _column_major(m.module.layers[0]) is _column_major(m.module.layers[0])
    True
    """
    if getattr(_copies, "kernels", None) is not None:
        yield
        return
    _copies.kernels = {}
    try:
        yield
    finally:
        _copies.kernels = None


def _vouch(x: torch.Tensor, z: torch.Tensor) -> None:
    """Spare ``InputRows.batches`` its NaN/infinity check of ``x`` when the logits ``z`` of a
    Dense layer on ``x`` have a finite sum: a NaN or an infinity anywhere in ``x`` makes
    NaN or infinite every logit it enters (0 * inf and inf - inf are NaN; the products are
    all computed, none skipped), so finite logits prove ``x`` finite. Summing the 10 logits
    of an MNIST row instead of its 784 pixels took 10 against 150 us per batch of 1,024.
    Only on the CPU (no host sync per batch elsewhere) and when ``z`` is the smaller."""
    # math.isfinite of the sum's value: torch.isfinite on the 0-d sum cost 5% of a 20,000-row
    # predict of the MNIST softmax regression (2.19M against 2.28M samples/s, p25 of 60 calls)
    if x.device.type == "cpu" and 0 < z.numel() <= x.numel() \
            and math.isfinite(z.sum().item()):
        vouch_finite(x)


def _in_place_activation(m: nn.Module):
    if type(m) not in (DenseModule, Conv2DModule):  # exact types: subclasses may differ
        return None
    name = m.activation.name
    if m.activation.fn is ACTIVATIONS.get(name):  # not a user's function of the same name
        return _IN_PLACE.get(name)
    return None


def _is_max_pool(m: nn.Module) -> bool:
    return type(m) is PoolModule and m.kind == "max"
