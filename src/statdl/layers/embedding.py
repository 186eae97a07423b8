"""The Embedding layer: integer word ids -> dense vectors (Keras semantics)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from .. import validation
from ..errors import ConfigError, ShapeError
from ..initializers import check_initializer, initialize
from ..regularizers import L1L2, get_regularizer
from .base import Layer, Shape, check_positive_int, format_shape

__all__ = ["Embedding"]


class _Lookup(torch.autograd.Function):
    """``weight[ids]`` whose backward pass adds each row's gradient into a zero matrix with one
    ``index_add_``.

    torch's CPU backward of ``F.embedding`` (``embedding_dense_backward``) sorts the ids first;
    for a batch of 128 x 100 ids into 10,000 x 8 it takes 918 us a step against 358 us here
    (1,360 against 5,005 us at 500 words), about a tenth of an imdb-rnn@100 training step.
    A gradient that arrives time-major in memory (the ``simple_rnn_pass`` pass hands back ``dX`` as a
    ``(batch, time, d)`` view of a ``(d, time, batch)`` product) is read in that order, with
    the ids transposed to match, instead of being copied: 296 against 448 us.
    """

    @staticmethod
    def forward(ctx, ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(ids)
        ctx.rows = weight.shape[0]
        return weight.index_select(0, ids.reshape(-1)).view(*ids.shape, weight.shape[1])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        (ids,) = ctx.saved_tensors
        width = grad.shape[-1]
        if grad.dim() == 3 and not grad.is_contiguous() \
                and grad.stride(1) == grad.shape[0] * grad.stride(0):
            ids, grad = ids.t(), grad.transpose(0, 1)  # (time, batch) rows: a view, no copy
        dw = grad.new_zeros(ctx.rows, width)
        dw.index_add_(0, ids.reshape(-1), grad.reshape(-1, width))
        return None, dw


class EmbeddingModule(nn.Module):
    """Look up rows of ``embeddings`` (shape ``(input_dim, output_dim)``) for integer ids.

    Ids outside ``[0, input_dim)`` raise a ``ShapeError`` naming the offending id; the check is
    one min/max reduction over the batch. Floating-point ids (as a model may feed them) are
    converted to integers.
    """

    #: CPU training looks rows up through ``_Lookup`` (one ``index_add_`` backward); ``False``
    #: restores ``F.embedding`` and torch's sorting backward.
    index_add_backward: bool = True

    def __init__(self, input_dim: int, output_dim: int, mask_zero: bool = False):
        super().__init__()
        self.input_dim = input_dim
        self.mask_zero = mask_zero
        self.embeddings = nn.Parameter(torch.empty(input_dim, output_dim))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = self.checked_ids(ids)
        if ids.is_cuda or not (self.index_add_backward and self.embeddings.requires_grad
                               and torch.is_grad_enabled()):
            return F.embedding(ids, self.embeddings)
        return _Lookup.apply(ids, self.embeddings)

    def checked_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids`` as int64, after checking that they lie in ``[0, input_dim)``."""
        if ids.is_floating_point() or ids.dtype != torch.long:
            ids = ids.long()
        if ids.numel():
            lo, hi = torch.aminmax(ids)
            lo, hi = int(lo), int(hi)
            if lo < 0 or hi >= self.input_dim:
                bad = hi if hi >= self.input_dim else lo
                raise ShapeError(validation.message(
                    "inputs", f"word ids in [0, {self.input_dim - 1}] (`input_dim` is "
                    f"{self.input_dim})", bad, "Embedding", verb="hold",
                    shown=f"word id {bad} (largest id in this batch: {hi}, smallest: {lo})",
                    fix="Make `input_dim` at least max id + 1 (e.g. the tokenizer's "
                        "`num_words`)."))
        return ids

    def compute_mask(self, ids: torch.Tensor) -> torch.Tensor | None:
        """Boolean ``ids != 0`` when ``mask_zero`` is set (for layers that support masks)."""
        return (ids != 0) if self.mask_zero else None

    def extra_repr(self) -> str:
        n, d = self.embeddings.shape
        return f"{n}, {d}" + (", mask_zero=True" if self.mask_zero else "")


class Embedding(Layer):
    """Turn integer ids into dense vectors: ``(timesteps,)`` -> ``(timesteps, output_dim)``.

    Parameters
    ----------
    input_dim : int
        Vocabulary size: ids must lie in ``[0, input_dim)``.
    output_dim : int
        Length of each embedding vector.
    weights : list of one array, optional
        ``[matrix]`` with ``matrix`` of shape ``(input_dim, output_dim)``: pretrained vectors
        (e.g. GloVe) loaded when the layer is built.
    trainable : bool
        ``False`` freezes the vectors (no gradient, counted as non-trainable).
    embeddings_initializer : str
        Keras initialiser name; ``"uniform"`` is uniform on (-0.05, 0.05) as in Keras.
    mask_zero : bool
        Whether id 0 is padding. Stored in the config; ``module.compute_mask(ids)`` gives the
        mask, but layers downstream only honour it where the model passes masks along.
    embeddings_regularizer : L1L2, optional
        Penalty on the embedding matrix.
    input_length : int, optional
        Keras 2's sequence length argument: the same as ``input_shape=(input_length,)``.

    Examples
    --------
    >>> layer = Embedding(10000, 8, input_length=500)
    >>> layer.compute_output_shape((500,)), layer.count_params((500,))
    ((500, 8), 80000)
    """

    def __init__(self, input_dim: int, output_dim: int, weights=None, trainable: bool = True,
                 embeddings_initializer: str = "uniform", mask_zero: bool = False,
                 embeddings_regularizer=None, input_length: int | None = None, **kwargs):
        if input_length is not None:
            input_length = check_positive_int(input_length, "input_length", "Embedding")
            given = kwargs.get("input_shape")
            if given is None:
                kwargs["input_shape"] = (input_length,)
            elif tuple(given)[:1] not in ((input_length,), (None,)):
                raise ConfigError(validation.message(
                    "input_length", f"the first entry of `input_shape` {tuple(given)}",
                    input_length, "Embedding", verb="match"))
        super().__init__(trainable=trainable, **kwargs)
        self.input_dim = check_positive_int(input_dim, "input_dim", "Embedding")
        self.output_dim = check_positive_int(output_dim, "output_dim", "Embedding")
        self.input_length = input_length
        self.embeddings_initializer = embeddings_initializer
        check_initializer(embeddings_initializer, "embeddings_initializer")
        self.mask_zero = bool(mask_zero)
        self.embeddings_regularizer = get_regularizer(
            embeddings_regularizer, "embeddings_regularizer")
        self._initial_weights = self._check_weights(weights)

    def _check_weights(self, weights) -> np.ndarray | None:
        if weights is None:
            return None
        if isinstance(weights, np.ndarray | torch.Tensor) and np.ndim(weights) == 2:
            weights = [weights]
        if not isinstance(weights, list | tuple) or len(weights) != 1:
            length = f" of length {len(weights)}" if isinstance(weights, list | tuple) else ""
            raise ConfigError(validation.message(
                "weights", "a list holding one matrix of shape "
                f"({self.input_dim}, {self.output_dim})", weights, "Embedding",
                shown=f"{type(weights).__name__}{length}"))
        matrix = weights[0]
        if isinstance(matrix, torch.Tensor):
            matrix = matrix.detach().cpu().numpy()
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.shape != (self.input_dim, self.output_dim):
            raise ConfigError(validation.message(
                "weights[0]", f"shape ({self.input_dim}, {self.output_dim}) = "
                "(input_dim, output_dim)", matrix, "Embedding", verb="have",
                shown=str(matrix.shape)))
        if not np.isfinite(matrix).all():
            raise ConfigError(validation.message(
                "weights[0]", "finite numbers", matrix, "Embedding", verb="hold",
                shown=f"{int((~np.isfinite(matrix)).sum())} NaN or infinite values"))
        return matrix

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 1:
            raise ShapeError(validation.message(
                "inputs", "of shape (timesteps,) holding integer ids", input_shape, "Embedding",
                shown=f"input shape {format_shape(input_shape)}"))
        return (*input_shape, self.output_dim)

    def count_params(self, input_shape: Shape) -> int:
        return self.input_dim * self.output_dim

    def make_module(self, input_shape: Shape) -> nn.Module:
        m = EmbeddingModule(self.input_dim, self.output_dim, self.mask_zero)
        if self._initial_weights is not None:
            with torch.no_grad():
                m.embeddings.copy_(torch.from_numpy(self._initial_weights))
        else:
            initialize(m.embeddings, self.embeddings_initializer, self.input_dim,
                       self.output_dim, "embeddings_initializer")
        return m

    def regularized_weights(self) -> list[tuple[L1L2, torch.Tensor]]:
        if self.embeddings_regularizer is None:
            return []
        return [(self.embeddings_regularizer, self.module.embeddings)]

    def get_config(self) -> dict:
        return {
            "input_dim": self.input_dim, "output_dim": self.output_dim,
            "embeddings_initializer": self.embeddings_initializer,
            "mask_zero": self.mask_zero,
            "embeddings_regularizer": (None if self.embeddings_regularizer is None
                                       else self.embeddings_regularizer.get_config()),
            "input_length": self.input_length,
        }
