"""``Sequential``: a linear graph of layers, with Keras's workflow (compile, fit, predict).

A ``Sequential`` is a ``Model`` whose graph is the chain of its layers. Until the input shape
is known (``input_shape=``, an ``Input`` first in the list, or the first ``fit``) it is only a
list; once known, each layer is called on the previous one's symbolic output, exactly as a
user of the functional API would, and the chain lowers to a ``SequentialModule``.

Examples
--------
>>> import numpy as np, statdl as sd
>>> sd.set_seed(0)
>>> model = sd.Sequential([sd.Input((3,)), sd.layers.Dense(8, activation="relu"),
...                        sd.layers.Dense(1)])
>>> model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
>>> x = np.random.default_rng(0).normal(size=(64, 3)); y = x.sum(axis=1)
>>> history = model.fit(x, y, epochs=2, verbose=0)
>>> sorted(history.history)
['loss', 'mae']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import nn

from ..errors import ConfigError, NotFittedError, ShapeError
from ..layers.base import Layer, Shape, format_shape, normalize_shape
from ..layers.symbolic import Input, InputLayer, SymbolicTensor, building_enabled
from ..validation import message
from .functional import Model, summary_type

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers; also usable as a layer of another model (sharing weights).

    Parameters
    ----------
    layers : list of Layer, optional
        The layers, first to last (a ``statdl.Input(shape)`` may come first, as in Keras).
        More can be added with ``add``.
    input_shape : tuple, optional
        Shape of one sample, without the batch axis, e.g. ``(784,)`` or ``(28, 28, 1)``.
        May instead be given to the first layer, or left out until ``fit`` sees data.
    name : str, optional
        Model name shown by ``summary()``.

    Examples
    --------
    >>> from statdl import layers
    >>> m = Sequential([layers.Dense(512, activation="relu"),
    ...                 layers.Dense(10, activation="softmax")], input_shape=(784,))
    >>> m.count_params()
    407050
    """

    _subclassed = False  # a list of layers before it is built, never Python code

    def __init__(self, layers: Sequence[Layer] | None = None, input_shape=None,
                 name: str | None = None, **kwargs):
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self._layers: list[Layer] = []
        self._input_dtype: str | None = None
        self._input_tensor: SymbolicTensor | None = None  # reused by every rebuild
        for layer in layers or []:
            self._append(layer)
        self._maybe_build()

    # ----------------------------------------------------------------- structure
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def _graph_layers(self) -> list[Layer]:
        return list(self._layers)

    def _append(self, layer) -> None:
        if isinstance(layer, SymbolicTensor | InputLayer):
            self._take_input(layer)
            return
        if not isinstance(layer, Layer):
            raise ConfigError(message(
                "layers", "statdl layers (e.g. statdl.layers.Dense(10))", None, "Sequential",
                shown=f"{type(layer).__name__} at position {len(self._layers)}", verb="hold"))
        if any(existing is layer for existing in self._layers):
            raise ConfigError(message(
                "layer", f"a layer not yet in model '{self.name}'", None,
                shown=f"'{layer.name}', which is already in it"))
        if not self._layers and self._input_shape is None and layer._input_shape is not None:
            self._input_shape = layer._input_shape
        self._layers.append(layer)

    def _take_input(self, value) -> None:
        """``Input(shape)`` (or an ``InputLayer``) first in the list gives the input shape."""
        if self._layers:
            raise ConfigError(message(
                "layers", "an Input first", None, "Sequential", verb="have",
                shown=f"an Input after {len(self._layers)} layers of model '{self.name}'"))
        layer = value.node.layer if isinstance(value, SymbolicTensor) else value
        if isinstance(layer, InputLayer):
            self._input_tensor = value if isinstance(value, SymbolicTensor) \
                else getattr(layer, "output", None)
        else:
            raise ConfigError(message(
                "layers", "layers, or a statdl.Input(...) tensor first", None, "Sequential",
                shown=f"the output of layer '{layer.name}'", verb="hold",
                fix="Use statdl.Model(inputs, outputs) for graphs."))
        self._input_shape = layer.shape
        self._input_dtype = layer.dtype

    def add(self, layer: Layer) -> Sequential:
        """Append a layer (returns the model, so calls can be chained)."""
        self._append(layer)
        if self.module_ is not None:
            self.module_ = None
            self._state = None
        self._maybe_build()
        return self

    def _maybe_build(self) -> None:
        if self._input_shape is not None and self._layers and building_enabled():
            self.build(self._input_shape)

    def get_layer(self, layer: str | int | Layer | None = None, index: int | None = None
                  ) -> Layer:
        """Find a layer by name (searching nested models too), position or identity."""
        if index is not None:
            layer = index
        path = self._find(layer)
        node: Layer = self
        for i in path:
            node = node._layers[i] if isinstance(node, Sequential) \
                else node._nodes[i].layer  # type: ignore[attr-defined]
        return node

    def _find(self, layer) -> list[int]:
        if isinstance(layer, bool):
            layer = str(layer)
        if isinstance(layer, int | np.integer):
            if not -len(self._layers) <= int(layer) < len(self._layers):
                raise ConfigError(message(
                    "layer", f"an index in {-len(self._layers)}..{len(self._layers) - 1}", None,
                    shown=str(layer)))
            return [int(layer) % len(self._layers)]
        for i, candidate in enumerate(self._layers):
            if candidate is layer or candidate.name == layer:
                return [i]
            if isinstance(candidate, Model):
                try:
                    return [i, *candidate._find(layer)]
                except ConfigError:
                    continue
        names = ", ".join(repr(x.name) for x in self._layers)
        label = layer.name if isinstance(layer, Layer) else layer
        raise ConfigError(message("layer", f"a layer of model '{self.name}' (layers: {names})",
                                  label))

    # ----------------------------------------------------------------- shapes
    def _shapes(self, input_shape: Shape | None = None) -> list[tuple[Layer, Shape, Shape]]:
        if not self._layers:
            raise ConfigError(f"Model '{self.name}' has no layers; add some first.")
        out = []
        shape = tuple(self._shape_or_error(input_shape))
        for i, layer in enumerate(self._layers):
            try:
                new = tuple(layer.compute_output_shape(shape))
            except ShapeError as exc:
                raise ShapeError(
                    f"Layer {i} '{layer.name}' ({type(layer).__name__}) of model '{self.name}' "
                    f"got input shape {format_shape(shape)}: {exc}"
                ) from None
            out.append((layer, shape, new))
            shape = new
        return out

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._shapes(input_shape)[-1][2]

    def count_params(self, input_shape: Shape | None = None) -> int:
        """Number of weights (Keras's "Total params", optimiser state excluded)."""
        return sum(layer.param_count(s) for layer, s, _ in self._shapes(input_shape))

    def count_non_trainable_params(self, input_shape: Shape | None = None) -> int:
        total = 0
        for layer, s, _ in self._shapes(input_shape):
            if not layer.trainable or not self._trainable:
                total += layer.param_count(s)
            else:
                total += layer.count_non_trainable_params(s)
        return total

    def _shape_or_error(self, input_shape) -> Shape:
        shape = input_shape if input_shape is not None else (self.built_shape_ or self._input_shape)
        if shape is None:
            raise NotFittedError(
                f"Model '{self.name}' does not know its input shape yet; pass `input_shape=` "
                "to Sequential (e.g. Sequential([...], input_shape=(784,))) or call fit first."
            )
        return tuple(shape)

    @property
    def output_shape_(self) -> Shape:
        return self.compute_output_shape(self._shape_or_error(None))

    # ----------------------------------------------------------------- trainer protocol
    def _input_specs(self):
        return [("input", self._input_shape, self._integer_input())]

    def _output_specs(self):
        shape = None if self._input_shape is None and self.built_shape_ is None \
            else self.output_shape_
        return [("output", shape)]

    def _final_activations(self):
        return [self._final_activation()]

    def _final_activation(self) -> str | None:
        last = self._layers[-1]
        if isinstance(last, Sequential):
            return last._final_activation()
        if isinstance(last, Model):
            return last._final_activations()[0]
        if type(last).__name__ in self._LOGIT_LAYERS:
            return getattr(last, "activation", None)
        return None

    def _integer_input(self) -> bool:
        if self._input_dtype is not None and self._input_dtype.startswith(("int", "uint")):
            return True
        if not self._layers:
            return False
        first = self._layers[0]
        if isinstance(first, Model):
            return first._integer_input()
        return type(first).__name__ == "Embedding"

    # ----------------------------------------------------------------- building
    def make_module(self, input_shape: Shape) -> nn.Module:
        """Call each layer on the previous one's symbolic output (the chain graph), then
        lower it (a ``SequentialModule``)."""
        self._shapes(input_shape)  # shape errors name the layer's position
        inp = self._input_tensor
        if inp is None or inp.shape != tuple(input_shape):
            inp = self._input_tensor = Input(tuple(input_shape), dtype=self._input_dtype)
        x = inp
        for layer in self._layers:
            x = layer(x)
        self._init_graph(inp, x)
        return super().make_module(tuple(input_shape))

    def build(self, input_shape: Shape | None = None) -> nn.Module:
        """Infer every shape and create the weights (done automatically when the input
        shape is known)."""
        shape = normalize_shape(input_shape, "input_shape") if input_shape is not None \
            else self._shape_or_error(None)
        if self._input_shape is None:
            self._input_shape = shape
        return Layer.build(self, shape)

    def freeze(self, up_to: str | int | None = None) -> Sequential:
        """Freeze the layers from the first through ``up_to`` (all layers when None).

        Frozen weights get no gradient and count as non-trainable in ``summary()``.
        """
        stop = len(self._layers) - 1 if up_to is None else self._find(up_to)[0]
        for layer in self._layers[: stop + 1]:
            layer.trainable = False
        return self

    # ----------------------------------------------------------------- summary
    def _summary_rows(self, style: str):
        shape = self._shape_or_error(None)
        rows = [(f"{layer.name} ({summary_type(layer)})", format_shape(out),
                 layer.param_count(s)) for layer, s, out in self._shapes(shape)]
        return rows, False

    # ----------------------------------------------------------------- saving
    def get_config(self) -> dict:
        from ..saving import layer_to_config

        return {"layers": [layer_to_config(layer) for layer in self._layers]}

    def __repr__(self) -> str:
        return f"Sequential(name={self.name!r}, layers={[x.name for x in self._layers]})"
