"""Layers written the Keras way: ``build`` / ``add_weight`` / ``call``, with ``add_loss``.

A subclass of ``statdl.layers.Layer`` that defines ``call(inputs, training=None)`` (and no
``make_module``) gets a ``LayerModule``: a torch module that owns the weights its ``build``
creates with ``add_weight`` (as ``nn.Parameter``, so they train, save and count like any
other) and the modules of the layers it holds as attributes, and whose ``forward`` runs
``call`` on torch tensors. As in Keras, ``build`` and ``call`` see shapes and tensors *with*
the batch axis; ``compute_output_shape``, when the class defines it, too.

Examples
--------
>>> import torch
>>> from statdl.layers import Layer
>>> class Linear(Layer):
...     def __init__(self, units=32, **kwargs):
...         super().__init__(**kwargs)
...         self.units = units
...     def build(self, input_shape):
...         self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")
...         self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
...     def call(self, inputs):
...         return inputs @ self.w + self.b
>>> layer = Linear(4)
>>> layer.compute_output_shape((3,)), layer.count_params()
((4,), 16)
"""

from __future__ import annotations

import contextlib
import inspect
import math
import re
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .. import validation
from ..errors import ConfigError, ShapeError
from ..initializers import initialize
from ..regularizers import get_regularizer

__all__ = ["Weight", "LayerModule", "ModelModule", "make_weight", "build_module", "infer_output_shape",
           "current_training", "collecting_losses", "is_multi", "to_keras_shape", "from_keras_shape"]

#: Sizes given to unknown (None) dimensions when ``call`` runs on zeros to infer the output
#: shape; two different sizes tell which output dimensions follow the unknown input ones.
_PROBE_SIZES = (8, 9)

#: ``training`` of the ``LayerModule`` forward passes under way (innermost last), so that a
#: layer called inside ``call`` runs in the same mode as its parent, as in Keras.
_TRAINING: list[bool] = []


#: True inside ``collecting_losses()``: ``add_loss`` keeps terms outside training too.
_COLLECT: list[bool] = [False]


@contextlib.contextmanager
def collecting_losses():
    """Within this block ``add_loss`` keeps the terms of inference-mode forward passes too:
    ``evaluate`` reports them in its loss, as Keras 3 does."""
    _COLLECT.append(True)
    try:
        yield
    finally:
        _COLLECT.pop()


def collecting() -> bool:
    """Whether ``add_loss`` terms are kept outside training now (see ``collecting_losses``)."""
    return _COLLECT[-1]


def current_training() -> bool | None:
    """Training mode of the innermost Keras-style ``call`` running now, or None outside any."""
    return _TRAINING[-1] if _TRAINING else None


class Weight(nn.Parameter):
    """A weight made by ``Layer.add_weight``: a torch ``Parameter`` with Keras's variable
    methods (``assign``, ``assign_add``, ``assign_sub``, ``numpy``). A weight made with
    ``trainable=False`` never requires a gradient, even when its layer is unfrozen.

    Examples
    --------
    >>> w = Weight(torch.zeros(2), trainable=False)
    >>> _ = w.requires_grad_(True)
    >>> w.requires_grad, w.assign_add(torch.ones(2)).numpy().tolist()
    (False, [1.0, 1.0])
    """

    def __new__(cls, data: torch.Tensor, requires_grad: bool = True, trainable: bool = True):
        weight = super().__new__(cls, data, bool(requires_grad and trainable))
        weight.trainable = bool(trainable)
        return weight

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        copy = type(self)(self.data.clone(memory_format=torch.preserve_format),
                          self.requires_grad, self.trainable)
        memo[id(self)] = copy
        return copy

    def requires_grad_(self, requires_grad: bool = True):
        return super().requires_grad_(bool(requires_grad) and self.trainable)

    @torch.no_grad()
    def assign(self, value) -> Weight:
        """Overwrite the values in place (Keras's ``Variable.assign``)."""
        self.copy_(torch.as_tensor(value, dtype=self.dtype, device=self.device))
        return self

    @torch.no_grad()
    def assign_add(self, value) -> Weight:
        self.add_(torch.as_tensor(value, dtype=self.dtype, device=self.device))
        return self

    @torch.no_grad()
    def assign_sub(self, value) -> Weight:
        self.sub_(torch.as_tensor(value, dtype=self.dtype, device=self.device))
        return self

    def numpy(self) -> np.ndarray:
        """A NumPy copy of the values."""
        return self.detach().cpu().numpy().copy()


_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
           "bfloat16": torch.bfloat16, "int32": torch.int32, "int64": torch.int64,
           "bool": torch.bool}


def keras_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras's ``compute_fans``: (in, out) for a matrix, the receptive field times the last
    two axes for a convolution kernel, the length for a vector, 1 for a scalar.

    Examples
    --------
    >>> keras_fans((3, 3, 16, 32)), keras_fans((10,)), keras_fans(())
    ((144, 288), (10, 10), (1, 1))
    """
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def make_weight(layer, shape, initializer, dtype, trainable: bool, name: str | None,
                regularizer, constraint) -> Weight:
    """The weight ``Layer.add_weight`` returns (see there for the arguments)."""
    owner = f"add_weight of layer '{layer.name}'"
    if isinstance(shape, str):
        raise ConfigError(validation.message(
            "shape", "a tuple of ints", shape, owner, shown=f"the string {shape!r}",
            fix=f"Give the name as a keyword: add_weight(shape=..., name={shape!r})."))
    if shape is None:
        shape = ()
    if isinstance(shape, int | np.integer):
        shape = (int(shape),)
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ConfigError(validation.message("shape", "a tuple of ints (no None)", shape,
                                             owner)) from None
    if any(d < 0 for d in dims):
        raise ConfigError(validation.message("shape", "ints >= 0", shape, owner, verb="hold"))
    key = "float32" if dtype is None else str(dtype).replace("torch.", "")
    if key not in _DTYPES:
        raise validation.choice_error("dtype", dtype, _DTYPES, owner)
    torch_dtype = _DTYPES[key]
    if trainable and torch_dtype != torch.float32:
        raise ConfigError(validation.message(
            "dtype", "'float32' for a trainable weight (the optimiser updates float32 "
            "weights)", key, owner,
            fix="Pass trainable=False for a weight you update yourself."))
    if constraint is not None:
        raise ConfigError(validation.message(
            "constraint", "None (constraints are not supported)", constraint, owner,
            fix="Clamp the weight in call() or use a regularizer instead."))
    if initializer is None:
        initializer = "glorot_uniform" if torch_dtype.is_floating_point else "zeros"
    values = torch.empty(dims, dtype=torch.float32 if torch_dtype.is_floating_point
                         else torch.float64)
    if isinstance(initializer, str):
        fan_in, fan_out = keras_fans(dims)
        initialize(values, initializer, fan_in, fan_out, "initializer")
    elif callable(initializer):
        given = initializer(dims, dtype=key) if _takes_dtype(initializer) else initializer(dims)
        given = given.detach().cpu() if isinstance(given, torch.Tensor) else \
            torch.as_tensor(np.asarray(given, dtype=np.float64))
        if tuple(given.shape) != dims:
            raise ShapeError(validation.message(
                "initializer", f"values of the weight's shape {dims}", given, owner,
                verb="return", shown=f"shape {tuple(given.shape)}"))
        values = given.to(values.dtype)
    else:
        raise ConfigError(validation.message(
            "initializer", "a Keras initialiser name such as 'glorot_uniform' or 'zeros', or "
            "a function of the shape", initializer, owner))
    weight = Weight(values.to(torch_dtype), trainable=trainable)
    weight.keras_name = name or f"weight_{len(layer._added_weights)}"
    reg = get_regularizer(regularizer, "regularizer")
    if reg is not None:
        layer._weight_regularizers.append((reg, weight))
    return weight


def _takes_dtype(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "dtype" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _accepts_training(call: Callable) -> bool:
    params = inspect.signature(call).parameters
    return "training" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class LayerModule(nn.Module):
    """The torch module of a Keras-style layer: holds the weights of ``add_weight`` and the
    modules of the layer's sub-layers; ``forward`` runs ``layer.call``.

    Its forward pass appends ``add_loss`` terms to ``penalties`` (training mode only), which
    the training loop adds to the loss and clears after each step.
    """

    adds_penalties = True

    def __init__(self, layer):
        super().__init__()
        object.__setattr__(self, "layer", layer)  # a plain reference, not a submodule
        self.penalties: list[torch.Tensor] = []
        self.pass_training = _accepts_training(layer.call)

    def forward(self, inputs):
        _TRAINING.append(self.training)
        try:
            if self.pass_training:
                return self.layer.call(inputs, training=self.training)
            return self.layer.call(inputs)
        finally:
            _TRAINING.pop()

    def _apply(self, fn, *args, **kwargs):
        # A device or dtype move may replace a parameter object; the layer's attributes
        # (``self.w = self.add_weight(...)``) must then follow it.
        before = dict(self._parameters)
        result = super()._apply(fn, *args, **kwargs)
        moved = {}
        for key, old in before.items():
            new = self._parameters[key]
            if new is not old and new is not None:
                if isinstance(old, Weight) and not isinstance(new, Weight):  # keep the class
                    new = Weight(new.data, new.requires_grad, old.trainable)
                    new.keras_name = old.keras_name
                    self._parameters[key] = new
                moved[id(old)] = new
        if moved:
            layer = self.layer
            for attr, value in list(vars(layer).items()):
                if id(value) in moved:
                    setattr(layer, attr, moved[id(value)])
            layer._added_weights[:] = [moved.get(id(w), w) for w in layer._added_weights]
            layer._weight_regularizers[:] = [(reg, moved.get(id(w), w))
                                             for reg, w in layer._weight_regularizers]
        return result

    def extra_repr(self) -> str:
        return f"{type(self.layer).__name__} '{self.layer.name}'"


class ModelModule(LayerModule):
    """The module of a model subclassed the Keras way (``statdl.Model`` with ``call``): a
    ``LayerModule`` that takes the training loop's ``logits`` argument (always answered with
    the outputs ``call`` returns) and names the modules of its layers by attribute
    (``dense1``, ``blocks_0``), so that ``save_weights`` of one instance loads into another."""

    by_attribute = True

    def forward(self, inputs, logits: bool = False):
        return super().forward(inputs)


def _free_name(module: nn.Module, wanted: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", wanted) or "weight"
    if base[0].isdigit():
        base = "w_" + base
    name, i = base, 1
    while hasattr(module, name) or name in module._parameters or name in module._modules:
        name, i = f"{base}_{i}", i + 1
    return name


def register_weights(layer, module: LayerModule) -> None:
    """Register each ``add_weight`` weight on ``module`` (once)."""
    held = {id(p) for p in module._parameters.values()}
    for weight in layer._added_weights:
        if id(weight) not in held:
            module.register_parameter(_free_name(module, weight.keras_name), weight)


def sublayers(layer) -> list:
    """The layers held in the attributes of ``layer`` (directly, or in lists, tuples and
    dicts), in attribute order, each once."""
    return [sub for _, sub in named_sublayers(layer)]


def named_sublayers(layer) -> list[tuple[str, object]]:
    """``(attribute path, layer)`` for each layer held by ``layer`` (``"dense1"``,
    ``"blocks.0"``), in attribute order, each once."""
    from .base import Layer

    found, seen = [], set()

    def visit(value, path, depth=0):
        if isinstance(value, Layer):
            if value is not layer and id(value) not in seen:
                seen.add(id(value))
                found.append((path, value))
        elif depth < 2 and isinstance(value, list | tuple):
            for i, item in enumerate(value):
                visit(item, f"{path}.{i}", depth + 1)
        elif depth < 2 and isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{path}.{key}", depth + 1)

    for attr, value in vars(layer).items():
        if attr != "module_":
            visit(value, attr)
    return found


def register_sublayers(layer, module: LayerModule) -> None:
    held = {id(m) for m in module._modules.values()}
    by_attribute = getattr(module, "by_attribute", False)
    for path, sub in named_sublayers(layer):
        if sub.module_ is not None and id(sub.module_) not in held:
            wanted = path if by_attribute else f"layer_{sub.name}"
            module.add_module(_free_name(module, wanted), sub.module_)
            held.add(id(sub.module_))


def is_multi(shape) -> bool:
    """Whether ``shape`` is a list of shapes (a layer called on several tensors)."""
    return isinstance(shape, list | tuple) and len(shape) > 0 and \
        all(isinstance(s, list | tuple) for s in shape)


def to_keras_shape(shape):
    """``(3,)`` -> ``(None, 3)``; a list of shapes shape by shape."""
    if is_multi(shape):
        return [to_keras_shape(s) for s in shape]
    return (None, *shape)


def from_keras_shape(shape, owner: str):
    """``(None, 3)`` -> ``(3,)``; a list of shapes shape by shape."""
    if is_multi(shape):
        return [from_keras_shape(s, owner) for s in shape]
    dims = tuple(shape)
    if not dims:
        raise ShapeError(validation.message(
            "compute_output_shape", "a shape with the batch axis first, e.g. (None, 4)", shape,
            owner, verb="return"))
    return tuple(None if d is None else int(d) for d in dims[1:])


def build_module(layer, input_shape, module_class: type = LayerModule) -> LayerModule:
    """Create the module of Keras-style ``layer``: run its ``build`` once (Keras shapes), then
    its ``call`` on zeros, which builds the layers it calls and gives the output shape."""
    module = module_class(layer)
    layer.module_ = module  # add_loss and sub-layers called during the probe look here
    try:
        layer._keras_building = True
        try:
            layer.build(to_keras_shape(input_shape))
        finally:
            layer._keras_building = False
        register_weights(layer, module)
        shape = _probe(layer, module, input_shape)
        register_weights(layer, module)
        register_sublayers(layer, module)
    except BaseException:
        layer.module_ = None
        raise
    layer._output_shapes[_key(input_shape)] = shape
    return module


def _key(shape):
    return tuple(_key(s) if isinstance(s, list | tuple) else s for s in shape)


def infer_output_shape(layer, input_shape):
    """Output shape of Keras-style ``layer`` (built on the way when it is not yet)."""
    key = _key(input_shape)
    if key not in layer._output_shapes:
        module = layer.build(input_shape)
        if key not in layer._output_shapes:  # built before for a compatible shape
            layer._output_shapes[key] = _probe(layer, module, input_shape)
    return layer._output_shapes[key]


def _probe(layer, module: LayerModule, input_shape):
    """Run ``call`` on zeros of ``input_shape`` (two sizes for unknown dimensions); return
    the output shape(s) without the batch axis, None where they follow unknown inputs."""
    sizes = _PROBE_SIZES if _has_unknown(input_shape) else _PROBE_SIZES[:1]
    shapes = [_output_shapes(layer, module, _zeros(input_shape, size, module))
              for size in sizes]
    if len(shapes) == 1:
        return shapes[0]
    return _merge(shapes[0], shapes[1])


def _has_unknown(shape) -> bool:
    return any(_has_unknown(s) if isinstance(s, list | tuple) else s is None for s in shape)


def _zeros(shape, size: int, module: nn.Module):
    if is_multi(shape):
        return [_zeros(s, size, module) for s in shape]
    device = next(iter(module.parameters()), torch.empty(0)).device
    return torch.zeros((2, *(size if d is None else d for d in shape)), device=device)


def _output_shapes(layer, module: LayerModule, x):
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(x)
    except Exception as exc:
        raise ShapeError(
            f"call() of layer '{layer.name}' ({type(layer).__name__}) failed on a batch of "
            f"zeros of shape {_shapes_of(x)} used to infer its output shape: "
            f"{type(exc).__name__}: {exc}. Define compute_output_shape(input_shape) on the "
            "class when call() cannot run on zeros."
        ) from exc
    finally:
        module.train(was)
    return _shape_of_output(layer, out)


def _shapes_of(x):
    return [tuple(t.shape) for t in x] if isinstance(x, list) else tuple(x.shape)


def _shape_of_output(layer, out):
    if isinstance(out, torch.Tensor):
        return tuple(out.shape[1:])
    if isinstance(out, list | tuple) and out and all(isinstance(t, torch.Tensor) for t in out):
        return [tuple(t.shape[1:]) for t in out]
    raise TypeError(validation.message(
        "call()", "a torch tensor or a list of them", out,
        f"layer '{layer.name}' ({type(layer).__name__})", verb="return",
        shown=type(out).__name__))


def _merge(a, b):
    if isinstance(a, list):
        return [_merge(x, y) for x, y in zip(a, b)]
    return tuple(x if x == y else None for x, y in zip(a, b))
