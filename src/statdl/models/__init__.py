"""Models: the graph (``Model``), the linear graph (``Sequential``) and the one trainer both
use (``trainer.Trainer``). Names load on first use, so ``statdl.models.hooks`` stays free of
torch.

Examples
--------
>>> import statdl.models as models
>>> models.Sequential.__name__, models.Model.__name__
('Sequential', 'Model')
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Model": "statdl.models.functional",
    "Sequential": "statdl.models.sequential",
    "Trainer": "statdl.models.trainer",
    "register_fit_callback_factory": "statdl.models.hooks",
    "unregister_fit_callback_factory": "statdl.models.hooks",
    "Input": "statdl.layers.symbolic",
    "InputLayer": "statdl.layers.symbolic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'statdl.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
