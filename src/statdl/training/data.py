"""Turning user data (numpy, pandas, lists, tensors) into checked tensors for the loop."""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np
import torch

from ..errors import ConfigError, ShapeError
from ..validation import check_int, message
from .losses import Loss

__all__ = ["as_array", "is_sparse", "InputRows", "inference_batch", "inference_batch_size", "prepare_x",
           "prepare_y", "prepare_weights", "require_rows", "vouch_finite"]


def _fmt(shape) -> str:
    return "(" + ", ".join("n" if i == 0 else str(d) for i, d in enumerate(shape)) + ")"


def _model_fmt(shape) -> str:
    return "(n, " + ", ".join("any" if d is None else str(d) for d in shape) + ")"


def is_sparse(value) -> bool:
    """Whether ``value`` is a SciPy sparse matrix or array (recognised by its methods, so
    SciPy stays optional).

    Examples
    --------
    >>> from scipy import sparse
    >>> is_sparse(sparse.random(3, 4, density=0.5, format="csr")), is_sparse(np.zeros(3))
    (True, False)
    """
    return hasattr(value, "tocsr") and hasattr(value, "toarray") and hasattr(value, "nnz")


def as_array(value, argument: str):
    """Return a numpy array or torch tensor for ``value`` (DataFrame, Series, list, SciPy
    sparse matrix ...)."""
    if is_sparse(value):
        value = value.toarray()
    if isinstance(value, torch.Tensor):
        _check_dtype(value.dtype, argument)
        return _check_ndim(value, argument)
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
            raise ShapeError(message(
                argument, "a rectangular array (all rows the same length)", value,
                shown=f"a ragged {type(value).__name__}",
                fix="Pad sequences first, e.g. with statdl.text.pad_sequences."))
    _check_dtype(array.dtype, argument)
    return _check_ndim(array, argument)


def _check_dtype(dtype, argument: str) -> None:
    if isinstance(dtype, torch.dtype):
        if dtype.is_complex:
            raise ConfigError(_complex_message(argument, str(dtype).replace("torch.", "")))
        return
    if dtype.kind in "OUSMV":
        raise ConfigError(message(
            argument, "numbers", None, verb="hold", shown=f"an array of dtype {dtype}",
            fix="Encode text or categories first (statdl.model_matrix, statdl.text.Tokenizer)."))
    if dtype.kind == "c":
        raise ConfigError(_complex_message(argument, dtype))


def _complex_message(argument: str, dtype) -> str:
    return message(argument, "real numbers", None, verb="hold",
                   shown=f"an array of dtype {dtype}",
                   fix=f"Pass the parts you mean as real columns, e.g. np.abs({argument}) and "
                       f"np.angle({argument}), or np.real({argument}) and np.imag({argument}).")


def _check_ndim(array, argument: str):
    if array.ndim == 0:
        raise ShapeError(message(argument, "one row per sample", None, verb="have",
                                 shown="a scalar"))
    return array


def _tensor(array) -> torch.Tensor:
    if isinstance(array, np.ndarray) and not array.flags.writeable:
        array = array.copy()
    return torch.as_tensor(array)


def _dtypes(frame) -> list:
    """The column dtypes of a DataFrame (a Series': its one dtype)."""
    dtypes = getattr(frame, "dtypes", None)
    return [frame.dtype] if dtypes is None else list(dtypes)


def _all_numeric(frame) -> bool:
    return all(getattr(d, "kind", "O") in "biuf" for d in _dtypes(frame))


def _check_finite(t: torch.Tensor, argument: str, first_row: int = 0) -> None:
    if t.is_floating_point():
        if t.numel() == 0 or math.isfinite(t.sum().item()):
            return  # one cheap pass: a NaN or infinity would make the sum non-finite
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            rows = bad.reshape(bad.shape[0], -1).any(dim=1).nonzero().flatten()
            raise ConfigError(message(
                argument, "finite numbers", None, verb="hold",
                shown=f"{int(bad.sum())} NaN or infinite values (first in row "
                      f"{first_row + int(rows[0])})", fix="Remove or impute them first."))


class InputRows:
    """Model inputs checked once (dtype, shape) and converted to tensors a slice at a time.

    ``predict`` and ``evaluate`` convert batch by batch (``batches``), so a float64 array, a
    DataFrame or a SciPy sparse matrix never exists as a whole float32 copy; ``fit`` converts
    everything at once (``prepare_x``): a sparse matrix is then densified whole.

    Examples
    --------
    >>> rows = InputRows(np.zeros((5, 3)), (3,), integer_input=False)
    >>> rows.n, rows.tensor(1, 3).dtype
    (5, torch.float32)
    >>> from scipy import sparse
    >>> rows = InputRows(sparse.eye(4, format="csr"), (4,), integer_input=False)
    >>> rows.tensor(1, 3).tolist()
    [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
    """

    def __init__(self, x, input_shape, integer_input: bool, argument: str = "x"):
        if x is None:
            raise ConfigError(message(argument, "an array (it is required)", None))
        self.argument, self.integer_input = argument, integer_input
        self.frame = hasattr(x, "to_numpy") and _all_numeric(x)
        self.sparse = is_sparse(x)
        if self.sparse:
            self.source = x.tocsr()  # rows slice cheaply from CSR
            _check_dtype(self.source.dtype, argument)
        else:
            self.source = _check_ndim(x, argument) if self.frame else as_array(x, argument)
        self.n, self.shape = self.source.shape[0], tuple(self.source.shape)
        _check_input_shape(self.shape, input_shape, argument)

    def tensor(self, start: int = 0, stop: int | None = None,
               buffer: np.ndarray | None = None, check: bool = True) -> torch.Tensor:
        """Rows ``[start, stop)`` as float32 (int64 token ids for an Embedding input), checked
        for NaN and infinity unless ``check=False`` (the caller then checks them itself).

        Rows that need converting are written into ``buffer`` (float32, at least as many rows)
        when one is given, so that the result is a view of it."""
        part = self.source[start:stop] if not self.frame else self.source.iloc[start:stop]
        if self.sparse:
            part = _dense_rows(part, buffer)
        if self.integer_input:
            return _token_ids(_tensor(_values(part)), self.argument)
        if isinstance(part, torch.Tensor):
            t = part.to(torch.float32)
        else:
            t = torch.from_numpy(_float32_rows(part, buffer))
        if check:
            _check_finite(t, self.argument, start)
        return t

    def batches(self, batch_size: int):
        """Yield ``(start, stop, tensor)`` for consecutive rows ``[start, stop)``; each tensor
        is valid until the next is made (conversions reuse one buffer of ``batch_size`` rows:
        a fresh float32 batch of 3 MB every time costs its page faults again).

        A batch is checked for NaN and infinity when the caller asks for the next one (or
        ends the loop), after its forward pass, so the error still comes before any result:
        the check then reads rows still in the cache, and none at all when the forward pass
        showed them finite (``vouch_finite``). Per batch of 1,024 rows of the MNIST softmax
        regression (784 -> 10, 2 cores), the check took 200 of 880 us before the forward pass,
        150 us after it, and the sum of the 10 logits that spares it about 10 us.

        Examples
        --------
        >>> rows = InputRows(np.arange(10.0).reshape(5, 2), (2,), integer_input=False)
        >>> [(start, stop, tuple(t.shape)) for start, stop, t in rows.batches(2)]
        [(0, 2, (2, 2)), (2, 4, (2, 2)), (4, 5, (1, 2))]
        """
        buffer = self.conversion_buffer(batch_size)
        for start in range(0, self.n, batch_size):
            stop = min(start + batch_size, self.n)
            t = self.tensor(start, stop, buffer, check=False)
            yield start, stop, t
            self.check_batch(t, start)

    def conversion_buffer(self, batch_size: int) -> np.ndarray | None:
        """A float32 array for ``tensor(..., buffer=)`` to convert up to ``batch_size`` rows
        into, or None where the rows need no conversion (float32 arrays, token ids)."""
        if not self.integer_input and self.n and (self.sparse or not _float32_view(self.source)):
            return np.empty((min(batch_size, self.n), *self.shape[1:]), dtype=np.float32)
        return None

    def check_batch(self, t: torch.Tensor, start: int) -> None:
        """The NaN/infinity check of the batch ``t`` (made by ``tensor(..., check=False)``
        from rows ``start, ...``) after its forward pass: nothing to read when that pass
        vouched for it in this thread (``vouch_finite``)."""
        if not _vouched(t):
            _check_finite(t, self.argument, start)


_vouch = threading.local()


def vouch_finite(t: torch.Tensor) -> None:
    """Record that every value of the batch ``t`` is finite, found by a forward pass that
    read all of them (``inference.forward``), so ``InputRows.batches`` need not read ``t``
    again. Only the same tensor object, in the same thread, is spared its check."""
    _vouch.ref = weakref.ref(t)


def _vouched(t: torch.Tensor) -> bool:
    ref = getattr(_vouch, "ref", None)
    _vouch.ref = None
    return ref is not None and ref() is t


def inference_batch(model, batch_size: int | None, sample_shape) -> int:
    """Rows per forward pass of ``model``'s predict/evaluate on samples of ``sample_shape``:
    ``inference_batch_size`` over the shapes of its input and of its layers' outputs."""
    if batch_size is not None:
        return check_int(batch_size, "batch_size", low=1, allow_none=True)
    from ..layers.conv import pooled_in_slices

    sample_shape = tuple(sample_shape)
    layers = model._shapes(sample_shape)
    # a convolution that predict runs a slice at a time into its max pooling never holds
    # its whole output (inference.forward, layers.conv.conv_max_pool)
    shapes = [sample_shape] + [out for j, (layer, _, out) in enumerate(layers)
                               if not (j + 1 < len(layers)
                                       and pooled_in_slices(layer, layers[j + 1][0]))]
    return inference_batch_size(batch_size, shapes)


def inference_batch_size(batch_size: int | None, shapes) -> int:
    """Rows per forward pass of ``predict`` and ``evaluate``: ``batch_size`` exactly when it
    is given (Keras's rule), else as many rows (32 to ``INFERENCE_ROWS``) as keep the widest
    activation of a batch within ``INFERENCE_BYTES``.

    ``shapes`` are the per-sample shapes of the input and of every layer's output. Measured on
    2 cores (module forward, samples/s): the course CNN (26 x 26 x 32 values per image after
    its first convolution) ran at 6,400 in batches of 128 to 256 against 3,600 in batches of
    1,024; the IMDB LSTM (500 x 8 values) gets about 1,050 rows from ``INFERENCE_BYTES``.

    Examples
    --------
    >>> inference_batch_size(None, [(784,), (512,), (10,)])
    2048
    >>> inference_batch_size(None, [(28, 28, 1), (26, 26, 32), (10,)])
    193
    >>> inference_batch_size(4, [(784,), (10,)]), inference_batch_size(5000, [(26, 26, 32)])
    (4, 5000)
    """
    if batch_size is not None:
        return check_int(batch_size, "batch_size", low=1, allow_none=True)
    widest = max((_values_per_sample(s) for s in shapes), default=1)
    return min(INFERENCE_ROWS, max(32, INFERENCE_BYTES // (4 * max(widest, 1))))


#: bytes of the widest activation of one inference batch (see ``inference_batch_size``)
INFERENCE_BYTES = 16 * 2**20

#: most rows of one inference batch. ``model.predict`` on 2 cores, samples/s at 1,024 / 2,048 /
#: 4,096 rows (course models, half of bench/infer_speed.py's samples, best of 4 in turn):
#: imdb-embed 3.08M / 4.26M / 4.66M, mnist-logit 1.04M / 1.28M / 1.35M, imdb-gru 25.7k /
#: 34.1k / 35.9k, imdb-rnn3 16.7k / 19.2k / 19.7k, imdb-rnn 73k / 79k / 79k, mnist-mlp 88k /
#: 82k / 90k, imdb-bilstm 12.6k / 14.3k / 10.4k; the peak RSS grew by at most 1 MB at 2,048
#: rows (24 MB for imdb-rnn3 at 4,096). 2,048: every model as fast or faster, none slower.
INFERENCE_ROWS = 2048


def _values_per_sample(shape) -> int:
    return math.prod(1 if d is None else d for d in shape)  # np.prod: 20 us a shape


def _float32_view(source) -> bool:
    """Whether slices of ``source`` become float32 tensors without a copy."""
    if isinstance(source, torch.Tensor):
        return True  # ``.to(float32)`` of a tensor makes its own copy when it must
    return isinstance(source, np.ndarray) and source.dtype == np.float32 \
        and source.flags.c_contiguous and source.flags.writeable


def _dense_rows(part, buffer: np.ndarray | None) -> np.ndarray:
    """Rows of a sparse matrix as a dense float32 array (into ``buffer`` when given)."""
    if buffer is None:
        return part.toarray().astype(np.float32, copy=False)
    out = buffer[:part.shape[0]]
    out[...] = part.toarray()
    return out


def _values(part):
    return part.to_numpy() if hasattr(part, "to_numpy") else part


def _float32_rows(part, buffer: np.ndarray | None = None) -> np.ndarray:
    """A C-ordered float32 array of ``part`` (numpy or pandas): no copy when it already is
    one, else exactly one float32 copy (filled a block of rows at a time for pandas), written
    into ``buffer[:len(part)]`` when a buffer is given."""
    if not hasattr(part, "iloc"):
        if _float32_view(part):
            return part
        if buffer is None:
            return np.array(part, dtype=np.float32, order="C")
        out = buffer[:len(part)]
        _into_float32(out, part)
        return out
    out = np.empty(part.shape, dtype=np.float32) if buffer is None else buffer[:len(part)]
    step = 65_536
    for start in range(0, len(part), step):
        _copy_frame_rows(out[start:start + step], part.iloc[start:start + step])
    return out


#: numpy dtypes that torch's copy converts to float32 as numpy does
_TORCH_COPIED = frozenset(np.dtype(t) for t in ("float64", "float32", "float16", "int64",
                                                "int32", "int16", "int8", "uint8"))


def _copy_frame_rows(out: np.ndarray, frame) -> None:
    """``out[...] = frame`` as float32, converted once: columns of numpy dtypes through
    ``_into_float32``, others (pandas' nullable dtypes) by pandas."""
    if all(isinstance(d, np.dtype) for d in _dtypes(frame)):
        _into_float32(out, frame.to_numpy())
    else:
        out[...] = frame.to_numpy(dtype=np.float32)


def _into_float32(out: np.ndarray, values: np.ndarray) -> None:
    """``out[...] = values`` (float32 ``out``), by torch's copy where it can read ``values``.

    A DataFrame of one dtype gives a view of its memory in which each column is contiguous
    and each row's values lie a column apart. numpy's copy into C-ordered rows walks such a
    view row by row, torch's copy in cache-sized tiles and on torch's threads: 2,048 rows of
    a 784-column float64 frame took 6.3 ms against 0.59 (2 cores, min of 20), a Fortran-ordered
    array's rows 1.4 against 0.62, C-ordered rows 0.23 against 0.12. The view may be read-only
    (pandas' copy-on-write): DLPack hands it to torch as it is, and torch only reads it.
    Where DLPack refuses it (numpy before 2.1 exports no read-only array), numpy copies."""
    if values.dtype in _TORCH_COPIED and min(values.strides, default=0) >= 0:
        try:
            source = torch.from_dlpack(values)
        except (BufferError, RuntimeError, TypeError, ValueError):
            source = None
        if source is not None:
            torch.from_numpy(out).copy_(source)
            return
    np.copyto(out, values, casting="unsafe")


def _token_ids(t: torch.Tensor, argument: str) -> torch.Tensor:
    if t.is_floating_point() and bool((t != t.round()).any()):
        raise ConfigError(message(argument, "integer token ids for the Embedding layer", None,
                                  verb="hold", shown="non-integer values"))
    return t.to(torch.int64)


def _check_input_shape(shape: tuple, input_shape, argument: str) -> None:
    if input_shape is not None:
        expected = tuple(input_shape)
        got = shape[1:]
        ok = len(got) == len(expected) and all(e is None or e == g for e, g in
                                                 zip(expected, got))
        if not ok:
            hint = ""
            if len(expected) == 1 and len(got) > 1 and expected[0] == int(np.prod(got)):
                hint = f" Flatten each sample first: {argument}.reshape(len({argument}), -1)."
            elif len(expected) == len(got) + 1 and expected[-1] == 1 and expected[:-1] == got:
                hint = f" Add a channel axis: {argument}[..., None]."
            raise ShapeError(message(
                argument, f"shape {_model_fmt(expected)} to match the model's input_shape "
                f"{expected}", None, verb="have", shown=f"{_fmt(shape)} (n = {shape[0]})",
                fix=hint or None))
    if len(shape) > 1 and 0 in shape[1:]:
        if shape[1] == 0:
            raise ShapeError(message(
                argument, "at least one timestep per sequence", None, verb="have",
                shown=f"0 timesteps (shape {_fmt(shape)})",
                fix="Drop the empty sequences or pad them, e.g. with "
                    "statdl.text.pad_sequences(sequences, maxlen=...)."))
        raise ShapeError(message(argument, "at least one value per sample", None, verb="have",
                                 shown=f"shape {_fmt(shape)}"))


def prepare_x(x, input_shape, integer_input: bool, argument: str = "x") -> torch.Tensor:
    """Check ``x`` against the model's input shape and convert to float32 (or int64 ids),
    holding at most one float32 copy of the data."""
    return InputRows(x, input_shape, integer_input, argument).tensor()


def require_rows(n: int, argument: str) -> None:
    """``fit`` and ``evaluate`` need at least one sample (a mean over none is undefined)."""
    if n == 0:
        raise ShapeError(message(argument, "at least one row (sample)", None, verb="have",
                                 shown="0 rows"))


def prepare_y(y, loss: Loss, output_shape, n: int, argument: str = "y") -> torch.Tensor:
    """Check ``y`` against the loss and the model's output shape; convert its dtype."""
    if y is None:
        raise ConfigError(message(argument, "an array (it is required to fit or evaluate)",
                                  None))
    array = as_array(y, argument)
    t = _tensor(array)
    if t.shape[0] != n:
        raise ShapeError(message(argument, f"one row per sample of x ({n} rows)", None,
                                 verb="have", shown=f"{t.shape[0]} rows"))
    out = tuple(output_shape) if output_shape is not None else None
    target = loss.target
    if target == "int":
        if t.dim() == 2 and t.shape[1] == 1:
            t = t[:, 0]
        if t.dim() != 1:
            raise ShapeError(message(
                argument, f"a vector of class indices for loss '{loss.name}'", None,
                shown=f"shape {_fmt(t.shape)}",
                fix="For one-hot rows use loss='categorical_crossentropy'."))
        if t.is_floating_point() and bool((t != t.round()).any()):
            raise ConfigError(message(
                argument, f"integer class indices for loss '{loss.name}'", None, verb="hold",
                shown="non-integer values"))
        t = t.to(torch.int64)
        if out is not None and t.numel() and (int(t.min()) < 0 or int(t.max()) >= out[-1]):
            raise ConfigError(message(
                argument, f"class indices in 0..{out[-1] - 1} for a model with {out[-1]} "
                "outputs", None, verb="hold",
                shown=f"values from {int(t.min())} to {int(t.max())}"))
        return t
    if target == "onehot" and t.dim() == 1:
        width = out[-1] if out else "k"
        raise ShapeError(message(
            argument, f"one-hot rows of width {width} for loss '{loss.name}'", None, verb="hold",
            shown=f"class labels (shape {_fmt(t.shape)})",
            fix=f"Convert with statdl.to_categorical({argument}, {width}) or use "
                "loss='sparse_categorical_crossentropy'."))
    t = t.to(torch.float32)
    _check_finite(t, argument)
    if target == "column":  # one response scored against every output (quantile loss)
        if t.dim() > 2 or (t.dim() == 2 and t.shape[1] != 1):
            raise ShapeError(message(
                argument, f"one column (a vector or shape (n, 1)) for loss '{loss.name}'", None,
                shown=f"shape {_fmt(t.shape)}"))
        return t.reshape(n, 1)
    if out is not None:
        if t.dim() == 1 and out == (1,):
            t = t[:, None]
        got = tuple(t.shape[1:])
        if len(got) != len(out) or any(o is not None and o != g for o, g in zip(out, got)):
            raise ShapeError(message(
                argument, f"shape {_model_fmt(out)} to match the model's output", None,
                verb="have", shown=_fmt(t.shape)))
    if target == "binary" and t.numel() and (float(t.min()) < 0 or float(t.max()) > 1):
        raise ConfigError(message(
            argument, f"values in [0, 1] for loss '{loss.name}'", None, verb="hold",
            shown=f"values from {float(t.min()):g} to {float(t.max()):g}"))
    return t


def prepare_weights(sample_weight, class_weight, y: torch.Tensor, n: int, loss: Loss,
                    n_outputs: int | None = None, argument: str = "sample_weight"
                    ) -> torch.Tensor | None:
    """Per-sample weights from ``sample_weight`` and/or ``class_weight`` (Keras rules), checked
    once per call: finite, non-negative, not all zero, class keys that are classes of ``y``."""
    weights = None
    if sample_weight is not None:
        values = np.asarray(as_array(sample_weight, argument), dtype=np.float64).reshape(-1)
        if values.shape[0] != n:
            raise ShapeError(message(argument, f"one value per sample ({n})", None, verb="have",
                                     shown=str(values.shape[0])))
        _check_weight_values(values, argument)
        weights = torch.as_tensor(values, dtype=torch.float32)
    if class_weight is not None:
        cw = _class_weights(class_weight, y, n, loss, n_outputs)
        weights = cw if weights is None else weights * cw
        argument = f"{argument}` times `class_weight" if sample_weight is not None \
            else "class_weight"
        _check_not_all_zero(weights.numpy(), argument)
    return weights


def _check_weight_values(values: np.ndarray, argument: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        count = int(bad.sum())
        raise ConfigError(message(
            argument, "finite numbers", None, verb="hold",
            shown=f"{count} NaN or infinite value{'s' if count > 1 else ''} (first at row "
                  f"{int(bad.argmax())})"))
    negative = values < 0
    if negative.any():
        first = int(negative.argmax())
        count = int(negative.sum())
        raise ConfigError(message(
            argument, "numbers >= 0", None, verb="hold",
            shown=f"{count} negative value{'s' if count > 1 else ''} (first {values[first]:g} "
                  f"at row {first})"))
    _check_not_all_zero(values, argument)


def _check_not_all_zero(values: np.ndarray, argument: str) -> None:
    if values.size and not values.any():
        raise ConfigError(message(
            argument, "weights that are not all zero (with all zero every sample would count "
            "for nothing and the loss would be 0)", None, verb="hold",
            shown=f"{values.size} zero weights"))


def _class_weights(class_weight, y: torch.Tensor, n: int, loss: Loss, n_outputs: int | None
                   ) -> torch.Tensor:
    if not isinstance(class_weight, dict):
        raise ConfigError(message("class_weight", "a dict class -> weight", class_weight,
                                  shown=type(class_weight).__name__))
    if loss.target == "real":
        raise ConfigError(message(
            "class_weight", "None with a regression loss (its targets have no classes)",
            class_weight, shown=f"a dict with loss '{loss.name}'",
            fix="To weight samples, use `sample_weight`."))
    if y.dim() == 1 and not y.is_floating_point():
        labels, n_classes = y, None
    elif y.dim() == 2 and y.shape[1] > 1:
        labels, n_classes = y.argmax(dim=1), y.shape[1]
    else:
        labels, n_classes = (y.reshape(n, -1)[:, 0] > 0.5).long(), 2
    if n_classes is None:  # class indices: one class per model output (prepare_y checks y)
        n_classes = n_outputs if n_outputs and n_outputs > 1 else int(labels.max()) + 1
    table = torch.ones(n_classes)
    for key, value in class_weight.items():
        table[_class_key(key, n_classes)] = _class_value(key, value)
    return table[labels]


def _class_key(key, n_classes: int) -> int:
    if isinstance(key, bool) or not isinstance(key, int | np.integer):
        raise ConfigError(message(
            "class_weight", "keyed by class indices (ints)", key,
            shown=f"the key {key!r} ({type(key).__name__})",
            fix="E.g. class_weight={0: 1.0, 1: 5.0}."))
    if not 0 <= int(key) < n_classes:
        raise ConfigError(message(
            "class_weight", f"keyed by classes of `y` (the model has {n_classes} classes: "
            f"0..{n_classes - 1})", key, shown=f"the key {int(key)}"))
    return int(key)


def _class_value(key, value) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0:
        raise ConfigError(message("class_weight", "classes to finite numbers >= 0", value,
                                  verb="map", shown=f"{value!r} for class {int(key)}"))
    return float(value)
