"""Predictions that vary from draw to draw: Monte Carlo dropout (Gal and Ghahramani 2016) and
deep ensembles (Lakshminarayanan, Pritzel and Blundell 2017).

Neither carries a coverage guarantee: the spread of MC-dropout passes or of ensemble members
reflects the model's uncertainty about its weights as the method approximates it, not the
noise in the response, and intervals built from it can cover far less (or more) than their
nominal level. ``coverage_report`` measures what they actually cover on held-out data.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..layers.core import DropoutModule
from ..layers.modules import SequentialModule
from ..threads import governed
from ..training.data import inference_batch
from ..utils import set_seed
from ..validation import check_callable, check_int, message

__all__ = ["mc_dropout_predict", "Ensemble", "dropout_modules"]

#: rows per forward pass when the passes of a small batch are stacked into one
_STACKED_ROWS = 4096

#: Run the layers before the first dropout once per batch rather than once per pass (False:
#: every pass runs the whole network). The fast path "mc_dropout_head_once" of
#: ``statdl.fast_paths``: switched there, off under ``STATDL_FAST_PATHS=0``.
HEAD_ONCE: bool = True


def dropout_modules(module: nn.Module) -> list[nn.Module]:
    """The modules of ``module`` that drop units in training mode: ``Dropout`` layers and
    recurrent layers with ``dropout`` or ``recurrent_dropout`` above 0."""
    return [m for m in module.modules()
            if (isinstance(m, DropoutModule) and m.rate > 0)
            or _positive(getattr(m, "dropout", 0)) or _positive(getattr(m, "recurrent_dropout", 0))]


def _positive(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def mc_dropout_predict(model, x, passes: int = 100, seed: int | None = None,
                       batch_size: int | None = None) -> np.ndarray:
    """``passes`` predictions of ``model`` for ``x`` with dropout left on, stacked on a first
    axis: shape ``(passes, n, *output_shape)``.

    Only the dropout layers run in training mode (batch normalisation keeps its moving
    statistics, noise layers stay off). ``seed`` fixes the masks without disturbing the
    program's own random state.

    Examples
    --------
    >>> import numpy as np, statdl as sd
    >>> m = sd.Sequential([sd.layers.Dense(8, activation="relu"), sd.layers.Dropout(0.5),
    ...                    sd.layers.Dense(1)], input_shape=(2,))
    >>> draws = mc_dropout_predict(m, np.ones((3, 2)), passes=20, seed=0)
    >>> draws.shape, bool(draws.std(axis=0).min() > 0)
    ((20, 3, 1), True)
    """
    passes = check_int(passes, "passes", "mc_dropout_predict", low=2)
    model.module  # builds a model that knows its input shape  # noqa: B018
    module = model._train_module()
    droppers = dropout_modules(module)
    if not droppers:
        raise ConfigError(message(
            "model", "a model with Dropout layers or recurrent dropout (method='mc_dropout' "
            "needs a model with Dropout to draw from)", model.name,
            "mc_dropout_predict", shown=f"model '{model.name}', which has none",
            fix="Add sd.layers.Dropout(rate) and refit, or use method='conformal' or "
                "'ensemble'."))
    rows = model._input_rows(x)
    bs = inference_batch(model, batch_size, rows.shape[1:])
    device = next(iter(module.parameters()), torch.empty(0)).device
    was_training = module.training
    out: np.ndarray | None = None
    try:
        module.eval()
        for m in droppers:
            m.train()
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), \
                torch.inference_mode(), governed():
            if seed is not None:
                torch.manual_seed(int(seed))
            head, tail = _deterministic_head(module)
            for start, stop, xb in rows.batches(bs):
                xb = xb.to(device)
                draws = _passes(tail, xb if head is None else head(xb), int(passes))
                if out is None:
                    out = np.empty((passes, rows.n, *draws.shape[2:]), dtype=np.float32)
                out[:, start:stop] = draws
    finally:
        module.train(was_training)
        for m in module.modules():
            if hasattr(m, "penalties"):
                m.penalties.clear()
    if out is None:
        raise ConfigError(message("x", "at least one row", x, "mc_dropout_predict", verb="have",
                                  shown="0 rows"))
    return out


def _deterministic_head(module: nn.Module) -> tuple[Callable | None, Callable]:
    """``(head, tail)`` with ``tail(head(x)) == module(x)``, ``head`` the layers before the first
    that drops units (None when there are none, or ``module`` is not a chain of layers).

    The head gives the same output in every pass, so it runs once per batch and only the tail
    runs on the stacked passes: for the course's MNIST MLP (784-512 before the first dropout)
    that is 75% of a pass's multiply-adds (401,408 of 535,040): 100 passes of 10,000 digits
    took 8.4 s instead of 17.4 s on 2 cores (bench/resampling_speed.py --intervals).
    """
    if not HEAD_ONCE or not isinstance(module, SequentialModule):
        return None, module
    layers = list(module.layers)
    first = next((i for i, m in enumerate(layers) if dropout_modules(m)), 0)
    if first == 0:
        return None, module

    def head(x: torch.Tensor) -> torch.Tensor:
        return module(x, upto=first)

    def tail(x: torch.Tensor) -> torch.Tensor:
        for m in layers[first:]:
            x = m(x)
        return x

    return head, tail


def _passes(module: Callable, xb: torch.Tensor, passes: int) -> np.ndarray:
    """(passes, rows, ...) outputs; the passes of a small batch run stacked in one call."""
    rows = xb.shape[0]
    per_call = max(1, min(passes, _STACKED_ROWS // max(rows, 1)))
    chunks = []
    for done in range(0, passes, per_call):
        k = min(per_call, passes - done)
        stacked = xb.repeat(k, *([1] * (xb.dim() - 1))) if k > 1 else xb
        y = module(stacked)
        chunks.append(y.float().cpu().numpy().reshape(k, rows, *y.shape[1:]))
    return np.concatenate(chunks, axis=0)


class Ensemble:
    """A deep ensemble: ``n`` copies of the network of ``model_fn()``, each built and trained
    from its own seed; predictions are their mean, and their spread a (not calibrated) measure
    of uncertainty.

    Parameters
    ----------
    model_fn : callable
        Returns a fresh compiled model each time it is called.
    n : int
        Number of members (5 is the usual choice).
    seeds : list of int, optional
        One seed per member; ``range(n)`` by default. Each member is built and fitted right
        after ``statdl.set_seed(seed)``, so the ensemble repeats exactly.

    Examples
    --------
    >>> import numpy as np, statdl as sd
    >>> def make():
    ...     m = sd.Sequential([sd.layers.Dense(4, activation="relu"), sd.layers.Dense(1)],
    ...                       input_shape=(2,))
    ...     m.compile(optimizer="adam", loss="mse")
    ...     return m
    >>> ens = Ensemble(make, n=3)
    >>> x, y = np.random.default_rng(0).normal(size=(50, 2)), np.zeros(50)
    >>> _ = ens.fit(x, y, epochs=2, verbose=0)
    >>> ens.predict_members(x[:4]).shape, ens.predict(x[:4]).shape
    ((3, 4, 1), (4, 1))
    """

    def __init__(self, model_fn: Callable, n: int = 5, seeds=None):
        check_callable(model_fn, "model_fn", "Ensemble")
        check_int(n, "n", "Ensemble", low=2)
        seeds = list(range(int(n))) if seeds is None else [int(s) for s in seeds]
        if len(seeds) != n or len(set(seeds)) != n:
            raise ConfigError(message("seeds", f"{n} different ints", seeds, "Ensemble"))
        self.model_fn, self.n, self.seeds = model_fn, int(n), seeds
        self.members: list = []
        self.histories: list = []

    def fit(self, x, y, **fit_args) -> list:
        """Build and fit each member from its seed; returns their ``History`` objects."""
        self.members, self.histories = [], []
        for seed in self.seeds:
            set_seed(seed)
            model = self.model_fn()
            if not hasattr(model, "fit") or not hasattr(model, "predict"):
                raise TypeError(message("model_fn", "a function returning a compiled model",
                                        model, "Ensemble",
                                        shown=f"one returning {type(model).__name__}"))
            self.histories.append(model.fit(x, y, **fit_args))
            self.members.append(model)
        return self.histories

    def predict_members(self, x, batch_size: int | None = None) -> np.ndarray:
        """Each member's predictions, stacked: shape ``(n, rows, *output_shape)``."""
        if not self.members:
            from ..errors import NotFittedError

            raise NotFittedError("This Ensemble is not fitted: call fit(x, y, ...) first.")
        return np.stack([np.asarray(m.predict(x, batch_size=batch_size))
                         for m in self.members])

    def predict(self, x, batch_size: int | None = None) -> np.ndarray:
        """The members' mean prediction (mean probabilities for a classifier)."""
        return self.predict_members(x, batch_size).mean(axis=0)

    def __repr__(self) -> str:
        state = "fitted" if self.members else "not fitted"
        return f"Ensemble(n={self.n}, seeds={self.seeds}, {state})"
