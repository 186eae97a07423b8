"""Extra loss terms of sparse and contractive autoencoders, handed to the core training loop.

How the penalties reach the loss
--------------------------------
The loop adds ``state.penalty()`` to every training step: weight penalties plus the
``penalties`` lists of every module whose ``adds_penalties`` is true
(``TrainingState.activity_modules``), cleared after each step, at evaluation and after
``predict``. The modules below subclass ``SequentialModule``, declare ``adds_penalties`` and
append their own terms to ``penalties`` during training, so they need no change in the loop.

* ``KLSparsity(rho, beta)``: identity layer after sigmoid codings adding
  ``beta * sum_j KL(rho || rho_hat_j)``, ``rho_hat_j`` the batch-mean activation of unit j.
* ``ContractiveEncoder(layers, contractive=lam)``: a ``Sequential`` whose module adds
  ``lam * mean_i ||J_f(x_i)||_F^2`` for the encoder ``f``.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import validation
from ..errors import ConfigError
from ..layers import register_layer
from ..layers.base import Layer, Shape
from ..layers.core import DenseModule, FlattenModule, ReshapeModule
from ..model import Sequential, SequentialModule, layer_from_config

__all__ = ["PenaltyModule", "KLSparsity", "ContractiveEncoder", "jacobian_penalty",
           "kl_sparsity"]

_EPS = 1e-7


class PenaltyModule(SequentialModule):
    """A child-less ``SequentialModule`` whose ``penalties`` the training loop adds to the loss."""

    adds_penalties = True

    def __init__(self) -> None:
        super().__init__([], {})


def kl_sparsity(codings: torch.Tensor, rho: float) -> torch.Tensor:
    """``sum_j KL(rho || rho_hat_j)`` with ``rho_hat_j`` the batch mean of unit j (in (0, 1))."""
    rho_hat = codings.reshape(codings.shape[0], -1).mean(dim=0).clamp(_EPS, 1 - _EPS)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return kl.sum()


class KLSparsityModule(PenaltyModule):
    def __init__(self, rho: float, beta: float):
        super().__init__()
        self.rho, self.beta = rho, beta

    def forward(self, x: torch.Tensor, logits: bool = False, upto: int | None = None):
        if self.training and self.beta > 0:
            self.penalties.append(self.beta * kl_sparsity(x, self.rho))
        return x

    def extra_repr(self) -> str:
        return f"rho={self.rho}, beta={self.beta}"


@register_layer
class KLSparsity(Layer):
    """Identity layer adding the KL sparsity penalty on its input (sigmoid codings).

    The penalty is ``beta * sum_j [rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) /
    (1 - rho_hat_j))]`` where ``rho_hat_j`` is unit j's mean activation over the batch
    (h2o's ``average_activation`` and ``sparsity_beta``). Training only; needs activations in
    (0, 1), so place it after a sigmoid layer.

    Parameters
    ----------
    rho : float
        Target mean activation, in (0, 1).
    beta : float
        Weight of the penalty, >= 0.

    Examples
    --------
    >>> KLSparsity(0.05, beta=1.0).output_shape((32,))
    (32,)
    """

    def __init__(self, rho: float = 0.05, beta: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rho, bool) or not isinstance(rho, int | float) or not 0 < rho < 1:
            raise ConfigError(validation.message("rho", "a target mean activation in (0, 1)",
                                                 rho, "KLSparsity"))
        validation.check_number(beta, "beta", "KLSparsity", low=0)
        self.rho, self.beta = float(rho), float(beta)

    def make_module(self, input_shape: Shape) -> nn.Module:
        return KLSparsityModule(self.rho, self.beta)

    def get_config(self) -> dict:
        return {"rho": self.rho, "beta": self.beta}


_DERIVATIVE = {
    "sigmoid": lambda h: h * (1 - h),
    "tanh": lambda h: 1 - h * h,
    "linear": lambda h: torch.ones_like(h),
}


def jacobian_penalty(layers: list[nn.Module], x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``||d h / d x||_F^2`` for the encoder made of ``layers``.

    Closed form for one Dense layer with sigmoid, tanh or linear activation (after optional
    flattening): ``sum_j f'(a_j)^2 sum_i W_ij^2``. Any other encoder: the exact Jacobian of
    each sample from ``torch.func.vmap(torch.func.jacrev(...))``, differentiable in the weights.
    """
    core = [m for m in layers if not isinstance(m, FlattenModule | ReshapeModule)]
    if len(core) == 1 and isinstance(core[0], DenseModule) \
            and core[0].activation.name in _DERIVATIVE and h.dim() == 2:
        d = _DERIVATIVE[core[0].activation.name](h)
        col = core[0].kernel.square().sum(dim=0)
        return (d.square() * col).sum(dim=1).mean()
    from torch.func import jacrev, vmap

    def f(xi: torch.Tensor) -> torch.Tensor:
        out = xi.unsqueeze(0)
        for m in layers:
            out = m(out)
        return out.squeeze(0)

    jac = vmap(jacrev(f), randomness="different")(x)
    return jac.reshape(x.shape[0], -1).square().sum(dim=1).mean()


class ContractiveModule(SequentialModule):
    adds_penalties = True

    def __init__(self, children: list[nn.Module], activity: dict, lam: float):
        super().__init__(children, activity)
        self.lam = lam

    def forward(self, x: torch.Tensor, logits: bool = False, upto: int | None = None):
        h = super().forward(x, logits=logits, upto=upto)
        if self.training and self.lam > 0 and upto is None and not logits:
            self.penalties.append(self.lam * jacobian_penalty(list(self.layers), x, h))
        return h


@register_layer
class ContractiveEncoder(Sequential):
    """An encoder (a ``Sequential``) whose training loss gains ``lam * ||J(x)||_F^2``.

    ``J(x)`` is the Jacobian of the encoder's output with respect to its input, averaged over
    the batch (Rifai et al., 2011). For one Dense layer with sigmoid, tanh or linear activation
    the closed form ``sum_j f'(a_j)^2 sum_i W_ij^2`` is used; for other encoders the exact
    Jacobian comes from ``torch.func.jacrev`` (cost grows with the number of codings).

    Parameters
    ----------
    layers : list of Layer
        The encoder's layers.
    contractive : float
        The penalty weight ``lam`` (>= 0).

    Examples
    --------
    >>> from statdl.layers import Dense
    >>> enc = ContractiveEncoder([Dense(8, activation="sigmoid")], input_shape=(20,),
    ...                          contractive=0.1)
    >>> enc.count_params()
    168
    """

    def __init__(self, layers=None, input_shape=None, name: str | None = None,
                 contractive: float = 0.0, **kwargs):
        validation.check_number(contractive, "contractive", "ContractiveEncoder", low=0)
        self.contractive = float(contractive)
        specs = [layer_from_config(s) if isinstance(s, dict) else s for s in (layers or [])]
        super().__init__(specs, input_shape=input_shape, name=name, **kwargs)

    def make_module(self, input_shape: Shape) -> nn.Module:
        base = super().make_module(input_shape)
        return ContractiveModule(list(base.layers), dict(base.activity),
                                 self.contractive).to(self.device_)

    def get_config(self) -> dict:
        return {**super().get_config(), "contractive": self.contractive}
