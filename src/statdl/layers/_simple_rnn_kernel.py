"""SimpleRNN recurrence as one autograd node, with hand-written backpropagation through time.

``h_t = act((x_t W + b) + (h_{t-1} * m) U)`` for ``act`` in tanh, relu, with ``h_{-1} = 0`` and
an optional recurrent-dropout mask ``m`` ``(batch, units)``, the same at every step (Keras).

Recording every step on the autograd tape (or calling torch's fused ``rnn_tanh`` on CPU, which
does the same internally) costs several small nodes per time step. Here the forward pass runs
under one node: the input projection of all steps is one matrix product written straight into
the output buffer, and each step is an in-place ``addmm_`` and ``tanh_``/``relu_`` on its slice.
The backward pass keeps only the recurrence in the time loop (one ``addmm``/``mm`` and one
multiply per step, into a preallocated buffer of pre-activation gradients ``dZ``); the
gradients of ``W``, ``U``, ``b`` and ``x`` are then one matrix product each over all steps:
``dW = X^T dZ``, ``dU = (H_prev * m)^T dZ``, ``db = sum dZ``, ``dX = dZ W^T``.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

__all__ = ["simple_rnn"]


class _SimpleRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, recurrent_kernel, bias, rec_mask, relu: bool,
                return_sequences: bool):
        batch, steps, n_in = x.shape
        u = recurrent_kernel.shape[0]
        xs = x.transpose(0, 1).reshape(steps * batch, n_in)          # time-major (T*B, in)
        if bias is not None:
            hs = torch.addmm(bias, xs, kernel)
        else:
            hs = xs @ kernel
        hs = hs.view(steps, batch, u)                                 # x_t W + b, then h_t
        h = None
        for ht in hs.unbind(0):  # views, cheaper than indexing at every step
            if h is not None:
                ht.addmm_(h if rec_mask is None else h * rec_mask, recurrent_kernel)
            if relu:
                ht.relu_()
            else:
                ht.tanh_()
            h = ht
        ctx.relu = relu
        ctx.return_sequences = return_sequences
        ctx.has_bias = bias is not None
        ctx.save_for_backward(xs, kernel, recurrent_kernel, rec_mask, hs)
        if return_sequences:
            return hs.transpose(0, 1).contiguous()
        if steps == 0:
            return x.new_zeros(batch, u)
        return hs[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        xs, kernel, recurrent_kernel, rec_mask, hs = ctx.saved_tensors
        steps, batch, u = hs.shape
        n_in = xs.shape[1]
        need_x, need_w, need_u, need_b = ctx.needs_input_grad[:4]
        if steps == 0:
            dx = xs.new_zeros(batch, 0, n_in) if need_x else None
            dw = torch.zeros_like(kernel) if need_w else None
            du = torch.zeros_like(recurrent_kernel) if need_u else None
            db = kernel.new_zeros(u) if need_b and ctx.has_bias else None
            return dx, dw, du, db, None, None, None

        # act'(z_t) from h_t = act(z_t): 1 - h^2 for tanh, [h > 0] for relu.
        if ctx.relu:
            deriv = (hs > 0).to(hs.dtype)
        else:
            deriv = torch.addcmul(hs.new_ones(()), hs, hs, value=-1.0)
        u_t = recurrent_kernel.t()
        dz = torch.empty_like(hs)                                     # dL/dz_t, (T, B, u)
        dzs, derivs = dz.unbind(0), deriv.unbind(0)
        if ctx.return_sequences:
            dhs = grad_out.transpose(0, 1).unbind(0)                  # dL/dh_t from above
            torch.mul(dhs[-1], derivs[-1], out=dzs[-1])
        else:
            dhs = None
            torch.mul(grad_out, derivs[-1], out=dzs[-1])
        for t in range(steps - 1, 0, -1):
            prev = dzs[t - 1]  # dz_{t-1} = (dh_{t-1} + (dz_t U^T) * m) * act'(z_{t-1})
            if rec_mask is None:
                if dhs is None:
                    torch.mm(dzs[t], u_t, out=prev)
                else:
                    torch.addmm(dhs[t - 1], dzs[t], u_t, out=prev)
            else:
                back = torch.mm(dzs[t], u_t)
                if dhs is None:
                    torch.mul(back, rec_mask, out=prev)
                else:
                    torch.addcmul(dhs[t - 1], back, rec_mask, out=prev)
            prev.mul_(derivs[t - 1])

        dz_flat = dz.view(steps * batch, u)
        dx = dw = du = db = None
        if need_x:
            dx = (dz_flat @ kernel.t()).view(steps, batch, n_in).transpose(0, 1)
        if need_w:
            dw = xs.t() @ dz_flat
        if need_u:
            h_prev = hs[:-1] if rec_mask is None else hs[:-1] * rec_mask
            du = h_prev.reshape(-1, u).t() @ dz[1:].reshape(-1, u)
        if need_b and ctx.has_bias:
            db = dz_flat.sum(0)
        return dx, dw, du, db, None, None, None


def simple_rnn(x: torch.Tensor, kernel: torch.Tensor, recurrent_kernel: torch.Tensor,
               bias: torch.Tensor | None = None, rec_mask: torch.Tensor | None = None, *,
               relu: bool = False, return_sequences: bool = False) -> torch.Tensor:
    """Run a SimpleRNN over batch-first ``x`` ``(batch, timesteps, features)``.

    ``kernel`` ``(features, units)``, ``recurrent_kernel`` ``(units, units)`` and ``bias``
    ``(units,)`` in Keras layout; ``rec_mask`` ``(batch, units)`` multiplies ``h_{t-1}`` before
    ``U`` (recurrent dropout). Returns the last state ``(batch, units)`` or, with
    ``return_sequences``, every state ``(batch, timesteps, units)``.
    """
    return _SimpleRNN.apply(x, kernel, recurrent_kernel, bias, rec_mask, relu,
                            return_sequences)
