"""Figure creation and saving shared by the plotting functions.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas directly, so no
display, no pyplot state and no backend switch is needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import validation
from ..display import show_figure
from ..errors import ConfigError
from ..utils import atomic_write

__all__ = ["new_figure", "finish", "grid_shape", "as_array", "with_data"]

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def new_figure(width: float = 6.4, height: float = 4.8) -> Figure:
    """A figure on an Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def finish(fig: Figure, path: str | os.PathLike | None, dpi: int = 100) -> Figure:
    """Save ``fig`` to ``path`` (PNG, SVG or PDF by suffix) when given; return it.

    In a Jupyter kernel the figure also shows inline (once; see ``statdl.display``).
    """
    if path is not None:
        suffix = Path(path).suffix.lower()
        if suffix not in _FORMATS:
            raise ConfigError(validation.message("path", "a file name ending in .png, .svg or .pdf",
                                                 str(path)))
        with atomic_write(path, "wb") as fh:
            fig.savefig(fh, format=_FORMATS[suffix], dpi=dpi)
    show_figure(fig)
    return fig


def with_data(title: str, data: str | None, where: str) -> str:
    """``title`` followed by the data a figure evaluates: ``"ROC curve, test data"``.

    ``data`` is a word such as ``"test"`` or ``"training"``; ``None`` leaves ``title`` as is.
    """
    if data is None:
        return title
    if not isinstance(data, str) or not data.strip():
        raise ConfigError(validation.message(
            "data", "a string naming the data shown, e.g. 'test' or 'training'", data, where))
    return f"{title}, {data.strip()} data"


def grid_shape(n: int, ncol: int | None) -> tuple[int, int]:
    """(rows, columns) for ``n`` panels, ``ncol`` per row (about square by default)."""
    if ncol is None:
        ncol = int(np.ceil(np.sqrt(n)))
    validation.check_int(ncol, "ncol", low=1)
    ncol = min(int(ncol), max(n, 1))
    return int(np.ceil(n / ncol)), ncol


def as_array(x, name: str) -> np.ndarray:
    """A float numpy array from numpy, torch or lists."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(validation.message(name, "numeric", x,
                                             shown=type(x).__name__)) from None
    return arr
