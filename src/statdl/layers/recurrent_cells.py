"""Torch modules behind SimpleRNN, LSTM and GRU, holding Keras-layout weights.

Weights are stored exactly as Keras stores them, so ``get_weights()`` lines up with Keras's:

- ``kernel`` ``(features, k*units)`` and ``recurrent_kernel`` ``(units, k*units)`` with the gates
  in Keras's order (LSTM i, f, c, o; GRU z, r, h; SimpleRNN one block, k = 1);
- ``bias`` ``(k*units,)``, except GRU with ``reset_after=True``: ``(2, 3*units)``, input bias
  then recurrent bias.

Words: ``kernel`` and ``recurrent_kernel`` are Keras's weight matrices. The compute paths are
"passes" here ("hand-written pass", "torch's fused RNN ops"): the switches
``simple_rnn_pass``, ``gru_pass``, ``lstm_pass`` (old names ``*_kernel`` accepted by
``statdl.fast_paths``) and the modules ``_*_pass.py``.

Without recurrent dropout and with the default activations the forward pass calls torch's fused
RNN ops (``torch.lstm``, ``torch.gru``, ``torch.rnn_tanh``/``rnn_relu``), which take a flat
weight list ``[w_ih, w_hh, b_ih, b_hh]``: the Keras kernels are passed as transposed views (no
copy; GRU gates reordered to torch's r, z, n) and a zero tensor stands in for the recurrent bias
Keras does not have. So the trainable parameters are exactly Keras's. Otherwise a lean step loop
runs, with the input projection of all time steps done in one matrix product.

SimpleRNN (tanh or relu) is the exception on CPU, and with recurrent dropout on any device: it
runs ``_simple_rnn_pass``, one autograd node whose backward pass is written out by hand (only
the recurrence stays in the time loop), faster than torch's fused CPU op for training and
for inference. Setting the class attribute ``RecurrentModule.simple_rnn_pass = False``
switches back to the old paths (fused op, step loop with recurrent dropout).

GRU (``reset_after=True``, tanh, sigmoid, no recurrent dropout) likewise runs ``_gru_pass`` on
CPU instead of ``torch.gru`` when gradients are recorded (training), and
``_gru_pass.gru_inference`` when not (``predict``, ``evaluate``: 2.3 times torch.gru's speed,
with a few steps' gates at a time). ``RecurrentModule.gru_pass = False`` switches back.

LSTM (tanh, sigmoid) runs ``_lstm_pass.lstm_inference`` on CPU when no gradient is recorded
(``predict``, ``evaluate``): faster than ``torch.lstm`` there and with its gate buffer a few
steps long instead of the whole sequence. For training it keeps ``torch.lstm`` where that runs
oneDNN's fused LSTM (float32, the usual case), which is faster than a pass written in torch
operations; elsewhere (float64, oneDNN off) it runs ``_lstm_train_pass``, like the GRU's.
``RecurrentModule.lstm_pass = False`` switches back to ``torch.lstm`` for both.

Dropout follows Keras (``dropout_rnn_cell.py``): one mask per sequence, reused at every step.
``dropout`` masks the inputs x_t, ``recurrent_dropout`` masks h_{t-1}. With
``recurrent_dropout > 0`` Keras's LSTM and GRU switch to ``implementation=1`` and draw one mask
per gate (4 for LSTM, 3 for GRU) for the inputs and for the state; with input dropout only they
use one input mask, which is constant over time, so the masked inputs go to the fused op.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn

from .._torch_private import rnn_ops_ok
from ..activations import activation_name, get_activation
from ._gru_pass import gru, gru_inference
from ._lstm_pass import lstm_inference
from ._lstm_train_pass import lstm
from ._simple_rnn_pass import inference_from_ids as simple_rnn_inference_from_ids
from ._simple_rnn_pass import simple_rnn
from ._simple_rnn_pass import train_backward as simple_rnn_train_backward
from ._simple_rnn_pass import train_forward as simple_rnn_train_forward
from .dropout_masks import KeepMasks, inverted_mask

__all__ = ["RecurrentModule", "GATES", "simple_rnn_train_forward", "simple_rnn_train_backward"]

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def onednn_lstm(x: torch.Tensor) -> bool:
    """Whether ``torch.lstm`` runs oneDNN's fused LSTM for ``x`` (float32 on CPU, oneDNN on).

    oneDNN's forward and backward are one native call each (``mkldnn_rnn_layer`` and its
    backward), faster for training than ``_lstm_train_pass``, whose time loop is a dozen torch
    calls per step: one RMSprop step of Embedding(10000, 8) -> LSTM(32) -> Dense(1), batch 128,
    2 cores (``bench/rnn_speed.py --lstm``), torch.lstm against the hand-written pass: 13.0
    against 20.0 ms at 100 steps, 3.6 against 5.1 ms at 20, 98 against 126 ms at 500. Without
    oneDNN (another dtype, a build without it, ``torch.backends.mkldnn.enabled = False``) torch
    records every step's cell on the autograd tape and the hand-written pass is the faster:
    47.7 against 39.1 ms at 100 steps, 13.6 against 9.2 ms at 20 (``--lstm --no-onednn``).
    """
    return (x.dtype == torch.float32 and torch.backends.mkldnn.is_available()
            and torch.backends.mkldnn.enabled)


class RecurrentModule(nn.Module):
    """One recurrent layer over batch-first input ``(batch, timesteps, features)``.

    Returns ``(batch, units)`` (last output) or ``(batch, timesteps, units)`` when
    ``return_sequences``. With ``go_backwards`` the input is read last step first and, as in
    Keras, the returned sequence is in that processing (reversed) order.
    """

    #: SimpleRNN (tanh/relu) runs ``_simple_rnn_pass`` (one autograd node, BPTT by hand) on
    #: CPU and with recurrent dropout; ``False`` restores torch's fused op / the step loop.
    simple_rnn_pass: bool = True
    #: GRU (reset_after, tanh/sigmoid, no recurrent dropout) runs ``_gru_pass`` (one autograd
    #: node, BPTT by hand) on CPU with grad enabled, ``gru_inference`` without; ``False``
    #: restores torch's ``torch.gru``.
    gru_pass: bool = True
    #: LSTM (tanh/sigmoid, no recurrent dropout) on CPU runs ``_lstm_pass.lstm_inference``
    #: without autograd (predict, evaluate: a few steps' gates at a time, so memory stays
    #: bounded whatever the length), and ``_lstm_train_pass`` (one autograd node, BPTT by
    #: hand) for training where ``torch.lstm`` would not use oneDNN (see ``onednn_lstm``);
    #: ``False`` restores ``torch.lstm`` for both.
    lstm_pass: bool = True
    #: torch's fused RNN ops (positional ``torch.lstm``/``gru``/``rnn_tanh``/``rnn_relu``, cuDNN
    #: on CUDA), used where they pass ``_torch_private.rnn_ops_ok``; ``False`` runs the step loop.
    torch_rnn_ops: bool = True

    def __init__(self, kind: str, n_in: int, units: int, *, activation: str = "tanh",
                 recurrent_activation: str = "sigmoid", use_bias: bool = True,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, go_backwards: bool = False,
                 reset_after: bool = True):
        super().__init__()
        if kind not in GATES:
            raise ValueError(f"unknown recurrent kind {kind!r}")
        self.kind = kind
        self.units = units
        self.k = k = GATES[kind]
        self.use_bias = use_bias
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards
        self.reset_after = reset_after if kind == "gru" else False
        self.activation_name = activation_name(activation)
        self.recurrent_activation_name = activation_name(recurrent_activation)
        self.act: Callable = get_activation(activation)
        self.ract: Callable = get_activation(recurrent_activation, "recurrent_activation")

        self.kernel = nn.Parameter(torch.empty(n_in, k * units))
        self.recurrent_kernel = nn.Parameter(torch.empty(units, k * units))
        if not use_bias:
            self.bias = None
        elif self.reset_after:
            self.bias = nn.Parameter(torch.zeros(2, k * units))
        else:
            self.bias = nn.Parameter(torch.zeros(k * units))

        self._torch_op = kind if kind != "simple_rnn" else f"rnn_{self.activation_name}"
        if kind == "simple_rnn":
            self._fused_ok = self.activation_name in ("tanh", "relu")
        elif kind == "lstm":
            self._fused_ok = (self.activation_name == "tanh"
                              and self.recurrent_activation_name == "sigmoid")
        else:
            self._fused_ok = (self.reset_after and self.activation_name == "tanh"
                              and self.recurrent_activation_name == "sigmoid")

    def extra_repr(self) -> str:
        n_in = self.kernel.shape[0]
        extra = []
        if self.return_sequences:
            extra.append("return_sequences=True")
        if self.go_backwards:
            extra.append("go_backwards=True")
        if self.dropout or self.recurrent_dropout:
            extra.append(f"dropout={self.dropout}, recurrent_dropout={self.recurrent_dropout}")
        return ", ".join([f"{self.kind}", f"{n_in} -> {self.units}", *extra])

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_autocast_enabled(x.device.type):
            # fit(precision=...): the recurrence runs in float32 on every path (the hand-written
            # passes and torch's CPU LSTM refuse 16-bit inputs mixed with 32-bit weights)
            with torch.autocast(x.device.type, enabled=False):
                return self.forward(x.float())
        if self.go_backwards:
            x = x.flip(1)
        training = self.training
        use_rec_dropout = training and self.recurrent_dropout > 0
        if self.kind == "simple_rnn" and self._fused_ok \
                and self._use_simple_rnn_pass(x, use_rec_dropout):
            return self._simple_rnn_pass(x, training)
        if self._fused_ok and not use_rec_dropout:
            if training and self.dropout > 0:
                # Keras implementation 2: one input mask per sequence, constant over time.
                x = x * inverted_mask((x.shape[0], 1, x.shape[2]), self.dropout, x.device,
                                      x.dtype)
            if self.kind == "gru" and self.gru_pass and not x.is_cuda:
                run = gru if torch.is_grad_enabled() else gru_inference
                return run(x, self.kernel, self.recurrent_kernel, self.bias,
                           return_sequences=self.return_sequences)
            if self.kind == "lstm" and self.lstm_pass and not x.is_cuda:
                if not torch.is_grad_enabled():
                    return lstm_inference(x, self.kernel, self.recurrent_kernel, self.bias,
                                          return_sequences=self.return_sequences)
                if not onednn_lstm(x):
                    return lstm(x, self.kernel, self.recurrent_kernel, self.bias,
                                return_sequences=self.return_sequences)
            if self.torch_rnn_ops and rnn_ops_ok(self._torch_op, x.device, x.dtype):
                return self._fused(x)
            return self._loop(x, False)  # x already carries Keras implementation 2's input mask
        return self._loop(x, training)

    def forward_from_ids(self, embedding: nn.Module, ids: torch.Tensor) -> torch.Tensor | None:
        """``self(embedding(ids))`` for ``predict``/``evaluate`` (``inference.forward``) of a
        SimpleRNN, with the Embedding folded into the input projection: each step's
        ``x_t W + b`` is a row of the table ``embeddings @ W + b``, made once per batch
        (``_simple_rnn_pass.inference_from_ids``). imdb-rnn's predict, one thread, median of 8
        calls in turn (2026-12-01): 74,400 -> 84,600 samples/s (two threads 137,000 ->
        175,500). For the LSTM neither the table (128 columns a row) nor looking each chunk's
        inputs up time-major paid: 2% and 5-10% slower than its product with the embedded
        inputs (predict, calls in turn, either order), so LSTM and GRU keep their usual path.

        None where it does not apply: not a SimpleRNN (tanh/relu) with ``simple_rnn_pass``
        on, gradients recorded, training mode, CUDA, autocast, a masking Embedding, other
        dtypes, or a vocabulary larger than the batch's ``batch * timesteps`` words (the
        table would cost more than the products); the caller then runs both modules.
        """
        if self.kind != "simple_rnn" or not (self._fused_ok and self.simple_rnn_pass) \
                or self.training or torch.is_grad_enabled() or ids.is_cuda or ids.dim() != 2 \
                or getattr(embedding, "mask_zero", True) \
                or torch.is_autocast_enabled(ids.device.type):
            return None
        table = embedding.embeddings
        if table.dtype != self.kernel.dtype or table.device != self.kernel.device \
                or table.shape[0] > ids.numel():
            return None
        ids = embedding.checked_ids(ids)
        if self.go_backwards:
            ids = ids.flip(1)
        return simple_rnn_inference_from_ids(
            ids, table, self.kernel, self.recurrent_kernel, self.bias,
            relu=self.activation_name == "relu", return_sequences=self.return_sequences)

    # SimpleRNN's hand-written pass (BPTT by hand) ------------------------------------
    def _use_simple_rnn_pass(self, x: torch.Tensor, use_rec_dropout: bool) -> bool:
        # CPU: faster than torch's fused op for training and inference alike; with
        # recurrent dropout it replaces the step loop on every device. cuDNN keeps CUDA.
        return self.simple_rnn_pass and (use_rec_dropout or not x.is_cuda)

    def _simple_rnn_pass(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        rec_mask = None
        if training and (self.dropout > 0 or self.recurrent_dropout > 0):
            x, rec_mask = self._simple_rnn_masks(x)
        return simple_rnn(x, self.kernel, self.recurrent_kernel, self.bias, rec_mask,
                          relu=self.activation_name == "relu",
                          return_sequences=self.return_sequences)

    def _simple_rnn_masks(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``x`` times the input mask and the recurrent mask ``(batch, units)``: one per
        sequence, as in the step loop, the same numbers as its two ``inverted_mask`` calls.

        Both come from one ``KeepMasks`` draw into buffers kept on the module: two
        ``inverted_mask`` calls cost 2 x 15 small ops (a mask layout made per call), a third
        of the SimpleRNN(12) step of the NYSE lab (batch 64, 5 steps). The scaled masks are
        fresh tensors, so a layer called twice in one forward pass keeps both calls' masks.
        """
        batch, _, n_in = x.shape
        shapes = [(batch, 1, n_in)] if self.dropout > 0 else []
        rates = [self.dropout] if self.dropout > 0 else []
        if self.recurrent_dropout > 0:
            shapes.append((batch, self.units))
            rates.append(self.recurrent_dropout)
        draws = getattr(self, "_masks", None)
        if draws is None or draws.rates != rates:
            draws = self._masks = KeepMasks(rates)
        keeps = draws.draw(shapes, x.device, x.dtype)
        if self.dropout > 0:
            x = x * keeps[0].mul(1.0 / (1.0 - self.dropout))
        if self.recurrent_dropout <= 0:
            return x, None
        return x, keeps[-1].mul(1.0 / (1.0 - self.recurrent_dropout))

    # torch's fused RNN ops -------------------------------------------------------------
    def _torch_params(self) -> tuple[list[torch.Tensor], bool]:
        u = self.units
        w_ih, w_hh = self.kernel, self.recurrent_kernel
        b_ih = b_hh = None
        if self.bias is not None:
            if self.reset_after:
                b_ih, b_hh = self.bias[0], self.bias[1]
            else:
                b_ih = self.bias
                b_hh = torch.zeros_like(b_ih)
        if self.kind == "gru":  # Keras z, r, h -> torch r, z, n
            def reorder(t: torch.Tensor) -> torch.Tensor:
                return torch.cat([t[..., u:2 * u], t[..., :u], t[..., 2 * u:]], -1)
            w_ih, w_hh = reorder(w_ih), reorder(w_hh)
            if b_ih is not None:
                b_ih, b_hh = reorder(b_ih), reorder(b_hh)
        params = [w_ih.t(), w_hh.t()]
        if b_ih is not None:
            params += [b_ih, b_hh]
        return params, b_ih is not None

    def _fused(self, x: torch.Tensor) -> torch.Tensor:
        params, has_bias = self._torch_params()
        h0 = x.new_zeros(1, x.shape[0], self.units)
        args = (params, has_bias, 1, 0.0, False, False, True)
        with warnings.catch_warnings():
            if x.is_cuda:  # cuDNN warns that the weights are not one flat buffer
                warnings.simplefilter("ignore", UserWarning)
            if self.kind == "lstm":
                out, h_n, _ = torch.lstm(x, (h0, h0), *args)
            elif self.kind == "gru":
                out, h_n = torch.gru(x, h0, *args)
            elif self.activation_name == "tanh":
                out, h_n = torch.rnn_tanh(x, h0, *args)
            else:
                out, h_n = torch.rnn_relu(x, h0, *args)
        return out if self.return_sequences else h_n[0]

    # step loop -------------------------------------------------------------------
    def _loop(self, x: torch.Tensor, training: bool) -> torch.Tensor:
        batch, steps, n_in = x.shape
        u, k = self.units, self.k
        n_masks = k if k > 1 else 1  # Keras implementation 1: one mask per gate
        in_mask = rec_mask = None
        if training and self.dropout > 0:
            in_mask = inverted_mask((batch, n_masks, n_in), self.dropout, x.device, x.dtype)
        if training and self.recurrent_dropout > 0:
            rec_mask = inverted_mask((batch, n_masks, u), self.recurrent_dropout, x.device,
                                     x.dtype)

        in_bias = rec_bias = None
        if self.bias is not None:
            if self.reset_after:
                in_bias, rec_bias = self.bias[0], self.bias[1]
            else:
                in_bias = self.bias

        # Input projection of every step at once -> (steps, batch, k*u), gates in blocks.
        if in_mask is not None and n_masks > 1:
            xm = x.unsqueeze(0) * in_mask.permute(1, 0, 2).unsqueeze(2)    # (k, B, T, in)
            w_g = self.kernel.view(n_in, k, u).transpose(0, 1)             # (k, in, u)
            xw = torch.bmm(xm.reshape(k, batch * steps, n_in), w_g)        # (k, B*T, u)
            xw = xw.view(k, batch, steps, u).permute(2, 1, 0, 3).reshape(steps, batch, k * u)
        else:
            if in_mask is not None:
                x = x * in_mask
            xw = torch.matmul(x.transpose(0, 1), self.kernel)             # (T, B, k*u)
        if in_bias is not None:
            xw = xw + in_bias

        rec = self.recurrent_kernel                                        # (u, k*u)
        if rec_mask is not None and k > 1:
            # h * mask_g @ U_g for every gate g as one product with a block-diagonal matrix
            rec = torch.block_diag(*rec.view(u, k, u).unbind(1))           # (k*u, k*u)
        act, ract = self.act, self.ract
        kind, reset_after = self.kind, self.reset_after
        h = x.new_zeros(batch, u)
        c = x.new_zeros(batch, u) if kind == "lstm" else None
        outputs = []
        for xt in xw.unbind(0):
            if rec_mask is None:
                hm = h
            elif k > 1:
                hm = (h.unsqueeze(1) * rec_mask).reshape(batch, k * u)
            else:
                hm = h * rec_mask[:, 0]
            if kind == "lstm":
                i, f, g, o = torch.addmm(xt, hm, rec).chunk(4, 1)
                c = ract(f) * c + ract(i) * act(g)
                h = ract(o) * act(c)
            elif kind == "simple_rnn":
                h = act(torch.addmm(xt, hm, rec))
            elif reset_after:
                r_all = hm @ rec
                if rec_bias is not None:
                    r_all = r_all + rec_bias
                x_z, x_r, x_h = xt.chunk(3, 1)
                r_z, r_r, r_h = r_all.chunk(3, 1)
                z = ract(x_z + r_z)
                r = ract(x_r + r_r)
                h = z * h + (1 - z) * act(x_h + r * r_h)
            else:
                zr = torch.addmm(xt[:, :2 * u], hm[:, :2 * u], rec[:2 * u, :2 * u]
                                 if rec_mask is not None else rec[:, :2 * u])
                z, r = ract(zr).chunk(2, 1)
                h_h = hm[:, 2 * u:] if rec_mask is not None else h
                hh = act(torch.addmm(xt[:, 2 * u:], r * h_h, rec[2 * u:, 2 * u:]
                                     if rec_mask is not None else rec[:, 2 * u:]))
                h = z * h + (1 - z) * hh
            if self.return_sequences:
                outputs.append(h)
        if self.return_sequences:
            if not outputs:
                return x.new_zeros(batch, 0, u)
            return torch.stack(outputs, 1)
        return h
