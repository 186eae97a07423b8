"""Whole-corpus tokenising for :class:`~statdl.text.Tokenizer`: every word as an integer id.

A corpus is encoded once (:class:`Corpus`): the distinct words in first-seen order, every
token's id into that list (texts concatenated) and the number of tokens per text. For plain
texts the tokenising itself is vectorised: the texts are joined as UTF-8 bytes, translated
once, cut at the ``split`` bytes with numpy, and each token's bytes packed into an exact
uint64 key that pandas's hash table numbers in order of first appearance, so no Python
object is made per token. Counts, document frequencies and the final encodings are numpy
operations on the ids.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import chain, count, pairwise

import numpy as np

# masks keeping the low n bytes of a little-endian uint64, n = 0..8
_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)
_MAX_PACKED = 16  # bytes of the longest token packed into uint64 keys; longer: a dict


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
        text_bit = np.uint64(1) << (np.arange(len(self.lengths), dtype=np.uint64) % np.uint64(64))
        bits = np.repeat(text_bit, self.lengths)  # each token's text, as a bit of its block
        bounds = np.concatenate([[0], np.cumsum(self.lengths)[63::64], [self.ids.size]])
        top = 0  # ids are numbered by first appearance: only ids < top occur so far
        for a, b in pairwise(bounds.tolist()):
            if a == b:
                continue
            top = max(top, int(self.ids[a:b].max()) + 1)
            seen[:top] = 0
            np.bitwise_or.at(seen, self.ids[a:b], bits[a:b])
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
    multi-character ``split``, a NUL character in a text) goes through ``tokenize_one`` text
    by text.
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
    """Corpus of plain-string texts, tokenised with numpy on their joined UTF-8 bytes.

    The texts are lower-cased one by one (lower-casing is context-sensitive: Greek final
    sigma), encoded and joined by ``split``; filter bytes become ``split`` (UTF-8 never uses
    ASCII byte values inside multi-byte characters) and the tokens are the runs of other
    bytes, so empty tokens never arise. ``None`` when a text holds a NUL character (the
    packed keys of :func:`_word_ids` are zero-padded).
    """
    if lower:  # ASCII letters are lowered with the filters, below; lower() is text by text
        texts = [t if t.isascii() else t.lower() for t in texts]  # (Greek final sigma)
    parts = [t.encode("utf-8", "surrogatepass") for t in texts]
    sep = split.encode()
    data = sep.join([b"", *parts, sep * _MAX_PACKED])  # the tail: room to read 8 bytes on
    if b"\0" in data:
        return None
    data = data.translate(_byte_table(filters, split, lower))
    is_word = np.frombuffer(data, dtype=np.uint8) != ord(split)
    edges = np.flatnonzero(is_word[1:] != is_word[:-1]) + 1
    starts, ends = edges[0::2].copy(), edges[1::2].copy()
    text_ends = np.cumsum(np.fromiter(map(len, parts), dtype=np.int64, count=len(parts)) + 1)
    del parts, is_word, edges
    lengths = np.diff(np.searchsorted(starts, text_ends), prepend=0)
    words, ids = _word_ids(data, starts, ends, split)
    return Corpus(words, ids, lengths)


def _word_ids(data: bytes, starts: np.ndarray, ends: np.ndarray,
              split: str) -> tuple[list, np.ndarray]:
    """Distinct words (first-seen order) and each token's id, for the tokens
    ``data[starts[i]:ends[i]]`` (runs of bytes other than ``split``).

    Every token gets an exact uint64 key, numbered by pandas's hash table in order of first
    appearance: a token of up to 8 bytes (most of them) is its bytes, zero-padded (no token
    holds a NUL); a longer one is ``code << 9 | flag << 8 | split``, a form no short token
    has (none starts with ``split``), with ``code`` numbering the 9 to 16-byte tokens by
    their two packed halves, or the longer ones (rare) through a dict.
    """
    import pandas as pd  # C hash table for integer keys, numbering by first appearance

    lengths = ends - starts
    packed = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    keys = packed[starts] & _LOW_BYTES[np.minimum(lengths, 8)]
    mid = np.flatnonzero((lengths > 8) & (lengths <= _MAX_PACKED))
    mid_codes = _packed_codes(packed, starts[mid], lengths[mid], _MAX_PACKED // 8)
    keys[mid] = _long_key(mid_codes, 0, split)
    mid_first = mid[_first_positions(mid_codes)]
    long_words: list = [b""]  # flag 1: the dict numbers the rare longest tokens
    long = np.flatnonzero(lengths > _MAX_PACKED)
    if long.size:
        tokens = map(data.__getitem__, map(slice, starts[long].tolist(), ends[long].tolist()))
        long_words, long_ids = _ids(tokens, long.size)
        keys[long] = _long_key(long_ids, 1, split)
    ids, uniques = pd.factorize(keys, sort=False)
    words = uniques.astype("<u8").view("S8").astype(object)  # numpy drops the zero padding
    at = np.flatnonzero(uniques & np.uint64(0xFF) == ord(split))  # the longer words
    code = (uniques[at] >> np.uint64(9)).astype(np.int64)
    in_dict = (uniques[at] >> np.uint64(8) & np.uint64(1)).astype(bool)
    words[at[in_dict]] = [long_words[c] for c in code[in_dict].tolist()]
    first = mid_first[code[~in_dict]]
    words[at[~in_dict]] = list(map(data.__getitem__, map(slice, starts[first].tolist(),
                                                         ends[first].tolist())))
    return [w.decode("utf-8", "surrogatepass") for w in words.tolist()], ids.astype(np.int32)


def _long_key(codes: np.ndarray, flag: int, split: str) -> np.ndarray:
    return (codes.astype(np.uint64) << np.uint64(9)) | np.uint64(flag << 8 | ord(split))


def _packed_codes(packed: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                  n_words: int) -> np.ndarray:
    """Codes (numbered by first appearance) of the tokens packed into ``n_words`` uint64."""
    import pandas as pd

    codes = np.zeros(starts.size, dtype=np.int64)
    for j in range(n_words):
        word = packed[starts + 8 * j] & _LOW_BYTES[np.clip(lengths - 8 * j, 0, 8)]
        part, uniques = pd.factorize(word, sort=False)
        codes = pd.factorize(codes * len(uniques) + part, sort=False)[0]
    return codes


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
