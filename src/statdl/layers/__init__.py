"""Keras-style layers: cheap specs that infer shapes and build torch modules.

Examples
--------
>>> from statdl import layers
>>> layers.Conv2D(32, (3, 3)).output_shape((28, 28, 1))
(26, 26, 32)
"""

from __future__ import annotations

import importlib

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
from .core import Activation, Dense, Dropout, Flatten, GaussianNoise, Reshape
from .normalization import BatchNormalization

LAYER_CLASSES: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (Dense, Activation, Dropout, Flatten, Reshape, GaussianNoise, Conv2D,
                Conv2DTranspose, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
                GlobalMaxPooling2D, UpSampling2D, BatchNormalization)
}

# Layers defined in modules that may be absent while the package is being assembled.
_OPTIONAL = {
    "statdl.layers.embedding": ("Embedding",),
    "statdl.layers.recurrent": ("SimpleRNN", "LSTM", "GRU", "Bidirectional"),
    "statdl.layers.augmentation": ("RandomAugmentation",),
}
for _module, _names in _OPTIONAL.items():
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as _exc:
        if _exc.name != _module:
            raise
        continue
    for _name in _names:
        if hasattr(_mod, _name):
            globals()[_name] = LAYER_CLASSES[_name] = getattr(_mod, _name)


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


__all__ = ["Layer", "LAYER_CLASSES", "register_layer", *sorted(n for n in LAYER_CLASSES)]
