"""Symbolic tensors and calling layers on them (the functional API, issue #14).

Being written; ``call_layer`` is the one entry point ``Layer.__call__`` uses.
"""

from __future__ import annotations

from ..errors import ConfigError

__all__ = ["call_layer"]


def call_layer(layer, *inputs, **kwargs):
    """Apply ``layer`` to symbolic tensors or arrays."""
    raise ConfigError(
        f"Calling layer '{layer.name}' directly is not supported yet; put it in a "
        "statdl.Sequential model."
    )
