"""GRU recurrence (Keras ``reset_after=True``) as one autograd node, with hand-written BPTT.

With gates in Keras's order z, r, h, input bias ``b_i`` and recurrent bias ``b_r``, ``h_{-1} = 0``::

    a_t = x_t W + b_i                 rh_t = h_{t-1} U + b_r
    z_t = sigmoid(a_z + rh_z)         r_t = sigmoid(a_r + rh_r)
    n_t = tanh(a_h + r_t * rh_h)      h_t = z_t * h_{t-1} + (1 - z_t) * n_t

Torch's CPU ``torch.gru`` records every step's cell on the autograd tape, so its backward pass
runs many small nodes per time step. Here the forward pass is one node: the input projection of
all steps is one matrix product whose buffer is then overwritten in place by the gates z, r, n.
Every gradient inside a step is the incoming ``dL/dh_t`` times a coefficient that depends on
the forward values only, so the backward pass computes those coefficients for all steps at once
into one buffer and keeps three operations per step in the time loop (one in-place multiply
turning that step's coefficients into pre-activation gradients, one ``addmm`` to go back to
``dL/dh_{t-1}``, one add of the sequence's gradient with ``return_sequences``). The gradients
of ``W``, ``U``, the biases and ``x`` are then one matrix product or sum each over all steps.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

__all__ = ["gru", "gru_inference", "STEPS_PER_PROJECTION"]


class _GRU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, recurrent_kernel, bias, return_sequences: bool):
        batch, steps, n_in = x.shape
        u = recurrent_kernel.shape[0]
        xs = x.transpose(0, 1).reshape(steps * batch, n_in)         # time-major (T*B, in)
        b_in = b_rec = None
        if bias is not None:
            b_in, b_rec = bias[0], bias[1]
            gates = torch.addmm(b_in, xs, kernel)
        else:
            gates = xs @ kernel
        gates = gates.view(steps, batch, 3 * u)      # x_t W + b_i, then z, r, n in place
        rec = x.new_empty(steps, batch, 3 * u)       # h_{t-1} U + b_r
        hs = x.new_empty(steps, batch, u)
        h = x.new_zeros(batch, u)
        for gt, rt, ht in zip(gates.unbind(0), rec.unbind(0), hs.unbind(0)):
            if b_rec is None:
                torch.mm(h, recurrent_kernel, out=rt)
            else:
                torch.addmm(b_rec, h, recurrent_kernel, out=rt)
            gt[:, :2 * u].add_(rt[:, :2 * u]).sigmoid_()
            z, r, n = gt[:, :u], gt[:, u:2 * u], gt[:, 2 * u:]
            n.addcmul_(r, rt[:, 2 * u:]).tanh_()
            torch.lerp(n, h, z, out=ht)                # z * h + (1 - z) * n
            h = ht
        ctx.return_sequences = return_sequences
        ctx.has_bias = bias is not None
        ctx.save_for_backward(xs, kernel, recurrent_kernel, gates, rec, hs)
        if return_sequences:
            return hs.transpose(0, 1).contiguous()
        return h.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        xs, kernel, recurrent_kernel, gates, rec, hs = ctx.saved_tensors
        steps, batch, u = hs.shape
        n_in = xs.shape[1]
        need_x, need_w, need_u, need_b = ctx.needs_input_grad[:4]
        need_b = need_b and ctx.has_bias
        if steps == 0:
            dx = xs.new_zeros(batch, 0, n_in) if need_x else None
            dw = torch.zeros_like(kernel) if need_w else None
            du = torch.zeros_like(recurrent_kernel) if need_u else None
            db = kernel.new_zeros(2, 3 * u) if need_b else None
            return dx, dw, du, db, None

        # dL/d(pre-activation) = dL/dh_t * coef_t, blocks (n, z, r, rec_h, direct), where
        # rec_h is the gradient of rh_h and direct the path h_{t-1} -> h_t through z;
        # (h_{t-1} - n_t) z_t = h_t - n_t.
        z, r, n = gates[..., :u], gates[..., u:2 * u], gates[..., 2 * u:]
        grads = hs.new_empty(steps, batch, 5, u)     # coefficients, then scaled in place
        one_minus_z = 1 - z
        c_n = torch.addcmul(one_minus_z, one_minus_z, n * n, value=-1, out=grads[:, :, 0])
        torch.mul(hs - n, one_minus_z, out=grads[:, :, 1])
        torch.mul(c_n * rec[..., 2 * u:], torch.addcmul(r, r, r, value=-1), out=grads[:, :, 2])
        torch.mul(c_n, r, out=grads[:, :, 3])
        grads[:, :, 4] = z

        u_t = recurrent_kernel.t()
        gs = grads.view(steps, batch, 5 * u).unbind(0)
        dhs = grad_out.transpose(0, 1).unbind(0) if ctx.return_sequences else None
        dh = dhs[-1] if dhs is not None else grad_out                 # dL/dh_t
        for t in range(steps - 1, -1, -1):
            gs[t].view(batch, 5, u).mul_(dh.unsqueeze(1))
            if t == 0:
                break
            dh = torch.addmm(gs[t][:, 4 * u:], gs[t][:, u:4 * u], u_t)
            if dhs is not None:
                dh.add_(dhs[t - 1])

        flat = grads.view(steps * batch, 5 * u)
        d_in = flat[:, :3 * u]                                        # input side, n z r
        d_rec = flat[:, u:4 * u]                                      # recurrent side, z r h
        dx = dw = du = db = None
        if need_x:
            kernel_nzr = torch.cat([kernel[:, 2 * u:], kernel[:, :2 * u]], 1)
            dx = (d_in @ kernel_nzr.t()).view(steps, batch, n_in).transpose(0, 1)
        if need_w:
            dw_nzr = xs.t() @ d_in
            dw = torch.cat([dw_nzr[:, u:], dw_nzr[:, :u]], 1)
        if need_u:
            du = hs[:-1].reshape(-1, u).t() @ d_rec[batch:]
        if need_b:
            db_nzr = d_in.sum(0)
            db = torch.stack([torch.cat([db_nzr[u:], db_nzr[:u]]), d_rec.sum(0)])
        return dx, dw, du, db, None


def gru(x: torch.Tensor, kernel: torch.Tensor, recurrent_kernel: torch.Tensor,
        bias: torch.Tensor | None = None, *, return_sequences: bool = False) -> torch.Tensor:
    """Run a Keras GRU (``reset_after=True``, tanh, sigmoid) over batch-first ``x``.

    Parameters
    ----------
    x : torch.Tensor
        Input ``(batch, timesteps, features)``.
    kernel, recurrent_kernel : torch.Tensor
        ``(features, 3*units)`` and ``(units, 3*units)``, gates in Keras's order z, r, h.
    bias : torch.Tensor or None
        ``(2, 3*units)``: input bias, then recurrent bias.
    return_sequences : bool
        Return every state instead of the last one.

    Returns
    -------
    torch.Tensor
        The last state ``(batch, units)`` or every state ``(batch, timesteps, units)``.
    """
    return _GRU.apply(x, kernel, recurrent_kernel, bias, return_sequences)


#: time steps whose input projection is made at once by ``gru_inference``
STEPS_PER_PROJECTION = 4


def _doubled_candidate(t: torch.Tensor, units: int) -> torch.Tensor:
    """``t`` with its candidate (h) gate columns, the last ``units`` of the last axis, doubled."""
    return torch.cat([t[..., :2 * units], 2.0 * t[..., 2 * units:]], -1).contiguous()


def gru_inference(x: torch.Tensor, kernel: torch.Tensor, recurrent_kernel: torch.Tensor,
                  bias: torch.Tensor | None = None, *,
                  return_sequences: bool = False) -> torch.Tensor:
    """Run a Keras GRU (``reset_after=True``, tanh, sigmoid) over batch-first ``x`` without
    recording gradients, holding a few steps' gates at a time.

    ``torch.gru`` on CPU makes the input projection of every step at once, ``(steps, batch,
    3 units)`` floats (196 MB for a batch of 1,024 reviews of 500 words and 32 units), so
    ``predict``'s memory grew with the length. Here the projection is made
    ``STEPS_PER_PROJECTION`` steps at a time into one small reused buffer, and each step runs
    in place on its slice, with the candidate's columns doubled so that ``tanh(z) = 2
    sigmoid(2 z) - 1`` replaces torch's slower CPU ``tanh`` (see ``_lstm_pass``)::

        g = x_t W + b_i (candidate doubled)   q = h U + b_r (candidate doubled)
        z, r = sigmoid(g_zr + q_zr)           s = sigmoid(g_h + r q_h),  n = 2 s - 1
        h = n + z (h - n)

    Parameters
    ----------
    x : torch.Tensor
        Input ``(batch, timesteps, features)``.
    kernel, recurrent_kernel : torch.Tensor
        ``(features, 3*units)`` and ``(units, 3*units)``, gates in Keras's order z, r, h.
    bias : torch.Tensor or None
        ``(2, 3*units)``: input bias, then recurrent bias.
    return_sequences : bool
        Return every state instead of the last one.

    Returns
    -------
    torch.Tensor
        The last state ``(batch, units)`` or every state ``(batch, timesteps, units)``.

    Examples
    --------
    >>> x, w, r = torch.zeros(2, 3, 4), torch.zeros(4, 6), torch.zeros(2, 6)
    >>> with torch.inference_mode():
    ...     gru_inference(x, w, r, return_sequences=True).shape
    torch.Size([2, 3, 2])
    """
    batch, steps, _ = x.shape
    u = recurrent_kernel.shape[0]
    w = _doubled_candidate(kernel, u)
    rec = _doubled_candidate(recurrent_kernel, u)
    b_in = b_rec = None
    if bias is not None:
        b_in, b_rec = _doubled_candidate(bias[0], u), _doubled_candidate(bias[1], u)
    h = x.new_zeros(batch, u)
    q = x.new_empty(batch, 3 * u)
    seq = x.new_empty(batch, steps, u) if return_sequences else None
    chunk = STEPS_PER_PROJECTION
    gates = x.new_empty(min(chunk, steps), batch, 3 * u)
    for t0 in range(0, steps, chunk):
        n = min(chunk, steps - t0)
        g = gates[:n]
        torch.matmul(x[:, t0:t0 + n].transpose(0, 1), w, out=g)  # (n, batch, 3u)
        if b_in is not None:
            g.add_(b_in)
        for k, gt in enumerate(g.unbind(0)):
            if b_rec is None:
                torch.mm(h, rec, out=q)
            else:
                torch.addmm(b_rec, h, rec, out=q)
            zr, s = gt[:, :2 * u], gt[:, 2 * u:]
            zr.add_(q[:, :2 * u]).sigmoid_()
            s.addcmul_(zr[:, u:], q[:, 2 * u:]).sigmoid_().mul_(2.0).sub_(1.0)  # n
            out = h if seq is None else seq[:, t0 + k]
            torch.lerp(s, h, zr[:, :u], out=out)                     # n + z (h - n)
            h = out
    if seq is not None:
        return seq
    return h
