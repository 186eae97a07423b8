"""The variational autoencoder's codings layer and the callback that reports its KL term.

``GaussianSampling`` takes the encoder's last Dense output ``(mean, log_var)`` (2k values)
and returns k codings: ``mean + exp(log_var / 2) * eps`` with ``eps ~ N(0, I)`` during
training (the reparameterisation trick), the mean at evaluation and prediction. During
training it adds ``kl_weight * mean_i KL(N(mean_i, var_i) || N(0, I))`` to the loss through the
penalty hook of ``statdl.autoencoders.penalties`` and keeps a running sum of that term so that
``KLReporter`` can log ``kl_loss`` and ``reconstruction_loss = loss - kl_loss`` per epoch.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import validation
from ..errors import ShapeError
from ..layers import register_layer
from ..layers.base import Layer, Shape
from ..training.callbacks import Callback
from .penalties import PenaltyModule

__all__ = ["GaussianSampling", "KLReporter", "gaussian_kl"]


def gaussian_kl(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Per-sample ``KL(N(mean, exp(log_var)) || N(0, I)) = -1/2 sum(1 + lv - m^2 - e^lv)``."""
    return -0.5 * (1 + log_var - mean.square() - log_var.exp()).sum(dim=-1)


class GaussianSamplingModule(PenaltyModule):
    def __init__(self, kl_weight: float):
        super().__init__()
        self.kl_weight = kl_weight
        # running sums for KLReporter: plain tensors (not buffers, so not weights)
        self.kl_sum: torch.Tensor | None = None
        self.kl_count = 0

    def forward(self, x: torch.Tensor, logits: bool = False, upto: int | None = None):
        mean, log_var = x.chunk(2, dim=-1)
        if not self.training:
            return mean
        kl = self.kl_weight * gaussian_kl(mean, log_var).mean()
        self.penalties.append(kl)
        part = kl.detach().double() * x.shape[0]
        self.kl_sum = part if self.kl_sum is None else self.kl_sum + part
        self.kl_count += x.shape[0]
        return mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)

    def reset_kl(self) -> None:
        self.kl_sum, self.kl_count = None, 0

    def mean_kl(self) -> float:
        if self.kl_sum is None or not self.kl_count:
            return float("nan")
        return float(self.kl_sum) / self.kl_count


@register_layer
class GaussianSampling(Layer):
    """Codings of a variational autoencoder: split ``(mean, log_var)`` and sample.

    Input: ``2k`` values per sample (the first k are means, the last k log-variances);
    output: ``k`` codings. Sampling happens only in training; prediction returns the mean.

    Parameters
    ----------
    kl_weight : float
        Weight of the KL term added to the loss (>= 0). The ``Autoencoder`` builder uses
        ``beta / n_features`` so that it matches a loss averaged over the features.

    Examples
    --------
    >>> GaussianSampling().output_shape((20,))
    (10,)
    """

    def __init__(self, kl_weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        validation.check_number(kl_weight, "kl_weight", "GaussianSampling", low=0)
        self.kl_weight = float(kl_weight)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 1 or input_shape[0] is None or input_shape[0] % 2:
            raise ShapeError(validation.message(
                "input_shape", "an even number of features (means then log-variances)",
                input_shape, "GaussianSampling", verb="have", shown=f"{input_shape}"))
        return (input_shape[0] // 2,)

    def make_module(self, input_shape: Shape) -> nn.Module:
        return GaussianSamplingModule(self.kl_weight)

    def get_config(self) -> dict:
        return {"kl_weight": self.kl_weight}


class KLReporter(Callback):
    """Adds ``kl_loss`` and ``reconstruction_loss`` (= ``loss - kl_loss``) to each epoch's logs.

    ``Autoencoder.fit`` adds it for variational models; pass ``ae.kl_reporter()`` in
    ``callbacks`` when calling ``ae.model.fit`` yourself.

    Examples
    --------
    >>> import statdl as sd
    >>> ae = sd.autoencoders.Autoencoder((6,), 2, variational=True)
    >>> isinstance(ae.kl_reporter(), KLReporter)
    True
    """

    def __init__(self, sampling: GaussianSampling):
        self.sampling = sampling

    def _module(self) -> GaussianSamplingModule:
        return self.sampling.module  # type: ignore[return-value]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._module().reset_kl()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        kl = self._module().mean_kl()
        logs["kl_loss"] = kl
        logs["reconstruction_loss"] = logs["loss"] - kl
