"""A hand-written training pass for models made of Dense and Dropout layers, optionally after
an Embedding and a Flatten (the course's word-embedding classifier).

Multilayer perceptrons (the course's MNIST models, Hitters, the dense autoencoders) spend most
of a step in matrix products; around them, autograd records about a dozen nodes, keeps float
dropout masks and applies the dropout scale in separate passes, and accumulates each gradient
into a zeroed buffer. This step runs the same mathematics with fewer passes over memory:

* forward: ``z = s * (a @ W) + b`` with one ``addmm``, where ``a`` is the
  previous activation with its 0/1 dropout masks multiplied in place and ``s`` is the
  product of their ``1 / (1 - rate)`` scales, folded into the product's ``alpha``;
* the loss's gradient with respect to the last pre-activation in closed form where it is
  short (cross-entropy on logits, mean squared error; see ``mean_loss_and_gradient``), else
  from autograd on that pre-activation alone (other losses, final activations, sample and
  class weights);
* backward: ``dW = s * a^T dz`` and ``db = sum(dz)`` written straight into the flat gradient
  buffer (no zeroing, no accumulation), ``da = s * dz W^T``, then the activation's derivative
  and the masks in one or two elementwise passes;
* every dropout mask of a step from one call to the generator into buffers reused from step
  to step (``layers.dropout_masks.KeepMasks``), in the order the Dropout layers would draw them;
* layers of 2 to 10 units (a classifier's output) multiplied through the kernel's transposed
  layout, which MKL runs in about half the time;
* on the CPU, oneDNN's matrix product instead of ``addmm`` for a layer's forward product when
  no dropout scale rides on it, and for the input gradients (``_through_onednn``).

Between a step's large matrix products every small operation costs several microseconds of
dispatch, so the step keeps their number low: parameters and gradient views are held
directly, and the loop feeds the metrics held outputs in chunks (``loop.PendingOutputs``).

A leading ``Embedding`` + ``Flatten`` is a row lookup whose gradient is one ``index_add_``
into the (zeroed) embedding gradient. A leading ``SimpleRNN`` that returns its last state
(the NYSE lab's) runs ``_simple_rnn_pass``'s forward and backward passes directly, its masks
drawn first as the module draws them: one step of SimpleRNN(12, dropout 0.1, recurrent dropout
0.1) + Dense(1), batch 64, 5 steps, went from 0.96 to 0.65 ms (``bench/nyse_rnn_speed.py``;
the same weights as autograd's step). Two more prefixes, each with its own switch: a leading
``Conv1D`` ("valid") + ``Flatten`` as one matrix product of the unfolded windows (the NYSE
lab's Conv1D(16, 3) network: 1.34 -> 0.46 ms a step, ``bench/lab_rows_speed.py``), and a
leading ``Embedding`` + ``Bidirectional(LSTM)`` whose two directions call oneDNN's LSTM
layer and its backward directly (imdb-bilstm@20: 8.7 -> 7.3 ms a step on 2 threads, 10.8 ->
10.0 on one). Only used by ``fit`` when every layer qualifies (see
``DenseStackStep.for_state``) and in float32; any other model, and any model trained with
``fit(..., precision="bf16"|"16")``, trains through autograd. On a GPU the step works as on
the CPU (one mask per Dropout layer from ``keep_mask``'s device branch, no CPU-only layout).
``DenseStackStep.enabled = False`` turns it off, which the tests use to check that both paths
give the same weights; ``narrow_layout``, ``closed_form_loss``, ``conv1d_prefix`` and
``bilstm_prefix`` turn off its sub-paths (fast paths of ``statdl.fast_paths``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Union

import torch
from torch.nn import functional as F

from .._torch_private import check, onednn_linear, onednn_linear_ok, relu_backward
from ..layers import core
from ..layers._lstm_train_pass import train_backward, train_forward
from ..layers.conv1d import Conv1DModule
from ..layers.core import DenseModule, DropoutModule, FlattenModule
from ..layers.dropout_masks import KeepMasks
from ..layers.embedding import EmbeddingModule
from ..layers.modules import SequentialModule
from ..layers.recurrent import BidirectionalModule
from ..layers.recurrent_cells import (
    RecurrentModule,
    onednn_lstm,
    simple_rnn_train_backward,
    simple_rnn_train_forward,
)
from .losses import Loss, batch_loss, mean_loss_and_gradient

__all__ = ["DenseStackStep"]

#: What runs a model's leading layers before its Dense stack.
_Prefix = Union["_SimpleRNNPrefix", "_Conv1DPrefix", "_BiLSTMPrefix"]

#: Hidden activations whose derivative the step can form from the stored activation.
_HIDDEN = {"linear", "relu", "tanh", "sigmoid"}


@dataclass
class _DenseStep:
    """One Dense layer and the dropout layers that follow it (``rates``), with its parameters
    and their gradient views held directly (a module attribute lookup costs more than the
    elementwise work of a small layer)."""

    module: DenseModule
    activation: str
    rates: list[float] = field(default_factory=list)

    def __post_init__(self):
        self.kernel, self.bias = self.module.kernel, self.module.bias
        self.kernel_grad = self.kernel.grad
        self.bias_grad = None if self.bias is None else self.bias.grad
        # 2 to 10 units: MKL multiplies by the kernel's transpose in about half the time
        # (measured on a 2-core AVX-512 CPU with 256 to 784 inputs); a CPU-only trick
        self.narrow = 2 <= self.kernel.shape[1] <= 10 and self.kernel.device.type == "cpu"


class DenseStackStep:
    """Forward and backward of a Dense/Dropout stack, gradients into the flat buffer.

    Examples
    --------
    >>> import statdl as sd
    >>> from statdl import layers as L
    >>> net = sd.Sequential([L.Dense(8, activation="relu"), L.Dropout(0.5), L.Dense(1)],
    ...                     input_shape=(4,))
    >>> net.compile("rmsprop", "mse")
    >>> with sd.fast_paths.on("dense_step"):  # (STATDL_FAST_PATHS=0 turns it off)
    ...     DenseStackStep.for_state(net._training_state()) is not None
    True
    """

    #: Set to False to train every model through autograd.
    enabled: bool = True
    #: Set to False to multiply layers of 2 to 10 units in the plain layout (for timing).
    narrow_layout: bool = True
    #: Set to False to take the loss's gradient from autograd on the last pre-activation
    #: instead of the closed forms of ``mean_loss_and_gradient``.
    closed_form_loss: bool = True

    #: Set to False to leave models that start with a Conv1D to autograd.
    conv1d_prefix: bool = True
    #: Set to False to leave models that start Embedding -> Bidirectional(LSTM) to autograd.
    bilstm_prefix: bool = True
    #: Set to False to run every matrix product through ``addmm`` instead of oneDNN's where
    #: ``_through_onednn`` allows it.
    onednn_product: bool = True

    def __init__(self, steps: list[_DenseStep], embedding: EmbeddingModule | None = None,
                 prefix: _Prefix | None = None):
        self.steps = steps
        self.embedding = embedding
        self.prefix = prefix
        self._saved: list[tuple[torch.Tensor, float, list[torch.Tensor]]] = []
        self._ids: torch.Tensor | None = None
        self._zeros: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}
        self._masks = KeepMasks([r for step in steps for r in step.rates if r > 0.0])
        # aten.threshold_backward where it checks out on this device (statdl._torch_private)
        self._relu_backward = relu_backward(steps[0].kernel.device, steps[0].kernel.dtype)
        self._onednn_ok = onednn_linear_ok(steps[0].kernel.device, steps[0].kernel.dtype)

    @classmethod
    def for_state(cls, state, input_dims: int = 2) -> DenseStackStep | None:
        """The step for a compiled model's ``TrainingState``, or None when the model does not
        qualify: inputs that are not matrices (``input_dims`` counts the batch axis), layers
        other than Dense/Dropout (after an optional trainable Embedding + Flatten), a Dropout
        first or last, hidden activations other than linear/relu/tanh/sigmoid, frozen
        weights, weight or activity penalties."""
        if not cls.enabled or input_dims not in (2, 3) or state.regularized \
                or state.activity_modules:
            return None
        layers = _flatten(state.module)
        if layers is None:
            return None
        embedding = prefix = None
        if input_dims == 3:  # sequences: only under a leading SimpleRNN or Conv1D + Flatten
            prefix = _sequence_prefix(layers, state.device)
            if prefix is None:
                return None
            layers = layers[prefix.layers:]
        elif len(layers) > 2 and (prefix := _BiLSTMPrefix.for_modules(
                layers[0], layers[1], state.device)) is not None:
            layers = layers[prefix.layers:]
        elif len(layers) > 2 and isinstance(layers[0], EmbeddingModule) \
                and isinstance(layers[1], FlattenModule):
            embedding, layers = layers[0], layers[2:]
            if not embedding.embeddings.requires_grad or embedding.embeddings.grad is None:
                return None
        if not layers or not isinstance(layers[0], DenseModule) \
                or not isinstance(layers[-1], DenseModule):
            return None
        steps: list[_DenseStep] = []
        for m in layers:
            if isinstance(m, DropoutModule):
                steps[-1].rates.append(m.rate)
            elif isinstance(m, DenseModule):
                if steps and steps[-1].activation not in _HIDDEN:
                    return None
                for p in m.parameters():
                    if not p.requires_grad or p.grad is None:
                        return None
                steps.append(_DenseStep(m, m.activation.name))
            else:
                return None
        return cls(steps, embedding, prefix)

    @property
    def recurrent(self) -> _Prefix | None:
        """The leading SimpleRNN's prefix, if any (the other prefixes are in ``prefix``)."""
        return self.prefix if isinstance(self.prefix, _SimpleRNNPrefix) else None

    def train_step(self, x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None,
                   loss: Loss, from_logits: bool, final_activation) -> tuple[torch.Tensor,
                                                                          torch.Tensor]:
        """Forward, loss and backward for one batch; returns the batch loss (weighted mean,
        as the loop reports it) and the model output (logits when ``from_logits``), both
        detached, with every gradient written."""
        z = self.forward(x)
        linear_output = from_logits or self.steps[-1].activation == "linear"
        fused = mean_loss_and_gradient(loss, z, y, from_logits) \
            if weights is None and linear_output and self.closed_form_loss else None
        if fused is not None:
            total, dz = fused
            out = z
        else:
            z.requires_grad_()
            out = z if from_logits else final_activation(z)
            total = batch_loss(loss, out, y, weights, from_logits)
            total.backward()
            dz = z.grad
        self.backward(dz)
        return total.detach(), out.detach()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The last layer's pre-activation for a 2-D batch ``x`` (saving what ``backward``
        needs)."""
        self._saved = []
        a, scale = x, 1.0
        if self.embedding is not None:
            self._ids = self.embedding.checked_ids(x)
            a = F.embedding(self._ids, self.embedding.embeddings).view(x.shape[0], -1)
        elif self.prefix is not None:  # its masks are drawn first, as in the module
            a = self.prefix.forward(x)
        batch = a.shape[0]
        # every mask of the step from one draw, in the order the Dropout layers would draw them
        masks = iter(self._masks.draw([(batch, step.kernel.shape[1]) for step in self.steps
                                       for r in step.rates if r > 0.0], x.device, a.dtype))
        last = len(self.steps) - 1
        for i, step in enumerate(self.steps):
            # with no bias, a broadcast zero: the dropout scale rides on alpha, not its own pass
            bias = self._zero(x) if step.bias is None else step.bias
            kernel = step.kernel
            if step.narrow and self.narrow_layout:
                kernel = kernel.t().contiguous().t()
            if scale == 1.0 and self._through_onednn(step, a.shape[0]):
                z = onednn_linear(a, kernel, step.bias)
            else:
                z = torch.addmm(bias, a, kernel, alpha=scale)
            used: list[torch.Tensor] = []
            self._saved.append((a, scale, used))
            if i == last:
                return z
            _activate_(z, step.activation)
            scale = 1.0
            for rate in step.rates:
                if rate > 0.0:
                    mask = next(masks)
                    z.mul_(mask)
                    scale /= 1.0 - rate
                    used.append(mask)
            a = z
        raise AssertionError("unreachable: the last step returns")

    @torch.no_grad()
    def backward(self, dz: torch.Tensor) -> None:
        """Write every weight's gradient into its ``.grad`` (views of the flat buffer) from the
        gradient ``dz`` of the loss with respect to the last pre-activation."""
        zero = self._zero(dz)
        for i in range(len(self.steps) - 1, -1, -1):
            step = self.steps[i]
            a, scale, _ = self._saved[i]
            grad = step.kernel_grad  # also addmm's ignored input: no broadcast copy into out
            if step.narrow and self.narrow_layout:  # (dz^T a)^T
                grad.copy_(torch.addmm(zero, dz.t(), a, beta=0, alpha=scale).t())
            else:
                torch.addmm(grad, a.t(), dz, beta=0, alpha=scale, out=grad)
            if step.bias_grad is not None:
                torch.sum(dz, 0, out=step.bias_grad)
            if i == 0 and self.embedding is None and self.prefix is None:
                break
            if self._through_onednn(step, dz.shape[0]):
                da = onednn_linear(dz, step.kernel.t(), None)
                if scale != 1.0:
                    da.mul_(scale)
            else:
                da = torch.addmm(zero, dz, step.kernel.t(), beta=0, alpha=scale)
            if i == 0 and self.prefix is not None:
                self.prefix.backward(da, self._relu_backward)
                break
            if i == 0:
                grad = self.embedding.embeddings.grad
                grad.zero_()
                grad.index_add_(0, self._ids.reshape(-1), da.view(-1, grad.shape[1]))
                break
            prev = self.steps[i - 1]
            dz = _activation_backward_(da, a, prev.activation, self._saved[i - 1][2],
                                       self._relu_backward)
        self._saved = []
        self._ids = None

    def _through_onednn(self, step: _DenseStep, rows: int) -> bool:
        """Whether a product of ``rows`` rows with ``step``'s kernel (forward, or its
        transpose backward) goes through oneDNN (``_torch_private.onednn_linear``) instead of
        ``addmm``: checked on this device and dtype (float32 CPU), at least
        ``core.ONEDNN_DENSE_MIN`` multiply-adds (predict's threshold), and not a narrow
        layer (2 to 10 units, which MKL runs faster transposed). The course MLP's step at
        batch 128 (2 cores, min of 200, in turn): the first layer's forward 561 -> 519 us,
        the second's input gradient 244 -> 186 us; oneDNN was slower for the weight
        gradients (521 -> 585 us), which stay ``addmm``'s."""
        return self._onednn_ok and self.onednn_product and not step.narrow \
            and rows * step.kernel.numel() >= core.ONEDNN_DENSE_MIN

    def _zero(self, like: torch.Tensor) -> torch.Tensor:
        """A zero scalar on ``like``'s device and dtype, made once (``addmm``'s ignored or
        broadcast input)."""
        zero = self._zeros.get((like.device, like.dtype))
        if zero is None:
            zero = self._zeros[(like.device, like.dtype)] = like.new_zeros(())
        return zero


class _SimpleRNNPrefix:
    """A leading SimpleRNN (last state only) under the Dense stack: its forward and backward
    passes are ``_simple_rnn_pass``'s, called directly instead of through an autograd node,
    with the weight gradients written into the flat buffer. The NYSE lab's SimpleRNN(12) +
    Dense(1) step (batch 64, 5 steps, dropout 0.1/0.1) spent more time in autograd's engine,
    the node and the module calls than in its arithmetic."""

    layers = 1  # the Sequential layers it stands for

    def __init__(self, module: RecurrentModule):
        self.module = module
        self.relu = module.activation_name == "relu"
        self.params = (module.kernel, module.recurrent_kernel, module.bias)
        self.grads = tuple(None if p is None else p.grad for p in self.params)
        self._saved: tuple | None = None

    @classmethod
    def for_module(cls, m, device: torch.device) -> _SimpleRNNPrefix | None:
        """The prefix for a SimpleRNN module that the hand-written pass would run (tanh or
        relu, on the CPU or with recurrent dropout) and that returns its last state only."""
        if type(m) is not RecurrentModule or m.kind != "simple_rnn" or not m._fused_ok \
                or not RecurrentModule.simple_rnn_pass or m.return_sequences \
                or m.go_backwards or (device.type != "cpu" and m.recurrent_dropout <= 0):
            return None
        if any(p is not None and (not p.requires_grad or p.grad is None)
               for p in (m.kernel, m.recurrent_kernel, m.bias)):
            return None
        return cls(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The last state ``(B, units)`` of a batch ``(B, T, features)``."""
        rec_mask = None
        if self.module.dropout > 0 or self.module.recurrent_dropout > 0:
            x, rec_mask = self.module._simple_rnn_masks(x)
        kernel, recurrent_kernel, bias = self.params
        xs, hs = simple_rnn_train_forward(x, kernel, recurrent_kernel, bias, rec_mask,
                                          self.relu)
        self._saved = (xs, rec_mask, hs)
        if hs.shape[0] == 0:
            return x.new_zeros(x.shape[0], recurrent_kernel.shape[0])
        return hs[-1]

    def backward(self, dh: torch.Tensor, relu_backward_=None) -> None:
        """Write the weight gradients from ``dh``, the gradient of the last state."""
        xs, rec_mask, hs = self._saved
        kernel, recurrent_kernel, bias = self.params
        simple_rnn_train_backward(dh, xs, kernel, recurrent_kernel, rec_mask, hs,
                                  relu=self.relu, return_sequences=False,
                                  needs=(False, True, True, bias is not None), out=self.grads)
        self._saved = None


class _Conv1DPrefix:
    """A leading ``Conv1D`` ("valid" padding, one group) and the ``Flatten`` after it.

    Each output position sees one window of ``kernel_size`` steps of all channels, so the
    convolution is one matrix product of the unfolded windows ``(batch * positions,
    channels * kernel_size)`` by the kernel viewed as ``(filters, channels * kernel_size)``,
    the same sums as ``F.conv1d``'s; its output rows ``(batch, positions * filters)`` are
    already Flatten's (Keras's) order. Backward: the activation's derivative, then the
    kernel's gradient (one product) and the bias's (one sum); the input needs none. The NYSE
    lab's Conv1D(16, 3, relu) + Flatten + Dense(1) step (batch 64, (5, 3) windows) ran
    through autograd's engine, a dozen nodes and the module calls for a few microseconds of
    arithmetic each (figures in ``bench/lab_rows_speed.py``).
    """

    layers = 2

    def __init__(self, module: Conv1DModule):
        self.module = module
        self.activation = module.activation.name
        self.span = module.dilation * (module.k - 1) + 1
        filters = module.weight.shape[0]
        # views of the parameters and of their gradients in the flat buffers
        self.kernel = module.weight.view(filters, -1)
        self.kernel_grad = module.weight.grad.view(filters, -1)
        self.bias = module.bias
        self.bias_grad = None if module.bias is None else module.bias.grad
        self._saved: tuple[torch.Tensor, torch.Tensor] | None = None

    @classmethod
    def for_modules(cls, m, after) -> _Conv1DPrefix | None:
        """The prefix for a Conv1D module ("valid", one group, a hidden activation the step
        knows) followed by a Flatten, with trainable weights; else None."""
        if type(m) is not Conv1DModule or type(after) is not FlattenModule \
                or not DenseStackStep.conv1d_prefix or m.padding != "valid" or m.groups != 1 \
                or m.activation.name not in _HIDDEN:
            return None
        if any(p is not None and (not p.requires_grad or p.grad is None)
               for p in (m.weight, m.bias)):
            return None
        return cls(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Flatten's rows ``(B, positions * filters)`` of a batch ``(B, steps, channels)``."""
        m = self.module
        windows = x.unfold(1, self.span, m.stride)  # (B, positions, channels, span): a view
        if m.dilation > 1:
            windows = windows[..., ::m.dilation]
        batch, positions = windows.shape[:2]
        windows = windows.reshape(batch * positions, -1)
        if self.bias is None:
            z = torch.mm(windows, self.kernel.t())
        else:
            z = torch.addmm(self.bias, windows, self.kernel.t())
        _activate_(z, self.activation)
        self._saved = (windows, z)
        return z.view(batch, -1)

    def backward(self, da: torch.Tensor, relu_backward_) -> None:
        """Write the kernel's and bias's gradients from ``da``, that of Flatten's rows."""
        windows, a = self._saved
        dz = _activation_backward_(da.view(a.shape), a, self.activation, [], relu_backward_)
        torch.addmm(self.kernel_grad, dz.t(), windows, beta=0, out=self.kernel_grad)
        if self.bias_grad is not None:
            torch.sum(dz, 0, out=self.bias_grad)
        self._saved = None


class _BiLSTMPrefix:
    """A leading ``Embedding`` and ``Bidirectional(LSTM)`` (last states, concatenated), the
    course's imdb-bilstm network: the lookup, both directions' passes and their backward
    passes called directly, the gradients written into the flat buffer.

    In float32 on the CPU (where ``torch.lstm`` runs oneDNN, ``recurrent_cells.onednn_lstm``)
    each direction is one call of oneDNN's LSTM layer and one of its backward, the calls
    ``torch.lstm`` makes itself, with the backward direction read right to left by oneDNN
    (no reversed copy of the input); elsewhere ``_lstm_train_pass``'s forward and backward
    passes. Through autograd the same step also flips the input, concatenates, records and
    runs a dozen nodes, and adds each gradient into a zeroed buffer (the embedding's whole
    table twice); figures in ``bench/lab_rows_speed.py``.
    """

    layers = 2

    def __init__(self, embedding: EmbeddingModule, bidirectional):
        self.embedding = embedding
        self.table, self.table_grad = embedding.embeddings, embedding.embeddings.grad
        self.units = bidirectional.forward_layer.units
        # (module, read right to left) for the forward and the backward layer
        self.directions = ((bidirectional.forward_layer, False),
                           (bidirectional.backward_layer, True))
        self._saved: list = []
        self._ids: torch.Tensor | None = None
        self._inputs: torch.Tensor | None = None

    @classmethod
    def for_modules(cls, m, after, device: torch.device) -> _BiLSTMPrefix | None:
        """The prefix for a trainable Embedding (no ``mask_zero``) followed by a Bidirectional
        LSTM (tanh/sigmoid, bias, no dropout, last states, ``merge_mode="concat"``) on the
        CPU; else None."""
        if not DenseStackStep.bilstm_prefix or not RecurrentModule.lstm_pass \
                or type(m) is not EmbeddingModule or type(after) is not BidirectionalModule \
                or device.type != "cpu" or m.mask_zero or after.merge_mode != "concat" \
                or after.return_sequences:
            return None
        layers = (after.forward_layer, after.backward_layer)
        for layer, backwards in zip(layers, (False, True)):
            if type(layer) is not RecurrentModule or layer.kind != "lstm" \
                    or not layer._fused_ok or layer.dropout > 0 or layer.recurrent_dropout > 0 \
                    or layer.return_sequences or layer.go_backwards != backwards \
                    or layer.bias is None or layer.units != layers[0].units:
                return None
        params = [m.embeddings] + [p for layer in layers for p in layer.parameters()]
        if any(not p.requires_grad or p.grad is None for p in params):
            return None
        return cls(m, after)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The concatenated last states ``(B, 2 units)`` of a batch of ids ``(B, steps)``."""
        ids = self._ids = self.embedding.checked_ids(x).t()      # time-major (steps, B)
        inputs = self._inputs = F.embedding(ids, self.table)     # (steps, B, d)
        onednn = _onednn_lstm_ok(inputs)
        self._saved = []
        states = []
        for module, backwards in self.directions:
            if onednn:
                saved = _onednn_forward(inputs, module, backwards)
                states.append(saved[1])
            else:
                rows = (inputs.flip(0) if backwards else inputs).reshape(-1, inputs.shape[2])
                saved = (rows, train_forward(rows, module.kernel, module.recurrent_kernel,
                                             module.bias, *ids.shape))
                hs = saved[1][3]
                states.append(hs[-1] if hs.shape[0] else hs.new_zeros(x.shape[0], self.units))
            self._saved.append((onednn, saved))
        return torch.cat(states, 1)

    def backward(self, da: torch.Tensor, relu_backward_=None) -> None:
        """Write the weights' and the embedding's gradients from ``da`` ``(B, 2 units)``."""
        inputs, u = self._inputs, self.units
        grad_inputs = None
        for (module, backwards), (onednn, saved), dh in zip(
                self.directions, self._saved, (da[:, :u], da[:, u:])):
            kernel_grad, recurrent_grad, bias_grad = (p.grad for p in (
                module.kernel, module.recurrent_kernel, module.bias))
            if onednn:
                dx, dw, du, db = _onednn_backward(inputs, module, backwards, saved,
                                                  dh.contiguous())
                kernel_grad.copy_(dw.t())
                recurrent_grad.copy_(du.t())
            elif inputs.shape[0]:
                rows, passed = saved
                dx, dw, du, db = train_backward(passed, rows, module.kernel,
                                                module.recurrent_kernel, dh)
                dx = dx.view(inputs.shape)
                if backwards:
                    dx = dx.flip(0)
                kernel_grad.copy_(dw)
                recurrent_grad.copy_(du)
            else:  # no steps: no gradient
                dx, db = torch.zeros_like(inputs), bias_grad.new_zeros(bias_grad.shape)
                kernel_grad.zero_()
                recurrent_grad.zero_()
            bias_grad.copy_(db)
            grad_inputs = dx if grad_inputs is None else grad_inputs.add_(dx)
        grad = self.table_grad
        grad.zero_()
        grad.index_add_(0, self._ids.reshape(-1), grad_inputs.reshape(-1, grad.shape[1]))
        self._saved, self._ids, self._inputs = [], None, None


#: torch's LSTM mode number in ``aten.mkldnn_rnn_layer`` (RNN_RELU 0, RNN_TANH 1, LSTM 2).
_LSTM_MODE = 2


def _onednn_weights(module: RecurrentModule) -> tuple[torch.Tensor, ...]:
    """oneDNN's four weights for a Keras LSTM layer: ``w_ih``, ``w_hh`` (transposed views),
    the input bias and a zero recurrent bias, as ``RecurrentModule._torch_params`` gives
    ``torch.lstm``."""
    bias = module.bias.detach()
    return (module.kernel.detach().t(), module.recurrent_kernel.detach().t(), bias,
            _zeros(bias.shape[0], bias.device, bias.dtype))


@functools.lru_cache(maxsize=8)
def _zeros(n: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A zero vector, made once (oneDNN's recurrent bias: Keras's LSTM has one bias)."""
    return torch.zeros(n, device=device, dtype=dtype)


def _onednn_forward(inputs: torch.Tensor, module: RecurrentModule, backwards: bool):
    """oneDNN's training forward pass of one direction over time-major ``inputs`` (detached):
    ``(outputs, h_last, c_last, workspace, h0)``."""
    h0 = inputs.new_zeros(inputs.shape[1], module.units)
    # oneDNN keeps the workspace its backward pass needs only while grad mode is on; every
    # input is detached, so nothing is recorded
    with torch.enable_grad():
        out = torch.ops.aten.mkldnn_rnn_layer(
            inputs, *_onednn_weights(module), h0, h0, backwards, [], _LSTM_MODE, module.units,
            1, True, False, False, True)
    return (*out, h0)


def _onednn_backward(inputs: torch.Tensor, module: RecurrentModule, backwards: bool, saved,
                     dh: torch.Tensor):
    """oneDNN's backward pass of one direction from ``dh``, the last state's gradient:
    ``(d inputs, d w_ih, d w_hh, d bias)`` (torch's layouts)."""
    out, hy, cy, workspace, h0 = saved
    grads = torch.ops.aten.mkldnn_rnn_layer_backward(
        inputs, *_onednn_weights(module), h0, h0, out, hy, cy, None, dh, None, backwards,
        _LSTM_MODE, module.units, 1, True, True, False, [], False, workspace)
    return grads[0], grads[1], grads[2], grads[3]


def _onednn_lstm_ok(inputs: torch.Tensor) -> bool:
    """Whether the direct oneDNN calls serve ``inputs``: float32 on a CPU where ``torch.lstm``
    runs oneDNN, and the calls agree with ``torch.lstm``'s autograd on a tiny input (checked
    once per process, ``statdl._torch_private.check``)."""
    return onednn_lstm(inputs) and check(
        "aten.mkldnn_rnn_layer", inputs.device, inputs.dtype, _onednn_check_run,
        _onednn_check_reference, rtol=1e-5, atol=1e-6)


def _onednn_check_inputs(device, dtype):
    """Two sequences of three steps, two features, three units, from a fixed formula."""
    def values(*shape, phase):
        n = 1
        for k in shape:
            n *= k
        return (0.5 * torch.sin(torch.arange(n, dtype=torch.float64) * 1.3 + phase)
                ).reshape(shape).to(device=device, dtype=dtype)
    module = RecurrentModule("lstm", 2, 3).to(device=device, dtype=dtype)
    with torch.no_grad():
        module.kernel.copy_(values(2, 12, phase=0.2))
        module.recurrent_kernel.copy_(values(3, 12, phase=0.3))
        module.bias.copy_(values(12, phase=0.4))
    return module, values(3, 2, 2, phase=0.1), values(2, 3, phase=0.5)


def _onednn_check_run(device, dtype):
    module, inputs, dh = _onednn_check_inputs(device, dtype)
    out = []
    for backwards in (False, True):
        saved = _onednn_forward(inputs, module, backwards)
        out += [saved[1], *_onednn_backward(inputs, module, backwards, saved, dh)]
    return tuple(out)


def _onednn_check_reference(device, dtype):
    module, inputs, dh = _onednn_check_inputs(device, dtype)
    out = []
    for backwards in (False, True):
        x = inputs.detach().clone().requires_grad_()
        w_ih, w_hh = module.kernel.t().detach().requires_grad_(), \
            module.recurrent_kernel.t().detach().requires_grad_()
        b = module.bias.detach().clone().requires_grad_()
        h0 = x.new_zeros(1, x.shape[1], 3)
        _, h, _ = torch.lstm(x.flip(0) if backwards else x, (h0, h0),
                             [w_ih, w_hh, b, torch.zeros_like(b)], True, 1, 0.0, True, False,
                             False)
        (h[0] * dh).sum().backward()
        out += [h[0].detach(), x.grad, w_ih.grad, w_hh.grad, b.grad]
    return tuple(out)


def _sequence_prefix(layers: list, device: torch.device):
    """The prefix that runs the first layers of a model fed sequences ``(B, steps, features)``,
    or None."""
    if not layers:
        return None
    if len(layers) > 1 and type(layers[0]) is Conv1DModule:
        return _Conv1DPrefix.for_modules(layers[0], layers[1])
    return _SimpleRNNPrefix.for_module(layers[0], device)


def _flatten(module) -> list | None:
    """The layer modules of a ``Sequential``'s module, with nested models (an autoencoder's
    encoder and decoder) expanded; None where a nested module runs more than its layers
    (penalty terms, sampling)."""
    if type(module) is not SequentialModule or module.adds_penalties:
        return None
    layers = []
    for m in module.layers:
        if isinstance(m, SequentialModule):
            inner = _flatten(m)
            if inner is None:
                return None
            layers.extend(inner)
        else:
            layers.append(m)
    return layers


def _activate_(z: torch.Tensor, name: str) -> None:
    if name == "relu":
        z.clamp_min_(0.0)
    elif name == "tanh":
        z.tanh_()
    elif name == "sigmoid":
        z.sigmoid_()


def _activation_backward_(da: torch.Tensor, a: torch.Tensor, name: str,
                          masks: list[torch.Tensor], relu_backward_) -> torch.Tensor:
    """Gradient with respect to a hidden pre-activation, given the gradient ``da`` with
    respect to its output ``a`` (multiplied in place by the 0/1 ``masks``, unscaled);
    ``relu_backward_(da, a)`` is ``da * (a > 0)``."""
    if name == "relu":  # a > 0 exactly where the unit was active and kept
        return relu_backward_(da, a)
    for mask in masks:  # sigmoid's a * (1 - a) would vanish where dropped; tanh's would not
        da.mul_(mask)
    if name == "tanh":
        return da.mul_(1.0 - a.square())
    if name == "sigmoid":
        return da.mul_(a * (1.0 - a))
    return da
