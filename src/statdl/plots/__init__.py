"""Matplotlib figures: training curves, predictions, images, convnet filters and feature maps,
autoencoder reconstructions and errors, confusion matrices, ROC and calibration curves,
resampled metrics, prediction intervals and sets, variable importance, partial dependence and
saliency maps.

Every function returns a :class:`matplotlib.figure.Figure` drawn on the Agg canvas (no display
needed) and saves it when given ``path=`` (.png, .svg or .pdf).
"""

from __future__ import annotations

from .activations import plot_activations
from .autoencoder import plot_error_histogram, plot_reconstructions
from .classification import plot_calibration, plot_confusion_matrix, plot_roc
from .convnet import plot_feature_maps, plot_filters
from .explain import plot_importance, plot_partial_dependence, plot_saliency
from .images import plot_images
from .intervals import plot_accuracy_by_uncertainty, plot_intervals, plot_set_sizes
from .learning_curves import plot_history
from .regression import plot_predictions
from .resampling import plot_resamples_box, plot_resamples_dot


def plot_augmented(*args, **kwargs):
    """Augmented copies of one image in a grid; see ``statdl.layers.augmentation``."""
    from ..layers.augmentation import plot_augmented as _plot

    return _plot(*args, **kwargs)


__all__ = [
    "plot_accuracy_by_uncertainty", "plot_activations", "plot_augmented", "plot_calibration",
    "plot_confusion_matrix", "plot_error_histogram", "plot_feature_maps", "plot_filters",
    "plot_history", "plot_images", "plot_importance", "plot_intervals",
    "plot_partial_dependence", "plot_predictions", "plot_reconstructions", "plot_resamples_box",
    "plot_resamples_dot", "plot_roc", "plot_saliency", "plot_set_sizes",
]
