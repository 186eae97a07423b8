"""SimpleRNN recurrence as one autograd node, with hand-written backpropagation through time.

``h_t = act((x_t W + b) + (h_{t-1} * m) U)`` for ``act`` in tanh, relu, with ``h_{-1} = 0`` and
an optional recurrent-dropout mask ``m`` ``(batch, units)``, the same at every step (Keras).

Recording every step on the autograd tape (or calling torch's fused ``rnn_tanh`` on CPU, which
does the same internally) costs several small nodes per time step. Here the forward pass runs
under one node: the input projection of all steps is one matrix product written straight into
the output buffer, and each step is an in-place ``addmm_`` and ``relu_``, or for tanh
``sigmoid_`` (``tanh(z) = 2 sigmoid(2 z) - 1``, see ``_sigmoid_recurrence``), on its slice.
The backward pass keeps only the recurrence in the time loop (one ``addmm``/``mm`` and one
multiply per step, into a preallocated buffer of pre-activation gradients ``dZ``); the
gradients of ``W``, ``U``, ``b`` and ``x`` are then one matrix product each over all steps:
``dW = X^T dZ``, ``dU = (H_prev * m)^T dZ``, ``db = sum dZ``, ``dX = dZ W^T``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.autograd.function import once_differentiable

__all__ = ["simple_rnn", "inference", "inference_from_ids", "train_forward", "train_backward",
           "STEPS_PER_PROJECTION"]


class _OneThread:
    """Run the step loops on one thread, then give back the count the fit chose.

    A step's products are (128, 32) x (32, 32): split over two threads they cost more than on
    one (``addmm_`` 10.0 against 5.7 us, ``mm`` 8.8 against 5.5 us, quiet 2-core AMD EPYC),
    while the products over all steps (``dU``, ``dW``, ``dX``) still gain from both. Changing
    the count costs 0.5 us. Inference in large batches (``predict``'s 1,024 rows) is the
    other way round: ``active=False`` keeps every thread (see ``_INFERENCE_THREADS_FROM``).
    """

    def __init__(self, active: bool = True) -> None:
        self.active = active

    def __enter__(self) -> None:
        self.threads = torch.get_num_threads() if self.active else 1
        if self.threads > 1:
            torch.set_num_threads(1)

    def __exit__(self, *exc) -> None:
        if self.threads > 1:
            torch.set_num_threads(self.threads)


#: state values per step (batch x units) from which inference keeps every thread in the step
#: loop: at 1,024 x 32 (predict's batch), 100 steps, 2 cores, the last state came at 78,600
#: samples/s on two threads against 65,400 on one (every state: 59,000 against 56,400)
_INFERENCE_THREADS_FROM = 32_768


class _SimpleRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, recurrent_kernel, bias, rec_mask, relu: bool,
                return_sequences: bool, grad: bool):
        batch, steps, n_in = x.shape
        u = recurrent_kernel.shape[0]
        if grad:
            xs, hs = train_forward(x, kernel, recurrent_kernel, bias, rec_mask, relu)
        else:
            xs = x.transpose(0, 1).reshape(steps * batch, n_in)      # time-major (T*B, in)
            recurrence = _relu_recurrence if relu else _sigmoid_recurrence
            hs = recurrence(xs, kernel, recurrent_kernel, bias, rec_mask, steps, batch,
                            batch * u < _INFERENCE_THREADS_FROM)
            if not relu and return_sequences:
                hs.mul_(2.0).sub_(1.0)                                # s_t -> h_t = 2 s_t - 1
        ctx.relu = relu
        ctx.return_sequences = return_sequences
        ctx.has_bias = bias is not None
        if grad:
            ctx.save_for_backward(xs, kernel, recurrent_kernel, rec_mask, hs)
        if return_sequences:
            return hs.transpose(0, 1).contiguous()
        if steps == 0:
            return x.new_zeros(batch, u)
        if relu or grad:
            return hs[-1].clone()
        return hs[-1].mul(2.0).sub_(1.0)                              # inference: h_T only

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        xs, kernel, recurrent_kernel, rec_mask, hs = ctx.saved_tensors
        need_x, need_w, need_u, need_b = ctx.needs_input_grad[:4]
        grads = train_backward(grad_out, xs, kernel, recurrent_kernel, rec_mask, hs,
                               relu=ctx.relu, return_sequences=ctx.return_sequences,
                               needs=(need_x, need_w, need_u, need_b and ctx.has_bias))
        return (*grads, None, None, None, None)


def train_forward(x: torch.Tensor, kernel: torch.Tensor, recurrent_kernel: torch.Tensor,
                  bias: torch.Tensor | None, rec_mask: torch.Tensor | None,
                  relu: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The training forward pass: ``(xs, hs)``, the time-major inputs ``(T*B, in)`` and every
    state ``h_t`` ``(T, B, u)``, which ``train_backward`` takes back (the autograd node and
    the hand-written training step of ``training.dense_step`` both run it)."""
    batch, steps, n_in = x.shape
    xs = x.transpose(0, 1).reshape(steps * batch, n_in)              # time-major (T*B, in)
    recurrence = _relu_recurrence if relu else _sigmoid_recurrence
    hs = recurrence(xs, kernel, recurrent_kernel, bias, rec_mask, steps, batch, True)
    if not relu:
        hs.mul_(2.0).sub_(1.0)                                        # s_t -> h_t = 2 s_t - 1
    return xs, hs


def train_backward(grad_out: torch.Tensor, xs: torch.Tensor, kernel: torch.Tensor,
                   recurrent_kernel: torch.Tensor, rec_mask: torch.Tensor | None,
                   hs: torch.Tensor, *, relu: bool, return_sequences: bool,
                   needs: tuple[bool, bool, bool, bool] = (True, True, True, True),
                   out: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None,
                   ) -> tuple:
    """Gradients ``(dx, dW, dU, db)`` from ``train_forward``'s ``xs``, ``hs`` and the gradient
    ``grad_out`` of the last state ``(B, u)`` (or of every state ``(B, T, u)`` with
    ``return_sequences``); None where ``needs`` says no. With ``out`` (three tensors shaped
    like ``W``, ``U``, ``b``, or None for no bias) the weight gradients are written there
    instead (the flat gradient buffer: no zeroing, no accumulation)."""
    steps, batch, u = hs.shape
    n_in = xs.shape[1]
    need_x, need_w, need_u, need_b = needs
    dw_out, du_out, db_out = out if out is not None else (None, None, None)
    if steps == 0:
        dx = xs.new_zeros(batch, 0, n_in) if need_x else None
        dw = _zeros(kernel, dw_out) if need_w else None
        du = _zeros(recurrent_kernel, du_out) if need_u else None
        db = _zeros(kernel.new_empty(u), db_out) if need_b else None
        return dx, dw, du, db

    # act'(z_t) from h_t = act(z_t): 1 - h^2 for tanh, [h > 0] for relu.
    if relu:
        deriv = (hs > 0).to(hs.dtype)
    else:
        deriv = torch.addcmul(hs.new_ones(()), hs, hs, value=-1.0)
    u_t = recurrent_kernel.t()
    dz = torch.empty_like(hs)                                         # dL/dz_t, (T, B, u)
    dzs = dz.unbind(0)
    dh = grad_out.transpose(0, 1) if return_sequences else None      # dL/dh_t from above
    torch.mul(grad_out if dh is None else dh[-1], deriv[-1], out=dzs[-1])
    with _OneThread():
        _backward_loop(dzs, deriv, dh, u_t, rec_mask, steps)

    dz_flat = dz.view(steps * batch, u)
    dx = dw = du = db = None
    if need_x:  # W dZ^T, read back as (B, T, in): 107 us against 379 us for dZ W^T
        # with 8 inputs (12,800 rows); MKL runs the narrow output this way round faster
        dx = (kernel @ dz_flat.t()).view(n_in, steps, batch).permute(2, 1, 0)
    if need_w:
        dw = torch.mm(xs.t(), dz_flat, out=dw_out) if dw_out is not None else xs.t() @ dz_flat
    if need_u:
        if steps < 2:
            du = _zeros(recurrent_kernel, du_out)
        else:
            h_prev = hs[:-1] if rec_mask is None else hs[:-1] * rec_mask
            h_prev, dz_next = h_prev.reshape(-1, u).t(), dz[1:].reshape(-1, u)
            du = torch.mm(h_prev, dz_next, out=du_out) if du_out is not None \
                else h_prev @ dz_next
    if need_b:
        db = torch.sum(dz_flat, 0, out=db_out) if db_out is not None else dz_flat.sum(0)
    return dx, dw, du, db


def _zeros(like: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
    return out.zero_() if out is not None else torch.zeros_like(like)


def _backward_loop(dzs, deriv, dh, u_t, rec_mask, steps: int) -> None:
    """``dz_t`` for t = T-2 .. 0 in place, from ``dz_{T-1}`` already in ``dzs[-1]``.

    ``dz_{t-1} = (dh_{t-1} + (dz_t U^T) * m) * act'(z_{t-1})``, ``dh`` ``(T, B, u)`` the
    gradient from above (None: only the last state is returned). With a mask, ``m * act'``
    (and ``dh * act'``) of every step is one product before the loop, which then makes two
    calls per step instead of three.
    """
    if steps < 2:
        return
    if rec_mask is None:
        derivs, dhs = deriv.unbind(0), None if dh is None else dh.unbind(0)
        for t in range(steps - 1, 0, -1):
            prev = dzs[t - 1]
            if dhs is None:
                torch.mm(dzs[t], u_t, out=prev)
            else:
                torch.addmm(dhs[t - 1], dzs[t], u_t, out=prev)
            prev.mul_(derivs[t - 1])
        return
    masked = (deriv[:-1] * rec_mask).unbind(0)                      # m * act'(z_t), t < T-1
    dhs = None if dh is None else (dh[:-1] * deriv[:-1]).unbind(0)  # dh_t * act'(z_t)
    for t in range(steps - 1, 0, -1):
        prev = dzs[t - 1]
        if dhs is None:
            torch.mm(dzs[t], u_t, out=prev)
            prev.mul_(masked[t - 1])
        else:
            torch.addcmul(dhs[t - 1], torch.mm(dzs[t], u_t), masked[t - 1], out=prev)


def _relu_recurrence(xs, kernel, recurrent_kernel, bias, rec_mask, steps: int,
                     batch: int, one_thread: bool = True) -> torch.Tensor:
    """``h_t`` ``(T, B, u)`` for relu: ``x_t W + b`` for all steps in one product, written
    straight into the output buffer, then ``addmm_`` and ``relu_`` on each step's slice."""
    hs = torch.addmm(bias, xs, kernel) if bias is not None else xs @ kernel
    hs = hs.view(steps, batch, recurrent_kernel.shape[0])
    h = None
    with _OneThread(one_thread):
        for ht in hs.unbind(0):  # views, cheaper than indexing at every step
            if h is not None:
                ht.addmm_(h if rec_mask is None else h * rec_mask, recurrent_kernel)
            ht.relu_()
            h = ht
    return hs


def _sigmoid_recurrence(xs, kernel, recurrent_kernel, bias, rec_mask, steps: int,
                        batch: int, one_thread: bool = True) -> torch.Tensor:
    """``s_t = sigmoid(2 z_t)`` ``(T, B, u)``: the tanh recurrence, as ``tanh(z) = 2 sigmoid(2 z)
    - 1``; the caller turns the ``s_t`` it needs into ``h_t = 2 s_t - 1``.

    torch's CPU ``tanh`` (MKL's vsTanh) takes 13.6 us on a (128, 32) step against 7.0 us for
    ``sigmoid`` (AMD EPYC, AVX2), and the step loop is that and one ``addmm_`` per step. So the
    loop carries ``s_t = sigmoid(2 z_t)``, with ``h_t = 2 s_t - 1`` folded into the products:
    ``2 z_t = 2 (x_t W + b) + 4 (s_{t-1} * m) U - 2 m U`` (``m = 1`` without recurrent
    dropout), the constant ``-2 m U`` added to the input projection of steps 1.. once.
    """
    u = recurrent_kernel.shape[0]
    pre = xs.new_empty(steps * batch, u)
    if bias is not None:
        torch.addmm(bias, xs, kernel, beta=2.0, alpha=2.0, out=pre)
    else:
        torch.mm(xs, kernel, out=pre).mul_(2.0)
    hs = pre.view(steps, batch, u)
    if steps > 1:
        if rec_mask is None:  # -2 (1 U): the column sums of U, the same for every sample
            hs[1:].sub_(recurrent_kernel.sum(0), alpha=2.0)
        else:
            hs[1:].sub_(rec_mask @ recurrent_kernel, alpha=2.0)
    s = None
    with _OneThread(one_thread):
        for st in hs.unbind(0):  # views, cheaper than indexing at every step
            if s is not None:
                st.addmm_(s if rec_mask is None else s * rec_mask, recurrent_kernel, alpha=4.0)
            st.sigmoid_()
            s = st
    return hs


def simple_rnn(x: torch.Tensor, kernel: torch.Tensor, recurrent_kernel: torch.Tensor,
               bias: torch.Tensor | None = None, rec_mask: torch.Tensor | None = None, *,
               relu: bool = False, return_sequences: bool = False) -> torch.Tensor:
    """Run a SimpleRNN over batch-first ``x`` ``(batch, timesteps, features)``.

    ``kernel`` ``(features, units)``, ``recurrent_kernel`` ``(units, units)`` and ``bias``
    ``(units,)`` in Keras layout; ``rec_mask`` ``(batch, units)`` multiplies ``h_{t-1}`` before
    ``U`` (recurrent dropout). Returns the last state ``(batch, units)`` or, with
    ``return_sequences``, every state ``(batch, timesteps, units)``. Without gradients to
    record and without a mask it runs ``inference``.
    """
    grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, kernel, recurrent_kernel, bias))
    if not grad and rec_mask is None:
        return inference(x, kernel, recurrent_kernel, bias, relu=relu,
                         return_sequences=return_sequences)
    return _SimpleRNN.apply(x, kernel, recurrent_kernel, bias, rec_mask, relu,
                            return_sequences, grad)


# ---------------------------------------------------------------- inference (no autograd)
#: time steps whose input projection ``inference`` makes at once, into a reused buffer
STEPS_PER_PROJECTION = 4

#: (t0, n, out): write the pre-activations' input part of steps t0 .. t0+n-1 into ``out``
#: ``(n, batch, units)``, time-major
Projection = Callable[[int, int, torch.Tensor], None]


def inference(x: torch.Tensor, kernel: torch.Tensor, recurrent_kernel: torch.Tensor,
              bias: torch.Tensor | None = None, *, relu: bool = False,
              return_sequences: bool = False) -> torch.Tensor:
    """The SimpleRNN forward pass without autograd (``predict``, ``evaluate``), a few steps'
    input projection at a time.

    The training pass projects every step's input at once, ``(steps, batch, units)`` floats
    (26 MB for predict's 2,048 reviews of 100 words), then runs each step on its slice of that
    buffer: the projection and every step read memory that has left the cache. Here
    ``STEPS_PER_PROJECTION`` steps are projected at a time into a small buffer (two,
    alternating, so the last state survives the next projection), with the bias and the tanh
    constant folded into the product, and each step runs in place on its slice. Measured
    (2026-12-01, one thread, 2,048 x 100 steps, 8 inputs, 32 units, in-loop profile):
    the projection of all steps cost 15 ms and the in-loop ``addmm_`` 191 us a step on the
    cold buffer, against 78 us in cache. With ``return_sequences`` the states are written
    time-major and returned as a batch-first view (``transpose``), as ``torch.nn.RNN`` does
    with ``batch_first``: a following recurrent layer then reads its input time-major without
    a copy (the stacked SimpleRNNs of imdb-rnn3).

    Examples
    --------
    >>> x, w, r = torch.zeros(2, 3, 4), torch.zeros(4, 5), torch.zeros(5, 5)
    >>> with torch.inference_mode():
    ...     inference(x, w, r, return_sequences=True).shape
    torch.Size([2, 3, 5])
    """
    batch, steps, n_in = x.shape
    w, r, c, first = _inference_weights(kernel, recurrent_kernel, bias, relu)
    xt = x.transpose(0, 1)                                             # (T, B, in), a view
    tm = xt.is_contiguous()  # time-major already (a previous layer's sequence): no copy
    xbuf = None if tm else x.new_empty(min(STEPS_PER_PROJECTION, steps), batch, n_in)

    def project(t0: int, n: int, out: torch.Tensor) -> None:
        if tm:
            xc = xt[t0:t0 + n]
        else:
            xc = xbuf[:n]
            xc.copy_(xt[t0:t0 + n])
        torch.addmm(c, xc.reshape(n * batch, n_in), w, out=out.view(n * batch, -1))

    return _recurrence(project, x, batch, steps, r, first, relu, return_sequences)


def inference_from_ids(ids: torch.Tensor, embeddings: torch.Tensor, kernel: torch.Tensor,
                       recurrent_kernel: torch.Tensor, bias: torch.Tensor | None = None, *,
                       relu: bool = False, return_sequences: bool = False) -> torch.Tensor:
    """``inference`` of an Embedding's output, from the word ids ``(batch, timesteps)``
    (checked by the caller) and the embedding matrix ``(words, features)``.

    The input projection of a word is a row of ``embeddings @ W`` (plus the bias): that
    table, ``(words, units)``, is made once per call and each step's projection is a row
    lookup, with no embedded ``(batch, timesteps, features)`` tensor in between. Measured
    (2026-12-01, one thread, 2,048 rows a step, 32 units, chunks of 4 steps, us a step):
    the lookup 22 and the ids' time-major copy 5, against 20 for the time-major copy of the
    embedded inputs and 38 for their product with ``W`` (8 features), and 17 for the
    Embedding's own lookup of 8 features. The caller keeps it to vocabularies of at most
    ``batch * timesteps`` words, where the table costs no more than the projections.

    Examples
    --------
    >>> ids, e = torch.tensor([[1, 2, 0]]), torch.eye(3)
    >>> w, r = torch.ones(3, 2), torch.zeros(2, 2)
    >>> with torch.inference_mode():
    ...     inference_from_ids(ids, e, w, r, relu=True, return_sequences=True)[0, :, 0]
    tensor([1., 1., 1.])
    """
    batch, steps = ids.shape
    w, r, c, first = _inference_weights(kernel, recurrent_kernel, bias, relu)
    table = torch.addmm(c, embeddings, w)                              # (words, units)
    idt = ids.t()                                                      # (T, B), a view
    return _recurrence(_table_projection(idt, table), table, batch, steps, r, first, relu,
                       return_sequences)


def _table_projection(idt: torch.Tensor, table: torch.Tensor) -> Projection:
    """Each step's input projection as rows of ``table`` for the time-major ids ``idt``."""
    def project(t0: int, n: int, out: torch.Tensor) -> None:
        torch.index_select(table, 0, idt[t0:t0 + n].reshape(-1),
                           out=out.view(-1, table.shape[1]))
    return project


def _inference_weights(kernel, recurrent_kernel, bias, relu: bool):
    """``(W', U', c, first)``: ``h_t = relu(x_t W' + c + h_{t-1} U')``, or for tanh the
    ``s_t = sigmoid(x_t W' + c + s_{t-1} U')`` of ``_sigmoid_recurrence`` (``W' = 2 W``,
    ``U' = 4 U``, ``c = 2 b - 2 (1 U)``); ``first`` is what step 0 adds back instead of the
    product with the previous state (``2 (1 U)`` for tanh, as ``h_{-1} = 0``; None for relu)."""
    if relu:
        c = bias if bias is not None else kernel.new_zeros(kernel.shape[1])
        return kernel, recurrent_kernel, c, None
    first = recurrent_kernel.sum(0).mul_(2.0)
    c = -first if bias is None else bias.mul(2.0).sub_(first)
    return kernel.mul(2.0), recurrent_kernel.mul(4.0), c, first


def _recurrence(project: Projection, like: torch.Tensor, batch: int, steps: int,
                r: torch.Tensor, first: torch.Tensor | None, relu: bool,
                return_sequences: bool) -> torch.Tensor:
    """The step loop of ``inference``: ``project`` fills a few steps, each step then is one
    in-place ``addmm_`` and one ``relu_``/``sigmoid_`` on its slice."""
    u = r.shape[0]
    if steps == 0:
        return like.new_zeros(batch, 0, u) if return_sequences else like.new_zeros(batch, u)
    chunk = STEPS_PER_PROJECTION
    seq = like.new_empty(steps, batch, u) if return_sequences else None
    bufs = None if seq is not None else \
        [like.new_empty(min(chunk, steps), batch, u) for _ in range(1 + (steps > chunk))]
    act = torch.relu_ if relu else torch.sigmoid_
    s = None
    with _OneThread(batch * u < _INFERENCE_THREADS_FROM):
        for j, t0 in enumerate(range(0, steps, chunk)):
            n = min(chunk, steps - t0)
            g = seq[t0:t0 + n] if seq is not None else bufs[j % len(bufs)][:n]
            project(t0, n, g)
            for gt in g.unbind(0):  # views, cheaper than indexing at every step
                if s is not None:
                    gt.addmm_(s, r)
                elif first is not None:
                    gt.add_(first)
                act(gt)
                s = gt
    if seq is not None:
        if not relu:
            seq.mul_(2.0).sub_(1.0)                                    # s_t -> h_t = 2 s_t - 1
        return seq.transpose(0, 1)
    return s.clone() if relu else s.mul(2.0).sub_(1.0)
