"""Shared by the explanation functions: the prediction function of a model and the columns
of a design matrix."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..errors import ConfigError, ShapeError
from ..validation import choice_error, message

__all__ = ["predictor", "design", "column_indices"]


def predictor(model) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> predictions`` (2-D float64) for a statdl model, an Ensemble, a scikit-learn
    regressor or a plain function."""
    if hasattr(model, "predict"):
        def predict(x):
            return np.asarray(model.predict(x), dtype=np.float64)
    elif callable(model):
        def predict(x):
            return np.asarray(model(x), dtype=np.float64)
    else:
        raise TypeError(message("model", "a fitted model (with predict) or a function of x",
                                model, shown=type(model).__name__))

    def two_d(x):
        out = predict(x)
        return out.reshape(len(out), -1)

    return two_d


def design(x) -> tuple[np.ndarray, list[str]]:
    """``x`` as a float matrix (a copy) and its column names (``x0, x1, ...`` for arrays)."""
    if isinstance(x, pd.DataFrame):
        names = [str(c) for c in x.columns]
        values = x.to_numpy(dtype=np.float64, copy=True)
    else:
        values = np.array(x, dtype=np.float64, copy=True)
        if values.ndim != 2:
            raise ShapeError(message("x", "a matrix (cases x columns) or a DataFrame", x,
                                     shown=f"shape {values.shape}"))
        names = [f"x{j}" for j in range(values.shape[1])]
    if values.shape[0] < 2:
        raise ShapeError(message("x", "at least 2 rows", x, verb="have",
                                 shown=str(values.shape[0])))
    return values, names


def column_indices(spec, names: list[str], argument: str) -> list[int]:
    """Column positions of ``spec``: a name, an index, or a list of them."""
    items = list(spec) if isinstance(spec, list | tuple) else [spec]
    out = []
    for item in items:
        if isinstance(item, str):
            if item not in names:
                raise choice_error(argument, item, names)  # the columns of x
            out.append(names.index(item))
        elif isinstance(item, int | np.integer) and not isinstance(item, bool) \
                and -len(names) <= item < len(names):
            out.append(int(item) % len(names))
        else:
            raise ConfigError(message(argument, f"column names or indices 0..{len(names) - 1}",
                                      item, verb="hold"))
    if not out:
        raise ConfigError(message(argument, "at least one column", spec, verb="name"))
    return out
