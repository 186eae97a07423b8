"""``pad_sequences`` with Keras semantics, vectorised with numpy."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np

from ..errors import ConfigError, choice_error

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
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, int | np.integer)
                               or maxlen <= 0):
        raise ConfigError(f"`maxlen` must be an int >= 1 or None; got {maxlen!r}.")
    if isinstance(sequences, str) or not hasattr(sequences, "__len__"):
        raise ConfigError(
            f"`sequences` must be a list of sequences; got {type(sequences).__name__}."
        )
    dtype = np.dtype(dtype)
    if isinstance(value, str) and dtype.kind != "O" and not np.issubdtype(dtype, np.str_):
        raise ConfigError(
            f"`value` is a string ({value!r}) but `dtype` is {dtype}; use dtype=object or a "
            "numeric value."
        )
    n = len(sequences)
    try:
        lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=n)
    except TypeError:
        bad = next(i for i, s in enumerate(sequences) if not hasattr(s, "__len__"))
        raise ConfigError(
            f"`sequences` must hold sequences; item {bad} is "
            f"{type(sequences[bad]).__name__} ({sequences[bad]!r:.40})."
        ) from None
    if maxlen is None:
        maxlen = int(lengths.max()) if n else 0
    maxlen = int(maxlen)
    flat = _flat_scalars(sequences, lengths, dtype)
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
    """All items in one 1-D array when every item is a number; ``None`` otherwise."""
    if dtype.kind not in "biuf":
        return None
    if isinstance(sequences, np.ndarray) and sequences.dtype != object:
        if sequences.ndim != 2:
            return None
        return sequences.reshape(-1).astype(dtype)
    try:
        return np.fromiter(chain.from_iterable(sequences), dtype=dtype, count=int(lengths.sum()))
    except (TypeError, ValueError):
        return None  # nested steps (vectors) or non-numeric items: general path


def _pad_general(sequences, maxlen, dtype, padding, truncating, value) -> np.ndarray:
    """Keras's own loop, for sequences of vectors or non-numeric items."""
    sample_shape: tuple = ()
    for s in sequences:
        if len(s):
            sample_shape = np.asarray(s).shape[1:]
            break
    x = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    for idx, s in enumerate(sequences):
        if not len(s):
            continue
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        trunc = np.asarray(trunc, dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ConfigError(
                f"`sequences[{idx}]` has steps of shape {trunc.shape[1:]}, unlike the first "
                f"non-empty sequence ({sample_shape}); all steps must share one shape."
            )
        if padding == "post":
            x[idx, : len(trunc)] = trunc
        else:
            x[idx, -len(trunc):] = trunc
    return x
