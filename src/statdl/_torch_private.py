"""The private torch functions statdl's fast paths call, each checked before first use.

statdl calls three kinds of torch function that are not public API and may change meaning
between torch releases without notice:

* ``torch._fused_adam_`` (the fused optimiser step, ``training/optimizers.py``);
* ``torch.ops.aten.threshold_backward`` (ReLU's derivative in one pass, ``dense_step``);
* the positional forms ``torch.lstm`` / ``torch.gru`` / ``torch.rnn_tanh`` / ``torch.rnn_relu``
  (torch's fused RNN ops over Keras-layout weights, ``layers/recurrent_cells.py``);
* ``torch.ops.mkldnn._linear_pointwise`` (oneDNN's matrix product: the ``onednn_dense`` path
  of ``layers/core.py`` and the ``dense_onednn_product`` path of ``dense_step``).

The first time a process needs one of them on a device (and dtype), ``check`` runs it on a tiny
input and compares it with the same computation written with public operations (a plain step
loop, ``torch.where``, the optimiser's formula). If it is missing, raises, or disagrees, the
caller gets ``False`` and takes its public path, and the reason is logged once on the
``statdl`` logger. ``status()`` lists every check made so far; ``tests/test_fast_paths.py``
pins that all of them pass on the installed torch.

Examples
--------
>>> import torch
>>> fused_adam_ok(torch.device("cpu"), torch.float32)
True
>>> relu = relu_backward(torch.device("cpu"))
>>> relu(torch.ones(3), torch.tensor([-1.0, 0.0, 2.0])).tolist()
[0.0, 0.0, 1.0]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch

__all__ = ["check", "status", "fused_adam_ok", "fused_adam_", "relu_backward", "rnn_ops_ok",
           "RNN_OPS", "onednn_linear", "onednn_linear_ok"]

log = logging.getLogger("statdl")

#: (what, device, dtype) -> (usable, reason); filled as checks run.
_CHECKED: dict[tuple[str, str, str], tuple[bool, str]] = {}

#: The positional RNN ops and their gate count.
RNN_OPS = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def check(what: str, device: torch.device, dtype: torch.dtype,
          run: Callable[[torch.device, torch.dtype], tuple[torch.Tensor, ...]],
          reference: Callable[[torch.device, torch.dtype], tuple[torch.Tensor, ...]],
          rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    """Whether ``run`` (the private call) gives what ``reference`` (public operations) gives
    on ``device`` and ``dtype``; decided once per process, the reason of a refusal logged.

    Examples
    --------
    >>> cpu = torch.device("cpu")
    >>> check("doc-ok", cpu, torch.float32, lambda d, t: (torch.ones(2),),
    ...       lambda d, t: (torch.ones(2),))
    True
    """
    key = (what, str(device), str(dtype))
    known = _CHECKED.get(key)
    if known is not None:
        return known[0]
    if dtype.is_floating_point:  # half precisions round the private and public results apart
        rtol, atol = max(rtol, 4 * torch.finfo(dtype).eps), max(atol, 4 * torch.finfo(dtype).eps)
    ok, reason = False, ""
    try:
        # callers may be inside predict's inference mode or fit's autocast: check in plain mode
        with torch.inference_mode(False), torch.enable_grad(), \
                torch.autocast(torch.device(device).type, enabled=False):
            got, want = run(device, dtype), reference(device, dtype)
        bad = [i for i, (g, w) in enumerate(zip(got, want, strict=True))
               if g.shape != w.shape or not torch.allclose(g.double().cpu(), w.double().cpu(),
                                                           rtol=rtol, atol=atol)]
        ok = not bad
        reason = "agrees with the public path" if ok else (
            f"output(s) {bad} differ from the public path's")
    except Exception as exc:  # noqa: BLE001 - any failure of a private call means: do not use it
        reason = f"{type(exc).__name__}: {exc}"
    _CHECKED[key] = (ok, reason)
    if not ok:
        log.warning("statdl: not using %s on %s (%s): %s; taking the public path instead.",
                    what, device, dtype, reason)
    return ok


def status() -> dict[tuple[str, str, str], tuple[bool, str]]:
    """Every check made in this process: ``(what, device, dtype) -> (usable, reason)``."""
    return dict(_CHECKED)


# --------------------------------------------------------------------- torch._fused_adam_
def fused_adam_(w: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor,
                v_max: torch.Tensor | None, step: torch.Tensor, *, lr: float, beta1: float,
                beta2: float, eps: float) -> None:
    """One ``torch._fused_adam_`` pass over flat ``w`` (callers ask ``fused_adam_ok`` first):
    ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2`` (``v_max = max(v_max, v)``), then
    ``w -= lr / (1-b1^t) m / (sqrt(v) / sqrt(1-b2^t) + eps)``, ``t`` read from ``step``.
    ``m`` may be ``g`` itself."""
    torch._fused_adam_([w], [g], [m], [v], [] if v_max is None else [v_max], [step],
                       lr=lr, beta1=beta1, beta2=beta2, weight_decay=0.0, eps=eps,
                       amsgrad=v_max is not None, maximize=False)


def _adam_public(w, g, m, v, v_max, t, lr, b1, b2, eps):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    if v_max is not None:
        v_max = torch.maximum(v_max, v)
    denom = (v if v_max is None else v_max).sqrt() / math.sqrt(1 - b2**t) + eps
    return w - lr / (1 - b1**t) * m / denom, m, v


def _adam_inputs(device, dtype):
    def t(*values):
        return torch.tensor(values, device=device, dtype=dtype)
    return (t(0.5, -1.0, 2.0), t(0.1, -0.2, 0.3), t(0.01, 0.02, -0.03), t(0.04, 0.05, 0.06),
            t(0.05, 0.01, 0.07))


def _adam_run(device, dtype):
    # Adam (t = 3, amsgrad) and RMSprop's form (m is g, beta_1 = 0, t = 2**60), as statdl calls it
    w, g, m, v, v_max = _adam_inputs(device, dtype)
    fused_adam_(w, g, m, v, v_max, torch.tensor(3.0, device=device), lr=0.1, beta1=0.9,
                beta2=0.99, eps=1e-3)
    w2, g2, _, v2, _ = _adam_inputs(device, dtype)
    fused_adam_(w2, g2, g2, v2, None, torch.tensor(2.0**60, device=device), lr=0.1, beta1=0.0,
                beta2=0.9, eps=1e-3)
    return w, m, v, v_max, w2, v2, g2


def _adam_reference(device, dtype):
    w, g, m, v, v_max = (a.double() for a in _adam_inputs(device, dtype))
    w1, m1, v1 = _adam_public(w, g, m, v, v_max, 3, 0.1, 0.9, 0.99, 1e-3)
    w2, _, v2 = _adam_public(w, g, g, v, None, 2.0**60, 0.1, 0.0, 0.9, 1e-3)
    return w1, m1, v1, torch.maximum(v_max, v1), w2, v2, g


def fused_adam_ok(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether ``torch._fused_adam_`` exists for ``device`` and ``dtype`` and computes the
    Adam formula (checked once per process on three elements)."""
    if not hasattr(torch, "_fused_adam_"):
        key = ("torch._fused_adam_", str(device), str(dtype))
        if key not in _CHECKED:
            _CHECKED[key] = (False, "this torch has no torch._fused_adam_")
        return False
    return check("torch._fused_adam_", device, dtype, _adam_run, _adam_reference)


# ------------------------------------------------------------ aten.threshold_backward
def _relu_backward_public(grad: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return torch.where(a > 0, grad, grad.new_zeros(()))


def _threshold_backward(grad: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return torch.ops.aten.threshold_backward(grad, a, 0.0)


def _relu_inputs(device, dtype):
    grad = torch.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], device=device, dtype=dtype)
    a = torch.tensor([[-1.0, 0.0, 0.5], [2.0, 0.0, 3.0]], device=device, dtype=dtype)
    return grad, a


def relu_backward(device: torch.device, dtype: torch.dtype = torch.float32
                  ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """ReLU's backward ``grad * (a > 0)`` given the gradient and the ReLU's output ``a``:
    ``aten.threshold_backward`` (one pass, no mask tensor) when it checks out on ``device``,
    else ``torch.where``."""
    ok = check("aten.threshold_backward", device, dtype,
               lambda d, t: (_threshold_backward(*_relu_inputs(d, t)),),
               lambda d, t: (_relu_backward_public(*_relu_inputs(d, t)),), rtol=0, atol=0)
    return _threshold_backward if ok else _relu_backward_public


# ------------------------------------------------------------ positional torch.lstm / gru
def _rnn_inputs(op: str, device, dtype):
    """A batch of 2 sequences of 3 steps with 2 features, 3 units, weights in torch's layout
    (``w_ih (k*u, in)``, ``w_hh (k*u, u)``, two biases), from a fixed formula (the global
    generator is not touched, so checking never changes a seeded run)."""
    k, u, n_in = RNN_OPS[op], 3, 2

    def values(*shape, phase):
        n = math.prod(shape)
        return (0.5 * torch.sin(torch.arange(n, dtype=torch.float64) * 1.3 + phase)
                ).reshape(shape).to(device=device, dtype=dtype)

    x = values(2, 3, n_in, phase=0.1)
    params = [values(k * u, n_in, phase=0.2), values(k * u, u, phase=0.3),
              values(k * u, phase=0.4), values(k * u, phase=0.5)]
    return x, params


def _rnn_run(op: str):
    def run(device, dtype):
        x, params = _rnn_inputs(op, device, dtype)
        x.requires_grad_()
        h0 = x.new_zeros(1, x.shape[0], 3)
        args = (params, True, 1, 0.0, False, False, True)
        if op == "lstm":
            out, h_n, _ = torch.lstm(x, (h0, h0), *args)
        else:
            out, h_n = getattr(torch, op)(x, h0, *args)
        (grad,) = torch.autograd.grad(out.sum() + h_n.sum(), x)
        return out.detach(), h_n[0].detach(), grad
    return run


def _rnn_reference(op: str):
    def reference(device, dtype):
        x, (w_ih, w_hh, b_ih, b_hh) = _rnn_inputs(op, device, dtype)
        x = x.double().requires_grad_()
        w_ih, w_hh, b_ih, b_hh = (p.double() for p in (w_ih, w_hh, b_ih, b_hh))
        h = x.new_zeros(x.shape[0], 3)
        c = torch.zeros_like(h)
        outs = []
        for xt in x.unbind(1):
            gi, gh = xt @ w_ih.t() + b_ih, h @ w_hh.t() + b_hh
            if op == "lstm":  # torch's order i, f, g, o
                i, f, g, o = (gi + gh).chunk(4, 1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            elif op == "gru":  # torch's order r, z, n; b_hn inside the reset product
                ir, iz, in_ = gi.chunk(3, 1)
                hr, hz, hn = gh.chunk(3, 1)
                r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
                h = (1 - z) * torch.tanh(in_ + r * hn) + z * h
            else:
                h = torch.tanh(gi + gh) if op == "rnn_tanh" else torch.relu(gi + gh)
            outs.append(h)
        out = torch.stack(outs, 1)
        (grad,) = torch.autograd.grad(out.sum() + h.sum(), x)
        return out.detach(), h.detach(), grad
    return reference


def rnn_ops_ok(op: str, device: torch.device, dtype: torch.dtype = torch.float32) -> bool:
    """Whether the positional ``torch.<op>(x, hx, params, has_biases, num_layers, dropout,
    train, bidirectional, batch_first)`` computes, forward and backward, what a plain step loop
    computes on ``device`` (``op`` one of ``RNN_OPS``); checked once per process."""
    ok = _RNN_OK.get((op, device, dtype))  # asked on every forward pass: one dict lookup
    if ok is None:
        if op not in RNN_OPS:
            raise ValueError(f"`op` of rnn_ops_ok must be one of {sorted(RNN_OPS)}; got {op!r}.")
        ok = _RNN_OK[(op, device, dtype)] = check(
            f"torch.{op} (positional)", device, dtype, _rnn_run(op), _rnn_reference(op),
            rtol=1e-4, atol=1e-5)
    return ok


_RNN_OK: dict[tuple[str, torch.device, torch.dtype], bool] = {}


# ------------------------------------------------------------ oneDNN's linear
def onednn_linear(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None
                  ) -> torch.Tensor:
    """``x @ kernel + bias`` through oneDNN's matrix product (callers ask
    ``onednn_linear_ok`` first): ``x`` (rows, in), ``kernel`` (in, out) as a Dense layer holds
    it, ``bias`` (out,) or None. No autograd."""
    return torch.ops.mkldnn._linear_pointwise(x, kernel.t(), bias, "none", [], "")


def _linear_inputs(device, dtype):
    """Rows with a NaN and an infinity among ordinary values, kernels of 3 and 1 outputs (a
    fixed formula: the global generator is not touched)."""
    def values(*shape, phase):
        n = math.prod(shape)
        return (torch.sin(torch.arange(n, dtype=torch.float64) * 0.7 + phase)
                ).reshape(shape).to(device=device, dtype=dtype)
    x = values(6, 5, phase=0.1)
    x[1, 2], x[4, 0] = float("nan"), float("inf")
    return x, values(5, 3, phase=0.2), values(3, phase=0.3), values(5, 1, phase=0.4)


def _split_finite(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # allclose cannot compare NaN: the finite values, and where the values are not finite
    finite = torch.isfinite(z)
    return torch.where(finite, z, z.new_zeros(())), finite.to(z.dtype)


def _linear_run(device, dtype):
    x, k3, b3, k1 = _linear_inputs(device, dtype)
    return (*_split_finite(onednn_linear(x, k3, b3)), *_split_finite(onednn_linear(x, k1, None)),
            *_split_finite(onednn_linear(x[::2], k3, b3)))  # rows with a stride


def _linear_reference(device, dtype):
    x, k3, b3, k1 = (a.double() for a in _linear_inputs(device, dtype))
    return (*_split_finite(torch.addmm(b3, x, k3)), *_split_finite(x @ k1),
            *_split_finite(torch.addmm(b3, x[::2], k3)))


def onednn_linear_ok(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether ``torch.ops.mkldnn._linear_pointwise`` exists here and computes
    ``x @ kernel + bias`` (NaN and infinity passed on) for ``device`` and ``dtype``: float32
    on a CPU with oneDNN; checked once per process."""
    ok = _LINEAR_OK.get((device, dtype))  # asked once a batch: one dict lookup
    if ok is None:
        key = ("torch.ops.mkldnn._linear_pointwise", str(device), str(dtype))
        if torch.device(device).type != "cpu" or dtype != torch.float32:
            ok = False  # only asked about other devices and dtypes by tests; nothing to log
        elif not (torch.backends.mkldnn.is_available()
                  and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
            _CHECKED.setdefault(key, (False, "this torch has no oneDNN linear"))
            ok = False
        else:
            ok = check(key[0], device, dtype, _linear_run, _linear_reference)
        _LINEAR_OK[(device, dtype)] = ok
    return ok


_LINEAR_OK: dict[tuple[torch.device, torch.dtype], bool] = {}
