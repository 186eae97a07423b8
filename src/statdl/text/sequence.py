"""``pad_sequences`` with Keras semantics, vectorised with numpy."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np

from ..errors import ConfigError
from ..utils import require_memory
from ..validation import check_int, choice_error, message

__all__ = ["pad_sequences"]

_SIDES = ("pre", "post")


def pad_sequences(sequences: Sequence, maxlen: int | None = None, dtype="int32",
                  padding: str = "pre", truncating: str = "pre", value=0) -> np.ndarray:
    """Pad (or cut) sequences to a common length, exactly as Keras does.

    Parameters
    ----------
    sequences : list of lists (or arrays)
        The sequences, e.g. from ``Tokenizer.texts_to_sequences``.
    maxlen : int, optional
        Output length; the longest sequence's length by default.
    dtype : str or numpy dtype
        Output type (``"int32"`` as in Keras).
    padding : {"pre", "post"}
        Put the padding before (default) or after each sequence.
    truncating : {"pre", "post"}
        Cut long sequences at the start (default: keep the *last* ``maxlen`` items) or the end.
    value : scalar
        Padding value.

    Every item (and ``value``) must fit ``dtype`` exactly. Where Keras would silently cut
    ``1.5`` to ``1``, turn NaN into ``-2147483648`` or wrap an integer beyond the dtype's range,
    this raises a ``ConfigError`` naming the item (whole floats such as ``2.0`` are cast as in
    Keras; a float ``dtype`` keeps NaN as Keras does). Ragged or non-numeric items raise a
    ``ConfigError`` naming the sequence. A string ``dtype`` of unset length (``"str"``,
    ``"U"``, ``"S"``) holds the longest item whole, where Keras sizes it from ``value`` and
    cuts ``300`` to ``"3"``.

    Returns
    -------
    numpy.ndarray of shape ``(len(sequences), maxlen)`` (plus any per-step shape).

    Examples
    --------
    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2)
    array([[2, 3],
           [0, 4]], dtype=int32)
    >>> pad_sequences([[1], [2, 3]], padding="post")
    array([[1, 0],
           [2, 3]], dtype=int32)
    """
    if padding not in _SIDES:
        raise choice_error("padding", padding, _SIDES)
    if truncating not in _SIDES:
        raise choice_error("truncating", truncating, _SIDES)
    check_int(maxlen, "maxlen", low=1, allow_none=True)
    if isinstance(sequences, str | bytes | dict | set) or not hasattr(sequences, "__len__"):
        raise ConfigError(message("sequences", "a list of sequences", sequences,
                                  shown=type(sequences).__name__))
    dtype = _check_dtype(dtype)
    _check_value(value, dtype)
    n = len(sequences)
    lengths = _lengths(sequences, n)
    if maxlen is None:
        maxlen = int(lengths.max()) if n else 0
    maxlen = int(maxlen)
    flat = _flat_scalars(sequences, lengths, dtype)
    # the result (each step's values, strings sized by the fill value), the column index and
    # the boolean mask that places the items
    step = 1 if flat is not None else _step_values(sequences)
    dtype = _sized(dtype, sequences, value)
    require_memory(n * maxlen * (step * max(1, dtype.itemsize) + 1) + 8 * maxlen,
                   f"`maxlen` of pad_sequences ({maxlen}) makes a ({n}, {maxlen}) {dtype} array "
                   "too large for this machine")
    if flat is None:
        return _pad_general(sequences, maxlen, dtype, padding, truncating, value)
    x = np.full((n, maxlen), value, dtype=dtype)
    keep = np.minimum(lengths, maxlen)
    if not keep.any():
        return x
    if (lengths > maxlen).any():
        flat = np.delete(flat, _cut_items(lengths, maxlen, truncating))
    cols = np.arange(maxlen)
    if padding == "pre":
        x[cols >= (maxlen - keep)[:, None]] = flat  # row-major: the items in order
    else:
        x[cols < keep[:, None]] = flat
    return x


def _step_values(sequences) -> int:
    """Values per step of the first non-empty sequence (1 for scalar items)."""
    for idx, s in enumerate(sequences):
        if len(s):
            return int(np.prod(_as_array(s, idx, None).shape[1:], dtype=np.int64))
    return 1


def _sized(dtype: np.dtype, sequences, value) -> np.dtype:
    """A string dtype of unset length ('str', 'U', 'S') made long enough for the longest item
    and the fill value. ``np.full`` would size it from the fill value alone, so that
    ``pad_sequences([['a', 'bb']], dtype='str', value='')`` cut 'bb' to 'b' (as Keras's does),
    and the memory check counted 0 bytes a value (``maxlen=2**31`` allocated 16 GiB)."""
    if dtype.kind not in "US" or dtype.itemsize:
        return dtype
    try:
        widths = [np.array(value, dtype=dtype).dtype.itemsize]
    except (UnicodeError, ValueError, TypeError):  # b'\x80' as text, say
        raise ConfigError(message("value", f"a value `dtype` {dtype} can hold", value,
                                  fix="Pass a str value for a str dtype (bytes for 'S').")) \
            from None
    widths += [_as_array(s, idx, dtype).dtype.itemsize for idx, s in enumerate(sequences)
               if len(s)]
    return np.dtype((dtype.type, max(widths) // (4 if dtype.kind == "U" else 1) or 1))


def _check_dtype(dtype) -> np.dtype:
    try:
        out = np.dtype(dtype)
    except TypeError:
        out = None
    if out is None or out.kind in "MmV":
        raise ConfigError(message(
            "dtype", "a numeric, string or object numpy dtype (or its name), such as 'int32', "
            "'float32', 'str' or object", dtype))
    return out


def _check_value(value, dtype: np.dtype) -> None:
    """``value`` must fit ``dtype`` exactly (no NaN in an int array, no wrapped integer)."""
    if isinstance(value, str):
        if dtype.kind not in "OUS":
            raise ConfigError(message("value", f"a number for `dtype` {dtype}", value,
                                      fix="Use dtype=object or a numeric value."))
        return
    if dtype.kind not in "biuf":
        return
    arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if arr.dtype.kind not in "biuf":
        raise ConfigError(message("value", f"a number for `dtype` {dtype}", value))
    _checked(arr.reshape(-1), dtype, lambda pos: "value")


def _lengths(sequences, n: int) -> np.ndarray:
    # a string has a length but is not a sequence of tokens: '12' would pad as [1, 2]
    text = next((i for i, s in enumerate(sequences) if isinstance(s, str | bytes)), None)
    if text is not None:
        raise ConfigError(message(
            f"sequences[{text}]", "a sequence of word indices", sequences[text],
            shown=f"the string {sequences[text]!r:.40}",
            fix="Turn texts into indices first, e.g. with Tokenizer.texts_to_sequences."))
    try:
        return np.fromiter(map(len, sequences), dtype=np.int64, count=n)
    except TypeError:
        bad = next(i for i, s in enumerate(sequences) if not hasattr(s, "__len__"))
        raise ConfigError(message(
            "sequences", "sequences", sequences, verb="hold",
            shown=f"item {bad} ({type(sequences[bad]).__name__}: {sequences[bad]!r:.40})")) from None


def _cut_items(lengths: np.ndarray, maxlen: int, truncating: str) -> np.ndarray:
    """Positions, in the concatenated sequences, of the items that truncation removes."""
    long = np.flatnonzero(lengths > maxlen)
    excess = lengths[long] - maxlen
    first = np.cumsum(lengths)[long] - lengths[long]  # where each long sequence starts
    if truncating == "post":
        first += maxlen
    # each long sequence loses the run first .. first + excess - 1
    return np.repeat(first - (np.cumsum(excess) - excess), excess) + np.arange(int(excess.sum()))


def _flat_scalars(sequences, lengths: np.ndarray, dtype: np.dtype) -> np.ndarray | None:
    """All items in one 1-D array of ``dtype`` when every item is a number; ``None`` otherwise.

    Items are checked to fit ``dtype`` exactly: NaN, infinities, non-whole floats for an
    integer ``dtype`` and values beyond its range raise instead of being cut or wrapped.
    """
    if dtype.kind not in "biuf":
        return None
    where = _locator(lengths)
    if isinstance(sequences, np.ndarray) and sequences.dtype != object:
        if sequences.ndim != 2 or sequences.dtype.kind not in "biuf":
            return None
        return _checked(sequences.reshape(-1), dtype, where)
    if len(sequences) and all(isinstance(s, np.ndarray) and s.ndim == 1
                              and s.dtype.kind in "biuf" for s in sequences):
        return _checked(np.concatenate(sequences), dtype, where)  # no per-item Python work
    try:
        with np.errstate(over="ignore"):
            flat = np.fromiter(chain.from_iterable(sequences), dtype=dtype,
                               count=int(lengths.sum()))
    except (TypeError, ValueError, OverflowError):
        return None  # nested steps (vectors), non-numeric or unfit items: general path
    if dtype.kind == "f":
        suspect = np.isinf(flat).any()  # perhaps a finite value beyond a float32's range
    else:  # a float among the items, which fromiter cut toward zero silently?
        suspect = dtype.kind != "b" and not isinstance(sum(chain.from_iterable(sequences)),
                                                       int | np.integer)
    if suspect:
        _checked(np.fromiter(chain.from_iterable(sequences), dtype=np.float64,
                             count=flat.size), dtype, where)
    return flat


def _locator(lengths: np.ndarray):
    """Turn a position in the concatenated items into the name ``sequences[i][j]``."""
    ends = np.cumsum(lengths)

    def where(pos: int) -> str:
        row = int(np.searchsorted(ends, pos, side="right"))
        return f"sequences[{row}][{pos - int(ends[row] - lengths[row])}]"
    return where


def _checked(arr: np.ndarray, dtype: np.dtype, where) -> np.ndarray:
    """``arr`` (numeric, 1-D) as ``dtype``; raise naming the first item it cannot hold exactly."""
    if dtype.kind == "b" or arr.dtype.kind not in "biuf":
        return arr.astype(dtype)
    if dtype.kind in "iu":
        if arr.dtype.kind == "f":
            bad = np.flatnonzero(~np.isfinite(arr) | (arr != np.trunc(arr)))
            if bad.size:
                v = arr[bad[0]].item()
                fix = "Round the values first" if np.isfinite(v) else "Replace it"
                raise ConfigError(message(
                    where(int(bad[0])), f"a value `dtype` {dtype} can hold (whole numbers only)",
                    v, fix=f"{fix} or pass dtype='float32'."))
        info = np.iinfo(dtype)
        bad = np.flatnonzero((arr < info.min) | (arr > info.max)) if arr.size else arr[:0]
        if bad.size:
            raise ConfigError(message(
                where(int(bad[0])), f"within the range of `dtype` {dtype} [{info.min}, "
                f"{info.max}]", arr[bad[0]].item(), fix="Pass a wider dtype such as 'int64'."))
        return arr.astype(dtype)
    with np.errstate(over="ignore"):
        out = arr.astype(dtype)
    bad = np.flatnonzero(np.isinf(out) & np.isfinite(arr))
    if bad.size:
        raise ConfigError(message(
            where(int(bad[0])), f"within the range of `dtype` {dtype}", arr[bad[0]].item(),
            fix="Pass dtype='float64'."))
    return out


def _pad_general(sequences, maxlen, dtype, padding, truncating, value) -> np.ndarray:
    """Keras's own loop, for sequences of vectors or non-numeric items."""
    sample_shape: tuple = ()
    for idx, s in enumerate(sequences):
        if len(s):
            sample_shape = _as_array(s, idx, None).shape[1:]
            break
    x = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    for idx, s in enumerate(sequences):
        if not len(s):
            continue
        try:
            trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        except (TypeError, KeyError):
            raise ConfigError(message(f"sequences[{idx}]", "a list or array", s,
                                      shown=type(s).__name__)) from None
        trunc = _as_array(trunc, idx, dtype)
        if trunc.shape[1:] != sample_shape:
            raise ConfigError(message(
                f"sequences[{idx}]", f"steps of shape {sample_shape}, as the first non-empty "
                "sequence has", None, verb="have", shown=f"steps of shape {trunc.shape[1:]}"))
        if padding == "post":
            x[idx, : len(trunc)] = trunc
        else:
            x[idx, -len(trunc):] = trunc
    return x


def _as_array(items, idx: int, dtype: np.dtype | None) -> np.ndarray:
    """``sequences[idx]`` (or its kept part) as an array of ``dtype``, checked to fit it."""
    try:
        arr = np.asarray(items)
        if dtype is None or dtype.kind not in "biuf" or arr.dtype.kind not in "biuf":
            return arr if dtype is None else np.asarray(items, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        fits = "" if dtype is None else f" that `dtype` {dtype} can hold"
        raise ConfigError(message(
            f"sequences[{idx}]", f"a list of numbers (or of equal-length vectors){fits}", items,
            shown=f"{items!r:.60} ({str(exc).split('. ')[0]})")) from None
    flat = _checked(arr.reshape(-1), dtype, lambda pos: f"sequences[{idx}]")
    return flat.reshape(arr.shape)
