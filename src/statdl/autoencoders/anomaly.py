"""Anomaly detection by reconstruction error (the course's recipe and h2o's ``h2o.anomaly``).

Rows that an autoencoder trained on typical data reconstructs badly are flagged: the score
of a row is its mean squared reconstruction error over the features, the threshold a
quantile of the training scores.
"""

from __future__ import annotations

import math
import os

import numpy as np
from matplotlib.figure import Figure

from .. import validation
from ..errors import ConfigError, NotFittedError
from ..model import Sequential
from .builders import _AutoencoderBase

__all__ = ["reconstruction_error", "AnomalyDetector"]


def _inputs(model, x) -> np.ndarray:
    if isinstance(model, _AutoencoderBase):
        return model._as_input(x)
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def reconstruction_error(model, x, per_feature: bool = False,
                         batch_size: int | None = None) -> np.ndarray:
    """Per-row mean squared reconstruction error (``h2o.anomaly``'s ``Reconstruction.MSE``).

    Parameters
    ----------
    model : Autoencoder, ConvAutoencoder, AnomalyDetector or Sequential
        A model whose output has the input's shape (or its number of values).
    x : array-like
        Rows to score.
    per_feature : bool
        Return the squared error of every feature instead, shape ``(n, n_features)``
        (``h2o.anomaly(per_feature = TRUE)``), features flattened row-major.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` row means, or ``(n, n_features)`` squared errors; float64.

    Examples
    --------
    >>> import numpy as np, statdl as sd
    >>> ae = sd.autoencoders.Autoencoder(4, 2)
    >>> reconstruction_error(ae, np.zeros((3, 4))).shape
    (3,)
    """
    if isinstance(model, AnomalyDetector):
        model = model.autoencoder
    if isinstance(model, _AutoencoderBase):
        xs = model._as_input(x)
        recon = model.reconstruct(xs, batch_size=batch_size)
    elif isinstance(model, Sequential):
        xs = _inputs(model, x)
        recon = model.predict(xs, batch_size=batch_size)
    else:
        raise ConfigError(validation.message(
            "model", "a statdl autoencoder, AnomalyDetector or Sequential", model,
            "reconstruction_error", shown=type(model).__name__))
    n = xs.shape[0]
    if math.prod(xs.shape[1:]) != math.prod(recon.shape[1:]):
        raise ConfigError(validation.message(
            "model", f"an autoencoder of `x`'s rows ({xs.shape[1:]})", model,
            "reconstruction_error", shown=f"a model that outputs {recon.shape[1:]} per row"))
    sq = np.square(recon.reshape(n, -1).astype(np.float64) - xs.reshape(n, -1))
    return sq if per_feature else sq.mean(axis=1)


def _check_fraction(value, argument: str) -> float:
    return validation.check_in_range(value, argument, 0, 1, low_open=True, high_open=True)


class AnomalyDetector:
    """Flag rows whose reconstruction error exceeds a quantile of the training errors.

    Parameters
    ----------
    autoencoder : Autoencoder, ConvAutoencoder or Sequential
        The model to train (a ``Sequential`` must be compiled; it is fitted as
        ``model.fit(x, x)``).
    quantile : float
        The threshold is this quantile of the training errors, in (0, 1).
    refit_on_clean : float, optional
        The course's recipe: after the first fit keep the rows whose error lies within this
        quantile (e.g. 0.75), train further on them only, then set the threshold from their
        errors.

    Attributes
    ----------
    threshold_ : float
        Errors above it are flagged.
    train_errors_ : numpy.ndarray
        Errors of the rows the threshold came from.
    clean_mask_ : numpy.ndarray or None
        Rows kept for the refit (``refit_on_clean`` only).

    Examples
    --------
    >>> import numpy as np, statdl as sd
    >>> sd.set_seed(0)
    >>> x = np.random.default_rng(0).normal(size=(200, 6)).astype("float32")
    >>> det = AnomalyDetector(sd.autoencoders.Autoencoder(6, 3), quantile=0.9)
    >>> det = det.fit(x, epochs=2, verbose=0)
    >>> round(float(det.predict(x).mean()), 1)
    0.1
    """

    def __init__(self, autoencoder, quantile: float = 0.95, refit_on_clean: float | None = None):
        if not isinstance(autoencoder, _AutoencoderBase | Sequential):
            raise ConfigError(validation.message(
                "autoencoder", "a statdl Autoencoder, ConvAutoencoder or Sequential",
                autoencoder, "AnomalyDetector", shown=type(autoencoder).__name__))
        self.autoencoder = autoencoder
        self.quantile = _check_fraction(quantile, "quantile")
        self.refit_on_clean = None if refit_on_clean is None else _check_fraction(
            refit_on_clean, "refit_on_clean")
        self.threshold_: float | None = None
        self.train_errors_: np.ndarray | None = None
        self.clean_mask_: np.ndarray | None = None
        self.history_ = None

    def _fit_model(self, x: np.ndarray, fit_kwargs: dict):
        ae = self.autoencoder
        if isinstance(ae, _AutoencoderBase):
            return ae.fit(x, **fit_kwargs)
        return ae.fit(x, x, **fit_kwargs)

    def fit(self, x, **fit_kwargs) -> AnomalyDetector:
        """Train the autoencoder on ``x`` (``fit_kwargs`` go to its ``fit``), set the threshold."""
        xs = _inputs(self.autoencoder, x)
        self.history_ = self._fit_model(xs, fit_kwargs)
        errors = reconstruction_error(self.autoencoder, xs)
        self.clean_mask_ = None
        if self.refit_on_clean is not None:
            keep = errors <= np.quantile(errors, self.refit_on_clean)
            self.clean_mask_ = keep
            self.history_ = self._fit_model(xs[keep], fit_kwargs)
            errors = reconstruction_error(self.autoencoder, xs[keep])
        self.train_errors_ = errors
        self.threshold_ = float(np.quantile(errors, self.quantile))
        return self

    def _check_fitted(self, what: str) -> None:
        if self.threshold_ is None:
            raise NotFittedError(f"Call fit(x) on the AnomalyDetector before {what}(); it "
                                 "sets `threshold_` from the training errors.")

    def score(self, x) -> np.ndarray:
        """Reconstruction MSE of each row of ``x``."""
        self._check_fitted("score")
        return reconstruction_error(self.autoencoder, x)

    def predict(self, x) -> np.ndarray:
        """Boolean flags: ``True`` where the error exceeds ``threshold_``."""
        self._check_fitted("predict")
        return self.score(x) > self.threshold_

    def worst(self, x, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the ``k`` highest-error rows of ``x`` (highest first) and their errors."""
        self._check_fitted("worst")
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ConfigError(validation.message("k", "an int >= 1", k, "worst"))
        errors = self.score(x)
        idx = np.argsort(-errors, kind="stable")[: int(k)]
        return idx, errors[idx]

    def plot_errors(self, x=None, *, bins: int = 50, data: str | None = None,
                    path: str | os.PathLike | None = None) -> Figure:
        """Histogram of the errors of ``x`` (training errors if None) with the threshold.

        ``data`` (``"test"``...) names ``x`` in the title; it is ``"training"`` without ``x``.
        """
        from ..plots import plot_error_histogram

        self._check_fitted("plot_errors")
        errors = self.train_errors_ if x is None else self.score(x)
        if x is None and data is None:
            data = "training"
        return plot_error_histogram(errors, self.threshold_, bins=bins, data=data, path=path)

    def plot_worst(self, x, k: int = 10, *, labels=None, data: str | None = None,
                   path: str | os.PathLike | None = None) -> Figure:
        """The ``k`` worst rows of ``x`` above their reconstructions (course Figure 23).

        Each panel is titled with its error and, given ``labels`` (one per row of ``x``, e.g.
        the digits), its label; ``data`` (``"training"``, ``"test"``) names ``x`` in the title.
        """
        from ..plots import plot_reconstructions

        idx, errors = self.worst(x, k)
        rows = _inputs(self.autoencoder, x)
        if labels is not None:
            labels = np.asarray(labels).reshape(-1)
            if len(labels) != len(rows):
                raise ConfigError(validation.message(
                    "labels", f"one label per row of `x` ({len(rows)})", labels, "plot_worst",
                    verb="have", shown=f"{len(labels)}"))
            labels = labels[idx]
        xs = rows[idx]
        recon = self.autoencoder.reconstruct(xs) if isinstance(
            self.autoencoder, _AutoencoderBase) else self.autoencoder.predict(xs)
        return plot_reconstructions(_as_images(xs), _as_images(recon), n=len(idx),
                                    labels=labels, errors=errors, data=data, path=path)


def _as_images(a: np.ndarray) -> np.ndarray:
    """Drop a single channel axis so the plot helpers see ``(n, h, w)``."""
    return a[..., 0] if a.ndim == 4 and a.shape[-1] == 1 else a
