"""The layer specification every statdl layer derives from.

A layer is a cheap *spec*: creating one allocates nothing. ``output_shape`` and
``param_count`` work on shapes alone; ``build(input_shape)`` creates the torch module that
holds the weights. Shapes never include the batch dimension and follow Keras's layout:
images are ``(height, width, channels)``, sequences ``(timesteps, features)``.
A dimension that is unknown until data arrives is ``None``.

Two ways to write a layer:

- statdl's own: ``compute_output_shape``, ``count_params`` and ``make_module(shape) ->
  nn.Module`` (every built-in layer);
- Keras's: ``build(input_shape)`` creating weights with ``add_weight``, and
  ``call(inputs, training=None)`` computing the output with torch operations (see
  ``statdl.layers.custom``). The framework then builds the layer through ``Layer.build``,
  which runs the class's ``build`` once with Keras shapes (batch axis first).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import validation
from .._naming import snake_case, unique_name
from ..errors import ConfigError, NotFittedError, ShapeError
from ..regularizers import L1L2, get_regularizer

__all__ = ["Layer", "Shape", "WeightList", "check_positive_int", "check_rate", "as_pair"]

Shape = tuple[int | None, ...]

#: Methods whose override, in a class with neither ``call`` nor ``make_module``, shows that
#: the author meant the layer to compute something (it would otherwise be the identity).
_COMPUTING = ("build", "forward", "compute_output_shape", "count_params")


class WeightList(list):
    """A list of weight tensors that can also be called, so that code written when
    ``Layer.weights`` was a method (``layer.weights()``) keeps working."""

    def __call__(self) -> WeightList:
        return self


class Layer:
    """Base class of all layers.

    Subclasses implement ``compute_output_shape``, ``make_module`` and, when they hold weights,
    ``count_params`` (and ``count_non_trainable_params`` for state such as moving averages).
    ``get_config`` returns the constructor arguments so that ``type(layer)(**config)``
    re-creates the spec (used to save models as JSON).

    Or, the Keras way, ``build(input_shape)`` with ``add_weight`` and ``call(inputs,
    training=None)`` with torch operations (``Layer`` itself defines no ``call``: a subclass
    that does is built through ``statdl.layers.custom``). A class that defines neither
    ``call`` nor ``make_module`` but overrides ``build`` or ``compute_output_shape`` is refused
    with a TypeError, since it would compute the identity.

    Parameters
    ----------
    name : str, optional
        Unique name shown by ``summary()``; Keras-style ``dense``, ``dense_1``... by default.
    trainable : bool
        ``False`` freezes the layer: no gradient reaches its weights and they count as
        non-trainable.
    input_shape : tuple, optional
        Shape of one sample, accepted on the first layer of a model as in Keras.
    activity_regularizer : L1L2, optional
        Penalty on the layer's output, added to the training loss.

    Examples
    --------
    >>> from statdl.layers import Dense
    >>> layer = Dense(4)
    >>> layer.compute_output_shape((3,)), layer.count_params((3,))
    ((4,), 16)
    >>> _ = layer.build((3,))
    >>> layer.count_params(), [w.shape for w in layer.get_weights()]
    (16, [(3, 4), (4,)])
    """

    #: Whether the class is written the Keras way (defines ``call``, not ``make_module``);
    #: set for every subclass by ``__init_subclass__``.
    _keras_style = False
    #: A class may set this so that subclasses defining ``call`` replace its module by a
    #: ``LayerModule`` (a model subclassed the Keras way) instead of being refused.
    _subclass_call_replaces_module = False
    _keras_building = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._keras_style = _is_keras_style(cls)
        for name in ("count_params", "count_non_trainable_params"):
            own = vars(cls).get(name)
            if own is not None and _needs_shape(own):
                setattr(cls, name, _defaulting_to_built_shape(own, name))
        if cls._keras_style:
            own_build = vars(cls).get("build")
            if own_build is not None:
                cls.build = _keras_build(own_build)
            own_shape = vars(cls).get("compute_output_shape")
            if own_shape is not None:
                cls.compute_output_shape = _keras_output_shape(own_shape)

    def __init__(self, *, name: str | None = None, trainable: bool = True,
                 input_shape: tuple | None = None, activity_regularizer: Any = None):
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError(validation.message("name", "a non-empty string", name,
                                                 type(self).__name__))
        self.name: str = name or unique_name(snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self._input_shape: Shape | None = normalize_shape(input_shape, "input_shape")
        self.activity_regularizer: L1L2 | None = get_regularizer(
            activity_regularizer, "activity_regularizer")
        self.module_: nn.Module | None = None
        self.built_shape_: Shape | None = None
        self._added_weights: list[torch.Tensor] = []
        self._weight_regularizers: list[tuple[L1L2, torch.Tensor]] = []
        self._output_shapes: dict = {}

    @property
    def input_shape(self) -> Shape | None:
        """The shape of one sample given as ``input_shape=`` (no batch axis), or None. A
        model's ``input_shape`` is Keras's instead: ``(None, *shape)``."""
        return self._input_shape

    @input_shape.setter
    def input_shape(self, value: Shape | None) -> None:
        self._input_shape = normalize_shape(value, "input_shape")

    # ---------------------------------------------------------------- to override
    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """Shape of one output sample for an input sample of ``input_shape``.

        A Keras-style layer that does not define it is built and its ``call`` run on a
        small batch of zeros to find out."""
        if self._keras_style:
            from .custom import infer_output_shape

            return infer_output_shape(self, input_shape)
        return input_shape

    def count_params(self, input_shape: Shape | None = None) -> int:
        """Number of weights (trainable and not), as Keras counts them; for the shape the
        layer was built for (or its ``input_shape``) when none is given."""
        if self._keras_style:
            return sum(t.numel() for t in self._own_weights(input_shape, "count_params"))
        return 0

    def count_non_trainable_params(self, input_shape: Shape | None = None) -> int:
        """Weights that are never trained (e.g. batch-norm moving statistics)."""
        if self._keras_style:
            weights = self._own_weights(input_shape, "count_non_trainable_params")
            return sum(t.numel() for t in weights
                       if not isinstance(t, nn.Parameter) or not t.requires_grad)
        return 0

    def make_module(self, input_shape: Shape) -> nn.Module:
        """Create the torch module with Keras-initialised weights."""
        if self._keras_style:
            from .custom import build_module

            return build_module(self, input_shape)
        return nn.Identity()

    def get_config(self) -> dict:
        """Constructor arguments of this layer (JSON-serialisable)."""
        return {}

    def regularized_weights(self) -> list[tuple[L1L2, torch.Tensor]]:
        """Pairs (penalty, weight) for weight regularisers: those given to ``add_weight``
        and those of the layers a Keras-style layer holds; empty for other layers."""
        if not self._keras_style:
            return []
        from .custom import sublayers

        out = list(self._weight_regularizers)
        for sub in sublayers(self):
            if sub.built:
                out.extend(sub.regularized_weights())
        return out

    # ---------------------------------------------------------------- Keras-style layers
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable: bool = True,
                   regularizer=None, constraint=None, name: str | None = None) -> torch.Tensor:
        """Create a weight of this layer (in ``build``, or in ``__init__`` when its shape is
        known there), as Keras's ``Layer.add_weight`` does.

        Parameters
        ----------
        shape : tuple of int
            The weight's shape (``()`` for a scalar).
        initializer : str or callable, optional
            A Keras initialiser name (``"glorot_uniform"``, the default for float weights,
            ``"zeros"``, ``"random_normal"`` ...) with Keras's fans, or ``f(shape)`` returning
            an array.
        dtype : str, optional
            ``"float32"`` (default); other types only with ``trainable=False``.
        trainable : bool
            False: the optimiser never changes it (update it yourself in ``call``, e.g.
            ``self.total.assign_add(...)``); counted as non-trainable.
        regularizer : L1L2, optional
            Penalty on the weight, added to the training loss.
        name : str, optional
            Name of the weight (in the saved model and in the module).

        Returns
        -------
        Weight
            A torch ``nn.Parameter``: use it in ``call`` with torch operations.

        Examples
        --------
        >>> class Scale(Layer):
        ...     def build(self, input_shape):
        ...         self.s = self.add_weight(shape=(input_shape[-1],), initializer="ones")
        ...     def call(self, inputs):
        ...         return inputs * self.s
        >>> Scale().count_params((5,))
        5
        """
        from .custom import LayerModule, make_weight, register_weights

        if "_added_weights" not in vars(self):
            raise TypeError(f"{type(self).__name__}.add_weight was called before "
                            "Layer.__init__: call super().__init__(**kwargs) first in "
                            "__init__.")
        weight = make_weight(self, shape, initializer, dtype, trainable, name, regularizer,
                             constraint)
        self._added_weights.append(weight)
        if isinstance(self.module_, LayerModule) and not self._keras_building:
            register_weights(self, self.module_)  # made in call(): register it now
        return weight

    def add_loss(self, loss: torch.Tensor) -> None:
        """Add a term to the training loss from inside ``call`` (Keras's ``add_loss``), e.g.
        the Kullback-Leibler term of a variational autoencoder.

        The term (summed when it is not a scalar) is added to the loss of the training step
        whose forward pass computed it, and, as in Keras 3, to the loss ``evaluate`` reports
        (and ``val_loss``) for the batch whose forward pass computed it. Terms of other
        forward passes outside training (``predict``, ``torch.no_grad``) are dropped.

        Examples
        --------
        >>> import torch
        >>> class ActivityRegularization(Layer):
        ...     def __init__(self, rate=1e-2, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.rate = rate
        ...     def call(self, inputs):
        ...         self.add_loss(self.rate * torch.mean(inputs))
        ...         return inputs
        >>> layer = ActivityRegularization()
        >>> module = layer.build((3,)).train()
        >>> _ = module(torch.ones(2, 3))
        >>> [round(float(t), 6) for t in layer.losses]
        [0.01]
        """
        from .custom import LayerModule, collecting

        if not isinstance(loss, torch.Tensor):
            raise TypeError(validation.message(
                "loss", "a torch tensor computed in call()", loss,
                f"add_loss (layer '{self.name}')", shown=type(loss).__name__))
        module = self.module_
        if not isinstance(module, LayerModule):
            raise ConfigError(f"add_loss of layer '{self.name}' can only be called inside the "
                              "call() of a Keras-style layer (one that defines call()).")
        if (module.training and torch.is_grad_enabled()) or collecting():
            module.penalties.append(loss if loss.dim() == 0 else loss.sum())

    @property
    def losses(self) -> list[torch.Tensor]:
        """Terms added with ``add_loss`` since the last training step (Keras's ``losses``)."""
        penalties = getattr(self.module_, "penalties", None)
        return list(penalties) if penalties is not None else []

    def _own_weights(self, input_shape, method: str) -> list[torch.Tensor]:
        """Weights of a Keras-style layer for ``count_params`` (building it if needed)."""
        if input_shape is not None:
            self.build(input_shape)
        elif self.module_ is None:
            shape = self.built_shape_ or self._input_shape
            if shape is not None:
                self.build(shape)
            elif self._added_weights and type(self).build is Layer.build:
                return list(self._added_weights)  # all made in __init__: nothing to build
            else:
                raise NotFittedError(
                    f"`{method}()` of layer '{self.name}' needs the layer built or an input "
                    f"shape: call {method}(input_shape) or build the layer first."
                )
        seen, out = set(), []
        for t in [*self.module.parameters(), *self.module.buffers()]:
            if id(t) not in seen:
                seen.add(id(t))
                out.append(t)
        return out

    def _call_tensors(self, inputs, training: bool | None = None):
        """Run the layer on torch tensors (one, or a list for a multi-input layer), building
        it for their shape first: what calling a layer inside a Keras-style ``call`` does.

        ``training`` None follows the Keras-style layer whose ``call`` is running, and is
        False (inference) outside any."""
        from .custom import current_training

        if isinstance(inputs, list | tuple):
            shape: Any = [tuple(t.shape[1:]) for t in inputs]
            inputs = list(inputs)
        else:
            shape = tuple(inputs.shape[1:])
        # built already (maybe on the zeros that inferred its parent's shape, whose unknown
        # lengths were filled in): the module takes the tensors as they come
        module = self.module_ if self.module_ is not None else self.build(shape)
        mode = training if training is not None else bool(current_training())
        if module.training == mode:
            return module(inputs)
        module.train(mode)
        try:
            return module(inputs)
        finally:
            module.train(not mode)

    # ---------------------------------------------------------------- provided
    def __call__(self, *inputs, **kwargs):
        """Call the layer on symbolic tensors (``statdl.Input``) to add it to a graph, or on
        arrays to compute its output (``statdl.layers.symbolic.call_layer``). On torch
        tensors (inside a Keras-style ``call``) it runs the layer's module on them."""
        if len(inputs) == 1 and _tensors(inputs[0]):
            training = kwargs.pop("training", None)
            if kwargs:
                raise TypeError(validation.message(
                    "kwargs", "only `training` when the inputs are torch tensors", kwargs,
                    f"layer '{self.name}'", shown=str(sorted(kwargs))))
            return self._call_tensors(inputs[0], training=training)
        from .symbolic import call_layer

        return call_layer(self, *inputs, **kwargs)

    def output_shape(self, input_shape: Shape) -> Shape:
        """Alias of ``compute_output_shape`` (Keras's name, the one to use), its result as a
        tuple; statdl's older name, kept for existing code."""
        return tuple(self.compute_output_shape(tuple(input_shape)))

    def param_count(self, input_shape: Shape) -> int:
        """Alias of ``count_params(input_shape)`` (Keras's name, the one to use); statdl's
        older name, kept for existing code."""
        return int(self.count_params(tuple(input_shape)))

    def build(self, input_shape: Shape) -> nn.Module:
        """Create (or reuse) the torch module for ``input_shape`` and return it.

        A layer that is already built for the same input shape keeps its module, so a layer or
        a model used inside several models shares its weights between them. Inside a
        Keras-style ``build`` (``super().build(input_shape)``) it does nothing, as in Keras.
        """
        if self._keras_building:
            return None
        input_shape = tuple(input_shape)
        if self.module_ is not None:
            if _compatible(self.built_shape_, input_shape):
                return self.module_
            raise ShapeError(validation.message(
                "inputs", f"the input shape {_fmt(self.built_shape_)} it was built for",
                input_shape, f"layer '{self.name}'", verb="have",
                shown=f"input shape {_fmt(input_shape)}",
                fix="A layer cannot be reused with another input shape; create a new layer."))
        if not self._keras_style:  # a Keras-style layer needs its weights to find its shape
            tuple(self.compute_output_shape(input_shape))  # refuses a shape it cannot take
        self.module_ = self.make_module(input_shape)
        self.built_shape_ = input_shape
        self._apply_trainable()
        return self.module_

    @property
    def built(self) -> bool:
        return self.module_ is not None

    @built.setter
    def built(self, value: bool) -> None:
        """Keras-style ``build`` methods often end with ``self.built = True``; statdl knows
        from the module whether a layer is built, so this is accepted and ignored."""

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        if self._keras_style:  # as in Keras, the layers it holds follow
            from .custom import sublayers

            for sub in sublayers(self):
                sub.trainable = value
        self._apply_trainable()

    def _apply_trainable(self) -> None:
        if self.module_ is None:
            return
        if self._keras_style:  # own weights here; each sub-layer applies its own flag
            from .custom import sublayers

            for w in self._added_weights:
                w.requires_grad_(self._trainable)
            for sub in sublayers(self):
                sub._apply_trainable()
            return
        for p in self.module_.parameters():
            p.requires_grad_(self._trainable)

    @property
    def module(self) -> nn.Module:
        if self.module_ is None:
            raise NotFittedError(
                f"Layer '{self.name}' has no weights yet: build it (or the model holding it) "
                "first, e.g. by giving `input_shape=` to the model."
            )
        return self.module_

    @property
    def weights(self) -> WeightList:
        """The weight tensors (live torch tensors, in the module's layout), in Keras's order:
        ``get_weights()`` returns copies of them in Keras's layout. Empty before the layer is
        built (except weights a Keras-style layer made in ``__init__``)."""
        from .keras_weights import weight_tensors

        return WeightList(t for t, _ in weight_tensors(self))

    @property
    def trainable_weights(self) -> list[torch.Tensor]:
        """The weights the optimiser updates (none when the layer is frozen)."""
        return [t for t in self.weights if isinstance(t, nn.Parameter) and t.requires_grad]

    @property
    def non_trainable_weights(self) -> list[torch.Tensor]:
        """The other weights: moving statistics, frozen layers, ``trainable=False``."""
        return [t for t in self.weights if not isinstance(t, nn.Parameter) or not t.requires_grad]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights as NumPy arrays in Keras's layouts and order, so that
        ``set_weights(keras_layer.get_weights())`` copies a Keras layer (a Conv2D kernel is
        ``(kh, kw, in, out)``; see ``statdl.layers.keras_weights``)."""
        from .keras_weights import get_weights

        return get_weights(self)

    def set_weights(self, values: list) -> None:
        """Replace the weights with arrays in Keras's layouts and order (as ``get_weights``
        returns them, or a Keras layer's ``get_weights()``)."""
        from .keras_weights import set_weights

        set_weights(self, values)

    def full_config(self) -> dict:
        """Config including the base arguments (name, trainable, ...)."""
        cfg = dict(self.get_config())
        cfg["name"] = self.name
        cfg["trainable"] = self._trainable
        if self._input_shape is not None:
            cfg["input_shape"] = list(self._input_shape)
        if self.activity_regularizer is not None:
            cfg["activity_regularizer"] = self.activity_regularizer.get_config()
        return cfg

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args}, name={self.name!r})"

    # helpers for subclasses ---------------------------------------------------
    def _require_rank(self, input_shape: Shape, rank: int | tuple[int, ...], expected: str) -> None:
        ranks = (rank,) if isinstance(rank, int) else rank
        if len(input_shape) not in ranks:
            raise ShapeError(validation.message("inputs", expected, input_shape,
                                                type(self).__name__,
                                                shown=f"input shape {_fmt(input_shape)}"))

    def _require_known(self, input_shape: Shape, axis: int, what: str) -> int:
        value = input_shape[axis]
        if value is None:
            raise ShapeError(validation.message("inputs", f"a known {what}", input_shape,
                                                type(self).__name__, verb="have",
                                                shown=f"input shape {_fmt(input_shape)}"))
        return int(value)


def _tensors(value) -> bool:
    """A torch tensor, or a non-empty list or tuple of them."""
    if isinstance(value, list | tuple):
        return bool(value) and all(isinstance(v, torch.Tensor) for v in value)
    return isinstance(value, torch.Tensor)


def _defining_class(cls: type, name: str) -> type | None:
    return next((klass for klass in cls.__mro__ if name in vars(klass)), None)


def _is_keras_style(cls: type) -> bool:
    """Whether ``cls`` is written the Keras way: it defines ``call`` and inherits
    ``make_module`` from ``Layer``. Raises TypeError for classes that would otherwise
    silently compute the identity or ignore their ``call``."""
    with_call = _defining_class(cls, "call")
    with_module = _defining_class(cls, "make_module")
    if with_call is None:
        if with_module is Layer and not cls.__module__.startswith("statdl."):
            overridden = [m for m in _COMPUTING if _defining_class(cls, m) not in (Layer, None)]
            if overridden:
                raise TypeError(
                    f"Layer class {cls.__name__} defines {', '.join(overridden)}() but neither "
                    "call() nor make_module(), so it would compute the identity. Define "
                    "call(self, inputs, training=None) returning the output (Keras style), or "
                    "make_module(self, input_shape) returning a torch module."
                )
        return False
    if with_module is Layer:
        return True
    if with_call is with_module or not issubclass(with_call, with_module):
        return False  # the class that makes the module also defines call: its own business
    if getattr(with_module, "_subclass_call_replaces_module", False):
        return True
    raise TypeError(
        f"Layer class {cls.__name__} defines call() but inherits make_module() from "
        f"{with_module.__name__}, whose torch module would ignore it. Subclass "
        "statdl.layers.Layer directly, create the weights in build() with add_weight(), and "
        "compute the output in call()."
    )


def _needs_shape(fn) -> bool:
    params = list(inspect.signature(fn).parameters.values())
    return len(params) >= 2 and params[1].default is inspect.Parameter.empty


def _defaulting_to_built_shape(fn, method: str):
    """``fn(self, input_shape)`` callable without the shape once the layer is built (or has
    an ``input_shape``), as Keras's ``count_params()``."""
    @functools.wraps(fn)
    def wrapper(self, input_shape=None):
        if input_shape is None:
            input_shape = self.built_shape_ or self._input_shape
            if input_shape is None:
                raise NotFittedError(
                    f"`{method}()` of layer '{self.name}' needs the layer built or an input "
                    f"shape: call {method}(input_shape) or build the layer first."
                )
        return fn(self, input_shape)

    return wrapper


def _keras_build(user_build):
    """A Keras-style class's ``build``: the class's own code while its module is being made
    (or from a subclass's ``super().build``), statdl's ``Layer.build`` otherwise."""
    @functools.wraps(user_build)
    def build(self, input_shape=None):
        if self._keras_building:
            return user_build(self, input_shape)
        return Layer.build(self, input_shape)

    return build


def _keras_output_shape(user_fn):
    """A Keras-style ``compute_output_shape`` (batch axis included) seen without the batch
    axis, as statdl's shapes are."""
    @functools.wraps(user_fn)
    def compute_output_shape(self, input_shape):
        from .custom import from_keras_shape, to_keras_shape

        out = user_fn(self, to_keras_shape(input_shape))
        return from_keras_shape(out, f"layer '{self.name}'")

    return compute_output_shape


def _compatible(a: Shape | None, b: Shape) -> bool:
    if a is None or len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a, b))


def _fmt(shape: Shape | None) -> str:
    if shape is None:
        return "None"
    return "(None, " + ", ".join("None" if d is None else str(d) for d in shape) + ")"


format_shape = _fmt


def normalize_shape(shape, argument: str) -> Shape | None:
    """Turn an int or sequence into a shape tuple, checking each dimension."""
    if shape is None:
        return None
    if isinstance(shape, int | np.integer):
        shape = (int(shape),)
    try:
        dims = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise ConfigError(validation.message(
            argument, "a tuple of positive ints (None for unknown)", shape)) from None
    if any(d is not None and d <= 0 for d in dims) or not dims:
        raise ConfigError(validation.message(argument, "a non-empty tuple of positive ints",
                                             shape))
    return dims


def check_positive_int(value, argument: str, owner: str) -> int:
    """An int >= 1 (``statdl.validation.check_int``)."""
    return validation.check_int(value, argument, owner, low=1)  # type: ignore[return-value]


def check_rate(value, argument: str, owner: str) -> float:
    """A rate in [0, 1) (``statdl.validation.check_rate``)."""
    return validation.check_rate(value, argument, owner)


def as_pair(value, argument: str, owner: str) -> tuple[int, int]:
    """Accept ``3`` or ``(3, 3)`` for kernel sizes, strides and pool sizes."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        pair = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        pair = ()
    if len(pair) != 2 or min(pair) < 1:
        raise ConfigError(validation.message(argument, "an int >= 1 or a pair of them", value,
                                             owner))
    return pair  # type: ignore[return-value]
