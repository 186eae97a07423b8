"""SciPy sparse inputs in ``fit``: densified a batch at a time, never whole.

A bag-of-words matrix of 25,000 reviews x 10,000 words holds about 3 million non-zeros
(36 MB as CSR) but 1 GB as a dense float32 array; ``fit`` keeps the CSR matrix and each step
densifies only its batch's rows (``SparseBatches``, the loop's host-batch path), as
``predict`` and ``evaluate`` already did (``InputRows``).

Examples
--------
>>> import numpy as np, statdl as sd
>>> from scipy import sparse
>>> x = sparse.random(40, 6, density=0.3, format="csr", random_state=0, dtype=np.float32)
>>> m = sd.Sequential([sd.layers.Dense(1)], input_shape=(6,))
>>> m.compile("sgd", "mse")
>>> len(m.fit(x, np.ones(40), epochs=2, verbose=0).history["loss"])
2
"""

from __future__ import annotations

import numpy as np
import torch

from .data import InputRows, _check_finite, _token_ids

__all__ = ["SparseRows", "SparseBatches"]


class SparseRows(InputRows):
    """The rows of a SciPy sparse matrix given to ``fit``: checked once (shape, dtype, NaN and
    infinity on the stored values), sliced by rows (``validation_split``), densified by batch
    (``dense``)."""

    @classmethod
    def of(cls, rows: InputRows) -> SparseRows:
        """The checked ``rows`` of a sparse matrix, their stored values checked for NaN."""
        out = object.__new__(cls)
        vars(out).update(vars(rows))
        values = torch.from_numpy(np.asarray(out.source.data, dtype=np.float32))
        _check_finite(values, out.argument)
        return out

    def dim(self) -> int:
        return len(self.shape)

    def __getitem__(self, rows: slice) -> SparseRows:
        out = object.__new__(type(self))
        vars(out).update(vars(self))
        out.source = self.source[rows]
        out.n, out.shape = out.source.shape[0], tuple(out.source.shape)
        return out

    def dense(self, index: np.ndarray | slice) -> torch.Tensor:
        """Rows ``index`` as a dense float32 tensor (int64 token ids for an Embedding)."""
        part = torch.from_numpy(self.source[index].toarray().astype(np.float32, copy=False))
        return _token_ids(part, self.argument) if self.integer_input else part


class SparseBatches:
    """Batches of a ``SparseRows`` (and its targets and weights) for the training loop: the
    same ``batch(perm, start, stop)`` as ``loop.HostBatches``; the permutation stays on the
    host and the densified rows go to ``device``."""

    def __init__(self, x: SparseRows, y: torch.Tensor, w: torch.Tensor | None,
                 device: torch.device):
        self.x, self.y, self.w, self.device = x, y, w, device

    def batch(self, perm: torch.Tensor | None, start: int, stop: int):
        """``(x, y, w)`` of the batch at epoch positions ``[start, stop)``, on the device."""
        if perm is None:
            idx, rows = None, slice(start, stop)
        else:
            idx = perm[start:stop]
            rows = idx.numpy()
        pick = (lambda t: t[start:stop]) if idx is None else (lambda t: t.index_select(0, idx))
        return (self.x.dense(rows).to(self.device), pick(self.y).to(self.device),
                None if self.w is None else pick(self.w).to(self.device))
