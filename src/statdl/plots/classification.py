"""Figures for classifier evaluation: confusion-matrix heatmap, ROC and calibration curves."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..validation import message
from ._base import finish, new_figure, with_data

__all__ = ["plot_confusion_matrix", "plot_roc", "plot_calibration"]


def plot_confusion_matrix(cm: Any, *, normalize: str | None = None, cmap: str = "Blues",
                          title: str | None = None, data: str | None = None,
                          path: str | os.PathLike | None = None) -> Figure:
    """Heatmap of a confusion matrix, Prediction on rows and Reference on columns (as caret).

    Parameters
    ----------
    cm : ConfusionMatrix or DataFrame
        The result of :func:`statdl.confusion_matrix`, or its ``.table``.
    normalize : {None, "reference", "prediction", "all"}
        Colour by counts (default), or by shares within each reference class (columns),
        prediction (rows) or of the total. Cells always show the counts.
    title : str, optional
        Defaults to the accuracy and its interval when ``cm`` is a ConfusionMatrix.
    data : str, optional
        Which data the predictions are of (``"test"``, ``"training"``); named in the title.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> import statdl as sd
    >>> fig = sd.confusion_matrix([0, 1, 1, 0], [0, 1, 0, 0]).plot()
    >>> fig.axes[0].get_ylabel(), fig.axes[0].get_xlabel()
    ('Prediction', 'Reference')
    """
    table = getattr(cm, "table", cm)
    if not hasattr(table, "to_numpy"):
        raise ConfigError(message("cm", "a ConfusionMatrix or a DataFrame table", cm,
                                  "plot_confusion_matrix", shown=type(cm).__name__))
    counts = table.to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalize is None:
            shade = counts
        elif normalize == "reference":
            shade = counts / counts.sum(axis=0, keepdims=True)
        elif normalize == "prediction":
            shade = counts / counts.sum(axis=1, keepdims=True)
        elif normalize == "all":
            shade = counts / counts.sum()
        else:
            raise ConfigError(message("normalize", "None, 'reference', 'prediction' or 'all'",
                                      normalize, "plot_confusion_matrix"))
    shade = np.nan_to_num(shade)
    k = counts.shape[0]
    size = min(12.0, 2.5 + 0.55 * k)
    fig = new_figure(size + 1.0, size)
    ax = fig.subplots()
    im = ax.imshow(shade, cmap=cmap, interpolation="nearest")
    labels = [str(v) for v in table.index]
    ax.set_xticks(range(k), [str(v) for v in table.columns])
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("Reference")
    ax.set_ylabel("Prediction")
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    top = shade.max() if shade.size else 0
    fontsize = "medium" if k <= 10 else "x-small"
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=fontsize,
                    color="white" if top and shade[i, j] > 0.6 * top else "black")
    fig.colorbar(im, ax=ax, shrink=0.8,
                 label="count" if normalize is None else f"share of {normalize}")
    if title is None:
        lines = [] if data is None else [with_data("Confusion matrix", data,
                                                   "plot_confusion_matrix")]
        if hasattr(cm, "overall"):
            o = cm.overall
            lines.append(f"Accuracy {o['Accuracy']:.4f} (95% CI {o['AccuracyLower']:.4f}, "
                         f"{o['AccuracyUpper']:.4f}); Kappa {o['Kappa']:.3f}")
        title = "\n".join(lines) or "Confusion matrix"
    else:
        title = with_data(title, data, "plot_confusion_matrix")
    ax.set_title(title, fontsize="medium")
    return finish(fig, path)


def plot_roc(y_or_curve: Any, prob: Any = None, *, positive: Any = None,
             label: str | None = None, data: str | None = None,
             path: str | os.PathLike | None = None) -> Figure:
    """ROC curve with its AUC and DeLong interval in the legend.

    Parameters
    ----------
    y_or_curve : ROCCurve or array-like
        A :func:`statdl.roc_curve` result, or the outcomes (then give ``prob``).
    prob : array-like, optional
        Predicted probabilities of the event.
    positive : label, optional
        The event level when the outcomes are not 0/1.
    label : str, optional
        Name of the model in the legend.
    data : str, optional
        Which data the probabilities are of (``"test"``, ``"training"``); named in the title.
    path : str or Path, optional
        Save the figure there (.png, .svg or .pdf).

    Examples
    --------
    >>> fig = plot_roc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    >>> fig.axes[0].get_xlabel()
    'false positive rate (1 - specificity)'
    """
    from ..evaluation.probability import ROCCurve, roc_curve

    title = with_data("ROC curve", data, "plot_roc")
    curve = y_or_curve if isinstance(y_or_curve, ROCCurve) else roc_curve(
        y_or_curve, prob, positive=positive)
    fig = new_figure(5.2, 5.0)
    ax = fig.subplots()
    a = curve.auc
    text = (f"AUC {a.auc:.3f} ({100 * a.level:g}% CI {a.lower:.3f}-{a.upper:.3f})")
    ax.plot(curve.fpr, curve.tpr, "-", drawstyle="default",
            label=f"{label}: {text}" if label else text)
    ax.plot([0, 1], [0, 1], ":", color="grey", label="chance")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (1 - specificity)")
    ax.set_ylabel("true positive rate (sensitivity)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return finish(fig, path)


def plot_calibration(y: Any, prob: Any, bins: int = 10, *, positive: Any = None,
                     strategy: str = "uniform", data: str | None = None,
                     path: str | os.PathLike | None = None) -> Figure:
    """Observed event rate (with exact intervals) against mean predicted probability.

    Arguments as :func:`statdl.calibration_table`; ``data`` (``"test"``, ``"training"``)
    names the data in the title, ``path`` saves the figure (.png, .svg or .pdf).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0); p = rng.random(300)
    >>> fig = plot_calibration(rng.random(300) < p, p)
    >>> fig.axes[0].get_ylabel()
    'observed event rate'
    """
    from ..evaluation.probability import calibration_table

    title = with_data("Calibration", data, "plot_calibration")
    y_arr = np.asarray(y)
    if y_arr.dtype == bool:
        y_arr = y_arr.astype(int)
    tab = calibration_table(y_arr, prob, bins, positive=positive, strategy=strategy)
    fig = new_figure(5.2, 5.0)
    ax = fig.subplots()
    yerr = np.vstack([tab["observed_rate"] - tab["rate_lower"],
                      tab["rate_upper"] - tab["observed_rate"]])
    ax.errorbar(tab["mean_predicted"], tab["observed_rate"], yerr=yerr, fmt="o-", capsize=3,
                label="observed (95% exact CI)")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed event rate")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    return finish(fig, path)
