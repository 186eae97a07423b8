"""Optimisers with Keras 3's default constants and update rules.

They update one flat buffer holding every trainable weight (see ``FlatParameters``), so a step
is a handful of vectorised operations whatever the number of layers. Plain RMSprop and Adam run
as one pass of torch's fused Adam kernel where torch has it for the weights' device and dtype
(``_fused_adam_step``), which takes a fifth of a step off the course's MNIST network.

* RMSprop: ``v = rho v + (1 - rho) g^2``; ``w -= lr g / sqrt(v + eps)`` (epsilon *inside* the
  square root, unlike torch), defaults ``lr=0.001, rho=0.9, eps=1e-7``; its state slot holds
  ``v + eps``.
* Adam: ``m += (1-b1)(g-m)``, ``v += (1-b2)(g^2-v)``,
  ``w -= lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps)``, defaults ``0.001, 0.9, 0.999, 1e-7``.
* SGD: ``m = momentum m - lr g``; ``w += m`` (Nesterov: ``w += momentum m - lr g``).
* Adagrad: ``a += g^2``; ``w -= lr g / sqrt(a + eps)``, ``a`` starts at 0.1, ``lr=0.001``.

A model's own ``train_step`` updates weights as in Keras, with ``apply_gradients(zip(grads,
weights))`` or ``apply(grads, weights)``: the weights given are bound once to a flat buffer of
their own (kept from step to step, with its own optimiser state), so the same vectorised
update runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .. import validation
from .._torch_private import fused_adam_, fused_adam_ok
from ..errors import ConfigError, ShapeError
from ..validation import choice_error, message
from .flat import FlatParameters

__all__ = ["Optimizer", "RMSprop", "Adam", "SGD", "Adagrad", "get_optimizer", "applied_count"]

#: How many ``apply`` / ``apply_gradients`` calls any optimiser has made: ``fit`` compares it
#: before and after a model's own ``train_step`` to learn whether the step updated weights
#: itself (Keras's way) or left that to ``fit``.
_APPLIED = [0]


def applied_count() -> int:
    """Number of ``apply`` / ``apply_gradients`` calls so far, by every optimiser."""
    return _APPLIED[0]


@dataclass
class _Binding:
    """Weights updated together by ``apply``: views into one flat buffer, with the optimiser
    state of that buffer."""

    params: list[torch.Tensor]
    flat: FlatParameters
    state: dict[str, torch.Tensor] = field(default_factory=dict)
    grads: dict[int, torch.Tensor] = field(default_factory=dict)

    def rebind(self) -> None:
        """Bind (again, when something else rebound the weights) the weights to the flat
        buffers; the values are kept, and so is the state (same weights, same order)."""
        if not self.flat.intact(self.params):
            self.flat = FlatParameters(self.params)
        self.grads = {id(p): p.grad for p in self.params}


def _check(value, argument: str, owner: str, low: float = 0.0, high: float | None = None,
           low_open: bool = False) -> float:
    """A finite number >= low (> low), below ``high`` when given (``statdl.validation``)."""
    return validation.check_number(value, argument, owner, low=low,  # type: ignore
                                   high=high, low_open=low_open, high_open=True)


def _fused_adam_step(w: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor,
                     v_max: torch.Tensor | None, step: torch.Tensor, *, learning_rate: float,
                     beta_1: float, beta_2: float, epsilon: float) -> None:
    """One pass of ``torch._fused_adam_`` over flat ``w``; callers check ``_fusable`` first.

    The kernel computes ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2`` (and
    ``v_max = max(v_max, v)``), then ``w -= lr / (1-b1^t) m / (sqrt(v) / sqrt(1-b2^t) + eps)``
    with ``t`` read from the one-element tensor ``step``. ``m`` may be ``g`` itself.

    Examples
    --------
    >>> w, g, v = torch.zeros(2), torch.ones(2), torch.zeros(2)
    >>> _fused_adam_step(w, g, g, v, None, torch.tensor(1.0), learning_rate=0.1, beta_1=0.0,
    ...                  beta_2=0.0, epsilon=0.0)
    >>> w.tolist()
    [-0.10000000149011612, -0.10000000149011612]
    """
    fused_adam_(w, g, m, v, v_max, step, lr=learning_rate, beta1=beta_1, beta2=beta_2,
                eps=epsilon)


_FUSABLE: dict[tuple[torch.device, torch.dtype], bool] = {}


def _fusable(w: torch.Tensor, g: torch.Tensor | None = None) -> bool:
    """Whether this torch has a fused Adam kernel for ``w``'s device and dtype that computes
    the Adam formula (checked once on a tiny tensor, so a refusal never leaves real weights
    half-updated; ``statdl._torch_private.fused_adam_ok``), and ``w`` and
    its gradient ``g`` are contiguous tensors of one shape and dtype."""
    if not w.is_contiguous() or (g is not None and (
            g.shape != w.shape or g.dtype != w.dtype or not g.is_contiguous())):
        return False
    key = (w.device, w.dtype)
    known = _FUSABLE.get(key)
    if known is None:  # checked against the Adam formula once per process (_torch_private)
        known = _FUSABLE[key] = fused_adam_ok(w.device, w.dtype)
    return known


class Optimizer:
    """Base class. ``learning_rate`` can be changed between steps (callbacks do)."""

    #: Set to False to run every update as separate torch operations (tests compare both).
    fused: bool = True

    def __init__(self, learning_rate: float):
        self.learning_rate = _check(learning_rate, "learning_rate", type(self).__name__,
                                    low_open=True)
        self.iterations = 0
        self.state: dict[str, torch.Tensor] = {}
        self._bindings: dict[frozenset[int], _Binding] = {}

    def _slot(self, name: str, like: torch.Tensor) -> torch.Tensor:
        slot = self.state.get(name)
        if slot is not None and slot.shape == like.shape and slot.device != like.device:
            # state loaded on the CPU (load_model) for weights since moved to a GPU: keep it
            slot = self.state[name] = slot.to(like.device)
        if slot is None or slot.shape != like.shape:
            slot = torch.full_like(like, self.slot_fill(name))
            self.state[name] = slot
        return slot

    def slot_fill(self, name: str) -> float:
        """The value state slot ``name`` starts at (also what a weight added by a rebuild
        gets)."""
        return 0.0

    def _step_tensor(self, t: float, device: torch.device) -> torch.Tensor:
        """The fused kernel's step count ``t`` as a one-element float32 tensor, made once and
        refilled only when ``t`` changes. Float32 whatever ``t``'s type: torch's CUDA kernel
        reads the step as a float (the CPU kernel converts)."""
        step = getattr(self, "_step_t", None)
        if step is None or step.device != device:
            step = self._step_t = torch.full((), float(t), dtype=torch.float32, device=device)
        elif self._step_value != t:
            step.fill_(t)
        self._step_value = t
        return step

    @torch.no_grad()
    def step(self, w: torch.Tensor, g: torch.Tensor) -> None:
        """Update the flat weights ``w`` in place from the flat gradient ``g``."""
        self.iterations += 1
        self._update(w, g)

    def _update(self, w: torch.Tensor, g: torch.Tensor) -> None:  # pragma: no cover
        raise NotImplementedError

    # -------------------------------------------------------------- Keras's apply API
    def apply_gradients(self, grads_and_vars) -> None:
        """Update weights from their gradients, as Keras's ``apply_gradients``.

        Parameters
        ----------
        grads_and_vars : iterable of (gradient, weight)
            E.g. ``zip(grads, self.trainable_weights)`` with ``grads`` from
            ``torch.autograd.grad(loss, self.trainable_weights)``; a gradient may be None
            (no change from it).

        Examples
        --------
        >>> w = torch.nn.Parameter(torch.ones(2))
        >>> opt = SGD(learning_rate=0.1)
        >>> (grad,) = torch.autograd.grad((w ** 2).sum(), [w])
        >>> opt.apply_gradients(zip([grad], [w])); w.tolist()   # 1 - 0.1 * 2
        [0.800000011920929, 0.800000011920929]
        """
        pairs = list(grads_and_vars)
        for i, pair in enumerate(pairs):
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise ConfigError(message(
                    "grads_and_vars", "(gradient, weight) pairs, e.g. zip(grads, weights)", pair,
                    "apply_gradients", verb="hold", shown=f"item {i} {type(pair).__name__}"))
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def apply(self, grads, trainable_variables) -> None:
        """Update ``trainable_variables`` from ``grads`` (in the same order), as Keras's
        ``Optimizer.apply``; ``grads`` may be the weights' own ``.grad`` after
        ``loss.backward()`` (the torch-backend pattern of Keras's guides).

        Examples
        --------
        >>> w = torch.nn.Parameter(torch.zeros(3))
        >>> opt = Adam(learning_rate=0.1)
        >>> (w - 1).square().sum().backward()
        >>> opt.apply([w.grad], [w]); [round(v, 4) for v in w.tolist()]
        [0.1, 0.1, 0.1]
        """
        grads, weights = list(grads), list(trainable_variables)
        if len(grads) != len(weights):
            raise ConfigError(message("grads", "one gradient per weight", grads, "apply",
                                      verb="hold", shown=f"{len(grads)} gradients for "
                                                         f"{len(weights)} weights"))
        binding = self.bind(weights)
        with torch.no_grad():
            for i, (g, p) in enumerate(zip(grads, weights)):
                slot = binding.grads[id(p)]
                if g is None:
                    slot.zero_()
                elif g is slot or (isinstance(g, torch.Tensor) and g.data_ptr() == slot.data_ptr()
                                   and g.shape == slot.shape):
                    continue  # p.grad after backward: already in the flat gradient
                else:
                    if not isinstance(g, torch.Tensor) or tuple(g.shape) != tuple(p.shape):
                        got = tuple(g.shape) if isinstance(g, torch.Tensor) else type(g).__name__
                        raise ShapeError(message(
                            f"grads[{i}]", f"a tensor of the weight's shape {tuple(p.shape)}", g,
                            "apply", shown=f"{got}"))
                    slot.copy_(g)
        self.apply_bound(binding)

    def bind(self, weights: list[torch.Tensor]) -> _Binding:
        """The flat binding of ``weights`` (made on first use; later calls with the same
        weights, in any order, reuse it and its state)."""
        key = frozenset(id(p) for p in weights)
        if len(key) != len(weights):
            raise ConfigError(message("trainable_variables", "distinct weights", weights,
                                      "apply", shown="the same weight twice"))
        for i, p in enumerate(weights):
            if not isinstance(p, torch.Tensor) or not p.is_floating_point() or not p.is_leaf:
                raise ConfigError(message(
                    f"trainable_variables[{i}]", "a weight (a float torch Parameter, e.g. from "
                    "model.trainable_weights)", p, "apply", shown=type(p).__name__))
        binding = self._bindings.get(key)
        if binding is None:
            binding = self._bindings[key] = _Binding(list(weights), FlatParameters(weights))
        binding.rebind()
        return binding

    def apply_bound(self, binding: _Binding) -> None:
        """One step on ``binding``'s weights from the gradient already in its flat buffer."""
        _APPLIED[0] += 1
        self.state = binding.state
        self.step(binding.flat.w, binding.flat.g)

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate}

    def state_arrays(self) -> dict[str, torch.Tensor]:
        return dict(self.state)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class RMSprop(Optimizer):
    """Keras RMSprop (epsilon inside the square root).

    Examples
    --------
    >>> opt = RMSprop()
    >>> w, g = torch.zeros(1), torch.ones(1)
    >>> opt.step(w, g); round(float(w), 6)  # -0.001 / sqrt(0.1 + 1e-7)
    -0.003162
    """

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False):
        super().__init__(learning_rate)
        self.rho = _check(rho, "rho", "RMSprop", 0.0, 1.0)
        self.momentum = _check(momentum, "momentum", "RMSprop", 0.0, 1.0)
        self.epsilon = _check(epsilon, "epsilon", "RMSprop")
        self.centered = bool(centered)

    def _update(self, w, g):
        # The slot holds v + eps, the square of the step's denominator: with it a step is four
        # passes over the weights (eps + g^2; lerp; rsqrt; update) instead of five, or two
        # with torch's fused Adam kernel (see _fused_update).
        u = self._slot("velocity_plus_epsilon", w)
        if self.fused and not self.centered and self.momentum == 0 and self.rho > 0 \
                and _fusable(w, g):
            self._fused_update(w, g, u)
            return
        buf = self._scratch(w)
        torch.addcmul(self._constant(self.epsilon, w), g, g, out=buf)
        u.lerp_(buf, 1.0 - self.rho)  # rho (v + eps) + (1 - rho)(g^2 + eps)
        if self.centered:
            a = self._slot("average_gradient", w)
            a.mul_(self.rho).add_(g, alpha=1.0 - self.rho)
            torch.addcmul(u, a, a, value=-1.0, out=buf).rsqrt_()
        else:
            torch.rsqrt(u, out=buf)  # 1 / sqrt(v + eps): a multiply is cheaper than a divide
        if self.momentum > 0:
            m = self._slot("momentum", w)
            m.mul_(self.momentum).addcmul_(g, buf, value=self.learning_rate)
            w.sub_(m)
        else:
            w.addcmul_(g, buf, value=-self.learning_rate)

    def _fused_update(self, w, g, u):
        """Keras's step as Adam with ``beta_1 = 0`` (so its first moment is ``g``, kept in
        ``g`` itself), ``beta_2 = rho``, ``eps = 0`` and no bias correction (``t`` so large
        that ``rho^t`` is 0). Adam's ``rho u + (1 - rho) g^2`` lacks the ``(1 - rho) eps``
        that keeps ``u = v + eps``, so ``u`` first gets ``(1 - rho) eps / rho``."""
        u.add_((1.0 - self.rho) * self.epsilon / self.rho)
        _fused_adam_step(w, g, g, u, None, self._step_tensor(2.0**60, w.device),
                         learning_rate=self.learning_rate, beta_1=0.0, beta_2=self.rho,
                         epsilon=0.0)

    def slot_fill(self, name: str) -> float:
        return self.epsilon if name == "velocity_plus_epsilon" else 0.0

    def _scratch(self, like: torch.Tensor) -> torch.Tensor:
        buf = getattr(self, "_buffer", None)
        if buf is None or buf.shape != like.shape or buf.device != like.device \
                or buf.dtype != like.dtype:
            buf = self._buffer = torch.empty_like(like)
        return buf

    @staticmethod
    def _constant(value: float, like: torch.Tensor) -> torch.Tensor:
        return torch.full((), value, dtype=like.dtype, device=like.device)

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate, "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adam(Optimizer):
    """Keras Adam ("epsilon hat" form: epsilon added to sqrt(v) before bias correction).

    Examples
    --------
    >>> opt = Adam(learning_rate=0.1)
    >>> w = torch.zeros(1); opt.step(w, torch.ones(1)); round(float(w), 5)
    -0.1
    """

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False):
        super().__init__(learning_rate)
        self.beta_1 = _check(beta_1, "beta_1", "Adam", 0.0, 1.0)
        self.beta_2 = _check(beta_2, "beta_2", "Adam", 0.0, 1.0)
        self.epsilon = _check(epsilon, "epsilon", "Adam")
        self.amsgrad = bool(amsgrad)

    def _update(self, w, g):
        m, v = self._slot("m", w), self._slot("v", w)
        t = self.iterations
        if self.fused and _fusable(w, g):
            # torch scales eps by sqrt(1 - b2^t) where Keras does not: hand it eps / that
            _fused_adam_step(w, g, m, v, self._slot("v_hat", w) if self.amsgrad else None,
                             self._step_tensor(t, w.device), learning_rate=self.learning_rate,
                             beta_1=self.beta_1, beta_2=self.beta_2,
                             epsilon=self.epsilon / math.sqrt(1 - self.beta_2 ** t))
            return
        m.lerp_(g, 1.0 - self.beta_1)
        v.mul_(self.beta_2).addcmul_(g, g, value=1.0 - self.beta_2)
        alpha = self.learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        if self.amsgrad:
            vhat = self._slot("v_hat", w)
            torch.maximum(vhat, v, out=vhat)
            v = vhat
        w.addcdiv_(m, v.sqrt().add_(self.epsilon), value=-alpha)

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class SGD(Optimizer):
    """Keras SGD with optional (Nesterov) momentum; default learning rate 0.01.

    Examples
    --------
    >>> opt = SGD(learning_rate=0.1)
    >>> w = torch.ones(1); opt.step(w, torch.ones(1)); round(float(w), 6)
    0.9
    """

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False):
        super().__init__(learning_rate)
        self.momentum = _check(momentum, "momentum", "SGD", 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def _update(self, w, g):
        if self.momentum == 0:
            w.add_(g, alpha=-self.learning_rate)
            return
        m = self._slot("momentum", w)
        m.mul_(self.momentum).add_(g, alpha=-self.learning_rate)
        if self.nesterov:
            w.add_(m, alpha=self.momentum).add_(g, alpha=-self.learning_rate)
        else:
            w.add_(m)

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate, "momentum": self.momentum,
                "nesterov": self.nesterov}


class Adagrad(Optimizer):
    """Keras Adagrad (accumulator starts at 0.1, epsilon inside the square root).

    Examples
    --------
    >>> opt = Adagrad(learning_rate=0.1)
    >>> w = torch.zeros(1); opt.step(w, torch.ones(1)); round(float(w), 5)
    -0.09535
    """

    def __init__(self, learning_rate: float = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.initial_accumulator_value = _check(initial_accumulator_value,
                                                "initial_accumulator_value", "Adagrad")
        self.epsilon = _check(epsilon, "epsilon", "Adagrad")

    def slot_fill(self, name: str) -> float:
        return self.initial_accumulator_value if name == "accumulator" else 0.0

    def _update(self, w, g):
        a = self._slot("accumulator", w)
        a.addcmul_(g, g)
        w.addcdiv_(g, (a + self.epsilon).sqrt_(), value=-self.learning_rate)

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate,
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


OPTIMIZERS = {"rmsprop": RMSprop, "adam": Adam, "sgd": SGD, "adagrad": Adagrad}


def get_optimizer(optimizer) -> Optimizer:
    """Return an optimiser from a name (Keras defaults) or pass an ``Optimizer`` through.

    Examples
    --------
    >>> get_optimizer("rmsprop").learning_rate
    0.001
    """
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        return OPTIMIZERS[optimizer.lower()]()
    raise choice_error("optimizer", optimizer, list(OPTIMIZERS))
