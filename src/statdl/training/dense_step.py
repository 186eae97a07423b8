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
  layout, which MKL runs in about half the time.

Between a step's large matrix products every small operation costs several microseconds of
dispatch, so the step keeps their number low: parameters and gradient views are held
directly, and the loop feeds the metrics held outputs in chunks (``loop.PendingOutputs``).

A leading ``Embedding`` + ``Flatten`` is a row lookup whose gradient is one ``index_add_``
into the (zeroed) embedding gradient. A leading ``SimpleRNN`` that returns its last state
(the NYSE lab's) runs ``_simple_rnn_pass``'s forward and backward passes directly, its masks
drawn first as the module draws them: one step of SimpleRNN(12, dropout 0.1, recurrent dropout
0.1) + Dense(1), batch 64, 5 steps, went from 0.96 to 0.65 ms (``bench/nyse_rnn_speed.py``;
the same weights as autograd's step). Only used by ``fit`` when every layer qualifies (see
``DenseStackStep.for_state``) and in float32; any other model, and any model trained with
``fit(..., precision="bf16"|"16")``, trains through autograd. On a GPU the step works as on
the CPU (one mask per Dropout layer from ``keep_mask``'s device branch, no CPU-only layout).
``DenseStackStep.enabled = False`` turns it off, which the tests use to check that both paths
give the same weights; ``narrow_layout`` and ``closed_form_loss`` turn off its sub-paths (all
three are fast paths of ``statdl.fast_paths``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from .._torch_private import relu_backward
from ..layers.core import DenseModule, DropoutModule, FlattenModule
from ..layers.dropout_masks import KeepMasks
from ..layers.embedding import EmbeddingModule
from ..layers.modules import SequentialModule
from ..layers.recurrent_cells import (
    RecurrentModule,
    simple_rnn_train_backward,
    simple_rnn_train_forward,
)
from .losses import Loss, batch_loss, mean_loss_and_gradient

__all__ = ["DenseStackStep"]

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

    def __init__(self, steps: list[_DenseStep], embedding: EmbeddingModule | None = None,
                 recurrent: _SimpleRNNPrefix | None = None):
        self.steps = steps
        self.embedding = embedding
        self.recurrent = recurrent
        self._saved: list[tuple[torch.Tensor, float, list[torch.Tensor]]] = []
        self._ids: torch.Tensor | None = None
        self._zeros: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}
        self._masks = KeepMasks([r for step in steps for r in step.rates if r > 0.0])
        # aten.threshold_backward where it checks out on this device (statdl._torch_private)
        self._relu_backward = relu_backward(steps[0].kernel.device, steps[0].kernel.dtype)

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
        embedding = recurrent = None
        if input_dims == 3:  # sequences: only under a leading SimpleRNN
            recurrent = _SimpleRNNPrefix.for_module(layers[0], state.device) if layers else None
            if recurrent is None:
                return None
            layers = layers[1:]
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
        return cls(steps, embedding, recurrent)

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
        elif self.recurrent is not None:  # its masks are drawn first, as in the module
            a = self.recurrent.forward(x)
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
            if i == 0 and self.embedding is None and self.recurrent is None:
                break
            da = torch.addmm(zero, dz, step.kernel.t(), beta=0, alpha=scale)
            if i == 0 and self.recurrent is not None:
                self.recurrent.backward(da)
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

    def backward(self, dh: torch.Tensor) -> None:
        """Write the weight gradients from ``dh``, the gradient of the last state."""
        xs, rec_mask, hs = self._saved
        kernel, recurrent_kernel, bias = self.params
        simple_rnn_train_backward(dh, xs, kernel, recurrent_kernel, rec_mask, hs,
                                  relu=self.relu, return_sequences=False,
                                  needs=(False, True, True, bias is not None), out=self.grads)
        self._saved = None


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
