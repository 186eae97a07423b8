"""Which inputs a fitted network uses, and how.

- ``permutation_importance(model, x, y, metric, repeats, seed, groups)``: scikit-learn's
  algorithm and random numbers, with groups of columns (``term_groups`` for the dummy columns
  of a factor) and an interval per variable;
- ``partial_dependence(model, x, features, grid, kind)``: PD and ICE curves, one or two
  variables, numeric columns or factor groups (scikit-learn's brute-force method);
- ``saliency(model, images, kind)``: gradient maps for image models.

Figures: ``statdl.plots.plot_importance``, ``plot_partial_dependence``, ``plot_saliency``.
"""

from __future__ import annotations

from .dependence import PartialDependence, partial_dependence
from .importance import METRICS, permutation_importance, term_groups
from .saliency import saliency

__all__ = ["METRICS", "PartialDependence", "partial_dependence", "permutation_importance",
           "saliency", "term_groups"]
