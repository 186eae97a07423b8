"""Variable importance bars, partial dependence (PD over ICE lines, 2-D heat maps) and
saliency maps over images."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..validation import message
from ._base import as_array, finish, grid_shape, new_figure, with_data

__all__ = ["plot_importance", "plot_partial_dependence", "plot_saliency"]


def plot_importance(importance: pd.DataFrame, *, top: int | None = 20,
                    title: str = "Permutation importance", data: str | None = None,
                    path: str | os.PathLike | None = None) -> Figure:
    """Horizontal bars of mean importance with their intervals, most important on top.

    Parameters
    ----------
    importance : DataFrame
        From ``statdl.explain.permutation_importance``.
    top : int or None
        Show only the ``top`` most important variables.
    data : str, optional
        Which data was permuted (``"test"``); named in the title.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> import pandas as pd
    >>> imp = pd.DataFrame({"importance": [2.0, 0.5], "lower": [1.5, 0.1],
    ...                     "upper": [2.5, 0.9]}, index=["a", "b"])
    >>> plot_importance(imp).axes[0].get_yticklabels()[-1].get_text()
    'a'
    """
    for column in ("importance", "lower", "upper"):
        if column not in importance.columns:
            raise ConfigError(message("importance", "the DataFrame of permutation_importance",
                                      importance, "plot_importance",
                                      shown=f"a table without column {column!r}"))
    table = importance.sort_values("importance", ascending=False)
    if top is not None:
        table = table.head(int(top))
    table = table.iloc[::-1]
    mean = table["importance"].to_numpy(float)
    err = np.vstack([mean - table["lower"].to_numpy(float),
                     table["upper"].to_numpy(float) - mean])
    fig = new_figure(6.4, max(2.5, 0.35 * len(table) + 1.2))
    ax = fig.subplots()
    ax.barh(np.arange(len(table)), mean, xerr=np.nan_to_num(err), color="tab:blue", alpha=0.75,
            capsize=3)
    ax.set_yticks(np.arange(len(table)), [str(i) for i in table.index])
    ax.axvline(0, color="grey", lw=1)
    metric = importance.attrs.get("metric")
    level = importance.attrs.get("level")
    what = f"increase in {metric}" if metric in ("mse", "rmse", "mae", "log_loss") else \
        f"decrease in {metric}" if metric else "importance"
    ci = f" ({level:.0%} interval over shuffles)" if level else ""
    ax.set_xlabel(what + ci)
    ax.set_title(with_data(title, data, "plot_importance"))
    ax.grid(alpha=0.3, axis="x")
    return finish(fig, path)


def plot_partial_dependence(result, *, ice_lines: int = 50, title: str | None = None,
                            ylabel: str = "prediction", data: str | None = None,
                            path: str | os.PathLike | None = None) -> Figure:
    """Partial dependence: one variable as the PD line over up to ``ice_lines`` ICE curves
    (a factor group as points per level); two variables as a heat map.

    Examples
    --------
    >>> import numpy as np
    >>> from statdl.explain import partial_dependence
    >>> x = np.random.default_rng(0).normal(size=(30, 2))
    >>> res = partial_dependence(lambda v: v[:, 0] ** 2, x, 0, grid=10, kind="both")
    >>> len(plot_partial_dependence(res).axes)
    1
    """
    fig = new_figure(6.4, 4.6)
    ax = fig.subplots()
    average = result.average if result.average is not None else result.individual.mean(axis=0)
    if len(result.features) == 2:
        _heat_map(fig, ax, result, average)
    else:
        _one_variable(ax, result, average, ice_lines)
        ax.set_ylabel(ylabel)
    head = title or ("Partial dependence" if result.individual is None
                     else "Partial dependence and ICE curves")
    ax.set_title(with_data(head, data, "plot_partial_dependence"))
    return finish(fig, path)


def _one_variable(ax, result, average, ice_lines: int) -> None:
    grid = result.grid[0]
    numeric = grid.ndim == 1
    xs = grid if numeric else np.arange(len(result.labels[0]))
    if result.individual is not None:
        curves = result.individual
        step = max(1, len(curves) // max(ice_lines, 1))
        for curve in curves[::step][:ice_lines]:
            ax.plot(xs, curve, color="grey", alpha=0.25, lw=0.8,
                    marker=None if numeric else ".")
    ax.plot(xs, average, color="tab:red", lw=2.2, marker=None if numeric else "o",
            label="partial dependence")
    if not numeric:
        ax.set_xticks(xs, result.labels[0], rotation=30, ha="right")
    ax.set_xlabel(result.features[0])
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)


def _heat_map(fig, ax, result, average) -> None:
    mesh = ax.imshow(average.T, origin="lower", aspect="auto", cmap="viridis")
    for labels, setter in ((result.labels[0], ax.set_xticks),
                           (result.labels[1], ax.set_yticks)):
        step = max(1, len(labels) // 8)
        positions = np.arange(len(labels))[::step]
        setter(positions, [labels[i] for i in positions])
    ax.set_xlabel(result.features[0])
    ax.set_ylabel(result.features[1])
    fig.colorbar(mesh, ax=ax, label="partial dependence")


def plot_saliency(images, maps, *, labels=None, ncol: int | None = None,
                  title: str = "Saliency", path: str | os.PathLike | None = None) -> Figure:
    """Each image in grey with its saliency map over it (absolute values in red, or signed
    gradient x input in red/blue).

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_saliency(np.zeros((2, 4, 4)), np.ones((2, 4, 4)), labels=["a", "b"])
    >>> len(fig.axes)
    2
    """
    imgs = as_array(images, "images")
    sal = as_array(maps, "maps")
    if imgs.ndim == 4:
        imgs = imgs.mean(axis=-1) if imgs.shape[-1] != 3 else imgs
    if sal.shape[0] != imgs.shape[0] or sal.shape[1:3] != imgs.shape[1:3]:
        raise ConfigError(message("maps", "one (h, w) map per image", maps, "plot_saliency",
                                  verb="have", shown=f"{sal.shape} for images {imgs.shape}"))
    nrow, ncols = grid_shape(len(imgs), ncol)
    fig = new_figure(2.2 * ncols, 2.3 * nrow + 0.4)
    axes = np.atleast_1d(fig.subplots(nrow, ncols)).reshape(-1)
    signed = bool((sal < 0).any())
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= len(imgs):
            continue
        ax.imshow(imgs[i], cmap="gray" if imgs[i].ndim == 2 else None)
        m = sal[i]
        scale = float(np.abs(m).max()) or 1.0
        if signed:
            ax.imshow(m, cmap="bwr", vmin=-scale, vmax=scale, alpha=0.55)
        else:
            ax.imshow(m, cmap="Reds", vmin=0, vmax=scale, alpha=0.6)
        if labels is not None:
            ax.set_title(str(labels[i]), fontsize="small")
    fig.suptitle(title)
    return finish(fig, path)
