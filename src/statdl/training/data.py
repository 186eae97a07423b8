"""Turning user data (numpy, pandas, lists, tensors) into checked tensors for the loop."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError, ShapeError
from .losses import Loss

__all__ = ["as_array", "prepare_x", "prepare_y", "prepare_weights"]


def _fmt(shape) -> str:
    return "(" + ", ".join("n" if i == 0 else str(d) for i, d in enumerate(shape)) + ")"


def _model_fmt(shape) -> str:
    return "(n, " + ", ".join("any" if d is None else str(d) for d in shape) + ")"


def as_array(value, argument: str):
    """Return a numpy array or torch tensor for ``value`` (DataFrame, Series, list ...)."""
    if isinstance(value, torch.Tensor):
        return value
    if hasattr(value, "to_numpy"):  # pandas
        try:
            value = value.to_numpy(dtype=np.float32) if _all_numeric(value) else value.to_numpy()
        except (TypeError, ValueError):
            value = value.to_numpy()
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except ValueError:
            array = None
        if array is None or array.dtype == object:
            raise ShapeError(
                f"`{argument}` must be a rectangular array (all rows the same length); got a "
                f"ragged {type(value).__name__}. Pad sequences first, e.g. with "
                "statdl.text.pad_sequences."
            )
    if array.dtype == object or array.dtype.kind in "USM":
        raise ConfigError(
            f"`{argument}` must hold numbers; got an array of dtype {array.dtype}. Encode text "
            "or categories first (statdl.model_matrix, statdl.text.Tokenizer)."
        )
    if array.ndim == 0:
        raise ShapeError(f"`{argument}` must have one row per sample; got a scalar.")
    return array


def _tensor(array) -> torch.Tensor:
    if isinstance(array, np.ndarray) and not array.flags.writeable:
        array = array.copy()
    return torch.as_tensor(array)


def _all_numeric(frame) -> bool:
    dtypes = getattr(frame, "dtypes", None)
    if dtypes is None:
        return np.issubdtype(frame.dtype, np.number) or np.issubdtype(frame.dtype, np.bool_)
    return all(np.issubdtype(d, np.number) or np.issubdtype(d, np.bool_) for d in dtypes)


def _check_finite(t: torch.Tensor, argument: str) -> None:
    if t.is_floating_point():
        if t.numel() and bool(torch.isfinite(t.sum())):
            return  # one cheap pass: a NaN or infinity would make the sum non-finite
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            rows = bad.reshape(bad.shape[0], -1).any(dim=1).nonzero().flatten()
            raise ConfigError(
                f"`{argument}` contains {int(bad.sum())} NaN or infinite values (first in row "
                f"{int(rows[0])}); remove or impute them before fitting."
            )


def prepare_x(x, input_shape, integer_input: bool, argument: str = "x") -> torch.Tensor:
    """Check ``x`` against the model's input shape and convert to float32 (or int64 ids)."""
    if x is None:
        raise ConfigError(f"`{argument}` is required; got None.")
    array = as_array(x, argument)
    t = _tensor(array)
    if input_shape is not None:
        expected = tuple(input_shape)
        got = tuple(t.shape[1:])
        ok = len(got) == len(expected) and all(e is None or e == g for e, g in
                                                 zip(expected, got))
        if not ok:
            hint = ""
            if len(expected) == 1 and len(got) > 1 and expected[0] == int(np.prod(got)):
                hint = f" Flatten each sample first: {argument}.reshape(len({argument}), -1)."
            elif len(expected) == len(got) + 1 and expected[-1] == 1 and expected[:-1] == got:
                hint = f" Add a channel axis: {argument}[..., None]."
            raise ShapeError(
                f"`{argument}` must have shape {_model_fmt(expected)} to match the model's "
                f"input_shape {expected}; got {_fmt(t.shape)} (n = {t.shape[0]}).{hint}"
            )
    if integer_input:
        if t.is_floating_point():
            if bool((t != t.round()).any()):
                raise ConfigError(
                    f"`{argument}` must hold integer token ids for the Embedding layer; got "
                    "non-integer values."
                )
        return t.to(torch.int64)
    t = t.to(torch.float32)
    _check_finite(t, argument)
    return t


def prepare_y(y, loss: Loss, output_shape, n: int, argument: str = "y") -> torch.Tensor:
    """Check ``y`` against the loss and the model's output shape; convert its dtype."""
    if y is None:
        raise ConfigError(f"`{argument}` is required to fit or evaluate; got None.")
    array = as_array(y, argument)
    t = _tensor(array)
    if t.shape[0] != n:
        raise ShapeError(
            f"`{argument}` must have one row per sample of x ({n} rows); got {t.shape[0]} rows."
        )
    out = tuple(output_shape) if output_shape is not None else None
    target = loss.target
    if target == "int":
        if t.dim() == 2 and t.shape[1] == 1:
            t = t[:, 0]
        if t.dim() != 1:
            raise ShapeError(
                f"`{argument}` for loss '{loss.name}' must be a vector of class indices; got "
                f"shape {_fmt(t.shape)}. For one-hot rows use loss='categorical_crossentropy'."
            )
        if t.is_floating_point() and bool((t != t.round()).any()):
            raise ConfigError(
                f"`{argument}` for loss '{loss.name}' must hold integer class indices; got "
                "non-integer values."
            )
        t = t.to(torch.int64)
        if out is not None and t.numel() and (int(t.min()) < 0 or int(t.max()) >= out[-1]):
            raise ConfigError(
                f"`{argument}` class indices must lie in 0..{out[-1] - 1} for a model with "
                f"{out[-1]} outputs; got values from {int(t.min())} to {int(t.max())}."
            )
        return t
    if target == "onehot" and t.dim() == 1:
        width = out[-1] if out else "k"
        raise ShapeError(
            f"`{argument}` holds class labels (shape {_fmt(t.shape)}) but loss '{loss.name}' "
            f"needs one-hot rows of width {width}; convert with statdl.to_categorical("
            f"{argument}, {width}) or use loss='sparse_categorical_crossentropy'."
        )
    t = t.to(torch.float32)
    _check_finite(t, argument)
    if out is not None:
        if t.dim() == 1 and out == (1,):
            t = t[:, None]
        got = tuple(t.shape[1:])
        if len(got) != len(out) or any(o is not None and o != g for o, g in zip(out, got)):
            raise ShapeError(
                f"`{argument}` must have shape {_model_fmt(out)} to match the model's output; "
                f"got {_fmt(t.shape)}."
            )
    if target == "binary" and t.numel() and (float(t.min()) < 0 or float(t.max()) > 1):
        raise ConfigError(
            f"`{argument}` for loss '{loss.name}' must lie in [0, 1]; got values from "
            f"{float(t.min()):g} to {float(t.max()):g}."
        )
    return t


def prepare_weights(sample_weight, class_weight, y: torch.Tensor, n: int) -> torch.Tensor | None:
    """Per-sample weights from ``sample_weight`` and/or ``class_weight`` (Keras rules)."""
    weights = None
    if sample_weight is not None:
        weights = torch.as_tensor(np.asarray(as_array(sample_weight, "sample_weight")),
                                  dtype=torch.float32).reshape(-1)
        if weights.shape[0] != n:
            raise ShapeError(
                f"`sample_weight` must have one value per sample ({n}); got {weights.shape[0]}."
            )
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise ConfigError(
                f"`class_weight` must be a dict class -> weight; got {type(class_weight).__name__}."
            )
        if y.dim() == 1 and not y.is_floating_point():
            labels = y
        elif y.dim() == 2 and y.shape[1] > 1:
            labels = y.argmax(dim=1)
        else:
            labels = (y.reshape(n, -1)[:, 0] > 0.5).long()
        table = torch.ones(int(labels.max()) + 1 if n else 1)
        for k, v in class_weight.items():
            if int(k) < table.shape[0]:
                table[int(k)] = float(v)
        cw = table[labels]
        weights = cw if weights is None else weights * cw
    return weights
