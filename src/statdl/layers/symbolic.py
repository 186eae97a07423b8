"""Symbolic tensors and calling layers on them: the functional API's graph records.

``statdl.Input(shape)`` returns a ``SymbolicTensor``: a per-sample shape (no batch axis) and
the ``Node`` that produced it. Calling a layer on symbolic tensors (``layer(x)``, or
``layer([a, b])`` for merge layers) builds the layer for their shapes, records a new node and
returns its symbolic output; ``statdl.Model(inputs, outputs)`` then walks the nodes back from
the outputs. Calling a layer on arrays or torch tensors builds it and runs it at once.

A layer called twice keeps one module (``Layer.build`` reuses it), so both calls share the
weights; a model called as a layer shares its weights the same way.

Examples
--------
>>> import numpy as np, statdl as sd
>>> x = sd.Input((3,))
>>> dense = sd.layers.Dense(2)
>>> y = dense(x)
>>> y.shape, y.node.layer is dense
((2,), True)
>>> dense(np.ones((4, 3), dtype="float32")).shape     # eager: builds and runs the layer
(4, 2)
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from .. import validation
from .._naming import unique_name
from ..errors import ConfigError, ShapeError
from .base import Layer, Shape, format_shape, normalize_shape

__all__ = ["SymbolicTensor", "Node", "InputLayer", "Input", "call_layer", "is_symbolic",
           "deferred_building", "building_enabled", "training_calls"]

_BUILD = [True]


@contextlib.contextmanager
def deferred_building():
    """Within this block symbolic calls and new models record shapes but create no weights
    (``statdl.saving`` checks an untrusted file's weight count before anything is allocated)."""
    _BUILD.append(False)
    try:
        yield
    finally:
        _BUILD.pop()


def building_enabled() -> bool:
    """False inside ``deferred_building()``."""
    return _BUILD[-1]


_TRAINING = [False]


@contextlib.contextmanager
def training_calls():
    """Within this block (a model's own ``train_step``) eager layer calls default to
    ``training=True``: dropout drops, sampling samples."""
    try:  # layers called on torch tensors follow the Keras-style call context
        from .custom import _TRAINING as keras_context
    except ImportError:
        keras_context = []
    _TRAINING.append(True)
    keras_context.append(True)
    try:
        yield
    finally:
        _TRAINING.pop()
        keras_context.pop()

_INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "int")
_DTYPES = ("float32", "float64", "float16", "bfloat16", *_INT_DTYPES)


class SymbolicTensor:
    """A placeholder for a batch of values in a graph: ``shape`` (one sample, no batch axis),
    ``dtype``, the ``node`` that produces it and its position ``index`` among that node's
    outputs.

    ``name`` is the name of the layer that produces it (with ``:index`` past the first output).
    """

    __slots__ = ("shape", "dtype", "node", "index")

    def __init__(self, shape: Shape, dtype: str, node: Node, index: int = 0):
        self.shape, self.dtype, self.node, self.index = tuple(shape), dtype, node, index

    @property
    def name(self) -> str:
        base = self.node.layer.name
        return base if self.index == 0 else f"{base}:{self.index}"

    @property
    def ndim(self) -> int:
        """Dimensions including the batch axis (as Keras counts them)."""
        return len(self.shape) + 1

    def __repr__(self) -> str:
        return (f"<SymbolicTensor shape={format_shape(self.shape)}, dtype={self.dtype}, "
                f"name={self.name}>")

    def __bool__(self) -> bool:
        raise TypeError("A symbolic tensor has no value to test; it only describes the data "
                        "that will flow through the model. Build the model, then call "
                        "predict() to get values.")

    # Python operators on symbolic tensors would need layers of their own (Add, Multiply...):
    def __add__(self, other):
        raise TypeError("Symbolic tensors cannot be added with +; use "
                        "statdl.layers.Add()([a, b]).")

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __add__


class Node:
    """One call of ``layer`` in a graph: the symbolic ``inputs`` it was called on (``multi``:
    called on a list, as merge layers are) and the ``outputs`` it produced.

    ``index`` counts the calls of ``layer`` before this one (Keras's node index, printed in
    the "Connected to" column of ``summary()``).
    """

    def __init__(self, layer: Layer | InputLayer, inputs: list[SymbolicTensor], multi: bool,
                 output_shapes: list[Shape], dtype: str = "float32"):
        self.layer, self.inputs, self.multi = layer, list(inputs), multi
        self.outputs = [SymbolicTensor(s, dtype, self, i) for i, s in enumerate(output_shapes)]
        nodes = _inbound_nodes(layer)
        self.index = len(nodes)
        nodes.append(self)

    @property
    def input_shapes(self):
        """What the layer's ``build`` receives: one shape, or a list of shapes (``multi``)."""
        shapes = [t.shape for t in self.inputs]
        return shapes if self.multi else shapes[0]

    @property
    def is_input(self) -> bool:
        return isinstance(self.layer, InputLayer)

    def __repr__(self) -> str:
        return f"<Node {self.layer.name}[{self.index}]>"


def _inbound_nodes(layer: Layer) -> list[Node]:
    nodes = layer.__dict__.get("_inbound_nodes")
    if nodes is None:
        nodes = layer.__dict__["_inbound_nodes"] = []
    return nodes


class InputLayer:
    """The entry of a graph behind ``statdl.Input``: no weights, shown as ``name
    (InputLayer)`` with 0 parameters by ``summary()`` and listed first in ``model.layers``.

    It computes nothing, so it is not a ``Layer`` (no module, never saved as one: a saved
    graph keeps each input's name, shape and dtype).

    Parameters
    ----------
    shape : tuple
        Shape of one sample, without the batch axis (``None`` for an unknown length).
    dtype : str, optional
        ``"float32"`` (default) or an integer type such as ``"int32"`` for token ids.
    name : str, optional
        ``input_layer``, ``input_layer_1``... by default.

    Examples
    --------
    >>> layer = InputLayer((784,))
    >>> layer.shape, layer.count_params(), layer.get_weights()
    ((784,), 0, [])
    """

    trainable = False
    built = True

    def __init__(self, shape=None, dtype: str | None = None, name: str | None = None,
                 input_shape=None):
        shape = input_shape if shape is None else shape
        if shape is None:
            raise ConfigError(validation.message(
                "shape", "the shape of one sample without the batch axis, e.g. "
                "statdl.Input(shape=(784,))", shape, "Input"))
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError(validation.message("name", "a non-empty string", name, "Input"))
        self.name = name or unique_name("input_layer")
        self.shape: Shape = normalize_shape(shape, "shape")  # type: ignore[assignment]
        if dtype is not None and dtype not in _DTYPES:
            raise validation.choice_error("dtype", dtype, _DTYPES, "Input")
        self.dtype = dtype or "float32"

    @property
    def integer(self) -> bool:
        """Whether the input holds integers (token ids)."""
        return self.dtype in _INT_DTYPES

    @property
    def input_shape(self) -> Shape:
        return self.shape

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self.shape

    def count_params(self, input_shape=None) -> int:
        return 0

    def param_count(self, input_shape=None) -> int:
        return 0

    def get_weights(self) -> list:
        return []

    @property
    def weights(self) -> list:
        return []

    def get_config(self) -> dict:
        return {"shape": list(self.shape), "dtype": self.dtype, "name": self.name}

    def __repr__(self) -> str:
        return f"InputLayer(shape={self.shape}, dtype={self.dtype!r}, name={self.name!r})"


def Input(shape=None, name: str | None = None, dtype: str | None = None,  # noqa: N802
          batch_size: int | None = None) -> SymbolicTensor:
    """The input of a functional model: a symbolic tensor of ``shape`` (no batch axis).

    Parameters
    ----------
    shape : int or tuple
        Shape of one sample, e.g. ``784`` or ``(28, 28, 1)``; ``None`` for an unknown length
        (``(None,)`` for padded sequences of any length).
    name : str, optional
        Name of the input (``input_layer``, ``input_layer_1``... by default); dict inputs of
        ``fit``/``predict`` are matched by it.
    dtype : str, optional
        ``"float32"`` (default), or ``"int32"``/``"int64"`` for token ids.
    batch_size : int, optional
        Accepted for Keras compatibility; statdl batches are sized by ``fit``.

    Examples
    --------
    >>> import statdl as sd
    >>> x = sd.Input(shape=(784,), name="pixels")
    >>> x.shape, x.name
    ((784,), 'pixels')
    """
    layer = InputLayer(shape=shape, dtype=dtype, name=name)
    node = Node(layer, [], False, [layer.shape], dtype=layer.dtype)
    layer.output = node.outputs[0]
    return node.outputs[0]


def is_symbolic(value) -> bool:
    """Whether ``value`` is a symbolic tensor, or a list/tuple/dict of them."""
    if isinstance(value, SymbolicTensor):
        return True
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, list | tuple) and bool(value) and all(
        isinstance(v, SymbolicTensor) for v in value)


def call_layer(layer: Layer, *args, training: bool | None = None, **kwargs):
    """Apply ``layer`` to symbolic tensors (record a node) or to arrays (run it now).

    ``layer(x)`` takes one tensor; merge layers take a list, ``layer([a, b])``. A model called
    on a dict of tensors takes them by input name. Symbolic calls return symbolic outputs
    (a list for a model with several outputs); eager calls return numpy arrays for numpy
    inputs and torch tensors for torch inputs.
    """
    if len(args) != 1 or kwargs:
        extra = f"{len(args)} positional arguments" if len(args) != 1 else \
            f"the keyword arguments {sorted(kwargs)}"
        raise ConfigError(validation.message(
            "inputs", "one argument: a tensor, or a list of tensors for merge layers (e.g. "
            "layers.Concatenate()([a, b]))", args, f"layer '{layer.name}'", shown=extra))
    inputs = args[0]
    if isinstance(inputs, dict):
        inputs = _ordered_by_input_name(layer, inputs)
    multi = isinstance(inputs, list | tuple)
    items = list(inputs) if multi else [inputs]
    if not items:
        raise ConfigError(validation.message(
            "inputs", "the tensors to combine", inputs, f"layer '{layer.name}'",
            shown="an empty list"))
    symbolic = [isinstance(t, SymbolicTensor) for t in items]
    if all(symbolic):
        return _call_symbolic(layer, items, multi)
    if any(symbolic):
        raise ConfigError(validation.message(
            "inputs", "all symbolic tensors (to build a model) or all arrays (to compute)",
            inputs, f"layer '{layer.name}'",
            shown="a mix of symbolic tensors (from statdl.Input) and arrays"))
    return _call_eager(layer, items, multi, training)


def _ordered_by_input_name(layer: Layer, inputs: dict) -> list:
    names = getattr(layer, "input_names", None)
    if names is None:
        raise ConfigError(validation.message(
            "inputs", "a tensor or a list of tensors (only models take their inputs by name)",
            inputs, f"layer '{layer.name}'", shown="a dict"))
    missing = [n for n in names if n not in inputs]
    if missing:
        raise ConfigError(validation.message(
            "inputs", f"a dict holding the inputs {names}", inputs, f"model '{layer.name}'",
            shown=f"a dict lacking {missing}"))
    return [inputs[n] for n in names]


def _call_symbolic(layer: Layer, items: list[SymbolicTensor], multi: bool):
    shapes = [t.shape for t in items]
    shape_arg = list(shapes) if multi else shapes[0]
    try:
        if building_enabled():
            layer.build(shape_arg)
        out = layer.compute_output_shape(shape_arg)
    except ShapeError as exc:
        got = ", ".join(format_shape(s) for s in shapes)
        raise ShapeError(validation.message(
            "inputs", "a shape the layer can take", shapes,
            f"layer '{layer.name}' ({type(layer).__name__})", verb="have",
            shown=f"input shape {got}", fix=str(exc))) from None
    n_outputs = getattr(layer, "n_outputs", 1)
    out_shapes = [tuple(s) for s in out] if n_outputs > 1 else [tuple(out)]
    node = Node(layer, items, multi, out_shapes)
    outputs = node.outputs
    if "output" not in layer.__dict__ and not isinstance(getattr(type(layer), "output", None),
                                                         property):
        # Keras's `layer.input` / `layer.output`: those of the layer's first call
        layer.__dict__["input"] = items if multi else items[0]
        layer.__dict__["output"] = outputs if n_outputs > 1 else outputs[0]
    return outputs if n_outputs > 1 else outputs[0]


def _as_tensor(value, argument: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    array = np.asarray(value)
    if array.dtype.kind in "iub":
        return torch.from_numpy(array.astype(np.int64))
    if array.dtype.kind != "f":
        raise ConfigError(validation.message(argument, "numbers", value, verb="hold",
                                             shown=f"an array of dtype {array.dtype}"))
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _call_eager(layer: Layer, items: list, multi: bool, training: bool | None):
    tensors = [_as_tensor(v, "inputs") for v in items]
    if any(t.dim() == 0 for t in tensors):
        raise ShapeError(validation.message("inputs", "a batch (one row per sample)", items,
                                            f"layer '{layer.name}'", shown="a scalar"))
    shapes = [tuple(t.shape[1:]) for t in tensors]
    module = layer.build(list(shapes) if multi else shapes[0])
    device = next(iter(module.parameters()), torch.empty(0)).device
    tensors = [t.to(device) for t in tensors]
    was_training = module.training
    if training is None:
        training = _TRAINING[-1]
    module.train(bool(training))  # Keras: dropout and noise only when training=True
    numpy_in = not isinstance(items[0], torch.Tensor)
    try:
        with torch.no_grad() if numpy_in else contextlib.nullcontext():
            out = module(tensors if multi else tensors[0])
    finally:
        module.train(was_training)
    if numpy_in:
        if isinstance(out, list | tuple):
            return [o.detach().cpu().numpy() for o in out]
        return out.detach().cpu().numpy()
    return out
