"""Training curves from a History."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..errors import ConfigError
from ..validation import message
from ._base import finish, new_figure

__all__ = ["plot_history", "history_frame"]

_RATE_KEYS = ("lr", "learning_rate")


def history_frame(history: Any) -> pd.DataFrame:
    """A History, dict of lists or DataFrame as a DataFrame indexed by epoch (from 1)."""
    if isinstance(history, pd.DataFrame):
        frame = history.copy()
        if "epoch" in frame.columns:
            frame = frame.set_index("epoch")
        return frame
    epochs = None
    if hasattr(history, "history") and isinstance(history.history, Mapping):
        epochs = list(getattr(history, "epoch", []) or [])
        history = history.history
    if not isinstance(history, Mapping):
        raise ConfigError(message(
            "history", "a History, a dict of metric -> list of per-epoch values, or a DataFrame",
            history, shown=type(history).__name__))
    lengths = {k: len(v) for k, v in history.items()}
    if not lengths or max(lengths.values()) == 0:
        raise ConfigError(message("history", "at least one epoch of one metric", history,
                                  verb="hold", shown="none"))
    n = max(lengths.values())
    data = {k: list(map(float, v)) + [np.nan] * (n - len(v)) for k, v in history.items()}
    index = [e + 1 for e in epochs] if epochs and len(epochs) == n else range(1, n + 1)
    return pd.DataFrame(data, index=pd.Index(index, name="epoch"))


def plot_history(history: Any, metrics: Sequence[str] | None = None, *,
                 learning_rate: bool = False, smooth: bool = False,
                 path: str | os.PathLike | None = None) -> Figure:
    """Training and validation curves, one panel per metric (as Keras's ``plot(history)``).

    Parameters
    ----------
    history : History, dict or DataFrame
        ``model.fit``'s History, a dict ``metric -> per-epoch values`` or a DataFrame with
        one row per epoch. Keys starting ``val_`` are drawn in the panel of their metric.
    metrics : list of str, optional
        Metrics to show (without ``val_``); all of them by default.
    learning_rate : bool
        Add a panel for the learning rate (``lr``/``learning_rate``), which is left out by
        default.
    smooth : bool
        Add a loess-like running-mean line through each curve.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_history({"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7]})
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['loss']
    """
    frame = history_frame(history)
    names = [c for c in frame.columns if not str(c).startswith("val_")]
    names += [c[4:] for c in frame.columns
              if str(c).startswith("val_") and c[4:] not in names]
    if not learning_rate:
        names = [c for c in names if c not in _RATE_KEYS]
    if metrics is not None:
        unknown = [m for m in metrics if m not in names and m not in _RATE_KEYS]
        if unknown:
            raise ConfigError(message("metrics", f"metrics in the history ({', '.join(names)})",
                                      metrics, "plot_history", verb="name",
                                      shown=", ".join(map(repr, unknown))))
        names = list(metrics)
    if not names:
        raise ConfigError(message("history", "at least one metric to plot", history,
                                  "plot_history", verb="hold", shown="none"))
    fig = new_figure(6.4, 2.4 * len(names) + 0.4)
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    epochs = frame.index.to_numpy()
    for ax, name in zip(axes, names):
        for key, label, style in ((name, "training", "-o"), (f"val_{name}", "validation", "-s")):
            if key in frame.columns:
                values = frame[key].to_numpy(dtype=float)
                line, = ax.plot(epochs, values, style, markersize=3, label=label)
                if smooth and len(values) >= 5:
                    k = max(3, len(values) // 5)
                    kern = np.ones(k) / k
                    sm = np.convolve(np.pad(values, (k // 2, k - 1 - k // 2), mode="edge"),
                                     kern, mode="valid")
                    ax.plot(epochs, sm, "-", color=line.get_color(), alpha=0.5, linewidth=2)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    axes[0].set_title("Training history")
    axes[-1].set_xlabel("epoch")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    return finish(fig, path)
