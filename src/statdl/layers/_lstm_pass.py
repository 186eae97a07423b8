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
* the state update is in-place ``mul_``/``addcmul_``/``sub_`` on preallocated buffers.

Measured on 2 cores, batch 1,024, 500 steps, 8 inputs, 32 units (``torch.lstm`` against this,
samples/s): 2,988 against 4,150 (2 threads) and 2,571 against 3,398 (1 thread); with 1 and 8
steps per projection 3,454 and 3,499 (2 threads). The result is the same function:
``2 sigmoid(2 z) - 1`` differs from ``tanh(z)`` by rounding only (2.8e-7 at most in float32
over 500 steps, against torch.lstm). ``bench/infer_speed.py --models lstm`` (quiet, best of 2
rounds): ``predict`` 3,853 -> 4,721 samples/s (Keras-JAX at batch 1,024: 5,951 and 5,819) and
its peak growth +195 -> +19 MB.
"""

from __future__ import annotations

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
    batch, steps, _ = x.shape
    u = recurrent_kernel.shape[0]
    w = _fast_layout(kernel, u)
    rec = _fast_layout(recurrent_kernel, u)
    b = None if bias is None else _fast_layout(bias, u)
    h = x.new_zeros(batch, u)
    c = x.new_zeros(batch, u)
    tmp = x.new_empty(batch, u)
    seq = x.new_empty(batch, steps, u) if return_sequences else None
    chunk = STEPS_PER_PROJECTION
    gates = x.new_empty(min(chunk, steps), batch, 4 * u)
    for t0 in range(0, steps, chunk):
        n = min(chunk, steps - t0)
        g = gates[:n]
        torch.matmul(x[:, t0:t0 + n].transpose(0, 1), w, out=g)  # (n, batch, 4u)
        if b is not None:
            g.add_(b)
        for k, gt in enumerate(g.unbind(0)):
            t = t0 + k
            if t > 0:
                gt.addmm_(h, rec)
            gt.sigmoid_()
            i, f, o, s = gt[:, :u], gt[:, u:2 * u], gt[:, 2 * u:3 * u], gt[:, 3 * u:]
            if t > 0:  # c = f c + i (2 s - 1)
                c.mul_(f).addcmul_(i, s, value=2.0).sub_(i)
            else:
                torch.mul(i, s, out=c).mul_(2.0).sub_(i)
            torch.mul(c, 2.0, out=tmp).sigmoid_()                  # tanh(c) = 2 tmp - 1
            out = h if seq is None else seq[:, t]
            torch.mul(o, tmp, out=out).mul_(2.0).sub_(o)
            if seq is not None:
                h = out
    if seq is not None:
        return seq
    return h
