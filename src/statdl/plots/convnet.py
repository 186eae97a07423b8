"""What a convolutional network learned: kernels as images and per-filter feature maps."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import validation
from ..errors import ConfigError
from ._base import as_array, finish, grid_shape, new_figure
from .images import draw_grid

__all__ = ["plot_filters", "plot_feature_maps"]


def plot_filters(model: Any, layer: str | int, *, channel: int | None = None,
                 ncol: int | None = None, cmap: str = "viridis",
                 path: str | os.PathLike | None = None) -> Figure:
    """The kernels of a Conv2D layer as small images (course Figure 11).

    Parameters
    ----------
    model : Sequential
        A built model.
    layer : str or int
        Name or index of a Conv2D layer (``model.get_layer(layer)``); its first weight has
        torch layout ``(filters, in_channels, kh, kw)``.
    channel : int, optional
        Input channel to show. By default channel 0 for a single-channel input and the mean
        over input channels otherwise.
    ncol : int, optional
        Filters per row.
    cmap : str
        Colour map; colours are proportional to the weights, which are not in [0, 1].
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> import statdl as sd
    >>> m = sd.Sequential([sd.layers.Conv2D(4, 3, name="conv")], input_shape=(8, 8, 1))
    >>> fig = plot_filters(m, "conv")
    >>> len([ax for ax in fig.axes if ax.images])
    4
    """
    lay = model.get_layer(layer)
    weights = lay.get_weights()
    if not weights:
        raise ConfigError(validation.message(
            "layer", "a built Conv2D layer with weights", layer, "plot_filters",
            "Build or fit the model first.", shown=f"{layer!r}, which has none"))
    kernel = as_array(weights[0], "kernel")
    if kernel.ndim != 4:
        raise ConfigError(validation.message(
            "layer", "a Conv2D layer (kernel of shape (kh, kw, in_channels, filters))", layer,
            "plot_filters", shown=f"{layer!r}, whose kernel has shape {kernel.shape}"))
    kernel = kernel.transpose(3, 2, 0, 1)  # Keras's (kh, kw, in, filters) -> (filters, in, kh, kw)
    n_in = kernel.shape[1]
    if channel is None:
        images = kernel[:, 0] if n_in == 1 else kernel.mean(axis=1)
        what = "" if n_in == 1 else f" (mean over {n_in} input channels)"
    else:
        if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel < n_in:
            raise ConfigError(validation.message("channel", f"an int in 0..{n_in - 1}", channel,
                                                 "plot_filters"))
        images, what = kernel[:, channel], f" (input channel {channel})"
    nrow, nc = grid_shape(images.shape[0], ncol)
    fig = new_figure(1.2 * nc + 1.2, 1.25 * nrow + 0.6)
    draw_grid(fig, images, [f"filter {i + 1}" for i in range(images.shape[0])], nc, cmap,
              shared_scale=True, colorbar=True)
    fig.suptitle(f"Kernels of layer '{lay.name}'{what}")
    return finish(fig, path)


def _maps(model: Any, x: np.ndarray, layer: str | int) -> np.ndarray:
    out = np.asarray(model.layer_output(x, layer))
    if out.ndim != 4:
        raise ConfigError(validation.message(
            "layer", "a layer that outputs images (n, h, w, channels)", layer,
            "plot_feature_maps", shown=f"{layer!r}, which outputs shape {out.shape}"))
    return np.moveaxis(out[0], -1, 0)  # (channels, h, w)


def plot_feature_maps(model: Any, image: Any, layer: str | int, *,
                      pooled_layer: str | int | None = None, max_maps: int = 16,
                      ncol: int | None = None, cmap: str = "viridis",
                      path: str | os.PathLike | None = None) -> Figure:
    """Activations of a convolutional layer for one image (course Figures 12 and 13).

    Parameters
    ----------
    model : Sequential
        A built model.
    image : array-like
        One image ``(h, w)``, ``(h, w, c)`` or a batch of one ``(1, h, w, c)``, in the layout
        the model takes.
    layer : str or int
        Layer whose output to show (``model.layer_output(x, layer)``, Keras layout
        ``(n, h, w, channels)``).
    pooled_layer : str or int, optional
        A later (pooling) layer shown below, map for map.
    max_maps : int
        Show at most this many channels.
    ncol : int, optional
        Maps per row (one block per layer).
    cmap : str
        Colour map; the maps of one layer share one scale, shown by its colour bar.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> import numpy as np, statdl as sd
    >>> m = sd.Sequential([sd.layers.Conv2D(4, 3, name="conv"),
    ...                    sd.layers.MaxPooling2D(2, name="pool")], input_shape=(8, 8, 1))
    >>> fig = plot_feature_maps(m, np.random.default_rng(0).random((8, 8, 1)), "conv",
    ...                         pooled_layer="pool")
    >>> len([ax for ax in fig.axes if ax.images])
    8
    """
    x = as_array(image, "image")
    if not np.all(np.isfinite(x)):
        raise ConfigError(validation.message("image", "finite", image, "plot_feature_maps",
                                             shown="NaN or infinite pixels"))
    shape = getattr(model, "_input_shape", None)  # one image's shape, as given to the model
    want = len(shape) if shape else 3
    if x.ndim == want:
        x = x[None]
    elif x.ndim == want - 1 and want == 3:
        x = x[None, ..., None]
    if x.ndim != want + 1 or x.shape[0] != 1:
        raise ConfigError(validation.message(
            "image", f"one image of shape {tuple(shape) if shape else '(h, w, c)'} (or a batch "
            "of one)", image, "plot_feature_maps",
            shown=f"shape {as_array(image, 'image').shape}"))
    x = x.astype(np.float32)
    blocks = [(f"Feature maps of layer '{model.get_layer(layer).name}'", _maps(model, x, layer))]
    if pooled_layer is not None:
        blocks.append((f"Feature maps after layer '{model.get_layer(pooled_layer).name}'",
                       _maps(model, x, pooled_layer)))
    validation.check_int(max_maps, "max_maps", low=1)
    k = min(max_maps, blocks[0][1].shape[0])
    nrow, nc = grid_shape(k, ncol)
    fig = new_figure(1.4 * nc + 0.6, (1.45 * nrow + 0.5) * len(blocks))
    subfigs = fig.subfigures(len(blocks), 1, squeeze=False)[:, 0]
    for sub, (title, maps) in zip(subfigs, blocks):
        maps = maps[:k]
        draw_grid(sub, maps, [f"map {i + 1}" for i in range(maps.shape[0])], nc, cmap,
                  shared_scale=True, colorbar=True)
        sub.suptitle(f"{title}, {maps.shape[1]}x{maps.shape[2]}")
    return finish(fig, path)
