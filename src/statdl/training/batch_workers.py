"""``predict`` and ``evaluate`` on a busy machine: batches on threads that never wait for
each other.

When another process holds a core, statdl's thread governor (``statdl.threads``) gives torch
only the free cores, because torch's threads meet at a barrier after every operation and one
of them descheduled stalls the rest. Inference batches need no barrier between them: each
is a forward pass of its own rows. So where the governor gave fewer threads than the cores
statdl may use and a batch is more than a few microseconds of work, ``forward_batches`` runs
the batches on one worker thread per core, each worker with one torch thread. A worker that
the scheduler sets aside delays only its own batch, and together the workers take the share
of the cores the scheduler gives to runnable threads, as Keras-JAX's task pool does. Measured on 2 cores with one busy process
(``bench/infer_speed.py --models logit,mlp,cnn,embed,mlp-f64 --background 1 --rounds 2
--scale 0.5``, samples/s, before and after in turn within the hour, best of 2 rounds): the
MNIST MLP's predict 89,214 -> 109,689 (Keras-JAX 107,167 and 109,993 in the two runs), the
course CNN 13,499 -> 18,763 (Keras-JAX 20,226 and 19,804), the softmax regression 1.06M ->
1.36M, float64 input to the MLP 85,852 -> 117,172; evaluate likewise (CNN 13,457 -> 17,514).
On a quiet machine the workers were slower than torch's own two threads (one process, in
turn: softmax regression 1.65M against 2.01M, CNN 22,300 against 23,800), so they run only
when the governor found a core taken. The price is memory: each worker holds its batch and
keeps its own freed blocks (the CNN's predict +8 MB -> +67 MB above what it held before the
call, still independent of the number of rows).

The results come back in batch order, at most one batch per worker ahead of the caller, so
memory stays bounded and the caller (predict's output copy, evaluate's loss and metrics) sees
the serial sequence: the same numbers (up to float32 rounding, one torch thread doing what
several did), and the same first error (a NaN in the input
is reported for its first row however the batches were spread).

Examples
--------
>>> import numpy as np, statdl as sd
>>> from statdl.training.data import InputRows
>>> m = sd.Sequential([sd.layers.Dense(2)], input_shape=(3,))
>>> rows = InputRows(np.ones((5, 3)), (3,), integer_input=False)
>>> [(a, b, tuple(y.shape)) for a, b, y in forward_batches(rows, 2, m.module, workers=2)]
[(0, 2, (2, 2)), (2, 4, (2, 2)), (4, 5, (1, 2))]
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import nn

from ..layers.conv import Conv2DModule, PoolModule
from ..layers.core import DenseModule, DropoutModule, FlattenModule
from ..layers.embedding import EmbeddingModule
from ..layers.modules import SequentialModule
from . import inference
from .data import InputRows

__all__ = ["forward_batches", "workers_for", "BATCH_WORKERS", "MAX_CORES"]

#: Whether predict/evaluate may run batches on worker threads (the ``batch_workers`` fast path).
BATCH_WORKERS = True
#: The most usable cores for which workers replace torch's threads: measured on 2 cores only,
#: and one worker per core multiplies the memory held by the batches in flight.
MAX_CORES = 4
#: The fewest multiply-adds a batch must need (rows x the Dense kernels' and convolution
#: filters' values, a lower bound for a convolution) to go to a worker: handing a batch to a
#: thread costs tens of microseconds, about the work of 4M multiply-adds on one core. The
#: course's embedding model (160 a row, ~0.1 ms a batch of 2,048 through its lookup table)
#: predicted 19M samples/s in one thread against 8-11M on two workers, with one busy process;
#: the softmax regression (7,850 a row) gained.
MIN_BATCH_MULTIPLY_ADDS = 4_000_000
#: Tests set a worker count here to run the workers whatever the load (None: the load decides).
FORCED_WORKERS: int | None = None

#: Modules whose inference reads each row on its own and keeps no state between batches.
_ROW_BY_ROW = (DenseModule, DropoutModule, FlattenModule, Conv2DModule, PoolModule,
               EmbeddingModule)

Batches = Iterator[tuple[int, int, torch.Tensor]]


def workers_for(module: nn.Module, rows: object, batch_size: int, device: torch.device,
                governor: object) -> int:
    """Worker threads for ``rows`` through ``module`` in batches of ``batch_size`` (0: this
    thread).

    Workers run only on the CPU, for a plain ``SequentialModule`` of layers that treat rows
    independently (Dense, Dropout, Flatten, Conv2D, pooling, Embedding: no recurrent state,
    no losses collected by the forward pass), for an ``InputRows`` of at least two batches of
    at least ``MIN_BATCH_MULTIPLY_ADDS`` each, and when ``governor``
    (``statdl.threads.current()``) follows the load, may use 2 to ``MAX_CORES`` cores and
    found fewer free.

    Examples
    --------
    >>> import torch, statdl as sd
    >>> from statdl.threads import ThreadGovernor
    >>> from statdl.training.data import InputRows
    >>> m = sd.Sequential([sd.layers.Dense(100)], input_shape=(300,))
    >>> rows = InputRows(torch.ones(1000, 300), (300,), integer_input=False)
    >>> governor = ThreadGovernor(torch, cores=2, fixed=None)
    >>> governor.threads = 1                     # one core taken by another process
    >>> workers_for(m.module, rows, 200, torch.device("cpu"), governor)
    2
    >>> governor.threads = 2                     # both cores free: torch's own threads
    >>> workers_for(m.module, rows, 200, torch.device("cpu"), governor)
    0
    """
    batches = -(-rows.n // batch_size) if isinstance(rows, InputRows) else 0
    if not BATCH_WORKERS or batches < 2 or device.type != "cpu" or type(rows) is not InputRows:
        return 0
    if type(module) is not SequentialModule or module.activity \
            or not all(type(m) in _ROW_BY_ROW for m in module.layers):
        return 0
    if FORCED_WORKERS is not None:
        return min(FORCED_WORKERS, batches)
    if min(batch_size, rows.n) * _multiply_adds_per_row(module) < MIN_BATCH_MULTIPLY_ADDS:
        return 0
    if getattr(governor, "fixed", True) is not None:  # outside governed(), or a fixed count
        return 0
    cores, threads = governor.cores, governor.threads
    return min(cores, batches) if 2 <= cores <= MAX_CORES and threads < cores else 0


def _multiply_adds_per_row(module: SequentialModule) -> int:
    """Dense kernels' and convolution filters' values: a row's multiply-adds through them
    (a convolution's are this times its output positions)."""
    return sum(m.kernel.numel() if type(m) is DenseModule else m.weight.numel()
               for m in module.layers if type(m) in (DenseModule, Conv2DModule))


def forward_batches(rows: InputRows, batch_size: int,
                    forward: Callable[[torch.Tensor], torch.Tensor] | nn.Module,
                    workers: int = 0) -> Batches:
    """Yield ``(start, stop, forward(batch))`` for the batches of ``rows`` in order, each
    batch converted, run and checked for NaN/infinity (``InputRows.batches``) on ``workers``
    threads (0 or 1: in this thread). An output is valid until the next is asked for.

    On workers torch runs one thread each for the duration (restored after, also on error or
    when the caller stops early); each worker runs in inference mode with the caller's kernel
    copies (``inference.using_copies``). Batch ``i`` converts into buffer ``i % (workers +
    1)``, free again once the caller has moved past the batch that used it before (``workers``
    batches in flight and the one the caller holds).
    """
    if workers < 2:
        for start, stop, xb in rows.batches(batch_size):
            yield start, stop, forward(xb)
        return
    slots = workers + 1
    buffers = [rows.conversion_buffer(batch_size) for _ in range(slots)]
    copies = inference.current_copies()

    def run(index: int, start: int) -> tuple[int, int, torch.Tensor]:
        stop = min(start + batch_size, rows.n)
        with torch.inference_mode(), inference.using_copies(copies):
            xb = rows.tensor(start, stop, buffers[index % slots], check=False)
            out = forward(xb)
            rows.check_batch(xb, start)
        return start, stop, out

    saved = torch.get_num_threads()
    torch.set_num_threads(1)  # before the workers start: each takes its count on first use
    pool = ThreadPoolExecutor(workers, thread_name_prefix="statdl-batch")
    queue = enumerate(range(0, rows.n, batch_size))
    pending = deque(pool.submit(run, i, start) for i, start in itertools.islice(queue, workers))
    try:
        while pending:
            result = pending.popleft().result()
            following = next(queue, None)
            if following is not None:
                pending.append(pool.submit(run, *following))
            yield result
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
        torch.set_num_threads(saved)
