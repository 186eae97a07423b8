"""Grids of images: digits, reconstructions, filters and feature maps share this code."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..validation import message
from ._base import as_array, finish, grid_shape, new_figure

__all__ = ["plot_images", "image_stack", "draw_grid"]


def image_stack(images: Any, name: str = "images") -> np.ndarray:
    """Images as ``(n, h, w)`` or ``(n, h, w, c)`` with c in {1, 3, 4}; ``(n, h*w)`` square
    vectors (e.g. flattened 28x28 digits) are reshaped."""
    arr = as_array(images, name)
    if arr.ndim == 2:
        side = int(round(np.sqrt(arr.shape[1])))
        if side * side != arr.shape[1]:
            raise ConfigError(message(name, "(n, h, w) or (n, h, w, c) images, or flattened "
                                      "square images", images, shown=f"shape {arr.shape}"))
        arr = arr.reshape(arr.shape[0], side, side)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] not in (3, 4)):
        raise ConfigError(message(name, "(n, h, w) or (n, h, w, c) with c in 1, 3, 4", images,
                                  shown=f"shape {arr.shape}"))
    if arr.shape[0] == 0:
        raise ConfigError(message(name, "at least one image", images, verb="hold",
                                  shown="none"))
    if not np.all(np.isfinite(arr)):
        raise ConfigError(message(name, "finite", images, shown="NaN or infinite pixels"))
    return arr


def _show(ax, img: np.ndarray, cmap: str, vmin=None, vmax=None) -> Any:
    if img.ndim == 3:  # colour: scale to [0, 1] when given as 0..255
        if img.max() > 1:
            img = img / 255.0
        return ax.imshow(np.clip(img, 0, 1))
    return ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")


def draw_grid(fig: Figure, images: np.ndarray, titles: Sequence[str] | None, ncol: int | None,
              cmap: str = "gray_r", shared_scale: bool = False, colorbar: bool = False):
    """Draw ``images`` on a grid of axes in ``fig``; returns the axes array."""
    n = images.shape[0]
    nrow, ncol = grid_shape(n, ncol)
    axes = fig.subplots(nrow, ncol, squeeze=False)
    vmin = vmax = None
    if shared_scale:
        vmin, vmax = float(images.min()), float(images.max())
    mappable = None
    for i, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        mappable = _show(ax, images[i], cmap, vmin, vmax)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize="small")
    if colorbar and mappable is not None and images.ndim == 3:
        fig.colorbar(mappable, ax=axes.ravel().tolist(), shrink=0.8)
    return axes


def plot_images(images: Any, labels: Sequence | None = None, ncol: int | None = None, *,
                cmap: str = "gray_r", title: str | None = None,
                path: str | os.PathLike | None = None) -> Figure:
    """Grid of images, e.g. MNIST digits, with optional labels as panel titles.

    Parameters
    ----------
    images : array-like
        ``(n, h, w)`` grey images, ``(n, h, w, c)`` (c = 1, 3 or 4), or ``(n, h*w)``
        flattened square images.
    labels : sequence, optional
        One label per image, shown above it.
    ncol : int, optional
        Images per row (about square by default).
    cmap : str
        Colour map of grey images; ``"gray_r"`` draws ink dark on white as in the course.
    title : str, optional
        Figure title.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_images(np.random.default_rng(0).random((6, 28, 28)), labels=range(6), ncol=3)
    >>> len([ax for ax in fig.axes if ax.images])
    6
    """
    arr = image_stack(images)
    if labels is not None:
        labels = list(labels)
        if len(labels) != arr.shape[0]:
            raise ConfigError(message("labels", f"one label per image ({arr.shape[0]})", labels,
                                      "plot_images", verb="have", shown=f"{len(labels)}"))
    nrow, nc = grid_shape(arr.shape[0], ncol)
    fig = new_figure(1.3 * nc + 0.4, 1.4 * nrow + (0.5 if title else 0.2))
    draw_grid(fig, arr, labels, nc, cmap)
    if title:
        fig.suptitle(title)
    return finish(fig, path)
