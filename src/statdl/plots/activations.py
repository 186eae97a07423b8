"""The sigmoid and ReLU activation functions."""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure

from ._base import finish, new_figure

__all__ = ["plot_activations"]


def plot_activations(*, xlim: tuple[float, float] = (-5.0, 5.0),
                     path: str | os.PathLike | None = None) -> Figure:
    """Sigmoid and ReLU on one axis (course Figure 2).

    Parameters
    ----------
    xlim : (float, float)
        Range of z shown.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> fig = plot_activations()
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['sigmoid', 'ReLU']
    """
    z = np.linspace(xlim[0], xlim[1], 401)
    fig = new_figure(5.6, 4.0)
    ax = fig.subplots()
    ax.plot(z, 1 / (1 + np.exp(-z)), color="tab:blue", label="sigmoid")
    ax.plot(z, np.maximum(z, 0), color="tab:orange", label="ReLU")
    ax.set_title("Activation functions")
    ax.set_xlabel("z")
    ax.set_ylabel("g(z)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return finish(fig, path)
