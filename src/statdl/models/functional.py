"""``Model``: a directed acyclic graph of layers (Keras's functional API).

Calling layers on symbolic tensors (``statdl.Input``) records nodes; ``Model(inputs, outputs)``
walks them back from the outputs, orders them (each node after the nodes it reads) and lowers
the graph to a torch module: a ``SequentialModule`` when the graph is a chain (one input, one
output, each node reading the previous one, no layer twice) -- the very module a
``Sequential`` of the same layers builds, so the fast paths (``dense_step``, the inference
shortcuts, the recurrent passes: ``statdl.fast_paths``) apply alike -- and a ``GraphModule`` otherwise. Layers keep one module
however many nodes call them, so shared layers and models used inside other models share
weights.

Examples
--------
>>> import numpy as np, statdl as sd
>>> from statdl import layers
>>> inp = sd.Input(shape=(784,))
>>> encoded = layers.Dense(100, activation="tanh")(inp)
>>> en = sd.Model(inp, encoded)
>>> auto = sd.Model(inp, layers.Dense(784, activation="sigmoid")(encoded))
>>> auto.count_params(), en.count_params()
(157684, 78500)
>>> en.predict(np.zeros((2, 784))).shape
(2, 100)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._naming import unique_name
from ..errors import ConfigError, NotFittedError, ShapeError
from ..layers.base import Layer, Shape, format_shape, normalize_shape
from ..layers.custom import ModelModule, build_module, is_multi, sublayers
from ..layers.modules import GraphModule, GraphStep, SequentialModule
from ..layers.symbolic import Input, InputLayer, Node, SymbolicTensor, building_enabled
from ..regularizers import L1L2
from ..summary import format_summary
from ..training import inference
from ..validation import message
from .trainer import Trainer

__all__ = ["Model"]


def _flatten_struct(value, argument: str) -> tuple[list[SymbolicTensor], list[str] | None, bool]:
    """(tensors, dict keys or None, whether a single tensor was given)."""
    if isinstance(value, SymbolicTensor):
        return [value], None, True
    if isinstance(value, dict):
        keys, items = list(value), list(value.values())
    elif isinstance(value, list | tuple):
        keys, items = None, list(value)
    else:
        raise ConfigError(message(
            argument, "a symbolic tensor (from statdl.Input or a layer called on one), or a "
            "list or dict of them", None, "Model", shown=type(value).__name__))
    if not items:
        raise ConfigError(message(argument, "at least one tensor", None, "Model", shown="none",
                                  verb="hold"))
    for i, t in enumerate(items):
        if not isinstance(t, SymbolicTensor):
            raise ConfigError(message(f"{argument}[{keys[i] if keys else i}]",
                                      "a symbolic tensor", None, "Model",
                                      shown=type(t).__name__))
    return items, keys, False


class Model(Trainer, Layer):
    """A graph of layers from ``inputs`` to ``outputs``; also usable as a layer (sharing
    weights).

    Parameters
    ----------
    inputs : SymbolicTensor, or list / dict of them
        From ``statdl.Input`` (or any tensor of an existing graph, for sub-models).
    outputs : SymbolicTensor, or list / dict of them
        Tensors computed from ``inputs`` by calling layers.
    name : str, optional
        Shown by ``summary()``; ``functional``, ``functional_1``... by default.

    Examples
    --------
    >>> import statdl as sd
    >>> from statdl import layers
    >>> a, b = sd.Input((3,), name="a"), sd.Input((2,), name="b")
    >>> shared = layers.Dense(4, name="h")
    >>> m = sd.Model([a, b], [shared(a), layers.Dense(1, name="y")(b)])
    >>> m.input_names, m.output_names, m.count_params()
    (['a', 'b'], ['h', 'y'], 19)
    """

    #: A subclass that defines ``call`` is a Keras-style model, built by
    #: ``statdl.layers.custom`` (see ``_by_call``).
    _subclass_call_replaces_module = True

    def __init__(self, inputs=None, outputs=None, name: str | None = None, **kwargs):
        if name is None and type(self) is Model:
            name = unique_name("functional")
        super().__init__(name=name, **kwargs)
        self._init_trainer()
        self._nodes: list[Node] = []
        self._inputs: list[SymbolicTensor] = []
        self._outputs: list[SymbolicTensor] = []
        self._input_keys: list[str] | None = None
        self._output_keys: list[str] | None = None
        self._single_input = self._single_output = True
        self._layer_order: list[Layer] = []
        self._node_depth: dict[int, int] = {}
        # a subclass with call() and several inputs: dict keys (call gets a dict) or None
        # (a list), and which inputs hold integers (token ids), from the data it was built on
        self._call_keys: list[str] | None = None
        self._call_ints: list[bool] | None = None
        if inputs is None and outputs is None:
            return
        if inputs is None or outputs is None:
            raise ConfigError(message(
                ["inputs", "outputs"], "given together", None, "Model",
                shown="only `inputs`" if outputs is None else "only `outputs`",
                fix="Give both, e.g. Model(inputs=inp, outputs=layers.Dense(1)(inp))."))
        self._init_graph(inputs, outputs)
        if building_enabled():
            self.build(self._graph_input_shape())

    # ------------------------------------------------------------------ the graph
    def _init_graph(self, inputs, outputs) -> None:
        self._inputs, self._input_keys, self._single_input = _flatten_struct(inputs, "inputs")
        self._outputs, self._output_keys, self._single_output = _flatten_struct(outputs,
                                                                                "outputs")
        if len({id(t) for t in self._inputs}) != len(self._inputs):
            raise ConfigError(message("inputs", "distinct tensors", None, "Model",
                                      shown="the same tensor twice"))
        input_ids = {id(t) for t in self._inputs}
        order: list[Node] = []
        first_seen: dict[int, int] = {}
        finished: set[int] = set()

        def visit(t: SymbolicTensor, path: tuple) -> None:
            node = t.node
            if id(t) in input_ids and not node.is_input:
                return  # an intermediate tensor given as input: the graph starts here
            if node.is_input and id(t) not in input_ids:
                raise ConfigError(message(
                    "inputs", "every input the outputs need", None, "Model", verb="hold",
                    shown=f"no input '{node.layer.name}' (shape {format_shape(t.shape)})",
                    fix="Graph disconnected: add it to `inputs`."))
            if id(node) in finished:
                return
            if id(node) in path:
                raise ConfigError(f"The graph has a cycle through layer '{node.layer.name}'.")
            first_seen.setdefault(id(node.layer), len(first_seen))
            for s in node.inputs:
                visit(s, (*path, id(node)))
            finished.add(id(node))
            order.append(node)

        for t in self._outputs:
            visit(t, ())
        for t in self._inputs:  # inputs no output reads still belong to the model
            if t.node.is_input and id(t.node) not in finished:
                first_seen.setdefault(id(t.node.layer), len(first_seen))
                finished.add(id(t.node))
                order.append(t.node)
        self._nodes = [n for n in order if not n.is_input]
        self._layer_order, self._node_depth = _keras_layer_order(order, first_seen)
        names = [layer.name for layer in self._layer_order]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(message(
                "name", "unique within a model", None, shown=f"'{dup[0]}', which names two "
                "different layers", fix="Give them distinct `name=`."))
        self._slots: dict[int, int] = {id(t): i for i, t in enumerate(self._inputs)}
        for node in self._nodes:
            for t in node.outputs:
                self._slots[id(t)] = len(self._slots)

    # ------------------------------------------------------------------ subclassed models
    @property
    def _by_call(self) -> bool:
        """A model subclassed the Keras way, whose ``call`` computes the outputs: it is built
        as a Keras-style layer (``statdl.layers.custom``), from the first data it sees."""
        return self._keras_style and not self._inputs

    @property
    def _subclassed(self) -> bool:
        """A model without a graph: its ``call`` or its ``train_step`` is Python code."""
        return not self._inputs and not self._layer_order

    def __call__(self, *inputs, **kwargs):
        """Call the model on symbolic tensors (a node of a graph) or on torch tensors; a
        subclass with ``call`` also takes a dict of tensors by input name, as in Keras."""
        if len(inputs) == 1 and isinstance(inputs[0], dict) and self._by_call and inputs[0] \
                and all(isinstance(v, torch.Tensor) for v in inputs[0].values()):
            inputs = (self._dict_in_order(inputs[0], "inputs"),)
        return super().__call__(*inputs, **kwargs)

    def _dict_in_order(self, values: dict, argument: str) -> list:
        """A subclassed model's inputs given by name, as a list in its inputs' order (the
        first dict it sees fixes the names)."""
        if self._call_keys is None and not self.built:
            self._call_keys = list(values)
        if self._call_keys is None or sorted(values) != sorted(self._call_keys):
            raise ConfigError(message(
                argument, f"the inputs model '{self.name}' was built with "
                f"({self._call_keys or 'one array'})", None, shown=f"keys {sorted(values)}",
                verb="give"))
        return [values[k] for k in self._call_keys]

    def _build_from_data(self, x) -> None:
        """Build a subclassed model (with ``call``) for its first data: one array, a list or
        tuple of arrays (``call`` gets a list of tensors) or a dict by name (``call`` gets a
        dict); integer arrays travel as token ids."""
        if self.built or not self._by_call:
            return
        if isinstance(x, dict):
            parts = self._dict_in_order(x, "x")
        elif isinstance(x, list | tuple) and len(x) > 1 and all(_array_like(p) for p in x):
            parts = list(x)
        else:
            part = x[0] if isinstance(x, list | tuple) and len(x) == 1 \
                and _array_like(x[0]) else x
            self.build(_sample_shape(part, "x"))
            return
        self._call_ints = [_holds_integers(p) for p in parts]
        self.build([_sample_shape(p, f"x[{i}]") for i, p in enumerate(parts)])

    def _tracked_layers(self) -> list[Layer]:
        """Layers and models held in attributes (a subclassed model's parts, Keras-style)."""
        return sublayers(self)

    @property
    def module(self) -> nn.Module:
        """The torch module; for a model subclass with neither graph nor ``call``, its built
        parts'."""
        if self.module_ is None and self._subclassed and not self._by_call:
            parts = [layer for layer in self._tracked_layers() if layer.built]
            if parts:
                self.module_ = nn.ModuleDict({f"{i}_{layer.name}": layer.module
                                              for i, layer in enumerate(parts)})
        return Layer.module.fget(self)  # type: ignore[attr-defined]

    def _graph_input_shape(self):
        shapes = [t.shape for t in self._inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def n_outputs(self) -> int:
        """How many tensors a call of this model returns."""
        if self._by_call and self.built_shape_ is not None:
            out = self.compute_output_shape(self.built_shape_)
            return len(out) if isinstance(out, list) else 1
        return max(1, len(self._outputs))

    # ------------------------------------------------------------------ Keras attributes
    @property
    def inputs(self) -> list[SymbolicTensor]:
        """The input tensors, as a list (Keras's ``model.inputs``)."""
        self._require_graph("inputs")
        return list(self._inputs)

    @property
    def outputs(self) -> list[SymbolicTensor]:
        """The output tensors, as a list (Keras's ``model.outputs``)."""
        self._require_graph("outputs")
        return list(self._outputs)

    @property
    def input(self):
        """The input tensor (a list, or dict, for several)."""
        self._require_graph("input")
        return self._structure(self._inputs, self._input_keys, self._single_input)

    @property
    def output(self):
        """The output tensor (a list, or dict, for several)."""
        self._require_graph("output")
        return self._structure(self._outputs, self._output_keys, self._single_output)

    @property
    def input_shape(self):
        """Keras's ``model.input_shape``: ``(None, *shape)``, a list of them for several
        inputs (given as a list or a dict, as Keras lists them). The shape a ``Sequential``
        was given (``input_shape=``, without the batch axis) is kept as ``_input_shape``.

        Examples
        --------
        >>> import statdl as sd
        >>> inp = sd.Input((4,))
        >>> sd.Model(inp, sd.layers.Dense(3)(inp)).input_shape
        (None, 4)
        """
        if self._inputs:
            shapes = [(None, *t.shape) for t in self._inputs]
        else:  # a Sequential not built yet, or a subclassed model built from data
            shape = self._input_shape or self.built_shape_
            if shape is None:
                raise self._unknown("input_shape")
            shapes = [(None, *s) for s in shape] if is_multi(shape) else [(None, *shape)]
        return shapes[0] if len(shapes) == 1 else shapes

    @input_shape.setter
    def input_shape(self, value) -> None:
        self._input_shape = normalize_shape(value, "input_shape")

    def _require_graph(self, what: str) -> None:
        if self._subclassed:
            raise ConfigError(
                f"Model '{self.name}' is subclassed (its outputs come from Python code), so it "
                f"has no symbolic `{what}`; build a graph model with statdl.Input and "
                "Model(inputs, outputs) to reach tensors of the graph.")
        if not self._inputs:
            raise self._unknown(what)

    def _unknown(self, what: str) -> NotFittedError:
        return NotFittedError(
            f"`{what}` of model '{self.name}' is not known until its input shape is: pass "
            "`input_shape=` (e.g. Sequential([...], input_shape=(784,))), put "
            "statdl.Input(shape) first in the list, or call fit/predict or build(shape) first.")

    @staticmethod
    def _structure(items, keys, single):
        if keys is not None:
            return dict(zip(keys, items))
        return items[0] if single and len(items) == 1 else list(items)

    @property
    def input_names(self) -> list[str]:
        if self._input_keys is not None:
            return list(self._input_keys)
        return [t.node.layer.name if t.node.is_input else t.name for t in self._inputs]

    @property
    def output_names(self) -> list[str]:
        if self._output_keys is not None:
            return list(self._output_keys)
        names = []
        for t in self._outputs:
            name = t.node.layer.name if t.index == 0 else f"{t.node.layer.name}_{t.index}"
            names.append(name if name not in names else f"{name}_{len(names)}")
        return names

    @property
    def layers(self) -> list[Layer]:
        """Every layer of the graph, input layers first, in Keras's order (by depth); for a
        subclassed model, the layers held in its attributes, in attribute order."""
        if self._subclassed:
            return self._tracked_layers()
        return list(self._layer_order)

    def _graph_layers(self) -> list[Layer]:
        """The layers that compute something (input layers left out)."""
        if self._subclassed:
            return self._tracked_layers()
        return [layer for layer in self._layer_order if not isinstance(layer, InputLayer)]

    def get_layer(self, name: str | int | Layer | None = None, index: int | None = None) -> Layer:
        """Find a layer by name (searching nested models too), position in ``layers`` or
        identity."""
        if index is not None:
            name = index
        if isinstance(name, int) and not isinstance(name, bool):
            layers = self.layers
            if not -len(layers) <= name < len(layers):
                raise ConfigError(message("index", f"an index in {-len(layers)}.."
                                          f"{len(layers) - 1}", None, "get_layer",
                                          shown=str(name)))
            return layers[name]
        searched = self._graph_layers() if self._subclassed else self._layer_order
        for layer in searched:
            if layer is name or layer.name == name:
                return layer
        for layer in searched:
            if isinstance(layer, Model):
                try:
                    return layer.get_layer(name)
                except ConfigError:
                    continue
        raise self._missing(name)

    def _missing(self, layer) -> ConfigError:
        names = ", ".join(repr(x.name) for x in self.layers)
        label = layer.name if isinstance(layer, Layer) else layer
        return ConfigError(message("layer", f"a layer of model '{self.name}' (layers: {names})",
                                   label))

    def _find(self, layer) -> list[int]:
        """Positions of nodes, from this model down through nested models, leading to the
        first node of ``layer``."""
        if self._subclassed:
            raise ConfigError(
                f"`layer_output` needs a graph model; model '{self.name}' is subclassed (its "
                "call() is Python code statdl cannot cut). Build the network with statdl.Input "
                "and Model(inputs, outputs), or call the layer on tensors in your own code.")
        if isinstance(layer, bool):
            layer = str(layer)
        if isinstance(layer, int):
            layer = self.get_layer(layer)
        for i, node in enumerate(self._nodes):
            if node.layer is layer or node.layer.name == layer:
                return [i]
        for i, node in enumerate(self._nodes):
            if isinstance(node.layer, Model) and len(node.inputs) == 1:
                try:
                    return [i, *node.layer._find(layer)]
                except ConfigError:
                    continue
        raise self._missing(layer)

    def layer_output(self, x, layer, batch_size: int | None = None):
        """Activations of any layer (nested models included), or of any tensor of the graph
        (``layer`` a symbolic tensor: e.g. the second call of a shared layer), for ``x``.

        Examples
        --------
        >>> import numpy as np, statdl as sd
        >>> inp = sd.Input((3,))
        >>> shared = sd.layers.Dense(3)
        >>> twice = shared(shared(inp))
        >>> m = sd.Model(inp, twice)
        >>> m.layer_output(np.ones((2, 3)), twice).shape
        (2, 3)
        """
        if isinstance(layer, SymbolicTensor):
            if id(layer) not in self._slots:
                raise ConfigError(message("layer", f"a tensor of model '{self.name}'", layer,
                                          "layer_output"))
            sub = Model(self.input, layer, name=f"{self.name}_part")
            return sub.predict(x, batch_size=batch_size)
        return super().layer_output(x, layer, batch_size)

    def _run_path(self, module: nn.Module, x, path: list[int] | None, logits: bool):
        if not path:
            return inference.forward(module, x, logits)
        head, rest = path[0], path[1:]
        node = self._nodes[head]
        if rest:
            inner = module(x, upto=self._slots[id(node.inputs[0])])
            return node.layer._run_path(node.layer.module, inner, rest, logits)
        return module(x, upto=self._slots[id(node.outputs[0])])

    # ------------------------------------------------------------------ shapes
    def _propagate(self, input_shapes: list[Shape]) -> dict[int, Shape]:
        shapes: dict[int, Shape] = {i: tuple(s) for i, s in enumerate(input_shapes)}
        for node in self._nodes:
            args = [shapes[self._slots[id(t)]] for t in node.inputs]
            arg = list(args) if node.multi else args[0]
            try:
                out = node.layer.compute_output_shape(arg)
            except ShapeError as exc:
                got = ", ".join(format_shape(s) for s in args)
                raise ShapeError(f"Layer '{node.layer.name}' ({type(node.layer).__name__}) of "
                                 f"model '{self.name}' got input shape {got}: {exc}") from None
            outs = [tuple(s) for s in out] if len(node.outputs) > 1 else [tuple(out)]
            for t, s in zip(node.outputs, outs):
                shapes[self._slots[id(t)]] = s
        return shapes

    def _as_shape_list(self, input_shape) -> list[Shape]:
        if input_shape is None:
            return [t.shape for t in self._inputs]
        if len(self._inputs) > 1:
            return [tuple(s) for s in input_shape]
        return [tuple(input_shape)]

    def compute_output_shape(self, input_shape) -> Shape:
        if self._by_call:  # call() run on a small batch of zeros
            return Layer.compute_output_shape(self, input_shape)
        shapes = self._propagate(self._as_shape_list(input_shape))
        outs = [shapes[self._slots[id(t)]] for t in self._outputs]
        return outs[0] if len(outs) == 1 else outs  # type: ignore[return-value]

    def _node_input_shapes(self) -> dict[int, object]:
        """Each layer's input shape at its first node in this graph."""
        shapes = self._propagate([t.shape for t in self._inputs])
        first: dict[int, object] = {}
        for node in self._nodes:
            if id(node.layer) not in first:
                args = [shapes[self._slots[id(t)]] for t in node.inputs]
                first[id(node.layer)] = list(args) if node.multi else args[0]
        return first

    def _shapes(self, sample_shape=None) -> list[tuple[Layer, object, Shape]]:
        """(layer, input shape, output shape) of every node, for ``sample_shape`` when the
        model has one input."""
        given = [tuple(sample_shape)] if sample_shape is not None and len(self._inputs) == 1 \
            and len(tuple(sample_shape)) == len(self._inputs[0].shape) else None
        shapes = self._propagate(given or [t.shape for t in self._inputs])
        out = []
        for node in self._nodes:
            args = [shapes[self._slots[id(t)]] for t in node.inputs]
            for t in node.outputs:
                out.append((node.layer, list(args) if node.multi else args[0],
                            shapes[self._slots[id(t)]]))
        return out

    def count_params(self, input_shape=None) -> int:
        """Number of weights (Keras's "Total params"); a shared layer counts once."""
        if self._by_call:
            return Layer.count_params(self, input_shape)
        first = self._node_input_shapes()
        return sum(layer.param_count(first[id(layer)]) for layer in self._graph_layers())

    def count_non_trainable_params(self, input_shape=None) -> int:
        if self._by_call:
            return Layer.count_non_trainable_params(self, input_shape)
        first = self._node_input_shapes()
        total = 0
        for layer in self._graph_layers():
            s = first[id(layer)]
            if not layer.trainable or not self._trainable:
                total += layer.param_count(s)
            else:
                total += layer.count_non_trainable_params(s)
        return total

    @property
    def output_shape_(self):
        """The output shape without the batch axis (a list for several outputs): what
        ``compute_output_shape`` gives for the model's input shape. ``output_shape`` is the
        same in Keras's form, with the batch axis."""
        return self.compute_output_shape(self.built_shape_ if self._by_call else None)

    @property
    def output_shape(self) -> KerasShape | KerasShapes:
        """Keras's ``model.output_shape``: ``(None, *shape)``, a list of them for several
        outputs. Calling it with an input shape is statdl's older method
        ``output_shape(input_shape)`` (``compute_output_shape``'s alias), kept for existing code.

        Examples
        --------
        >>> import statdl as sd
        >>> m = sd.Sequential([sd.layers.Dense(3)], input_shape=(4,))
        >>> m.output_shape, m.output_shape((7,))
        ((None, 3), (3,))
        """
        shape = self.output_shape_
        if isinstance(shape, list):
            return KerasShapes([(None, *s) for s in shape], self)
        return KerasShape((None, *shape), self)

    # ------------------------------------------------------------------ trainer protocol
    def _input_specs(self) -> list[tuple[str, Shape, bool]]:
        if self._by_call and is_multi(self.built_shape_):  # several inputs, from the data
            shapes = [tuple(s) for s in self.built_shape_]
            names = self._call_keys or [f"input_{i + 1}" for i in range(len(shapes))]
            ints = self._call_ints or [False] * len(shapes)
            return list(zip(names, shapes, ints))
        if self._by_call:  # one input; token ids when the first layer held is an Embedding
            parts = self._tracked_layers()
            return [("input", self.built_shape_, bool(parts) and _reads_ids(parts[0]))]
        if not self._inputs:
            raise ConfigError(
                f"Model '{self.name}' has no graph: build it as Model(inputs, outputs), or "
                "override train_step(data) in a subclass to fit it your own way."
            )
        readers: dict[int, list[Layer]] = {}
        for node in self._nodes:
            for t in node.inputs:
                readers.setdefault(id(t), []).append(node.layer)
        specs = []
        for name, t in zip(self.input_names, self._inputs):
            integer = t.dtype.startswith(("int", "uint")) or any(
                _reads_ids(layer) for layer in readers.get(id(t), []))
            specs.append((name, t.shape, integer))
        return specs

    def _output_specs(self) -> list[tuple[str, Shape]]:
        if self._by_call:  # one output until the model is built and says otherwise
            if self.built_shape_ is None:
                return [("output", None)]
            out = self.compute_output_shape(self.built_shape_)
            if isinstance(out, list):
                return [(f"output_{i + 1}", tuple(s)) for i, s in enumerate(out)]
            return [("output", tuple(out))]
        if not self._outputs:  # a subclass with its own train_step: one nominal output
            return [("output", ())]
        shapes = self._propagate([t.shape for t in self._inputs])
        return [(name, shapes[self._slots[id(t)]])
                for name, t in zip(self.output_names, self._outputs)]

    def _final_activations(self) -> list[str | None]:
        if self._by_call:  # what call() computes last is unknown: outputs are used as given
            return [None] * len(self._output_specs())
        return [_final_activation_of(t, self._LOGIT_LAYERS) for t in self._outputs]

    def _integer_input(self) -> bool:
        return self._input_specs()[0][2]

    def _structure_outputs(self, values: list):
        if self._output_keys is not None:
            return dict(zip(self._output_keys, values))
        return values

    # ------------------------------------------------------------------ building
    def make_module(self, input_shape) -> nn.Module:
        if self._by_call:
            return build_module(self, input_shape, _CallModule)
        input_shapes = self._as_shape_list(input_shape)
        shapes = self._propagate(input_shapes)
        for node in self._nodes:  # built at call time; a new compatible shape reuses them
            args = [shapes[self._slots[id(t)]] for t in node.inputs]
            node.layer.build(list(args) if node.multi else args[0])
        if self._is_chain():
            activity = {i: n.layer.activity_regularizer for i, n in enumerate(self._nodes)
                        if n.layer.activity_regularizer is not None}
            return SequentialModule([n.layer.module for n in self._nodes],
                                    activity).to(self.device_)
        index: dict[int, int] = {}
        modules: list[nn.Module] = []
        steps = []
        for node in self._nodes:
            if id(node.layer) not in index:
                index[id(node.layer)] = len(modules)
                modules.append(node.layer.module)
            steps.append(GraphStep(index[id(node.layer)],
                                   tuple(self._slots[id(t)] for t in node.inputs), node.multi,
                                   tuple(self._slots[id(t)] for t in node.outputs),
                                   node.layer.activity_regularizer))
        outputs = [self._slots[id(t)] for t in self._outputs]
        return GraphModule(modules, steps, len(self._inputs), outputs).to(self.device_)

    def _is_chain(self) -> bool:
        if len(self._inputs) != 1 or len(self._outputs) != 1 or not self._nodes:
            return False
        seen = set()
        for i, node in enumerate(self._nodes):
            if node.multi or len(node.inputs) != 1 or len(node.outputs) != 1 \
                    or id(node.layer) in seen or self._slots[id(node.inputs[0])] != i:
                return False
            seen.add(id(node.layer))
        return self._slots[id(self._outputs[0])] == len(self._nodes)

    def build(self, input_shape=None) -> nn.Module:
        """Create (or reuse) the module; a functional model is built when it is made."""
        if input_shape is None and self._by_call:
            raise ConfigError(message(
                "input_shape", f"the shape of one sample for subclassed model '{self.name}', "
                "e.g. build((784,))", None, "build",
                fix="Or call fit/predict, which build it from the data."))
        if self._by_call and isinstance(input_shape, dict):  # Keras's dict of input shapes
            input_shape = [tuple(s) for s in self._dict_in_order(input_shape, "input_shape")]
        if input_shape is None:
            input_shape = self._graph_input_shape()
        if isinstance(input_shape, list) and len(self._inputs) == 1:
            input_shape = input_shape[0] if input_shape and isinstance(
                input_shape[0], list | tuple) else tuple(input_shape)
        module = super().build(input_shape)
        if module is not None:  # not the Keras-style build() run while building
            self._compile_pending()  # a subclass compiled per output before it was built
        return module

    def _apply_trainable(self) -> None:
        if self._by_call:  # its own add_weight weights, then each layer held
            Layer._apply_trainable(self)
            return
        if self.module_ is None:
            return
        for layer in self._graph_layers():
            if layer.module_ is None:
                continue
            for p in layer.module_.parameters():
                p.requires_grad_(self._trainable and layer.trainable)
            if isinstance(layer, Model) and self._trainable:
                layer._apply_trainable()

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._graph_layers():
            layer.trainable = bool(value)

    def freeze(self, up_to: str | int | Layer | None = None):
        """Freeze the layers from the first through ``up_to`` (all layers when None).

        Frozen weights get no gradient and count as non-trainable in ``summary()``.
        """
        layers = self._graph_layers()
        if up_to is None:
            stop = len(layers) - 1
        else:
            target = self.get_layer(up_to)
            stop = next((i for i, x in enumerate(layers) if x is target), None)
            if stop is None:
                raise self._missing(up_to)
        for layer in layers[: stop + 1]:
            layer.trainable = False
        return self

    def unfreeze(self):
        """Make every layer trainable again."""
        self.trainable = True
        return self

    def regularized_weights(self) -> list[tuple[L1L2, object]]:
        if self._by_call:
            return Layer.regularized_weights(self)
        out = []
        for layer in self._graph_layers():
            if layer.built:
                out.extend(layer.regularized_weights())
        return out

    # ------------------------------------------------------------------ summary
    def _sequential_like(self) -> bool:
        """Keras's test: one node per depth, each reading at most one tensor, no layer called
        twice; otherwise ``summary()`` adds a "Connected to" column."""
        per_depth: dict[int, int] = {}
        for depth in self._node_depth.values():
            per_depth[depth] = per_depth.get(depth, 0) + 1
        if any(count > 1 for count in per_depth.values()):
            return False
        layers = [id(n.layer) for n in self._nodes]
        return all(len(n.inputs) <= 1 for n in self._nodes) and len(set(layers)) == len(layers)

    def _summary_rows(self, style: str) -> tuple[list, bool]:
        if self._subclassed:
            return [_subclass_row(layer, style) for layer in self._tracked_layers()], False
        shapes = self._propagate([t.shape for t in self._inputs])
        first = self._node_input_shapes()
        connected = not self._sequential_like()
        nodes_of: dict[int, list[Node]] = {}
        for node in self._nodes:
            nodes_of.setdefault(id(node.layer), []).append(node)
        rows = []
        for layer in self._layer_order:
            label = f"{layer.name} ({summary_type(layer)})"
            if isinstance(layer, InputLayer):
                shape = format_shape(layer.shape)
                rows.append((label, f"[{shape}]" if style == "r" else shape, 0, "-"))
                continue
            nodes = nodes_of[id(layer)]
            outs = [shapes[self._slots[id(t)]] for t in nodes[-1].outputs]
            shape = format_shape(outs[0]) if len(outs) == 1 else \
                "[" + ", ".join(format_shape(s) for s in outs) + "]"
            links = ", ".join(f"{t.node.layer.name}[{t.node.index}][{t.index}]"
                              for node in nodes for t in node.inputs) or "-"
            rows.append((label, shape, layer.param_count(first[id(layer)]), links))
        if not connected:
            rows = [r[:3] for r in rows]
        return rows, connected

    def summary(self, print_fn=print, style: str = "r") -> str:
        """Print (with ``print_fn``; ``None`` to only return) and return the Keras table.

        ``style="r"`` (default) follows R keras's layout, as printed in the course;
        ``style="keras3"`` prints Keras 3's box-drawn table with parameter sizes. Graphs that
        are not a plain chain get Keras's "Connected to" column.
        """
        if self._by_call and not self.built:
            raise NotFittedError(f"summary() of subclassed model '{self.name}' needs the model "
                                 "built: fit it, predict with it or call build(input_shape).")
        rows, _ = self._summary_rows(style)
        total = self.count_params()
        non_trainable = self.count_non_trainable_params()
        text = format_summary(self.name, rows, total - non_trainable, non_trainable, style)
        if print_fn is not None:
            print_fn(text)
        return text

    # ------------------------------------------------------------------ saving
    def get_config(self) -> dict:
        """The graph as JSON-able data: inputs (name, shape, dtype), each layer's spec, each
        node as (layer name, slots it reads), outputs as slots (see ``from_config``)."""
        from ..saving import layer_to_config

        if self._subclassed:  # Python code: nothing to describe but the base arguments
            return {}
        nodes = [{"layer": n.layer.name, "inputs": [self._slots[id(t)] for t in n.inputs],
                  "multi": n.multi} for n in self._nodes]
        return {
            "inputs": [{"name": name, "shape": list(t.shape), "dtype": t.dtype}
                       for name, t in zip(self.input_names, self._inputs)],
            "layers": [layer_to_config(layer) for layer in self._graph_layers()],
            "nodes": nodes,
            "outputs": [self._slots[id(t)] for t in self._outputs],
            "input_keys": self._input_keys, "output_keys": self._output_keys,
            "single_input": self._single_input, "single_output": self._single_output,
        }

    @classmethod
    def from_config(cls, config: dict, make_layer, where: str = "model") -> Model:
        """Rebuild a model from ``get_config`` output; ``make_layer(spec, where)`` creates each
        layer (``statdl.saving`` passes its checked loader: nothing is executed)."""
        if cls._keras_style:  # a subclass with call() inside a saved model: a registered
            return cls(**config)  # class rebuilt from its get_config, as a custom layer
        def need(key, kind):
            value = config.get(key)
            if not isinstance(value, kind):
                raise ConfigError(message(f"{where}.config.{key}", f"a {kind.__name__}", None,
                                          shown=type(value).__name__))
            return value

        inputs = []
        for i, spec in enumerate(need("inputs", list)):
            if not isinstance(spec, dict) or not isinstance(spec.get("shape"), list):
                raise ConfigError(message(f"{where}.config.inputs[{i}]",
                                          "a dict with a list `shape`", None,
                                          shown=str(spec)[:80]))
            inputs.append(Input(spec["shape"], name=spec.get("name"), dtype=spec.get("dtype")))
        layers = {}
        for i, spec in enumerate(need("layers", list)):
            layer = make_layer(spec, f"{where}.config.layers[{i}]")
            layers[layer.name] = layer
        slots: list[SymbolicTensor] = list(inputs)
        for i, node in enumerate(need("nodes", list)):
            place = f"{where}.config.nodes[{i}]"
            if not isinstance(node, dict) or node.get("layer") not in layers \
                    or not isinstance(node.get("inputs"), list) \
                    or not all(isinstance(j, int) and 0 <= j < len(slots)
                               for j in node["inputs"]) or not node["inputs"]:
                raise ConfigError(message(
                    place, f"a node that names a layer of the model and reads earlier slots "
                    f"(0..{len(slots) - 1})", None, shown=str(node)[:80]))
            args = [slots[j] for j in node["inputs"]]
            out = layers[node["layer"]](args if node.get("multi") else args[0])
            slots.extend(out if isinstance(out, list) else [out])
        outs = need("outputs", list)
        if not outs or not all(isinstance(j, int) and 0 <= j < len(slots) for j in outs):
            raise ConfigError(message(f"{where}.config.outputs",
                                      f"a list of slots in 0..{len(slots) - 1}", None,
                                      shown=str(outs)[:80]))
        in_keys, out_keys = config.get("input_keys"), config.get("output_keys")
        ins = [slots[j] for j in range(len(inputs))]
        outputs = [slots[j] for j in outs]
        in_arg = dict(zip(in_keys, ins)) if in_keys else (
            ins[0] if config.get("single_input", True) and len(ins) == 1 else ins)
        out_arg = dict(zip(out_keys, outputs)) if out_keys else (
            outputs[0] if config.get("single_output", True) and len(outputs) == 1 else outputs)
        extra = {k: config[k] for k in ("name", "trainable") if k in config}
        return cls(in_arg, out_arg, **extra)

    def save(self, path) -> None:
        """Save architecture (JSON), weights and optimiser state to one file, atomically.

        The file is a zip archive holding ``model.json`` and ``.npy`` arrays; loading it
        never executes code (``statdl.load_model``).
        """
        from ..saving import save_model

        if self._subclassed:
            raise ConfigError(
                f"Model '{self.name}' is a subclass of statdl.Model whose outputs come from "
                "its own Python code (call or train_step), which a model file cannot hold (in "
                "Keras too it needs get_config and the class at load time). Save the weights "
                "with save_weights(path); to restore, create the model in code, build it "
                "(fit, predict or build(input_shape)) and call load_weights(path).")
        save_model(self, path)

    def save_weights(self, path) -> None:
        """Save the weights alone (a ``.npz`` of the module's arrays), atomically."""
        from ..saving import save_weights

        save_weights(self, path)

    def load_weights(self, path) -> None:
        """Load weights written by ``save_weights`` (shapes must match)."""
        from ..saving import load_weights

        if self._by_call and not self.built:
            raise NotFittedError(f"load_weights of subclassed model '{self.name}' needs the "
                                 "model built first, so that its weights exist: call "
                                 "build(input_shape) (the shape of one sample) or predict on "
                                 "a batch, then load_weights(path).")
        load_weights(self, path)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, inputs={self.input_names}, "
                f"outputs={self.output_names})")

    def _repr_html_(self) -> str | None:
        """The summary table in Jupyter (None, hence the plain repr, before shapes are known)."""
        from ..display import summary_html

        try:
            rows, _ = self._summary_rows("r")
        except (ShapeError, NotFittedError):
            return None
        non_trainable = self.count_non_trainable_params()
        return summary_html(self.name, rows, self.count_params() - non_trainable, non_trainable)


def _subclass_row(layer: Layer, style: str) -> tuple:
    """(label, output shape, params) of a layer held by a subclassed model; ``?`` before the
    layer is built (Keras prints ``?`` where it does not know a shape)."""
    label = f"{layer.name} ({summary_type(layer)})"
    if not layer.built:
        return label, "?", 0
    try:
        out = layer.compute_output_shape(layer.built_shape_)
        shape = format_shape(out)
    except (ShapeError, TypeError, ValueError):
        shape = "?"
    return label, shape, layer.count_params()


def summary_type(layer) -> str:
    """The type ``summary()`` prints: Keras's ``Functional`` for a graph model."""
    return "Functional" if type(layer) is Model else type(layer).__name__


class KerasShape(tuple):
    """A model's output shape with the batch axis, ``(None, 3)``, that can still be called as
    statdl's older method ``model.output_shape(input_shape)`` (``compute_output_shape``)."""

    def __new__(cls, shape: tuple, model: Model) -> KerasShape:
        obj = super().__new__(cls, shape)
        obj._model = model
        return obj

    def __call__(self, input_shape):
        return Layer.output_shape(self._model, input_shape)


class KerasShapes(list):
    """The output shapes of a model with several outputs, ``[(None, 2), (None, 5)]``, callable
    like ``KerasShape``."""

    def __init__(self, shapes: list[tuple], model: Model) -> None:
        super().__init__(shapes)
        self._model = model

    __call__ = KerasShape.__call__


class _CallModule(ModelModule):
    """The module of a subclassed model: ``call`` gets a dict when the model's inputs were
    given by name (the training loop and the shape probe hand a list in the names' order)."""

    def forward(self, inputs, logits: bool = False):
        keys = self.layer._call_keys
        if keys is not None and isinstance(inputs, list | tuple):
            inputs = dict(zip(keys, inputs))
        return super().forward(inputs)


def _array_like(value) -> bool:
    """An array, tensor, frame or sparse matrix: one input's data (not a row of numbers)."""
    return isinstance(value, np.ndarray | torch.Tensor) or hasattr(value, "shape")


def _sample_shape(value, argument: str) -> tuple:
    shape = getattr(value, "shape", None)
    if shape is None:
        shape = np.shape(value)
    if len(shape) < 1 or shape[0] == 0:
        raise ShapeError(message(argument, "at least one sample (rows first)", None,
                                 shown=f"shape {tuple(shape)}", verb="hold"))
    return tuple(int(d) for d in shape[1:])


def _holds_integers(value) -> bool:
    if isinstance(value, torch.Tensor):
        return not value.is_floating_point() and value.dtype != torch.bool
    dtypes = getattr(value, "dtypes", None)  # a pandas frame: every column integer
    if dtypes is not None and not isinstance(dtypes, np.dtype):
        return all(np.dtype(d).kind in "iu" for d in dtypes)
    dtype = getattr(value, "dtype", None)
    return dtype is not None and np.dtype(dtype).kind in "iu"


def _reads_ids(layer: Layer) -> bool:
    if isinstance(layer, Model):
        return layer._integer_input()
    return type(layer).__name__ == "Embedding"


def _final_activation_of(t: SymbolicTensor, logit_layers) -> str | None:
    layer = t.node.layer
    if isinstance(layer, Model):
        finals = layer._final_activations()
        return finals[t.index] if t.index < len(finals) else None
    if type(layer).__name__ in logit_layers:
        return getattr(layer, "activation", None)
    return None


def _keras_layer_order(nodes: list[Node], first_seen: dict[int, int]
                       ) -> tuple[list[Layer], dict[int, int]]:
    """Layers by decreasing depth (distance to the outputs), ties in order of first visit
    from the outputs: Keras's ``Functional.layers`` order; and each node's depth (by id)."""
    in_graph = {id(n) for n in nodes}
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layers: dict[int, Layer] = {}
    for node in reversed(nodes):
        depth = node_depth.setdefault(id(node), 0)
        depth = max(depth, layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        layers[id(node.layer)] = node.layer
        node_depth[id(node)] = depth
        for t in node.inputs:
            parent = t.node
            if id(parent) in in_graph:
                node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    order = sorted(layers.values(), key=lambda x: (-layer_depth[id(x)], first_seen[id(x)]))
    return order, node_depth

