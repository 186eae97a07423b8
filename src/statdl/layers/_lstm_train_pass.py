"""LSTM recurrence (Keras gates i, f, c, o) as one autograd node, with hand-written BPTT.

With input bias ``b`` and ``h_{-1} = c_{-1} = 0``::

    z_t = x_t W + h_{t-1} U + b       i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o)
    g_t = tanh(z_c)                   c_t = f c_{t-1} + i g        h_t = o tanh(c_t)

Without oneDNN (float64, or ``torch.backends.mkldnn.enabled = False``) torch's CPU ``torch.lstm``
records every step's cell on the autograd tape, so its backward pass runs many small nodes per
time step. Here, as in ``_gru_pass``, the forward pass is one node: the input projection
of all steps is one matrix product whose buffer the gates then overwrite in place. The
candidate's columns of ``W``, ``U`` and ``b`` are doubled, so that one ``sigmoid_``
over a step's ``(batch, 4 units)`` gives ``i, f, o`` and ``s = sigmoid(2 z_c)``, with
``tanh(z) = 2 sigmoid(2 z) - 1`` (torch's CPU ``tanh`` took 3.5 times as long as ``sigmoid``
per value here, see ``_lstm_pass``).

The backward pass computes, for all steps at once, the coefficients that turn the incoming
gradients into pre-activation gradients (Keras order i, f, c, o)::

    dc_t  = dL/dh_t * o (1 - tanh(c_t)^2) + dc_{t+1} f_{t+1}
    dz_i  = dc_t * g i (1 - i)     dz_f = dc_t * c_{t-1} f (1 - f)
    dz_c  = dc_t * i (1 - g^2)     dz_o = dL/dh_t * tanh(c_t) o (1 - o)

so the time loop keeps five operations per step (two for ``dc_t``, two in-place multiplies
turning that step's coefficients into ``dz_t``, one ``addmm`` back to ``dL/dh_{t-1}``, which
also adds the sequence's gradient with ``return_sequences``). The gradients of ``W``, ``U``,
``b`` and ``x`` are then one matrix product or sum each over all steps.

For float32 on CPU, oneDNN's fused LSTM (what ``torch.lstm`` runs there) is faster still, so
``RecurrentModule`` runs this pass only where oneDNN does not (``recurrent_cells.onednn_lstm``
has the figures). Measured per step at batch 128, 32 units: torch's elementwise calls cost
4-20 us each here (``sigmoid_`` on 128 x 128 values 17 us, ``tanh`` on 128 x 32 13 us, the
recurrent ``addmm_`` 12-30 us), and the forward loop needs seven of them against about 60 us
for a whole oneDNN step. ``tanh`` is used for ``tanh(c_t)``: it is one call where the
``2 sigmoid(2 c) - 1`` form takes four (5-6 us of kernel time each at this size).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

__all__ = ["lstm", "train_forward", "train_backward"]


def _double_candidate(t: torch.Tensor, units: int) -> torch.Tensor:
    """``t`` with its candidate columns (the third block of the last axis) times 2."""
    out = t.clone()
    out[..., 2 * units:3 * units] *= 2.0
    return out


def _forward_steps(gates, cs, ts, hs, u2) -> None:
    """The recurrence, in place: gates z_t -> i, f, s, o; c_t, tanh(c_t) and h_t."""
    u = cs.shape[-1]
    gl, cl, tl, hl = gates.unbind(0), cs.unbind(0), ts.unbind(0), hs.unbind(0)
    il, fl, sl, ol = (gates[..., k * u:(k + 1) * u].unbind(0) for k in range(4))
    gates[0].sigmoid_()
    torch.mul(il[0], sl[0], out=cl[0]).mul_(2.0).sub_(il[0])       # c = i (2 s - 1)
    torch.tanh(cl[0], out=tl[0])
    torch.mul(ol[0], tl[0], out=hl[0])
    for t in range(1, len(gl)):
        gt, ct, it = gl[t], cl[t], il[t]
        gt.addmm_(hl[t - 1], u2)
        gt.sigmoid_()
        torch.mul(fl[t], cl[t - 1], out=ct)                        # c = f c + i (2 s - 1)
        ct.addcmul_(it, sl[t], value=2.0).sub_(it)
        torch.tanh(ct, out=tl[t])
        torch.mul(ol[t], tl[t], out=hl[t])


def train_forward(xs: torch.Tensor, kernel: torch.Tensor, recurrent_kernel: torch.Tensor,
                  bias: torch.Tensor | None, steps: int, batch: int) -> tuple[torch.Tensor, ...]:
    """The forward pass over time-major rows ``xs`` ``(steps * batch, features)``: returns
    ``(gates, cs, ts, hs)``, what ``train_backward`` needs (``hs`` holds every state)."""
    u = recurrent_kernel.shape[0]
    w2 = _double_candidate(kernel, u)
    u2 = _double_candidate(recurrent_kernel, u)
    if bias is not None:
        gates = torch.addmm(_double_candidate(bias, u), xs, w2)
    else:
        gates = xs @ w2
    gates = gates.view(steps, batch, 4 * u)      # z_t, then i, f, s, o in place
    cs = xs.new_empty(steps, batch, u)           # c_t
    ts = xs.new_empty(steps, batch, u)           # tanh(c_t)
    hs = xs.new_empty(steps, batch, u)
    if steps:
        _forward_steps(gates, cs, ts, hs, u2)
    return gates, cs, ts, hs


def train_backward(saved: tuple[torch.Tensor, ...], xs: torch.Tensor, kernel: torch.Tensor,
                   recurrent_kernel: torch.Tensor, grad_h: torch.Tensor,
                   grad_seq: list[torch.Tensor] | None = None,
                   needs: tuple[bool, bool, bool, bool] = (True, True, True, True)):
    """The gradients ``(dxs, dW, dU, db)`` (None where ``needs`` says so; ``dxs`` time-major
    ``(steps * batch, features)``) from ``grad_h``, the gradient of the last state, and with
    ``grad_seq`` that of every state; ``saved`` is ``train_forward``'s result, overwritten."""
    gates, cs, ts, hs = saved
    steps, batch, u = hs.shape
    coef, dc_h = _coefficients(gates, cs, ts)
    _backward_steps(coef, dc_h, gates[..., u:2 * u], recurrent_kernel.t(), grad_h, grad_seq)
    dz = coef.view(steps * batch, 4 * u)
    need_x, need_w, need_u, need_b = needs
    dx = dz @ kernel.t() if need_x else None
    dw = xs.t() @ dz if need_w else None
    du = hs[:-1].reshape(-1, u).t() @ dz[batch:] if need_u else None
    db = dz.sum(0) if need_b else None
    return dx, dw, du, db


class _LSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, recurrent_kernel, bias, return_sequences: bool):
        batch, steps, n_in = x.shape
        u = recurrent_kernel.shape[0]
        xs = x.transpose(0, 1).reshape(steps * batch, n_in)          # time-major (T*B, in)
        gates, cs, ts, hs = train_forward(xs, kernel, recurrent_kernel, bias, steps, batch)
        ctx.return_sequences = return_sequences
        ctx.has_bias = bias is not None
        ctx.save_for_backward(xs, kernel, recurrent_kernel, gates, cs, ts, hs)
        if return_sequences:
            return hs.transpose(0, 1).contiguous()
        if not steps:
            return x.new_zeros(batch, u)
        return hs[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        xs, kernel, recurrent_kernel, gates, cs, ts, hs = ctx.saved_tensors
        steps, batch, u = hs.shape
        n_in = xs.shape[1]
        need_x, need_w, need_u, need_b = ctx.needs_input_grad[:4]
        need_b = need_b and ctx.has_bias
        if steps == 0:
            dx = xs.new_zeros(batch, 0, n_in) if need_x else None
            dw = torch.zeros_like(kernel) if need_w else None
            du = torch.zeros_like(recurrent_kernel) if need_u else None
            db = kernel.new_zeros(4 * u) if need_b else None
            return dx, dw, du, db, None
        dhs = grad_out.transpose(0, 1).unbind(0) if ctx.return_sequences else None
        dx, dw, du, db = train_backward(
            (gates, cs, ts, hs), xs, kernel, recurrent_kernel,
            dhs[-1] if dhs is not None else grad_out, dhs, (need_x, need_w, need_u, need_b))
        if dx is not None:
            dx = dx.view(steps, batch, n_in).transpose(0, 1)
        return dx, dw, du, db, None


def _backward_steps(coef, dc_h, f, u_t, dh, dhs) -> None:
    """Turn ``coef`` into the pre-activation gradients ``dz_t``, last step first, in place."""
    steps, batch, u4 = coef.shape
    u = u4 // 4
    gl = coef.unbind(0)
    ifc = coef[..., :3 * u].view(steps, batch, 3, u).unbind(0)
    ol = coef[..., 3 * u:].unbind(0)
    fl, hl = f.unbind(0), dc_h.unbind(0)
    dc = dh * hl[-1]                                   # dL/dc_t
    dc3 = dc.unsqueeze(1)
    for t in range(steps - 1, -1, -1):
        if t < steps - 1:
            dc.mul_(fl[t + 1]).addcmul_(dh, hl[t])
        ifc[t].mul_(dc3)
        ol[t].mul_(dh)
        if t:
            dh = torch.mm(gl[t], u_t) if dhs is None else torch.addmm(dhs[t - 1], gl[t], u_t)


def _coefficients(gates: torch.Tensor, cs: torch.Tensor,
                  ts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-step factors of the backward pass, from the forward pass's saved values.

    Returns ``coef`` ``(steps, batch, 4 units)``: blocks i, f, c (to be multiplied by
    ``dc_t``) and o (by ``dL/dh_t``); and ``dc_h`` ``(steps, batch, units)``, the factor
    ``o (1 - tanh(c_t)^2)`` from ``dL/dh_t`` to ``dc_t``.
    """
    u = cs.shape[-1]
    i, f, s, o = (gates[..., k * u:(k + 1) * u] for k in range(4))
    coef = torch.empty_like(gates)
    g = s * 2.0 - 1.0                                      # tanh(z_c)
    tc = ts                                                # tanh(c_t)
    torch.mul(g, i - i * i, out=coef[..., :u])
    if coef.shape[0] > 1:
        torch.mul(cs[:-1], f[1:] - f[1:] * f[1:], out=coef[1:, :, u:2 * u])
    coef[0, :, u:2 * u] = 0.0                              # c_{-1} = 0
    torch.mul(i, 1.0 - g * g, out=coef[..., 2 * u:3 * u])
    torch.mul(tc, o - o * o, out=coef[..., 3 * u:])
    dc_h = o * (1.0 - tc * tc)
    return coef, dc_h


def lstm(x: torch.Tensor, kernel: torch.Tensor, recurrent_kernel: torch.Tensor,
         bias: torch.Tensor | None = None, *, return_sequences: bool = False) -> torch.Tensor:
    """Run a Keras LSTM (tanh, sigmoid) over batch-first ``x``, differentiably.

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
    >>> x = torch.zeros(2, 3, 4, requires_grad=True)
    >>> w, r = torch.zeros(4, 8), torch.zeros(2, 8)
    >>> lstm(x, w, r, return_sequences=True).shape
    torch.Size([2, 3, 2])
    """
    return _LSTM.apply(x, kernel, recurrent_kernel, bias, return_sequences)
