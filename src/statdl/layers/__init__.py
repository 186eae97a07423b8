"""Keras-style layers: cheap specs that infer shapes and build torch modules.

Examples
--------
>>> from statdl import layers
>>> layers.Conv2D(32, (3, 3)).compute_output_shape((28, 28, 1))
(26, 26, 32)
"""

from __future__ import annotations

import importlib

from .augmentation import RandomAugmentation
from .base import Layer
from .conv import (
    AveragePooling2D,
    Conv2D,
    Conv2DTranspose,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    MaxPooling2D,
    UpSampling2D,
)
from .conv1d import (
    AveragePooling1D,
    Conv1D,
    Conv1DTranspose,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
    UpSampling1D,
)
from .core import Activation, Dense, Dropout, Flatten, GaussianNoise, Reshape
from .embedding import Embedding
from .lambda_layer import Lambda, register_lambda, registered_lambdas
from .merge import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from .normalization import BatchNormalization, LayerNormalization
from .recurrent import GRU, LSTM, Bidirectional, SimpleRNN
from .sequence_ops import RepeatVector, TimeDistributed
from .symbolic import Input, InputLayer

LAYER_CLASSES: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (Dense, Activation, Dropout, Flatten, Reshape, GaussianNoise, Conv2D,
                Conv2DTranspose, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
                GlobalMaxPooling2D, UpSampling2D, BatchNormalization, Embedding, SimpleRNN,
                LSTM, GRU, Bidirectional, RandomAugmentation,
                Conv1D, Conv1DTranspose, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D,
                GlobalAveragePooling1D, UpSampling1D, Concatenate, Add, Subtract, Multiply,
                Average, Maximum, Minimum, Dot, RepeatVector, TimeDistributed,
                LayerNormalization, Lambda)
}

# Layer classes defined outside this package (their modules import it, so it cannot import
# them) and the module that defines each. ``layer_class`` imports the module the first time a
# saved model names the class, so loading never depends on what the user imported first.
DEFINED_ELSEWHERE: dict[str, str] = {
    "Sequential": "statdl.model",
    "Model": "statdl.models.functional",
    "ContractiveEncoder": "statdl.autoencoders.penalties",
    "GaussianSampling": "statdl.autoencoders.variational",
    "KLSparsity": "statdl.autoencoders.penalties",
    "MaskingNoise": "statdl.autoencoders.corruption",
}


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Register a custom layer class so that saved models using it can be loaded.

    Examples
    --------
    >>> @register_layer
    ... class Twice(Layer):
    ...     pass
    >>> "Twice" in LAYER_CLASSES
    True
    """
    LAYER_CLASSES[cls.__name__] = cls
    return cls


def layer_class(name: str) -> type[Layer] | None:
    """The registered class called ``name`` (importing the module that defines it when it
    lives outside ``statdl.layers``), or None for an unknown name.

    Examples
    --------
    >>> layer_class("MaskingNoise").__module__
    'statdl.autoencoders.corruption'
    >>> layer_class("NoSuchLayer") is None
    True
    """
    if name not in LAYER_CLASSES and name in DEFINED_ELSEWHERE:
        module = importlib.import_module(DEFINED_ELSEWHERE[name])
        LAYER_CLASSES[name] = getattr(module, name)
    return LAYER_CLASSES.get(name)


def all_layer_classes() -> dict[str, type[Layer]]:
    """Every layer class a saved model may name: the registry after importing the modules
    of ``DEFINED_ELSEWHERE``.

    Examples
    --------
    >>> {"Dense", "Sequential", "MaskingNoise"} <= set(all_layer_classes())
    True
    """
    for name in DEFINED_ELSEWHERE:
        layer_class(name)
    return dict(LAYER_CLASSES)


__all__ = ["Layer", "LAYER_CLASSES", "register_layer", "layer_class", "all_layer_classes",
           "register_lambda", "registered_lambdas", "Input", "InputLayer",
           *sorted(n for n in LAYER_CLASSES)]
