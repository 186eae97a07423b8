"""Read pretrained word vectors (GloVe or word2vec text format) into an embedding matrix."""

from __future__ import annotations

import gzip
import os
import zlib
from typing import NamedTuple

import numpy as np

from ..errors import ConfigError
from ..validation import check_int, choice_error, message

__all__ = ["load_embeddings", "Embeddings"]


class Embeddings(NamedTuple):
    """Result of :func:`load_embeddings`.

    Attributes
    ----------
    matrix : numpy.ndarray
        ``(rows, dim)`` float32 matrix; row ``i`` is the vector of the word with index ``i``;
        row 0 (padding) is zero.
    found : int
        Number of words of the index (below ``num_words``) that had a pretrained vector.
    missing : list of str
        Words without a vector (their rows are zero or random, see ``unknown``).
    """

    matrix: np.ndarray
    found: int
    missing: list[str]

    def __repr__(self) -> str:
        return (f"Embeddings(matrix={self.matrix.shape}, found={self.found}, "
                f"missing={len(self.missing)})")


def load_embeddings(path: str | os.PathLike, word_index: dict[str, int], dim: int,
                    num_words: int | None = None, unknown: str = "zero",
                    seed: int | None = None, verbose: bool = False) -> Embeddings:
    """Align pretrained word vectors with a tokenizer's word index.

    Parameters
    ----------
    path : str or path
        A GloVe file (``word v1 ... vdim`` per line) or a word2vec text file (same, after a
        ``count dim`` header line); ``.gz`` files are read directly.
    word_index : dict
        Word -> index, e.g. ``Tokenizer.word_index``.
    dim : int
        Vector length; every used line must have exactly ``dim`` numbers.
    num_words : int, optional
        Matrix rows (as the tokenizer's ``num_words``); ``len(word_index) + 1`` by default.
        Words with index ``>= num_words`` are left out.
    unknown : {"zero", "random"}
        Rows of words without a vector: zeros, or normal draws with the mean and standard
        deviation of the vectors found.
    seed : int, optional
        Seed of the random rows.
    verbose : bool
        Print how many words were found.

    Returns
    -------
    Embeddings
        ``(matrix, found, missing)``; pass ``weights=[result.matrix]`` to an Embedding layer.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "vec.txt")
    >>> _ = open(p, "w").write("cat 1 2\\ndog 3 4\\n")
    >>> emb = load_embeddings(p, {"cat": 1, "fish": 2}, dim=2)
    >>> emb.matrix.tolist(), emb.missing
    ([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]], ['fish'])
    """
    check_int(dim, "dim", low=1)
    if unknown not in ("zero", "random"):
        raise choice_error("unknown", unknown, ["zero", "random"])
    if not isinstance(word_index, dict):
        raise ConfigError(message("word_index", "a dict word -> index", word_index,
                                  shown=type(word_index).__name__))
    rows = len(word_index) + 1 if num_words is None else num_words
    check_int(rows, "num_words", low=1, allow_none=True)
    from ..datasets._files import DataFileError, existing_file

    path = os.fspath(existing_file(path))
    wanted = {w: i for w, i in word_index.items() if 0 < i < rows}
    matrix = np.zeros((rows, dim), dtype=np.float32)
    have = np.zeros(rows, dtype=bool)
    try:
        _read_vectors(path, dim, wanted, matrix, have)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFileError(f"`path` {path!r} is not a readable (gzip) text file: {exc}. "
                            "Fetch the file again.") from None
    missing = [w for w, i in wanted.items() if not have[i]]
    found = len(wanted) - len(missing)
    if unknown == "random" and missing:
        rng = np.random.default_rng(seed)
        ref = matrix[have]
        mu = float(ref.mean()) if ref.size else 0.0
        sd = float(ref.std()) if ref.size else 0.05
        idx = np.array([wanted[w] for w in missing])
        matrix[idx] = rng.normal(mu, sd, size=(len(idx), dim)).astype(np.float32)
    if verbose:
        print(f"Found vectors for {found} of {len(wanted)} words; {len(missing)} missing "
              f"({'random' if unknown == 'random' else 'zero'} rows).")
    return Embeddings(matrix, found, missing)


def _read_vectors(path: str, dim: int, wanted: dict, matrix: np.ndarray, have: np.ndarray) -> None:
    """Fill the rows of ``matrix`` (and ``have``) of the ``wanted`` words found in ``path``."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            parts = line.rstrip("\n\r ").split(" ")
            if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header "count dim"
            if len(parts) != dim + 1:
                if not line.strip():
                    continue
                raise ConfigError(message(
                    "dim", f"the count of numbers after each word in {path!r}", dim,
                    "load_embeddings", shown=f"{dim}, but line {lineno} has {len(parts) - 1}"))
            idx = wanted.get(parts[0])
            if idx is None:
                continue
            try:
                matrix[idx] = np.asarray(parts[1:], dtype=np.float32)
            except ValueError:
                raise ConfigError(message(
                    "path", "a text file of words each followed by numbers", path,
                    "load_embeddings", shown=f"{path!r}, whose line {lineno} holds a value "
                    "that is not a number")) from None
            have[idx] = True
