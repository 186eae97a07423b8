"""Matplotlib figures: training curves, predictions, images, convnet filters and feature maps,
autoencoder reconstructions and errors, confusion matrices, ROC and calibration curves.

Every function returns a :class:`matplotlib.figure.Figure` drawn on the Agg canvas (no display
needed) and saves it when given ``path=`` (.png, .svg or .pdf).
"""

from __future__ import annotations

from .activations import plot_activations
from .autoencoder import plot_error_histogram, plot_reconstructions
from .convnet import plot_feature_maps, plot_filters
from .evaluation import plot_calibration, plot_confusion_matrix, plot_roc
from .images import plot_images
from .regression import plot_predictions
from .training import plot_history


def plot_augmented(*args, **kwargs):
    """Augmented copies of one image in a grid; see ``statdl.layers.augmentation``."""
    from ..layers.augmentation import plot_augmented as _plot

    return _plot(*args, **kwargs)


__all__ = [
    "plot_activations", "plot_augmented", "plot_calibration", "plot_confusion_matrix", "plot_error_histogram",
    "plot_feature_maps", "plot_filters", "plot_history", "plot_images", "plot_predictions",
    "plot_reconstructions", "plot_roc",
]
