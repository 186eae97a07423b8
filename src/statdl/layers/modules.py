"""The torch modules of models: a chain of layer modules, or a graph of them.

Both live here, below the training package, so that the training loop's fast paths (``dense_step``,
the inference shortcuts) can recognise a chain without importing the model classes.
A functional model whose graph is a chain lowers to the same ``SequentialModule`` as the
``Sequential`` that declares the same layers, so both train through the same fast paths.

Examples
--------
>>> import torch
>>> chain = SequentialModule([torch.nn.Identity(), torch.nn.Identity()], {})
>>> chain(torch.ones(2, 3)).shape
torch.Size([2, 3])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..regularizers import L1L2

__all__ = ["SequentialModule", "GraphModule", "GraphStep"]


class SequentialModule(nn.Module):
    """The torch module of a chain of layers: runs its children in order.

    ``logits=True`` stops before the last layer's activation (for fused cross-entropy);
    ``upto=k`` runs only the first ``k`` children (for ``layer_output``).
    """

    def __init__(self, children: list[nn.Module], activity: dict[int, L1L2]):
        super().__init__()
        self.layers = nn.ModuleList(children)
        self.activity = activity
        self.penalties: list[torch.Tensor] = []

    @property
    def adds_penalties(self) -> bool:
        """Whether forward passes append loss terms to ``penalties`` (the loop collects the
        terms of every module where this is true; subclasses with own terms return True)."""
        return bool(self.activity)

    def forward(self, x: torch.Tensor, logits: bool = False, upto: int | None = None):
        n = len(self.layers) if upto is None else upto
        last = n - 1
        for i in range(n):
            m = self.layers[i]
            if logits and i == last:
                x = m.forward_logits(x) if hasattr(m, "forward_logits") else m(x)
            else:
                x = m(x)
            if self.activity and i in self.activity:
                self.penalties.append(self.activity[i](x) / x.shape[0])
        return x

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x, logits=True)


@dataclass(frozen=True)
class GraphStep:
    """One node of a graph: module ``module`` (an index into the graph's modules) applied to
    the values in slots ``sources`` (a list when ``multi``: merge layers), its outputs written
    to the slots ``targets``; ``activity`` is the node's activity regulariser, if any."""

    module: int
    sources: tuple[int, ...]
    multi: bool
    targets: tuple[int, ...]
    activity: L1L2 | None = None


class GraphModule(nn.Module):
    """The torch module of a functional model whose graph is not a chain.

    Values live in numbered slots: the inputs first, then each step's outputs. Each layer's
    module is held once, however many nodes call it, so shared layers share weights.

    ``forward(x)`` takes one tensor (one input) or a list (several inputs) and returns one
    tensor (one output) or a list. ``upto=slot`` returns the value of that slot instead (for
    ``layer_output``). ``logits=True`` (one output made by a layer with ``forward_logits``)
    returns that layer's pre-activation.
    """

    def __init__(self, modules: list[nn.Module], steps: list[GraphStep], n_inputs: int,
                 outputs: list[int]):
        super().__init__()
        self.nodes = nn.ModuleList(modules)
        self.steps = list(steps)
        self.n_inputs = n_inputs
        self.outputs = list(outputs)
        self.penalties: list[torch.Tensor] = []
        self.adds_penalties = any(s.activity is not None for s in self.steps)
        last = {s.targets[0]: i for i, s in enumerate(self.steps) if len(s.targets) == 1}
        # the step that makes the one output (for logits), when it makes only that
        self._output_step = last.get(self.outputs[0]) if len(self.outputs) == 1 else None

    def forward(self, x, logits: bool = False, upto: int | None = None):
        xs = list(x) if isinstance(x, list | tuple) else [x]
        values: list = [None] * (self.n_inputs + sum(len(s.targets) for s in self.steps))
        values[:self.n_inputs] = xs
        for i, step in enumerate(self.steps):
            m = self.nodes[step.module]
            args = [values[j] for j in step.sources] if step.multi else values[step.sources[0]]
            if logits and upto is None and i == self._output_step \
                    and hasattr(m, "forward_logits"):
                out = m.forward_logits(args)
            else:
                out = m(args)
            outs = list(out) if len(step.targets) > 1 else [out]
            for slot, value in zip(step.targets, outs):
                values[slot] = value
            if step.activity is not None:
                self.penalties.append(step.activity(outs[0]) / outs[0].shape[0])
            if upto is not None and upto in step.targets:
                return values[upto]
        if upto is not None:
            return values[upto]
        if len(self.outputs) == 1:
            return values[self.outputs[0]]
        return [values[j] for j in self.outputs]

    def forward_logits(self, x) -> torch.Tensor:
        return self.forward(x, logits=True)
