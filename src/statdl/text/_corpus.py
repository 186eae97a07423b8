"""Whole-corpus tokenising for :class:`~statdl.text.Tokenizer`: every word as an integer id.

A corpus is encoded once (:class:`Corpus`): the distinct words in first-seen order, every
token's id into that list (texts concatenated) and the number of tokens per text. For plain
texts the tokenising itself is vectorised: the texts are encoded as UTF-8 and translated
(lower case, filters to ``split``), joined in runs of about a megabyte that are cut at the
``split`` bytes with numpy, and each token's bytes are packed into an exact uint64 key that
pandas's hash table numbers in order of first appearance, so no Python object is made per
token. Counts, document frequencies and the final encodings are numpy operations on the ids.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import chain, count, pairwise

import numpy as np

# masks keeping the low n bytes of a little-endian uint64, n = 0..8
_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)
_MAX_PACKED = 16  # bytes of the longest token packed into uint64 keys; longer: a dict
_CHUNK_BYTES = 1 << 20  # texts are cut into tokens in runs of about this many bytes


@dataclass(frozen=True)
class Corpus:
    """Texts as word ids.

    Attributes
    ----------
    words : list of str
        Distinct words, in first-seen order (id ``i`` is ``words[i]``).
    ids : numpy.ndarray
        int32 ids of all tokens, text after text.
    lengths : numpy.ndarray
        int64 number of tokens of each text.
    """

    words: list
    ids: np.ndarray
    lengths: np.ndarray

    def counts(self) -> np.ndarray:
        """Occurrences of each word (int64, aligned with ``words``)."""
        return np.bincount(self.ids, minlength=len(self.words))

    def doc_counts(self) -> np.ndarray:
        """Number of texts containing each word (int64, aligned with ``words``)."""
        if not hasattr(np, "bitwise_count"):  # numpy < 2.0
            return self._doc_counts_by_sorting()
        n_words = len(self.words)
        out = np.zeros(n_words, dtype=np.int64)
        seen = np.zeros(n_words, dtype=np.uint64)  # bit j: seen in the j-th text of a block
        text_bits = np.uint64(1) << np.arange(64, dtype=np.uint64)
        bounds = np.concatenate([[0], np.cumsum(self.lengths)[63::64], [self.ids.size]])
        top = 0  # ids are numbered by first appearance: only ids < top occur so far
        for block, (a, b) in enumerate(pairwise(bounds.tolist())):
            if a == b:
                continue
            lengths = self.lengths[64 * block:64 * block + 64]
            top = max(top, int(self.ids[a:b].max()) + 1)
            seen[:top] = 0
            np.bitwise_or.at(seen, self.ids[a:b], np.repeat(text_bits[:lengths.size], lengths))
            out[:top] += np.bitwise_count(seen[:top])
        return out

    def _doc_counts_by_sorting(self) -> np.ndarray:
        """``doc_counts`` from the sorted distinct (text, word) pairs."""
        n_words = len(self.words)
        if not self.ids.size:
            return np.zeros(n_words, dtype=np.int64)
        n_docs = len(self.lengths)
        dtype = np.uint32 if n_docs * n_words < 2**32 else np.uint64
        doc = np.repeat(np.arange(n_docs, dtype=dtype), self.lengths)
        key = doc * dtype(n_words) + self.ids.astype(dtype)
        key.sort(kind="stable")  # texts are already in order: timsort merges runs cheaply
        first = np.empty(key.size, dtype=bool)
        first[0] = True
        np.not_equal(key[1:], key[:-1], out=first[1:])
        return np.bincount(key[first] % dtype(n_words), minlength=n_words)


def encode(texts: list, tokenize_one, filters: str, lower: bool, split: str,
           char_level: bool) -> Corpus:
    """Encode ``texts`` with Keras's tokenising rules.

    Plain strings with an ASCII ``split`` character and ASCII filters are tokenised together
    with numpy (:func:`_encode_bytes`); anything else (``char_level``, pre-split texts, a
    multi-character ``split``, a NUL character that is not a filter) goes through
    ``tokenize_one`` text by text.
    """
    if not texts:
        return Corpus([], np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64))
    if (not char_level and len(split) == 1 and split != "\0" and split.isascii()
            and filters.isascii() and all(isinstance(t, str) for t in texts)):
        corpus = _encode_bytes(texts, filters, lower, split)
        if corpus is not None:
            return corpus
    return _encode_token_lists(list(map(tokenize_one, texts)))


def _ids(tokens, n_tokens: int) -> tuple[list, np.ndarray]:
    """Word list in first-seen order and every token's id (all hashing done in C)."""
    vocab: defaultdict[str, int] = defaultdict(count().__next__)
    ids = np.fromiter(map(vocab.__getitem__, tokens), dtype=np.int64, count=n_tokens)
    return list(vocab), ids


def _encode_token_lists(docs: list) -> Corpus:
    """Corpus from ready token lists (every token kept, even an empty one, as Keras does)."""
    lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
    words, ids = _ids(chain.from_iterable(docs), int(lengths.sum()))
    return Corpus(words, ids.astype(np.int32), lengths)


def _encode_bytes(texts: list, filters: str, lower: bool, split: str) -> Corpus | None:
    """Corpus of plain-string texts, tokenised with numpy on their UTF-8 bytes.

    The non-ASCII texts are lower-cased one by one (lower-casing is context-sensitive: Greek
    final sigma) and all are encoded; the tokens are then cut from runs of consecutive texts of
    about ``_CHUNK_BYTES`` bytes (:func:`_chunk_tokens`), so that the per-byte arrays stay
    small, and numbered together (:func:`_word_ids`). ``None`` when a text holds a NUL
    character that is not a filter (the keys of the tokens are zero-padded).
    """
    if lower:  # ASCII letters are lowered with the filters, in _chunk_tokens
        texts = [t if t.isascii() else t.lower() for t in texts]  # (Greek final sigma)
    parts = [t.encode("utf-8", "surrogatepass") for t in texts]
    table = _byte_table(filters, split, lower)
    sizes = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)) + 1
    window = np.cumsum(sizes) // _CHUNK_BYTES
    bounds = [0, *(np.flatnonzero(np.diff(window)) + 1).tolist(), len(parts)]
    chunks = []
    for a, b in pairwise(bounds):
        chunk = _chunk_tokens(parts[a:b], sizes[a:b], table, split)
        if chunk is None:
            return None
        chunks.append(chunk)
    offsets = np.cumsum([0] + [c.keys.size for c in chunks[:-1]])
    keys = np.concatenate([c.keys for c in chunks])
    mid = np.concatenate([c.mid + o for c, o in zip(chunks, offsets)])
    long = np.concatenate([c.long + o for c, o in zip(chunks, offsets)])
    words, ids = _word_ids(keys, mid, np.concatenate([c.high for c in chunks]), long,
                           list(chain.from_iterable(c.long_words for c in chunks)), split)
    return Corpus(words, ids, np.concatenate([c.lengths for c in chunks]))


@dataclass(frozen=True)
class _Chunk:
    """Tokens of a run of texts (positions count tokens from the run's first one)."""

    keys: np.ndarray  # uint64: the first 8 bytes of each token, zero-padded
    lengths: np.ndarray  # int64 tokens per text
    mid: np.ndarray  # positions of the 9 to 16-byte tokens
    high: np.ndarray  # uint64: their bytes 9 to 16, zero-padded
    long: np.ndarray  # positions of the longer tokens
    long_words: list  # their bytes


def _chunk_tokens(parts: list, sizes: np.ndarray, table: bytes,
                  split: str) -> _Chunk | None:
    """Tokens of UTF-8 texts (``sizes``: their lengths + 1).

    The texts are joined by ``split`` and translated by ``table`` (ASCII letters lowered if
    asked, filter bytes made ``split``: UTF-8 never uses ASCII byte values inside multi-byte
    characters); the tokens are the runs of other bytes, so empty tokens never arise. ``None``
    when a NUL byte remains.
    """
    sep = split.encode()
    data = sep.join([b"", *parts, sep * _MAX_PACKED])  # the tail: room to read 16 bytes on
    data = data.translate(table)
    if b"\0" in data:
        return None
    is_word = np.frombuffer(data, dtype=np.uint8) != ord(split)
    edges = np.flatnonzero(is_word[1:] != is_word[:-1])
    edges += 1
    starts, ends = edges.reshape(-1, 2).T  # views: a word starts, then ends, by turns
    lengths = np.diff(np.searchsorted(starts, np.cumsum(sizes)), prepend=0)
    n_bytes = ends - starts
    packed = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    keys = packed[starts]
    keys &= np.take(_LOW_BYTES, n_bytes, mode="clip")  # tokens over 8 bytes keep 8
    mid = np.flatnonzero((n_bytes > 8) & (n_bytes <= _MAX_PACKED))
    high = packed[starts[mid] + 8]
    high &= np.take(_LOW_BYTES, n_bytes[mid] - 8, mode="clip")
    long = np.flatnonzero(n_bytes > _MAX_PACKED)
    long_words = list(map(data.__getitem__, map(slice, starts[long].tolist(),
                                                 ends[long].tolist())))
    return _Chunk(keys, lengths, mid, high, long, long_words)


def _word_ids(keys: np.ndarray, mid: np.ndarray, high: np.ndarray, long: np.ndarray,
              long_words: list, split: str) -> tuple[list, np.ndarray]:
    """Distinct words (first-seen order) and each token's id, from the tokens' keys.

    ``keys`` holds each token's first 8 bytes, zero-padded: for a token of up to 8 bytes (most
    of them) an exact key, as no token holds a NUL. The 9 to 16-byte tokens (at ``mid``,
    ``high`` their next bytes) and the longer ones (at ``long``, ``long_words`` their bytes)
    get the key ``code << 9 | flag << 8 | split``, a form no short token has (none starts with
    ``split``): ``code`` numbers them by their two halves (flag 0), or through a dict (flag 1).
    pandas's hash table then numbers the keys in order of first appearance. ``keys`` is
    overwritten.
    """
    import pandas as pd  # C hash table for integer keys, numbering by first appearance

    low = keys[mid]
    low_codes = pd.factorize(low, sort=False)[0]
    high_codes, high_uniques = pd.factorize(high, sort=False)
    mid_codes = pd.factorize(low_codes * len(high_uniques) + high_codes, sort=False)[0]
    keys[mid] = _long_key(mid_codes, 0, split)
    first = _first_positions(mid_codes)
    halves = np.stack([low[first], high[first]], axis=1)  # little-endian, like `packed`
    mid_words = halves.view("S16")[:, 0].astype(object)  # numpy drops the zero padding
    if long.size:  # flag 1: the dict numbers the rare longest tokens
        long_words, long_ids = _ids(long_words, long.size)
        keys[long] = _long_key(long_ids, 1, split)
    ids, uniques = pd.factorize(keys, sort=False)
    words = uniques.astype("<u8").view("S8").astype(object)  # numpy drops the zero padding
    at = np.flatnonzero(uniques & np.uint64(0xFF) == ord(split))  # the longer words
    code = (uniques[at] >> np.uint64(9)).astype(np.int64)
    in_dict = (uniques[at] >> np.uint64(8) & np.uint64(1)).astype(bool)
    words[at[in_dict]] = [long_words[c] for c in code[in_dict].tolist()]
    words[at[~in_dict]] = mid_words[code[~in_dict]]
    return [w.decode("utf-8", "surrogatepass") for w in words.tolist()], ids.astype(np.int32)


def _long_key(codes: np.ndarray, flag: int, split: str) -> np.ndarray:
    return (codes.astype(np.uint64) << np.uint64(9)) | np.uint64(flag << 8 | ord(split))


def _first_positions(codes: np.ndarray) -> np.ndarray:
    """Where each code first appears, for codes numbered in order of first appearance."""
    new = np.empty(codes.size, dtype=bool)
    new[:1] = True
    running_max = np.maximum.accumulate(codes)
    np.greater(running_max[1:], running_max[:-1], out=new[1:])
    return np.flatnonzero(new)


def _byte_table(filters: str, split: str, lower: bool = False) -> bytes:
    """``bytes.translate`` table: lower-case ASCII letters first when ``lower``, then map each
    (ASCII) filter character to ``split``, as Keras does in that order."""
    table = bytearray(range(256))
    if lower:
        table[ord("A"):ord("Z") + 1] = table[ord("a"):ord("z") + 1]
    targets = set(filters.encode())
    return bytes(ord(split) if b in targets else b for b in table)


def translate(text: str, filters: str, split: str) -> str:
    """Map every filter character to ``split`` (bytes fast path for ASCII filters)."""
    if not filters:
        return text
    if len(split) == 1 and split.isascii() and filters.isascii():
        # UTF-8 never uses ASCII byte values inside multi-byte characters
        return text.encode("utf-8", "surrogatepass").translate(
            _byte_table(filters, split)).decode("utf-8", "surrogatepass")
    return text.translate(str.maketrans({c: split for c in filters}))
