"""Reader for IDX files (the MNIST format), strict about headers and lengths."""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from ._files import DataFileError

__all__ = ["read_idx"]

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike, expected_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Read a (gzipped) IDX file into a numpy array, validating it fully.

    The magic number must be ``0x00 0x00 <type> <ndim>``, the data length must equal the
    product of the dimensions, and ``expected_shape`` (if given) must match. A truncated or
    corrupt file raises ``DataFileError``; a wrong array is never returned.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte")
    >>> _ = open(p, "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(p).tolist()
    [7, 8, 9]
    """
    path = os.fspath(path)
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        else:
            with open(path, "rb") as fh:
                raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFileError(f"{path} is not a readable (gzip) file: {exc}. Delete it and "
                            "fetch it again.") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES or raw[3] < 1:
        raise DataFileError(
            f"{path} is not an IDX file: bad magic number {raw[:4].hex() or '(empty)'}."
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFileError(f"{path} is truncated inside its header.")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_TYPES[raw[2]])
    need = int(np.prod(dims)) * dtype.itemsize
    got = len(raw) - header
    if got != need:
        raise DataFileError(
            f"{path} holds {got} data bytes but its header {dims} needs {need}: the file is "
            f"{'truncated' if got < need else 'longer than declared'}. Delete it and fetch it "
            "again."
        )
    if expected_shape is not None and dims != tuple(expected_shape):
        raise DataFileError(f"{path} has shape {dims}; expected {tuple(expected_shape)}.")
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))
