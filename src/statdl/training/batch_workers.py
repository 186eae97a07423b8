"""``predict`` and ``evaluate`` on a busy machine: batches on threads that never wait for
each other.

When another process holds a core, statdl's thread governor (``statdl.threads``) gives torch
only the free cores, because torch's threads meet at a barrier after every operation and one
of them descheduled stalls the rest. Inference batches need no barrier between them: each
is a forward pass of its own rows. So where the governor gave fewer threads than the cores
statdl may use and a batch is more than a few microseconds of work, ``forward_batches`` runs
the batches on worker threads, two per core, each with one torch thread. A worker that the
scheduler sets aside delays only its own batch, and together the workers take the share of
the cores the scheduler gives to runnable threads, as Keras-JAX's task pool does.

Measured on 2 cores with one busy process (``bench/infer_speed.py --models
logit,mlp,cnn,embed,mlp-f64 --background 1 --rounds 2 --scale 0.5``, samples/s, best of 2
rounds, runs in turn within the hour; Keras-JAX at batch 1,024 in the same runs):

=====================  ==============  =================  ==================  ===========
predict                one thread      1 worker per core  2 workers per core  Keras-JAX
=====================  ==============  =================  ==================  ===========
MNIST MLP              89,214          109,689            121,664             107-113,000
course CNN             13,499          18,763 [*]_        19,711              19,800-20,600
softmax regression     1.06M           1.36M              1.32M               1.09-1.31M
MLP, float64 input     85,852          117,172            122,685             103-112,000
=====================  ==============  =================  ==================  ===========

.. [*] the CNN's 2,000 images then made 3 batches of 775; an automatic batch size now
   shrinks so that each worker gets about two batches (here 250 rows: speed per image
   does not depend on it between 400 and 2,000 rows).

On a quiet machine the workers were slower than torch's own two threads (one process, in
turn: softmax regression 1.65M against 2.01M, CNN 22,300 against 23,800), so they run only
when the governor found a core taken. The price is memory: each worker holds its batch and
keeps its own freed blocks (the CNN's predict +8 MB -> +81 MB above what it held before the
call, Keras-JAX +30 MB; still independent of the number of rows).

The results come back in batch order, at most one batch per worker ahead of the caller, so
memory stays bounded and the caller (predict's output copy, evaluate's loss and metrics) sees
the serial sequence: the same numbers (up to float32 rounding, one torch thread doing what
several did), and the same first error (a NaN in the input is reported for its first row
however the batches were spread).

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

__all__ = ["forward_batches", "worker_plan", "BATCH_WORKERS", "MAX_CORES"]

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
#: Workers per usable core. With one per core, 2 workers and 1 busy process on 2 cores, the
#: scheduler sometimes put both workers on one core (MLP predict 74,000-116,000 samples/s,
#: median 81,000, 8 calls); with two per core every core runs at least one of them (median
#: 98,000; the CNN 14,500 -> 16,300, the softmax regression 1.01M -> 1.10M).
WORKERS_PER_CORE = 2
#: Tests set a worker count here to run the workers whatever the load (None: the load decides).
FORCED_WORKERS: int | None = None

#: Modules whose inference reads each row on its own and keeps no state between batches.
_ROW_BY_ROW = (DenseModule, DropoutModule, FlattenModule, Conv2DModule, PoolModule,
               EmbeddingModule)

Batches = Iterator[tuple[int, int, torch.Tensor]]


def worker_plan(module: nn.Module, rows: object, batch_size: int, device: torch.device,
                governor: object, automatic: bool = False) -> tuple[int, int]:
    """``(workers, batch_size)`` for ``rows`` through ``module``: ``(0, batch_size)`` to run
    in this thread.

    Workers run only on the CPU, for a plain ``SequentialModule`` of layers that treat rows
    independently (Dense, Dropout, Flatten, Conv2D, pooling, Embedding: no recurrent state,
    no losses collected by the forward pass), for an ``InputRows`` of at least two batches of
    at least ``MIN_BATCH_MULTIPLY_ADDS`` each, and when ``governor``
    (``statdl.threads.current()``) follows the load, may use 2 to ``MAX_CORES`` cores and
    found fewer free: then ``WORKERS_PER_CORE`` per core. An ``automatic`` batch size (not
    the user's) shrinks so that every worker gets about two batches, but not below that work.

    Examples
    --------
    >>> import torch, statdl as sd
    >>> from statdl.threads import ThreadGovernor
    >>> from statdl.training.data import InputRows
    >>> m = sd.Sequential([sd.layers.Dense(100)], input_shape=(300,))
    >>> rows = InputRows(torch.ones(1000, 300), (300,), integer_input=False)
    >>> governor = ThreadGovernor(torch, cores=2, fixed=None)
    >>> cpu = torch.device("cpu")
    >>> with sd.fast_paths.on("batch_workers"):
    ...     governor.threads = 1                 # one core taken by another process
    ...     print(worker_plan(m.module, rows, 500, cpu, governor),
    ...           worker_plan(m.module, rows, 500, cpu, governor, automatic=True))
    ...     governor.threads = 2                 # both cores free: torch's own threads
    ...     print(worker_plan(m.module, rows, 500, cpu, governor))
    (2, 500) (4, 134)
    (0, 500)
    """
    serial = (0, batch_size)
    if not BATCH_WORKERS or device.type != "cpu" or type(rows) is not InputRows:
        return serial
    if type(module) is not SequentialModule or module.activity \
            or not all(type(m) in _ROW_BY_ROW for m in module.layers):
        return serial
    if FORCED_WORKERS is not None:
        workers = FORCED_WORKERS
    elif getattr(governor, "fixed", True) is not None:  # outside governed(), or a fixed count
        return serial
    elif 2 <= governor.cores <= MAX_CORES and governor.threads < governor.cores:
        workers = WORKERS_PER_CORE * governor.cores
    else:
        return serial
    least = 1 if FORCED_WORKERS is not None else \
        -(-MIN_BATCH_MULTIPLY_ADDS // max(1, _multiply_adds_per_row(module)))
    if automatic:
        batch_size = min(batch_size, max(least, -(-rows.n // (2 * workers))))
    batches = -(-rows.n // batch_size)
    if batches < 2 or min(batch_size, rows.n) < least:
        return serial
    return min(workers, batches), batch_size


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
