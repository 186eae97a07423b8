"""Figures for autoencoders: reconstructions and the reconstruction-error histogram."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import validation
from ..errors import ConfigError
from ._base import as_array, finish, new_figure, with_data
from .images import image_stack

__all__ = ["plot_reconstructions", "plot_error_histogram"]


def plot_reconstructions(originals: Any, reconstructions: Any, n: int = 10, *,
                         corrupted: Any = None, labels: Sequence | None = None,
                         errors: Any = None, data: str | None = None, cmap: str = "gray_r",
                         path: str | os.PathLike | None = None) -> Figure:
    """Originals on the top row, reconstructions below (course Figures 18 and 21).

    Parameters
    ----------
    originals, reconstructions : array-like
        Images ``(n, h, w[, c])`` or flattened square images ``(n, h*w)``, row for row.
    n : int
        How many of the first images to show.
    corrupted : array-like, optional
        The corrupted inputs of a denoising autoencoder, shown as a middle row.
    labels : sequence, optional
        One label per image (e.g. the digit), shown above it.
    errors : array-like, optional
        One reconstruction error (MSE) per image, shown above it as ``MSE 0.0123``.
    data : str, optional
        Which data the images are (``"test"``, ``"training"``); named in the title.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((4, 28 * 28))
    >>> fig = plot_reconstructions(x, x * 0.9, n=4)
    >>> len([ax for ax in fig.axes if ax.images])
    8
    """
    rows = [("original", "originals", image_stack(originals, "originals"))]
    if corrupted is not None:
        rows.append(("corrupted", "corrupted", image_stack(corrupted, "corrupted")))
    rows.append(("reconstructed", "reconstructions",
                 image_stack(reconstructions, "reconstructions")))
    count = rows[0][2].shape[0]
    for _, arg, arr in rows[1:]:
        if arr.shape != rows[0][2].shape:
            raise ConfigError(validation.message(
                arg, f"images of the shape of `originals`, {rows[0][2].shape}", arr,
                "plot_reconstructions", verb="hold", shown=f"shape {arr.shape}"))
    validation.check_int(n, "n", low=1)
    n = min(int(n), count)
    titles = _panel_titles(labels, errors, count)
    fig = new_figure(1.2 * n + 1.0, 1.3 * len(rows) + (0.8 if titles else 0.4))
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (name, _, arr) in enumerate(rows):
        for j in range(n):
            ax = axes[r, j]
            img = arr[j]
            if img.ndim == 3:
                ax.imshow(np.clip(img / 255.0 if img.max() > 1 else img, 0, 1))
            else:
                ax.imshow(img, cmap=cmap, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name)
    for j in range(n if titles else 0):
        axes[0, j].set_title(titles[j], fontsize="small")
    fig.suptitle(with_data("Original and reconstructed images", data, "plot_reconstructions"))
    return finish(fig, path)


def _panel_titles(labels: Sequence | None, errors: Any, count: int) -> list[str] | None:
    """Titles "label\nMSE error" of the top-row panels; None when neither is given."""
    parts = []
    if labels is not None:
        labels = list(labels)
        if len(labels) != count:
            raise ConfigError(validation.message(
                "labels", f"one label per image ({count})", labels, "plot_reconstructions",
                verb="have", shown=f"{len(labels)}"))
        parts.append([str(v) for v in labels])
    if errors is not None:
        err = as_array(errors, "errors").reshape(-1)
        if err.size != count:
            raise ConfigError(validation.message(
                "errors", f"one error per image ({count})", errors, "plot_reconstructions",
                verb="have", shown=f"{err.size}"))
        if not np.all(np.isfinite(err)):
            raise ConfigError(validation.message("errors", "finite", errors,
                                                 "plot_reconstructions",
                                                 shown="NaN or infinite values"))
        parts.append([f"MSE {e:.4g}" for e in err])
    return ["\n".join(p) for p in zip(*parts)] if parts else None


def plot_error_histogram(errors: Any, threshold: float | None = None, *, bins: int = 50,
                         xlabel: str = "reconstruction MSE", data: str | None = None,
                         path: str | os.PathLike | None = None) -> Figure:
    """Histogram of per-case reconstruction errors, with an optional anomaly threshold.

    Parameters
    ----------
    errors : array-like
        One error per case (e.g. the row means of squared reconstruction errors).
    threshold : float, optional
        Cases above it count as anomalies; drawn as a vertical line with the count above.
    bins : int
        Histogram bins.
    data : str, optional
        Which data the errors are of (``"test"``, ``"training"``); named in the title.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_error_histogram(np.random.default_rng(0).gamma(2, size=500), threshold=6)
    >>> fig.axes[0].get_xlabel()
    'reconstruction MSE'
    """
    err = as_array(errors, "errors").reshape(-1)
    if err.size == 0:
        raise ConfigError(validation.message("errors", "at least one value", errors,
                                             "plot_error_histogram", verb="hold",
                                             shown="an empty vector"))
    if not np.all(np.isfinite(err)):
        raise ConfigError(validation.message("errors", "finite", errors, "plot_error_histogram",
                                             shown="NaN or infinite values"))
    fig = new_figure(6.0, 4.0)
    ax = fig.subplots()
    ax.hist(err, bins=bins, color="tab:blue", alpha=0.8, label=f"{err.size} cases")
    if threshold is not None:
        try:
            thr = float(threshold)
        except (TypeError, ValueError):
            raise ConfigError(validation.message("threshold", "a number", threshold,
                                                 "plot_error_histogram")) from None
        above = int(np.sum(err > thr))
        ax.axvline(thr, color="tab:red", linestyle="--",
                   label=f"threshold {thr:.4g} ({above} above)")
    ax.set_title(with_data("Reconstruction errors", data, "plot_error_histogram"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.legend(loc="upper right")
    return finish(fig, path)
