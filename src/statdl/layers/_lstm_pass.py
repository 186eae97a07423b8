"""LSTM forward pass for inference (no autograd), in bounded memory, on CPU.

Keras gates i, f, c, o with sigmoid and tanh::

    z_t = x_t W + h_{t-1} U + b
    c_t = sigmoid(z_f) * c_{t-1} + sigmoid(z_i) * tanh(z_c)
    h_t = sigmoid(z_o) * tanh(c_t)

torch's ``torch.lstm`` on CPU (oneDNN) computes the input projection of every step at once,
``(steps, batch, 4 units)`` floats: 262 MB for a batch of 1,024 IMDB reviews of 500 words and
32 units, which was most of ``predict``'s +195 MB peak growth (``bench/infer_speed.py``). Here
the projection is made a few steps at a time into one small reused buffer (4 steps: 2 MB at that
size, which stays in cache), and each step runs in place on its slice:

* the gate columns are reordered to i, f, o, c and the candidate's columns doubled, so that one
  ``sigmoid_`` over the whole ``(batch, 4 units)`` slice gives the three gates and
  ``sigmoid(2 z_c)``, with ``tanh(z) = 2 sigmoid(2 z) - 1``. torch's CPU ``tanh`` took 3.5 times
  as long as ``sigmoid`` per value here (AMD EPYC, AVX2: 454 against 126 us on 131,072 values,
  one thread), and they are most of a step's time; ``tanh(c_t)`` is computed the same way;
* the state update is in-place on preallocated buffers, the cell state carried as ``-2 c``
  (``_recurrence``): seven torch calls a step instead of ten; the chunk's inputs are copied
  time-major and multiplied with the bias folded into ``addmm``. imdb-lstm's predict (1,000
  reviews of 500 words, median of 5 calls in turn, 2026-12-01): 4,751 -> 5,404 samples/s on
  one thread, imdb-bilstm 12,166 -> 12,840.

Measured on 2 cores, batch 1,024, 500 steps, 8 inputs, 32 units (``torch.lstm`` against this,
samples/s): 2,988 against 4,150 (2 threads) and 2,571 against 3,398 (1 thread); with 1 and 8
steps per projection 3,454 and 3,499 (2 threads). The result is the same function:
``2 sigmoid(2 z) - 1`` differs from ``tanh(z)`` by rounding only (2.8e-7 at most in float32
over 500 steps, against torch.lstm). ``bench/infer_speed.py --models lstm`` (quiet, best of 2
rounds): ``predict`` 3,853 -> 4,721 samples/s (Keras-JAX at batch 1,024: 5,951 and 5,819) and
its peak growth +195 -> +19 MB.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["lstm_inference", "STEPS_PER_PROJECTION"]

#: time steps whose input projection is made at once (see the module docstring)
STEPS_PER_PROJECTION = 4


def _fast_layout(t: torch.Tensor, units: int) -> torch.Tensor:
    """Keras gate columns i, f, c, o -> i, f, o, 2c (last axis), contiguous."""
    i, f, c, o = (t[..., k * units:(k + 1) * units] for k in range(4))
    return torch.cat([i, f, o, 2.0 * c], -1).contiguous()


def lstm_inference(x: torch.Tensor, kernel: torch.Tensor, recurrent_kernel: torch.Tensor,
                   bias: torch.Tensor | None = None, *,
                   return_sequences: bool = False) -> torch.Tensor:
    """Run a Keras LSTM (tanh, sigmoid) over batch-first ``x`` without recording gradients.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(batch, timesteps, features)``.
    kernel, recurrent_kernel : torch.Tensor
        ``(features, 4*units)`` and ``(units, 4*units)``, gates in Keras's order i, f, c, o.
    bias : torch.Tensor or None
        ``(4*units,)``.
    return_sequences : bool
        Return every state instead of the last one.

    Returns
    -------
    torch.Tensor
        The last state ``(batch, units)`` or every state ``(batch, timesteps, units)``.

    Examples
    --------
    >>> x, w, r = torch.zeros(2, 3, 4), torch.zeros(4, 8), torch.zeros(2, 8)
    >>> with torch.inference_mode():
    ...     lstm_inference(x, w, r, return_sequences=True).shape
    torch.Size([2, 3, 2])
    """
    batch, steps, n_in = x.shape
    u = recurrent_kernel.shape[0]
    w = _fast_layout(kernel, u)
    b = _fast_layout(bias, u) if bias is not None else x.new_zeros(4 * u)
    xt = x.transpose(0, 1)                                             # (T, B, in), a view
    rows = _rows(batch, u)  # batch, or a few rows more (zeros) for torch's threads
    tm = xt.is_contiguous() and rows == batch  # time-major already: no copy
    xbuf = None if tm else x.new_zeros(min(STEPS_PER_PROJECTION, steps), rows, n_in)

    def project(t0: int, n: int, out: torch.Tensor) -> None:
        # the copy of a chunk of the embedded inputs and addmm with the bias folded in: 19.6 +
        # 38.4 us a step against 46.4 + 23 for matmul of the strided view then add_ (2,048
        # rows, 8 features, one thread, 2026-12-01)
        if tm:
            xc = xt[t0:t0 + n]
        else:
            xc = xbuf[:n]
            xc[:, :batch].copy_(xt[t0:t0 + n])
        torch.addmm(b, xc.reshape(n * rows, n_in), w, out=out.view(n * rows, 4 * u))

    out = _recurrence(project, x, rows, steps, _fast_layout(recurrent_kernel, u),
                      return_sequences)
    return out if rows == batch else out[:batch]


#: values an elementwise torch operation must exceed to run on several threads (ATen's
#: ``GRAIN_SIZE``, 32,768)
GRAIN = 32_768


def _rows(batch: int, units: int) -> int:
    """Rows the step loop runs: ``batch``, or, with several torch threads, up to 1/8 more rows
    (zero inputs, dropped at the end) where that lifts each ``(rows, units)`` operation above
    torch's ``GRAIN``, at or below which it runs on one thread. Five of a step's seven calls
    are of that size: ``lstm_inference`` of 500 steps, 32 units, 2 threads, best of 4 in turn
    (2026-12-01): 8,658 samples/s on 1,000 rows, 8,675 on 1,024, 10,026 on 1,025 and 9,955 on
    1,048 (imdb-lstm's 1,000-review predict runs one batch of 1,000)."""
    low = GRAIN // units + 1
    if torch.get_num_threads() < 2 or batch >= low or 8 * (low - batch) > batch:
        return batch
    return low


def _recurrence(project: Callable[[int, int, torch.Tensor], None], like: torch.Tensor,
                batch: int, steps: int, rec: torch.Tensor,
                return_sequences: bool) -> torch.Tensor:
    """The step loop: ``project(t0, n, out)`` writes the gate inputs ``x_t W + b`` (fast
    layout) of steps t0 .. t0+n-1 into ``out`` ``(n, batch, 4 units)``.

    The cell state is carried as ``d = -2 c``, so that ``tanh(c) = 1 - 2 sigmoid(d)`` and
    ``h = o tanh(c) = o - 2 o sigmoid(d)`` is one ``addcmul``: a step is seven torch calls
    (``addmm_``, ``sigmoid_`` of the gates, three for ``d``, ``sigmoid``, ``addcmul``) where
    it was ten, and no Python float becomes a tensor (``torch.mul(c, 2.0, out=...)`` made
    an ``aten::_to_copy`` at every step). Measured (2026-12-01, one thread, 1,048 rows, 500
    steps, 32 units, torch.profiler): ``sigmoid_`` 106 us a call, ``addmm_`` 157, each
    small call on ``(batch, units)`` 10-19.
    """
    u = rec.shape[0]
    if steps == 0:
        return like.new_zeros(batch, 0, u) if return_sequences else like.new_zeros(batch, u)
    chunk = STEPS_PER_PROJECTION
    h = like.new_empty(batch, u)
    d = like.new_empty(batch, u)                                       # -2 c
    tmp = like.new_empty(batch, u)
    seq = like.new_empty(batch, steps, u) if return_sequences else None
    gates = like.new_empty(min(chunk, steps), batch, 4 * u)
    for t0 in range(0, steps, chunk):
        n = min(chunk, steps - t0)
        g = gates[:n]
        project(t0, n, g)
        for k, gt in enumerate(g.unbind(0)):
            t = t0 + k
            if t > 0:
                gt.addmm_(h, rec)
            gt.sigmoid_()
            i, f, o, s = gt[:, :u], gt[:, u:2 * u], gt[:, 2 * u:3 * u], gt[:, 3 * u:]
            # c = f c + i (2 s - 1), so d = -2 c = f d - 4 i s + 2 i
            if t > 0:
                d.mul_(f)
            else:
                d.zero_()
            d.addcmul_(i, s, value=-4.0).add_(i, alpha=2.0)
            torch.sigmoid(d, out=tmp)                                  # tanh(c) = 1 - 2 tmp
            out = h if seq is None else seq[:, t]
            torch.addcmul(o, o, tmp, value=-2.0, out=out)
            h = out
    if seq is not None:
        return seq
    return h
