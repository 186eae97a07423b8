"""``Lambda``: a layer made of a Python function of tensors, and the registry that lets a
model holding one be saved and loaded.

A saved model never contains code, and loading never runs code read from the file. A Lambda
layer is saved as the *name* under which its function was registered with
``register_lambda``; loading looks that name up among the functions the loading program has
registered (and fails with a clear error when it is absent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .. import validation
from ..errors import ConfigError, ShapeError
from .base import Layer, Shape, normalize_shape

__all__ = ["Lambda", "register_lambda", "registered_lambdas"]

_REGISTRY: dict[str, Callable] = {}


def register_lambda(function: Callable | None = None, *, name: str | None = None):
    """Register ``function`` under ``name`` (default: its ``__name__``) so that models with a
    ``Lambda`` layer calling it can be saved, and loaded by a program that registered it too.

    Usable as ``register_lambda(f)``, ``register_lambda(f, name="f")``, ``@register_lambda``
    or ``@register_lambda(name="f")``; returns the function unchanged.

    Examples
    --------
    >>> @register_lambda
    ... def halve(x):
    ...     return x / 2
    >>> Lambda(halve).get_config()["function"]
    'halve'
    >>> Lambda("halve").function is halve
    True
    """
    if function is None:
        return lambda f: register_lambda(f, name=name)
    if not callable(function):
        validation.check_callable(function, "function", "register_lambda")
    key = getattr(function, "__name__", None) if name is None else name
    if not isinstance(key, str) or not key or key == "<lambda>":
        raise ConfigError(validation.message(
            "name", "a non-empty string for a function without a usable __name__ (e.g. a "
            "lambda expression)", key, "register_lambda", fix="Pass name='...'."))
    _REGISTRY[key] = function
    return function


def registered_lambdas() -> dict[str, Callable]:
    """A copy of the registry: name -> function.

    Examples
    --------
    >>> _ = register_lambda(torch.abs, name="abs")
    >>> registered_lambdas()["abs"] is torch.abs
    True
    """
    return dict(_REGISTRY)


def _name_of(function: Callable) -> str | None:
    for key, value in _REGISTRY.items():
        if value is function:
            return key
    return None


def _is_shape_list(shape: Any) -> bool:
    return isinstance(shape, list | tuple) and bool(shape) and all(
        isinstance(s, list | tuple) for s in shape)


class LambdaModule(nn.Module):
    def __init__(self, function: Callable, arguments: dict | None = None):
        super().__init__()
        self.function = function
        self.arguments = dict(arguments or {})

    def forward(self, x):
        return self.function(x, **self.arguments)

    def extra_repr(self) -> str:
        return f"function={getattr(self.function, '__name__', repr(self.function))}"


class Lambda(Layer):
    """Wrap a Python function of torch tensors as a layer (no weights).

    The function receives the batch (batch axis first, Keras layout), or a list of tensors
    when the layer is called on several inputs, and returns one tensor.

    Parameters
    ----------
    function : callable or str
        The function, or the name it was registered under with ``register_lambda``.
    output_shape : tuple, optional
        Shape of one output sample. By default it is found by running the function on zeros
        at batch sizes 2 and 3, each unknown dimension set to the same size: the dimensions
        that change between the two runs are unknown (``None``).
    arguments : dict, optional
        Keyword arguments passed to the function at every call, as Keras's ``arguments``
        (saved with the model, so they must be JSON-able numbers, strings, lists...).

    Notes
    -----
    Saving a model that holds a Lambda layer raises ``ConfigError`` unless the function is
    registered with ``register_lambda``; the file then stores only its name, and the program
    that loads it must register the same name first. No code is ever read from a file.

    Examples
    --------
    >>> import torch
    >>> layer = Lambda(lambda x: x[:, :2] * 2)
    >>> layer.compute_output_shape((5,))
    (2,)
    >>> layer.build((5,))(torch.ones(1, 5))
    tensor([[2., 2.]])
    >>> Lambda(lambda x, power: x ** power, arguments={"power": 3}).build((2,))(
    ...     torch.full((1, 2), 2.0))
    tensor([[8., 8.]])
    """

    def __init__(self, function: Callable | str, output_shape=None,
                 arguments: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(function, str):
            if function not in _REGISTRY:
                raise ConfigError(validation.message(
                    "function", "callable or a name registered in this program", function,
                    "Lambda", shown=f"{function!r}, which is not registered in this program",
                    fix=f"Call statdl.layers.register_lambda(<the function>, "
                        f"name={function!r}) before loading (a saved model holds no code)."))
            function = _REGISTRY[function]
        if not callable(function):
            raise TypeError(validation.message(
                "function", "callable or a registered name", function, "Lambda",
                shown=type(function).__name__))
        self.function = function
        self.fixed_output_shape = normalize_shape(output_shape, "output_shape")
        if arguments is not None and (not isinstance(arguments, dict)
                                      or not all(isinstance(k, str) for k in arguments)):
            raise ConfigError(validation.message(
                "arguments", "a dict of keyword arguments for the function (names as strings)",
                arguments, "Lambda"))
        self.arguments = dict(arguments or {})

    def compute_output_shape(self, input_shape) -> Shape:
        if self.fixed_output_shape is not None:
            return self.fixed_output_shape
        return self._infer_shape(input_shape)

    def _infer_shape(self, input_shape) -> Shape:
        several = _is_shape_list(input_shape)
        shapes = list(input_shape) if several else [input_shape]
        runs = []
        for size in (2, 3):  # batch and unknown dims at two sizes: what varies stays None
            dims = [[size, *(size if d is None else d for d in s)] for s in shapes]
            out = self._probe(dims, several)
            if not isinstance(out, torch.Tensor) or out.dim() < 1 or out.shape[0] != size:
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ShapeError(validation.message(
                    "function", "one tensor with the batch axis first", out,
                    f"Lambda '{self.name}'", verb="return",
                    shown=f"{got} for a batch of {size}"))
            runs.append(tuple(out.shape[1:]))
        if len(runs[0]) != len(runs[1]):
            raise ShapeError(validation.message(
                "output_shape", "given for a function whose output rank depends on the input "
                "size", None, f"Lambda '{self.name}'", fix="Pass `output_shape=`."))
        return tuple(a if a == b else None for a, b in zip(*runs))

    def _probe(self, dims: list[list[int]], several: bool):
        """The function's output on zeros of the given shapes. Real CPU tensors, not torch's
        shape-only "meta" ones: the first meta operation of a process takes 2.6 s (torch
        loads its meta registrations), zeros at batch 2 and 3 take microseconds. Random draws
        made by the function are undone, so inferring a shape never changes what a seed gives."""
        xs = [torch.zeros(d) for d in dims]
        try:  # a sampling function must not move the user's seeded random stream
            with torch.no_grad(), torch.random.fork_rng(devices=[]):
                return self.function(xs if several else xs[0], **self.arguments)
        except Exception as err:  # user code: report it with the way out
            raise ShapeError(validation.message(
                "output_shape", "given for a function that cannot run on zeros", None,
                f"Lambda '{self.name}'", shown=f"None ({type(err).__name__}: {err})",
                fix="Pass `output_shape=` (one sample, without the batch axis).")) from err

    def make_module(self, input_shape) -> nn.Module:
        return LambdaModule(self.function, self.arguments)

    def get_config(self) -> dict:
        name = _name_of(self.function)
        if name is None:
            what = getattr(self.function, "__name__", type(self.function).__name__)
            raise ConfigError(validation.message(
                "function", "registered for the layer to be saved (a saved model holds no "
                "code)", self.function, f"Lambda layer '{self.name}'",
                shown=f"{what!r}, which is not registered",
                fix="Register the function with statdl.layers.register_lambda(function, "
                    "name='...') in the program that saves and in the one that loads, or "
                    "replace the Lambda by a registered custom layer."))
        shape = None if self.fixed_output_shape is None else list(self.fixed_output_shape)
        config = {"function": name, "output_shape": shape}
        if self.arguments:
            config["arguments"] = dict(self.arguments)
        return config

    def __repr__(self) -> str:
        what = getattr(self.function, "__name__", type(self.function).__name__)
        return f"Lambda(function={what}, name={self.name!r})"

