"""The forward pass of ``predict`` and ``evaluate``: the model's layers without autograd.

With no gradient to record, a layer's activation can overwrite the pre-activation it was
computed from, and a max pooling can come before a monotone activation instead of after
(``relu(max(z)) == max(relu(z))`` exactly, on a quarter of the values). Both save a pass over
the largest tensors of a convolutional network; measured on 2 cores, the course CNN's forward
pass went from about 9,700 to 11,500 images/s in batches of 128. A Dense layer on float32
rows multiplies through oneDNN's matrix product, which is faster than MKL's ``addmm`` on these
shapes (``layers.core.uses_onednn``, in every model form); where oneDNN is not used, a layer
with a few outputs multiplies by a column-major copy of its kernel (``_logits``: the course's
softmax regression (784 -> 10) predicted 640,000 -> 1,000,000 samples/s). Anything else runs
as in training, module by module.

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
from ..layers.conv import Conv2DModule, PoolModule, conv_max_pool
from ..layers.core import DenseModule, DropoutModule, FlattenModule, uses_onednn
from ..layers.embedding import EmbeddingModule
from ..layers.modules import SequentialModule
from .data import vouch_finite

__all__ = ["forward", "kernel_copies", "current_copies", "using_copies"]

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
    z = _table_logits(layers, x) if last >= 2 else None
    if z is not None:  # Embedding + Flatten + Dense, through one lookup table
        if logits and last == 2:
            return z
        activate = _in_place_activation(layers[2])
        x, i = (activate(z) if activate is not None else layers[2].activation(z)), 3
    while i <= last:
        m = layers[i]
        if type(m) is EmbeddingModule and i < last:
            # Embedding + SimpleRNN: each step's input projection is a row of one table
            # (RecurrentModule/BidirectionalModule.forward_from_ids; None where it does not apply)
            from_ids = getattr(layers[i + 1], "forward_from_ids", None)
            y = None if from_ids is None else from_ids(m, x)
            if y is not None:
                x, i = y, i + 2
                continue
        if logits and i == last:
            return _logits(m, x, i == 0) if hasattr(m, "forward_logits") else m(x)
        activate = _in_place_activation(m)
        if activate is None:
            if type(m) is DenseModule:
                z = _logits(m, x, i == 0)
                x = _softmax_few_(z) if _few_class_softmax(m, z) else m.activation(z)
            elif type(m) is not DropoutModule:  # dropout is the identity here
                x = m(x)
        else:
            if i < last and _is_max_pool(layers[i + 1]) and not (logits and i + 1 == last):
                i += 1  # pooled first, then activated: a quarter of the values
                z = conv_max_pool(m, layers[i], x) if type(m) is Conv2DModule \
                    else layers[i](_logits(m, x, i == 1))
            else:
                z = _logits(m, x, i == 0)  # a fresh tensor, free to overwrite
            x = activate(z)
        i += 1
    return x


def _logits(m: nn.Module, x: torch.Tensor, first: bool = False) -> torch.Tensor:
    """``m.forward_logits(x)`` (a Dense layer's goes through oneDNN's product where
    ``layers.core.uses_onednn`` allows it); where it does not, a Dense layer with 2 to 15
    outputs multiplies by a column-major copy of its kernel (a few KB), which MKL multiplies
    faster: (1024, 784) x (784, 10) took 1,040 against 510 us, 2 outputs 825 against 303 us,
    while 16 or more outputs are as fast or faster row-major (2 threads, 40 batches in turn;
    1 thread 1,885 against 1,004 us).

    For the network's ``first`` layer, logits found finite vouch for the input batch
    (``_vouch``)."""
    if type(m) is DenseModule and x.dim() == 2 and 1 < m.kernel.shape[1] < 16 \
            and not uses_onednn(m.kernel, x):
        kernel = _column_major(m)
        z = torch.mm(x, kernel) if m.bias is None else torch.addmm(m.bias, x, kernel)
    else:
        z = m.forward_logits(x)
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
def kernel_copies(rows: int | None = None) -> Iterator[None]:
    """Inside the block, each Dense layer's column-major kernel copy (``_logits``) is made
    once and reused by every batch: the weights cannot change within one ``predict`` or
    ``evaluate`` call. A fresh copy per batch of 2,048 rows of the MNIST softmax regression
    cost 7% of its predict (20,000 rows, p25 of 60 calls in turn: 1.01M against 1.08M
    samples/s). Nested blocks share the outer one's copies.

    ``rows``, the rows the call will run, lets an Embedding + Flatten + Dense chain use a
    lookup table (``_table_logits``) when the call is large enough to repay building it.

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
    _copies.kernels, _copies.rows = {}, rows
    try:
        yield
    finally:
        _copies.kernels = _copies.rows = None


def current_copies() -> tuple[dict | None, int | None]:
    """This thread's ``kernel_copies`` state (the copies, the call's rows), for worker
    threads of the same call to share through ``using_copies``."""
    return getattr(_copies, "kernels", None), getattr(_copies, "rows", None)


@contextlib.contextmanager
def using_copies(state: tuple[dict | None, int | None]) -> Iterator[None]:
    """Inside the block, this thread uses the copies ``state`` (``current_copies()`` of the
    thread that called predict or evaluate): one copy per layer and call, whichever thread
    made it (two threads may both make the first one; both copies are equal).

    Examples
    --------
    >>> with kernel_copies(rows=10):
    ...     state = current_copies()
    >>> with using_copies(state):
    ...     current_copies()[1]
    10
    """
    _copies.kernels, _copies.rows = state
    try:
        yield
    finally:
        _copies.kernels = _copies.rows = None


#: Whether ``predict``/``evaluate`` run Embedding + Flatten + Dense through a lookup table
#: (the ``embedding_table`` fast path).
EMBEDDING_TABLE = True
#: The largest table, in values (16 MB of float32): beyond it the plain path runs.
TABLE_VALUES = 2**22
#: The most Dense units the table serves (one gather per unit).
TABLE_UNITS = 16


def _table_logits(layers, ids: torch.Tensor) -> torch.Tensor | None:
    """The Dense layer's logits of ``Embedding -> Flatten -> Dense(k)`` from a table, or None.

    With the embedding matrix ``E`` (``V`` words x ``d``) and the Dense kernel ``K`` seen as
    ``L`` blocks ``K_p`` of ``d`` rows (Flatten is row-major over (position, feature)),
    ``z = b + sum_p E[id_p] K_p = b + sum_p T[p, id_p]`` with ``T[p] = E K_p``, built once per
    call: a row then reads ``L x k`` numbers instead of ``L x d`` and multiplies nothing. ``T``
    is kept unit-major then position-major (``k x L x V``) and read by ``torch.gather`` along
    the words with the ids transposed, so each position's reads stay within its own ``V``
    values (40 KB for the course), which the cache holds: for 2,048 reviews of 20 words from
    10,000, 56 us against 112 us word-major and 140 us for the Embedding's own lookup alone
    (2 threads; 87, 192 and 270 us on one). ``gather`` refuses an id outside ``[0, V)`` itself,
    so the Embedding's check runs only then, to raise its own error. The course's imdb-embed
    model predicted 100,000 reviews at 14.6M samples/s against 8.0M the plain way and 9.4M
    for a plain torch ``no_grad`` loop (p25 of 30 calls in turn, one process, 2 cores).

    Only inside ``kernel_copies(rows)`` when the call's rows are at least ``V k`` (building
    ``T`` costs ``V L d k`` products, the plain path ``L d (k + 1)`` a row), for at most
    ``TABLE_UNITS`` units and ``TABLE_VALUES`` values in ``T``."""
    emb, flat, dense = layers[0], layers[1], layers[2]
    if not EMBEDDING_TABLE or type(emb) is not EmbeddingModule or type(flat) is not \
            FlattenModule or type(dense) is not DenseModule or ids.dim() != 2:
        return None
    copies = getattr(_copies, "kernels", None)
    if copies is None:
        return None
    table = copies.get(emb)
    if table is None:
        table = copies[emb] = _lookup_table(emb, dense, ids.shape[1], _copies.rows)
    if table is False:
        return None
    if ids.dtype != torch.long:
        ids = emb.checked_ids(ids)
    by_position = ids.t()  # a view: each position's ids read its own block of T
    try:
        sums = [torch.gather(unit, 1, by_position).sum(0, keepdim=True) for unit in table]
        z = (sums[0] if len(sums) == 1 else torch.cat(sums)).t()  # (k, n) -> (n, k) view
    except RuntimeError:
        emb.checked_ids(ids)  # an id out of range: the Embedding's own error
        raise
    return z if dense.bias is None else z.add_(dense.bias)


def _lookup_table(emb: EmbeddingModule, dense: DenseModule, steps: int, rows: int | None):
    """``T`` for ``_table_logits`` (``k x L x V``), or False where the table does not pay."""
    words, width = emb.embeddings.shape
    units = dense.kernel.shape[1]
    if rows is None or rows < words * units or units > TABLE_UNITS \
            or steps * words * units > TABLE_VALUES or dense.kernel.shape[0] != steps * width:
        return False
    blocks = dense.kernel.reshape(steps, width, units)
    # (L, V, k) -> (k, L, V): T[j, p, v] = E[v] . K[p*d:(p+1)*d, j]
    return torch.matmul(emb.embeddings, blocks).permute(2, 0, 1).contiguous()


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


#: Whether predict/evaluate compute a softmax over 2 to 15 classes with elementwise
#: operations (``_softmax_few_``; the ``few_class_softmax`` fast path).
FEW_CLASS_SOFTMAX = True


def _few_class_softmax(m: DenseModule, z: torch.Tensor) -> bool:
    return FEW_CLASS_SOFTMAX and 1 < z.shape[-1] < 16 and m.activation.name == "softmax" \
        and m.activation.fn is ACTIVATIONS["softmax"] and z.device.type == "cpu"


def _softmax_few_(z: torch.Tensor) -> torch.Tensor:
    """Keras's softmax over the last axis of ``z``, in place: ``exp(z - max) / sum``.

    torch's CPU softmax kernel is slow for a last axis of 2 to 15 values: on (2,048, 10) it
    took 183 us (2 threads; 355 on one) where these four elementwise passes took 63 (67),
    which made the softmax a fifth of the course's softmax regression's predict; from 32
    values on torch's kernel is the faster (31 against 61 us).

    Examples
    --------
    >>> z = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, -1e30]])
    >>> torch.allclose(_softmax_few_(z.clone()), torch.softmax(z, -1))
    True
    """
    z.sub_(z.amax(-1, keepdim=True)).exp_()
    return z.div_(z.sum(-1, keepdim=True))


def _in_place_activation(m: nn.Module):
    if type(m) not in (DenseModule, Conv2DModule):  # exact types: subclasses may differ
        return None
    name = m.activation.name
    if m.activation.fn is ACTIVATIONS.get(name):  # not a user's function of the same name
        return _IN_PLACE.get(name)
    return None


def _is_max_pool(m: nn.Module) -> bool:
    return type(m) is PoolModule and m.kind == "max"
