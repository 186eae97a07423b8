"""Weights in Keras's layouts and order: what ``Layer.get_weights`` returns and
``Layer.set_weights`` takes, so that weights copied from a Keras model give the same outputs.

Each layer class names the tensors of its module in Keras's order and, where statdl keeps a
tensor in torch's layout, the permutation to Keras's:

=====================  ============================================================
Dense                  kernel ``(in, units)``, bias
Conv1D/2D (transpose)  kernel ``(*kernel_size, in, filters)`` (transposed convolutions
                       ``(*kernel_size, filters, in)``), bias; torch keeps
                       ``(filters, in, *kernel_size)`` (``(in, filters, ...)``)
Embedding              embeddings ``(input_dim, output_dim)``
BatchNormalization     gamma, beta, moving_mean, moving_variance
LayerNormalization     gamma, beta
SimpleRNN, GRU, LSTM   kernel ``(in, k units)``, recurrent_kernel ``(units, k units)``, bias
                       (``(2, 3 units)`` for a GRU with ``reset_after``), Keras's gate order
Bidirectional          the forward layer's weights, then the backward layer's
=====================  ============================================================

A layer without an entry gives its module's parameters then buffers; a model (anything with
a ``layers`` list) the weights of its layers in order, each shared weight once; a Keras-style
layer the weights of ``add_weight`` (trainable first) then those of the layers it holds.

Examples
--------
>>> import numpy as np
>>> from statdl.layers import Conv2D
>>> conv = Conv2D(8, 3)
>>> _ = conv.build((28, 28, 1))
>>> [w.shape for w in conv.get_weights()]
[(3, 3, 1, 8), (8,)]
>>> conv.set_weights([np.ones((3, 3, 1, 8)), np.zeros(8)])
>>> float(conv.module.weight.detach().sum())
72.0
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .. import validation
from ..errors import NotFittedError, ShapeError

__all__ = ["weight_tensors", "get_weights", "set_weights", "LAYOUTS", "register_layout"]

#: A tensor and the permutation of its axes that gives Keras's layout (None: the same).
Entry = tuple[torch.Tensor, "tuple[int, ...] | None"]


def _attributes(*names: str, conv: str | None = None) -> Callable:
    """Layout of a module holding the tensors ``names`` (absent ones, e.g. no bias, skipped);
    ``conv`` names a torch convolution weight, moved to Keras's layout."""
    def layout(layer) -> list[Entry]:
        module = layer.module
        out = []
        for name in names:
            t = getattr(module, name, None)
            if isinstance(t, torch.Tensor):
                out.append((t, _conv_permutation(t.dim()) if name == conv else None))
        return out

    return layout


def _conv_permutation(ndim: int) -> tuple[int, ...]:
    """torch ``(a, b, *window)`` -> Keras ``(*window, b, a)``: (filters, in, kh, kw) ->
    (kh, kw, in, filters), and for a transposed convolution (in, filters, kh, kw) ->
    (kh, kw, filters, in), Keras's layout of each."""
    return (*range(2, ndim), 1, 0)


def _wrapped(*attributes: str) -> Callable:
    """Layout of a wrapper: the weights of the layers in ``attributes``, in that order."""
    def layout(layer) -> list[Entry]:
        out = []
        for name in attributes:
            out.extend(weight_tensors(getattr(layer, name)))
        return out

    return layout


#: Layer class name -> layout function. Looked up along the class's bases among statdl's own
#: classes, so a subclass of Dense is laid out as Dense and a user's class that happens to be
#: called "Dense" is not.
LAYOUTS: dict[str, Callable[..., list[Entry]]] = {
    "Dense": _attributes("kernel", "bias"),
    "Conv1D": _attributes("weight", "bias", conv="weight"),
    "Conv2D": _attributes("weight", "bias", conv="weight"),
    "Embedding": _attributes("embeddings"),
    "BatchNormalization": _attributes("gamma", "beta", "moving_mean", "moving_variance"),
    "LayerNormalization": _attributes("gamma", "beta"),
    "RNNLayer": _attributes("kernel", "recurrent_kernel", "bias"),
    "Bidirectional": _wrapped("forward_layer", "backward_layer"),
    "TimeDistributed": _wrapped("layer"),
}


def register_layout(class_name: str, layout: Callable[..., list[Entry]]) -> None:
    """Declare how a layer class's weights map to Keras's: ``layout(layer)`` returns
    ``(tensor, permutation or None)`` pairs in Keras's order.

    Examples
    --------
    >>> register_layout("Dense", LAYOUTS["Dense"])
    """
    LAYOUTS[class_name] = layout


def _layout_of(layer) -> Callable | None:
    for klass in type(layer).__mro__:
        if klass.__module__.startswith("statdl.") and klass.__name__ in LAYOUTS:
            return LAYOUTS[klass.__name__]
    return None


def weight_tensors(layer) -> list[Entry]:
    """The weights of ``layer`` in Keras's order, each with its permutation to Keras's layout.

    Empty for a layer that is not built (except weights a Keras-style layer made in
    ``__init__``)."""
    if getattr(layer, "_keras_style", False):
        return _custom(layer)
    if not hasattr(layer, "module_"):  # e.g. a graph's InputLayer: computes nothing
        return []
    children = getattr(layer, "layers", None)  # a model
    if isinstance(children, list | tuple):
        if not children:  # a model subclassed the Keras way: its parts are attributes
            from .custom import sublayers

            children = sublayers(layer)
        return _unique(e for child in children for e in weight_tensors(child))
    if layer.module_ is None:
        return []
    layout = _layout_of(layer)
    if layout is not None:
        return layout(layer)
    module = layer.module_
    return _unique((t, None) for t in [*module.parameters(), *module.buffers()])


def _custom(layer) -> list[Entry]:
    from .custom import sublayers

    own = layer._added_weights
    entries = [(w, None) for w in own if getattr(w, "trainable", True)]
    entries += [(w, None) for w in own if not getattr(w, "trainable", True)]
    for sub in sublayers(layer):
        entries.extend(weight_tensors(sub))
    return _unique(entries)


def _unique(entries) -> list[Entry]:
    seen, out = set(), []
    for t, perm in entries:
        if id(t) not in seen:
            seen.add(id(t))
            out.append((t, perm))
    return out


def _keras_shape(t: torch.Tensor, perm) -> tuple[int, ...]:
    shape = tuple(t.shape)
    return shape if perm is None else tuple(shape[i] for i in perm)


def get_weights(layer) -> list[np.ndarray]:
    """Copies of the weights of ``layer`` as NumPy arrays in Keras's layouts and order.

    Examples
    --------
    >>> from statdl.layers import LSTM
    >>> lstm = LSTM(4)
    >>> _ = lstm.build((10, 3))
    >>> [w.shape for w in get_weights(lstm)]
    [(3, 16), (4, 16), (16,)]
    """
    out = []
    for t, perm in weight_tensors(layer):
        value = t.detach().cpu()
        if perm is not None:
            value = value.permute(perm)
        out.append(np.ascontiguousarray(value.numpy()).copy())
    return out


def set_weights(layer, values) -> None:
    """Copy ``values`` (arrays in Keras's layouts and order, e.g. a Keras layer's
    ``get_weights()``) into the weights of ``layer``, in place (shared weights follow).

    Examples
    --------
    >>> from statdl.layers import Dense
    >>> dense = Dense(2)
    >>> _ = dense.build((3,))
    >>> set_weights(dense, [np.ones((3, 2)), np.array([0.5, -0.5])])
    >>> dense.get_weights()[1].tolist()
    [0.5, -0.5]
    """
    entries = weight_tensors(layer)
    if not isinstance(values, list | tuple):
        raise TypeError(validation.message(
            "weights", "a list of arrays (as get_weights() returns)", values,
            f"layer '{layer.name}'", shown=type(values).__name__))
    if not entries and values:
        raise NotFittedError(f"Layer '{layer.name}' has no weights yet: build it (or the model "
                             "holding it) before set_weights.")
    if len(values) != len(entries):
        raise ShapeError(validation.message(
            "weights", f"{len(entries)} arrays (in the order of get_weights())", values,
            f"layer '{layer.name}'", verb="hold", shown=str(len(values))))
    converted = [_checked(layer, i, t, perm, v) for i, ((t, perm), v)
                 in enumerate(zip(entries, values))]
    with torch.no_grad():  # every shape checked first: nothing is half-copied on an error
        for (t, _), value in zip(entries, converted):
            t.copy_(value)


def _checked(layer, i: int, t: torch.Tensor, perm, value) -> torch.Tensor:
    """``value`` as a tensor in ``t``'s layout, after checking its Keras shape."""
    array = value.detach().cpu() if isinstance(value, torch.Tensor) else \
        torch.as_tensor(np.asarray(value))
    want = _keras_shape(t, perm)
    if tuple(array.shape) != want:
        hint = None
        if perm is not None and tuple(array.shape) == tuple(t.shape):
            hint = ("That is torch's layout; get_weights() and set_weights() use Keras's "
                    f"(transpose with .transpose{perm}).")
        raise ShapeError(validation.message(
            f"weights[{i}]", f"shape {want}", array, f"layer '{layer.name}'", verb="have",
            shown=str(tuple(array.shape)), fix=hint))
    array = array.to(t.dtype)
    if perm is None:
        return array
    inverse = [0] * len(perm)
    for k, p in enumerate(perm):
        inverse[p] = k
    return array.permute(inverse)
