"""Merge layers with Keras 3's semantics: Concatenate, Add, Subtract, Multiply, Average,
Maximum, Minimum and Dot.

A merge layer is called on several tensors: its ``compute_output_shape``, ``count_params`` and
``make_module`` receive a list of shapes (each without the batch axis) and its module's
``forward`` a list of tensors. None of them holds weights.

Axes follow Keras: they count the batch axis, so ``axis=1`` is the first axis of a sample and
``axis=-1`` the last; axis 0 (the batch) is refused.

Examples
--------
>>> import torch
>>> layer = Concatenate()
>>> module = layer.build([(3,), (2,)])
>>> module([torch.ones(4, 3), torch.zeros(4, 2)]).shape
torch.Size([4, 5])
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import validation
from ..errors import ConfigError, ShapeError
from .base import Layer, Shape, format_shape

__all__ = ["Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot"]


def _is_shape(value) -> bool:
    return isinstance(value, list | tuple) and all(
        d is None or (isinstance(d, int | np.integer) and not isinstance(d, bool)) for d in value)


def _fmt_all(shapes) -> str:
    return "[" + ", ".join(format_shape(tuple(s)) for s in shapes) + "]"


def _check_axis(value, argument: str, owner: str) -> int:
    validation.check_int(value, argument, owner)
    if value == 0:
        raise ConfigError(validation.message(
            argument, "a non-zero int (axis 0 is the batch axis)", value, owner,
            fix="Axes count the batch axis, as in Keras: 1 is the first axis of a sample, "
                "-1 the last."))
    return int(value)


def _sample_axis(axis: int, rank: int, argument: str, owner: str) -> int:
    """Index into a sample shape of rank ``rank`` for a Keras axis that counts the batch."""
    full = axis + rank + 1 if axis < 0 else axis
    if not 1 <= full <= rank:
        raise ShapeError(validation.message(
            argument, f"in [-{rank}, -1] or [1, {rank}] for inputs with {rank} axes besides "
            "the batch axis", axis, owner))
    return full - 1


class _Merge(Layer):
    """Shared checks of the merge layers (not used directly)."""

    min_inputs = 1
    max_inputs: int | None = None

    def input_shapes(self, input_shape) -> list[Shape]:
        """The list of input shapes, checked: a list of at least ``min_inputs`` shapes."""
        owner = type(self).__name__
        if not isinstance(input_shape, list | tuple) or (input_shape and _is_shape(input_shape)):
            got = (f"one input of shape {format_shape(tuple(input_shape))}"
                   if _is_shape(input_shape) else repr(input_shape))
            raise ShapeError(validation.message(
                "inputs", f"a list of inputs, e.g. {owner}()([a, b])", input_shape, owner,
                shown=got))
        shapes = [tuple(s) for s in input_shape if _is_shape(s)]
        if len(shapes) != len(input_shape):
            raise ShapeError(validation.message(
                "inputs", "a list of tensors (one shape each)", input_shape, owner))
        n = len(shapes)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            want = (f"exactly {self.max_inputs}" if self.max_inputs == self.min_inputs
                    else f"at least {self.min_inputs}")
            raise ShapeError(validation.message(
                "inputs", f"{want} input(s)", n, owner, verb="hold",
                shown=f"{n}: {_fmt_all(shapes)}"))
        return shapes

    def count_params(self, input_shape) -> int:
        self.input_shapes(input_shape)
        return 0


# --------------------------------------------------------------------- elementwise merges
def _broadcast_shape(a: Shape, b: Shape, owner: str) -> Shape:
    """Keras's ``_compute_elemwise_op_output_shape``: numpy broadcasting aligned on the last
    axis, a size of 1 stretches, ``None`` (unknown) gives ``None``."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return a
    out = list(a[:len(a) - len(b)])
    for i, j in zip(a[len(a) - len(b):], b):
        if i is None or j is None:
            out.append(None)
        elif i == 1 or j == 1:
            out.append(j if i == 1 else i)
        elif i != j:
            raise ShapeError(validation.message(
                "inputs", "the same shape (or shapes that broadcast, Keras's rules)", (a, b),
                owner, verb="have", shown=f"{format_shape(a)} and {format_shape(b)}"))
        else:
            out.append(i)
    return tuple(out)


def _elementwise(op: str, xs: list[torch.Tensor]) -> torch.Tensor:
    top = max(x.dim() for x in xs)
    # a lower-rank input gets new axes right after the batch axis, as Keras reshapes them
    xs = [x.reshape(x.shape[0], *([1] * (top - x.dim())), *x.shape[1:]) for x in xs]
    if op == "subtract":
        return xs[0] - xs[1]
    out = xs[0]
    for x in xs[1:]:
        if op in ("add", "average"):
            out = out + x
        elif op == "multiply":
            out = out * x
        elif op == "maximum":
            out = torch.maximum(out, x)
        else:
            out = torch.minimum(out, x)
    return out / len(xs) if op == "average" else out


class ElementwiseModule(nn.Module):
    """Applies one elementwise merge to a list of tensors."""

    def __init__(self, op: str):
        super().__init__()
        self.op = op

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        if isinstance(inputs, torch.Tensor):
            raise ShapeError(validation.message(
                "inputs", "a list of tensors", inputs, f"the {self.op} merge",
                shown=f"one tensor of shape {tuple(inputs.shape)}"))
        return _elementwise(self.op, list(inputs))

    def extra_repr(self) -> str:
        return f"op={self.op!r}"


class _Elementwise(_Merge):
    op = "add"

    def compute_output_shape(self, input_shape) -> Shape:
        shapes = self.input_shapes(input_shape)
        out = shapes[0]
        for s in shapes[1:]:
            out = _broadcast_shape(out, s, type(self).__name__)
        return out

    def make_module(self, input_shape) -> nn.Module:
        return ElementwiseModule(self.op)


class Add(_Elementwise):
    """Sum of a list of inputs of the same shape (Keras's broadcasting rules).

    Examples
    --------
    >>> import torch
    >>> module = Add().build([(2,), (2,)])
    >>> module([torch.tensor([[1., 2.]]), torch.tensor([[10., 20.]])])
    tensor([[11., 22.]])
    """

    op = "add"


class Subtract(_Elementwise):
    """Difference ``inputs[0] - inputs[1]`` of exactly two inputs.

    Examples
    --------
    >>> Subtract().compute_output_shape([(4,), (4,)])
    (4,)
    """

    op = "subtract"
    min_inputs = max_inputs = 2


class Multiply(_Elementwise):
    """Elementwise product of a list of inputs.

    Examples
    --------
    >>> Multiply().compute_output_shape([(3, 4), (4,)])
    (3, 4)
    """

    op = "multiply"


class Average(_Elementwise):
    """Elementwise mean of a list of inputs.

    Examples
    --------
    >>> Average().compute_output_shape([(8,), (8,), (8,)])
    (8,)
    """

    op = "average"


class Maximum(_Elementwise):
    """Elementwise maximum of a list of inputs.

    Examples
    --------
    >>> Maximum().compute_output_shape([(8,), (1,)])
    (8,)
    """

    op = "maximum"


class Minimum(_Elementwise):
    """Elementwise minimum of a list of inputs.

    Examples
    --------
    >>> Minimum().compute_output_shape([(None, 8), (5, 8)])
    (None, 8)
    """

    op = "minimum"


# ---------------------------------------------------------------------------- Concatenate
class ConcatenateModule(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim  # a sample axis; +1 for the batch

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(list(inputs), dim=self.dim + 1)

    def extra_repr(self) -> str:
        return f"dim={self.dim + 1}"


class Concatenate(_Merge):
    """Join a list of inputs along ``axis``; every other axis must agree.

    Parameters
    ----------
    axis : int
        Axis to join along, counting the batch axis as Keras does: ``-1`` (the default) is
        the last axis, ``1`` the first axis of a sample.

    Examples
    --------
    >>> Concatenate().compute_output_shape([(3,), (5,)])
    (8,)
    >>> Concatenate(axis=1).compute_output_shape([(10, 4), (None, 4)])
    (None, 4)
    """

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _check_axis(axis, "axis", "Concatenate")

    def _dim(self, shapes: list[Shape]) -> int:
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            raise ShapeError(validation.message(
                "inputs", "the same number of axes", shapes, "Concatenate", verb="have",
                shown=f"shapes {_fmt_all(shapes)}"))
        return _sample_axis(self.axis, ranks.pop(), "axis", "Concatenate")

    def compute_output_shape(self, input_shape) -> Shape:
        shapes = self.input_shapes(input_shape)
        dim = self._dim(shapes)
        for i in range(len(shapes[0])):
            known = {s[i] for s in shapes} - {None}
            if i != dim and len(known) > 1:
                raise ShapeError(validation.message(
                    "inputs", "on every axis but the joined one", shapes,
                    f"Concatenate(axis={self.axis})", verb="agree",
                    shown=f"shapes {_fmt_all(shapes)}"))
        sizes = [s[dim] for s in shapes]
        out = list(shapes[0])  # as Keras: the other axes as the first input gives them
        out[dim] = None if None in sizes else sum(sizes)
        return tuple(out)

    def make_module(self, input_shape) -> nn.Module:
        return ConcatenateModule(self._dim(self.input_shapes(input_shape)))

    def get_config(self) -> dict:
        return {"axis": self.axis}


# ------------------------------------------------------------------------------------ Dot
class DotModule(nn.Module):
    """Batched dot product of two tensors over one axis of each (Keras's ``batch_dot``)."""

    def __init__(self, axes: tuple[int, int], normalize: bool):
        super().__init__()
        self.axes, self.normalize = axes, normalize

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x, y = inputs
        a, b = self.axes[0] + 1, self.axes[1] + 1
        if self.normalize:  # Keras: x * min(1 / ||x||, 1 / epsilon), epsilon 1e-7
            x = x * torch.rsqrt(x.square().sum(a, keepdim=True)).clamp(max=1e7)
            y = y * torch.rsqrt(y.square().sum(b, keepdim=True)).clamp(max=1e7)
        x, y = x.movedim(a, -1), y.movedim(b, 1)
        n, size = x.shape[0], x.shape[-1]
        out = torch.bmm(x.reshape(n, -1, size), y.reshape(n, size, -1))
        out = out.reshape(n, *x.shape[1:-1], *y.shape[2:])
        return out.reshape(n, 1) if out.dim() == 1 else out

    def extra_repr(self) -> str:
        return f"axes={self.axes}, normalize={self.normalize}"


class Dot(_Merge):
    """Dot product of two inputs over one axis of each, sample by sample.

    Parameters
    ----------
    axes : int or (int, int)
        The axis of each input to sum over (the same for both when an int), counting the
        batch axis as Keras does (``1`` is the first axis of a sample, ``-1`` the last).
    normalize : bool
        L2-normalise both inputs along those axes first, so the output is the cosine
        similarity.

    Output shape: the first input's axes without the summed one, then the second's; ``(1,)``
    when nothing is left (two vectors), as in Keras.

    Examples
    --------
    >>> Dot(axes=1).compute_output_shape([(8,), (8,)])
    (1,)
    >>> Dot(axes=(1, 2)).compute_output_shape([(3, 5), (10, 3)])
    (5, 10)
    """

    min_inputs = max_inputs = 2

    def __init__(self, axes, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, list | tuple):
            if len(axes) != 2:
                raise ConfigError(validation.message("axes", "an int or a pair of ints", axes,
                                                     "Dot"))
            self.axes: int | tuple[int, int] = (_check_axis(axes[0], "axes", "Dot"),
                                                _check_axis(axes[1], "axes", "Dot"))
        else:
            self.axes = _check_axis(axes, "axes", "Dot")
        if not isinstance(normalize, bool | np.bool_):
            raise ConfigError(validation.message("normalize", "True or False", normalize,
                                                 "Dot"))
        self.normalize = bool(normalize)

    def _sample_axes(self, shapes: list[Shape]) -> tuple[int, int]:
        pair = self.axes if isinstance(self.axes, tuple) else (self.axes, self.axes)
        a = _sample_axis(pair[0], len(shapes[0]), "axes", "Dot")
        b = _sample_axis(pair[1], len(shapes[1]), "axes", "Dot")
        da, db = shapes[0][a], shapes[1][b]
        if da is not None and db is not None and da != db:
            raise ShapeError(validation.message(
                "axes", "axes of the same size in both inputs", self.axes, "Dot", verb="name",
                shown=f"{self.axes}: {da} in the first input {format_shape(shapes[0])} and "
                      f"{db} in the second {format_shape(shapes[1])}"))
        return a, b

    def compute_output_shape(self, input_shape) -> Shape:
        shapes = self.input_shapes(input_shape)
        a, b = self._sample_axes(shapes)
        out = (*shapes[0][:a], *shapes[0][a + 1:], *shapes[1][:b], *shapes[1][b + 1:])
        return out or (1,)

    def make_module(self, input_shape) -> nn.Module:
        return DotModule(self._sample_axes(self.input_shapes(input_shape)), self.normalize)

    def get_config(self) -> dict:
        axes = list(self.axes) if isinstance(self.axes, tuple) else self.axes
        return {"axes": axes, "normalize": self.normalize}
