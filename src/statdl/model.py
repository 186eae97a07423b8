"""``statdl.model``: the names saved files and user code import from here.

The classes live in ``statdl.models`` (graph, linear graph, trainer) and the torch modules in
``statdl.layers.modules``; this module re-exports them so that ``statdl.model.Sequential``
keeps working.

Examples
--------
>>> import statdl.model, statdl.models.sequential
>>> statdl.model.Sequential is statdl.models.sequential.Sequential
True
"""

from __future__ import annotations

import os

from .layers.base import Layer
from .layers.modules import GraphModule, SequentialModule
from .layers.symbolic import Input, InputLayer
from .models.functional import Model
from .models.sequential import Sequential
from .models.trainer import TrainingState

__all__ = ["Sequential", "Model", "Input", "InputLayer", "load_model", "SequentialModule",
           "GraphModule", "TrainingState", "layer_to_config", "layer_from_config"]


def layer_to_config(layer: Layer) -> dict:
    """``{"class_name": ..., "config": ...}`` for a layer or nested model."""
    from .saving import layer_to_config as _to

    return _to(layer)


def layer_from_config(spec: dict) -> Layer:
    """Re-create a layer (or nested model) from ``layer_to_config`` output."""
    from .saving import layer_from_spec

    return layer_from_spec(spec)


def load_model(path: str | os.PathLike) -> Model:
    """Load a model written by ``save`` (weights, compile settings, optimiser)."""
    from .saving import load_model as _load

    return _load(path)
