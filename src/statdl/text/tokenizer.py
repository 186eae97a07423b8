"""Keras-compatible word tokenizer (the legacy ``keras.preprocessing.text.Tokenizer``).

The output is identical to keras-preprocessing 1.1.2: the same word index (ranked by count,
ties in first-seen order, index 0 reserved), the same ``num_words`` cut (the top
``num_words - 1`` words), the same matrices. The work is done on whole corpora at once
(:mod:`._corpus`): the texts are tokenised together with numpy, every token mapped to an
integer id in C, and numpy gives counts, document frequencies and encodings.
``fit_on_texts`` keeps the ids of the texts it saw, so ``texts_to_sequences`` on those same
texts (the usual fit-then-encode of a training set) does not tokenise them again; it then
maps the ids through the vocabulary of the moment.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from functools import partial
from itertools import chain, pairwise, repeat
from operator import is_

import numpy as np

from ..errors import ConfigError, NotFittedError
from ..validation import check_int, choice_error, message
from ._corpus import Corpus, encode, translate

__all__ = [
    "Tokenizer",
    "tokenizer_from_json",
    "text_to_word_sequence",
    "DEFAULT_FILTERS",
    "load",
]

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
MATRIX_MODES = ("binary", "count", "freq", "tfidf")
_SEP = "\x00"  # document separator inside a joined corpus


def text_to_word_sequence(text: str, filters: str = DEFAULT_FILTERS, lower: bool = True,
                          split: str = " ") -> list[str]:
    """Split one text into words exactly as Keras does.

    Lower-case, turn every filter character into ``split``, split on ``split`` and drop empty
    tokens.

    Examples
    --------
    >>> text_to_word_sequence("The cat sat on the mat.")
    ['the', 'cat', 'sat', 'on', 'the', 'mat']
    """
    if not isinstance(text, str):
        raise ConfigError(message("text", "a str", text, shown=type(text).__name__))
    _check_filters_split(filters, split)
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [t for t in text.split(split) if t]


def _check_filters_split(filters, split) -> None:
    if not isinstance(filters, str):
        raise ConfigError(message("filters", "a str", filters, shown=type(filters).__name__))
    if not isinstance(split, str) or not split:
        raise ConfigError(message("split", "a non-empty str", split))


def _index_rows(sequences, argument: str = "sequences") -> tuple[np.ndarray, np.ndarray]:
    """Lengths and concatenated items (int64) of word-index sequences, checked.

    Items must be whole numbers (ints, or floats such as ``2.0``); indices beyond int64 are
    clipped to its maximum (they are beyond any vocabulary, as Keras treats them).
    """
    if isinstance(sequences, str) or not hasattr(sequences, "__len__"):
        raise ConfigError(message(argument, "a list of sequences of word indices", sequences,
                                  shown=type(sequences).__name__))
    n = len(sequences)
    try:
        lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=n)
    except TypeError:
        bad = next(i for i, s in enumerate(sequences) if not hasattr(s, "__len__"))
        raise ConfigError(message(
            f"{argument}[{bad}]", "a sequence of word indices", sequences[bad],
            shown=f"{type(sequences[bad]).__name__} ({sequences[bad]!r:.40})")) from None
    items = partial(chain.from_iterable, sequences)
    try:
        flat = np.fromiter(items(), dtype=np.int64, count=int(lengths.sum()))
    except (TypeError, ValueError, OverflowError):
        flat = None
    if flat is None or not isinstance(sum(items()), int | np.integer):
        _check_indices(sequences, argument)  # raises on a non-index
        if flat is None:  # only ints beyond int64 are left
            big = np.iinfo(np.int64).max
            flat = np.fromiter((min(int(v), big) for v in items()), dtype=np.int64,
                               count=int(lengths.sum()))
    return lengths, flat


def _check_indices(sequences, argument: str) -> None:
    for i, seq in enumerate(sequences):
        for j, v in enumerate(seq):
            if isinstance(v, int | np.integer) or (
                    isinstance(v, float | np.floating) and float(v).is_integer()):
                continue
            raise ConfigError(message(f"{argument}[{i}][{j}]", "a word index (a whole number)",
                                      v, shown=f"{v!r:.40}"))


def _check_texts(texts, argument: str = "texts") -> list:
    if isinstance(texts, str):
        raise ConfigError(message(argument, "a list of strings", texts,
                                  shown="a single string", fix="Wrap it: [text]."))
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    try:
        texts = list(texts)
    except TypeError:
        raise ConfigError(message(argument, "a list of strings", texts,
                                  shown=type(texts).__name__)) from None
    for i, t in enumerate(texts):
        if isinstance(t, str):
            continue
        if isinstance(t, list) and all(isinstance(w, str) for w in t):
            continue  # Keras accepts pre-split texts (lists of words)
        raise ConfigError(message(argument, "strings (or lists of word strings)", t,
                                  verb="hold", shown=f"item {i} ({type(t).__name__}: {t!r:.60})"))
    return texts


class Tokenizer:
    """Turn texts into integer sequences or bag-of-words matrices, like Keras.

    Parameters
    ----------
    num_words : int, optional
        Keep only the ``num_words - 1`` most frequent words when encoding (index 0 is reserved).
        ``word_index`` always holds the full vocabulary.
    filters : str
        Characters removed from the texts (each becomes a split). Default: all ASCII
        punctuation except the apostrophe, plus tab and newline.
    lower : bool
        Lower-case the texts first.
    split : str
        Word separator.
    char_level : bool
        Treat every character as a token (filters are then not applied, as in Keras).
    oov_token : str, optional
        Token with index 1 that replaces out-of-vocabulary words in ``texts_to_sequences``.

    Attributes
    ----------
    word_counts : OrderedDict
        Word -> total count, in first-seen order.
    word_docs : dict
        Word -> number of documents containing it.
    word_index, index_word : dict
        Word -> rank (1 = most frequent) and back.
    index_docs : dict
        Rank -> document frequency.
    document_count : int
        Number of documents seen by ``fit_on_texts``.

    Examples
    --------
    >>> tok = Tokenizer(num_words=1000)
    >>> tok.fit_on_texts(["The cat sat on the mat.", "The dog ate my homework."])
    >>> tok.texts_to_sequences(["The cat sat on the mat.", "The dog ate my homework."])
    [[1, 2, 3, 4, 1, 5], [1, 6, 7, 8, 9]]
    >>> len(tok.word_index)
    9
    """

    def __init__(self, num_words: int | None = None, filters: str = DEFAULT_FILTERS,
                 lower: bool = True, split: str = " ", char_level: bool = False,
                 oov_token: str | None = None, document_count: int = 0):
        check_int(num_words, "num_words", low=1, allow_none=True)
        _check_filters_split(filters, split)
        check_int(document_count, "document_count", low=0)
        if oov_token is not None and not isinstance(oov_token, str):
            raise ConfigError(message("oov_token", "a str or None", oov_token))
        self.num_words = None if num_words is None else int(num_words)
        self.filters = filters
        self.lower = bool(lower)
        self.split = split
        self.char_level = bool(char_level)
        self.oov_token = oov_token
        self.document_count = int(document_count)
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: defaultdict[str, int] = defaultdict(int)
        self.index_docs: defaultdict[int, int] = defaultdict(int)
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}
        self._fitted: tuple | None = None  # (texts, tokenising options, Corpus) of last fit

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_fitted"] = None  # a cache, not state: never pickled
        return state

    # ------------------------------------------------------------------ tokenising
    def _tokenize(self, texts: list) -> list[list[str]]:
        """Token lists per text; empty tokens may remain (callers drop them)."""
        return list(self._iter_tokens(texts))

    def _iter_tokens(self, texts: list):
        """Yield each text's tokens; empty tokens may remain (callers drop them)."""
        if self.char_level or not all(isinstance(t, str) for t in texts):
            yield from map(self._tokenize_one, texts)
            return
        if not texts:
            return
        joined = _SEP.join(texts)
        if _SEP in self.filters or _SEP in self.split or joined.count(_SEP) != len(texts) - 1:
            yield from map(self._tokenize_one, texts)
            return
        if self.lower:
            joined = joined.lower()
        joined = translate(joined, self.filters, self.split)
        split = self.split
        for doc in joined.split(_SEP):
            yield doc.split(split)

    def _tokenize_one(self, text) -> list[str]:
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [w.lower() for w in text] if isinstance(text, list) else text.lower()
            return list(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    # ------------------------------------------------------------------ fitting
    def fit_on_texts(self, texts: Sequence[str]) -> None:
        """Update the vocabulary from a list of texts (several calls accumulate).

        Examples
        --------
        >>> tok = Tokenizer()
        >>> tok.fit_on_texts(["a b b", "b c"])
        >>> tok.word_index, dict(tok.word_docs) == {"a": 1, "b": 2, "c": 1}
        ({'b': 1, 'a': 2, 'c': 3}, True)
        """
        texts = _check_texts(texts)
        self.document_count += len(texts)
        corpus = self._encode(texts)
        _accumulate(self.word_counts, corpus.words, corpus.counts())  # first-seen order
        _accumulate(self.word_docs, corpus.words, corpus.doc_counts())
        if all(isinstance(t, str) for t in texts):  # immutable: safe to recognise later
            self._fitted = (texts, self._options(), corpus)
        self._rebuild_index()

    def _options(self) -> tuple:
        return (self.filters, self.lower, self.split, self.char_level)

    def _encode(self, texts: list) -> Corpus:
        """``texts`` as word ids; reuses ``fit_on_texts``'s work when they are its texts."""
        if self._fitted is not None:
            seen, options, corpus = self._fitted
            if (len(seen) == len(texts) and options == self._options()
                    and all(map(is_, seen, texts))):
                return corpus
        return encode(texts, self._tokenize_one, self.filters, self.lower, self.split,
                      self.char_level)

    def _rebuild_index(self) -> None:
        """Rank words by count (ties in first-seen order, like Keras's stable sort)."""
        words = list(self.word_counts)
        counts = np.fromiter(self.word_counts.values(), dtype=np.float64, count=len(words))
        order = np.argsort(-counts, kind="stable").tolist()
        sorted_voc = [] if self.oov_token is None else [self.oov_token]
        sorted_voc.extend(map(words.__getitem__, order))
        self.word_index = dict(zip(sorted_voc, range(1, len(sorted_voc) + 1)))
        self.index_word = dict(zip(self.word_index.values(), self.word_index))
        self.index_docs = defaultdict(int, zip(map(self.word_index.__getitem__, self.word_docs),
                                               self.word_docs.values()))

    def fit_on_sequences(self, sequences: Sequence[Sequence[int]]) -> None:
        """Update ``document_count`` and ``index_docs`` from integer sequences (for tfidf)."""
        lengths, flat = _index_rows(sequences)
        self.document_count += len(sequences)
        for row in np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else ():
            for i in set(row.tolist()):
                self.index_docs[i] += 1

    # ------------------------------------------------------------------ encoding
    def texts_to_sequences(self, texts: Sequence[str]) -> list[list[int]]:
        """Encode texts as lists of word indices.

        Words outside the vocabulary (or ranked ``>= num_words``) are dropped, or replaced by
        the index of ``oov_token`` when one is set.

        Examples
        --------
        >>> tok = Tokenizer(num_words=3)
        >>> tok.fit_on_texts(["b b b a a c"])
        >>> tok.texts_to_sequences(["a b c d"])
        [[2, 1]]
        """
        texts = _check_texts(texts)
        corpus = self._encode(texts)
        return _split_rows(self._index_table(corpus.words), corpus.ids, corpus.lengths)

    def _index_table(self, words: list) -> np.ndarray:
        """Output index of each of ``words`` (0 = dropped), after the num_words/OOV rules.

        As in Keras: a word ranked ``>= num_words``, like an unknown one, becomes the index of
        ``oov_token`` when there is one and is dropped otherwise.
        """
        index = np.fromiter(map(self.word_index.get, words, repeat(0, len(words))),
                            dtype=np.int64, count=len(words))
        if self.num_words:
            index[index >= self.num_words] = 0
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        if oov is not None:
            index[index == 0] = oov
        return index

    def texts_to_sequences_generator(self, texts: Iterable[str]):
        """Yield the encoding of each text in turn (Keras API)."""
        for text in texts:
            yield self.texts_to_sequences([text])[0]

    def sequences_to_texts(self, sequences: Sequence[Sequence[int]]) -> list[str]:
        """Turn index sequences back into space-joined texts (unknown indices dropped).

        Examples
        --------
        >>> tok = Tokenizer()
        >>> tok.fit_on_texts(["The cat sat."])
        >>> tok.sequences_to_texts([[1, 3, 99]])
        ['the sat']
        """
        lengths, flat = _index_rows(sequences)
        nw = self.num_words
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        out = []
        for seq in np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else ():
            vect = []
            for num in seq.tolist():
                word = self.index_word.get(int(num))
                if word is not None:
                    if nw and num >= nw:
                        if oov is not None:
                            vect.append(self.index_word[oov])
                    else:
                        vect.append(word)
                elif self.oov_token is not None:
                    vect.append(self.index_word[oov])
            out.append(" ".join(vect))
        return out

    # ------------------------------------------------------------------ matrices
    def _matrix_width(self) -> int:
        if self.num_words:
            return self.num_words
        if self.word_index:
            return len(self.word_index) + 1
        raise NotFittedError(
            "The Tokenizer has no vocabulary: give `num_words` or call fit_on_texts() first."
        )

    def texts_to_matrix(self, texts: Sequence[str], mode: str = "binary") -> np.ndarray:
        """Bag-of-words matrix of shape ``(len(texts), num_words)`` (float64).

        Examples
        --------
        >>> tok = Tokenizer()
        >>> tok.fit_on_texts(["a b b", "b c"])
        >>> tok.texts_to_matrix(["a b b"], mode="count")
        array([[0., 2., 1., 0.]])
        """
        if mode not in MATRIX_MODES:
            raise choice_error("mode", mode, MATRIX_MODES)
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences: Sequence[Sequence[int]],
                            mode: str = "binary") -> np.ndarray:
        """Bag-of-words matrix from index sequences.

        Modes: ``binary`` (1 if present), ``count``, ``freq`` (count / sequence length) and
        ``tfidf`` (``(1 + ln c) * ln(1 + document_count / (1 + doc_freq))``). Indices
        ``>= num_words`` are skipped.

        Examples
        --------
        >>> Tokenizer(num_words=4).sequences_to_matrix([[1, 1, 3]], mode="freq")
        array([[0.        , 0.66666667, 0.        , 0.33333333]])
        """
        if mode not in MATRIX_MODES:
            raise choice_error("mode", mode, MATRIX_MODES)
        width = self._matrix_width()
        if mode == "tfidf" and not self.document_count:
            raise NotFittedError("Fit the Tokenizer on some texts before using mode='tfidf'.")
        lengths, flat = _index_rows(sequences)
        n = len(lengths)
        if flat.size and flat.min() < 0:
            pos = int(np.argmax(flat < 0))
            row = int(np.searchsorted(np.cumsum(lengths), pos, side="right"))
            raise ConfigError(message(f"sequences[{row}][{pos - int(lengths[:row].sum())}]",
                                      "a word index >= 0", int(flat[pos])))
        rows = np.repeat(np.arange(n), lengths)
        keep = flat < width
        x = np.zeros((n, width))
        np.add.at(x, (rows[keep], flat[keep]), 1.0)
        if mode == "count":
            return x
        present = x > 0
        if mode == "binary":
            return present.astype(np.float64)
        if mode == "freq":
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(present, x / np.maximum(lengths, 1)[:, None], 0.0)
        docs = np.zeros(width)
        for j, c in self.index_docs.items():
            if 0 <= j < width:
                docs[j] = c
        idf = np.log(1 + self.document_count / (1 + docs))
        with np.errstate(divide="ignore"):
            tf = 1 + np.log(np.where(present, x, 1.0))
        return np.where(present, tf * idf, 0.0)

    # ------------------------------------------------------------------ JSON
    def get_config(self) -> dict:
        """Keras's config dict (the vocabulary tables as JSON strings)."""
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }

    def to_json(self, **kwargs) -> str:
        """JSON string readable by ``tokenizer_from_json`` here and in Keras.

        Examples
        --------
        >>> tok = Tokenizer(); tok.fit_on_texts(["a b b"])
        >>> tokenizer_from_json(tok.to_json()).word_index
        {'b': 1, 'a': 2}
        """
        return json.dumps({"class_name": "Tokenizer", "config": self.get_config()}, **kwargs)

    def save(self, path: str | os.PathLike) -> None:
        """Write ``to_json()`` to ``path`` atomically."""
        from ..utils import atomic_write  # imports torch: only when writing

        with atomic_write(path, "w") as fh:
            fh.write(self.to_json())

    def __repr__(self) -> str:
        return (f"Tokenizer(num_words={self.num_words!r}, vocabulary={len(self.word_index)}, "
                f"document_count={self.document_count})")


def _accumulate(table: dict, words: list, values: np.ndarray) -> None:
    """``table[w] += v`` for each word (new words appended in order)."""
    values = values.tolist()
    if not table:
        table.update(zip(words, values))
        return
    get = table.get
    for w, v in zip(words, values):
        table[w] = get(w, 0) + v


def _split_rows(index: np.ndarray, ids: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    """Rows of ``index[ids]`` as lists of ints, zeros dropped (``lengths[i]`` ids per row).

    The values are taken from an object array of one Python int per word, so all occurrences
    of an index share one int object: no int is made per token. Each row is its own slice's
    ``tolist`` (no flat list of all tokens, which the garbage collector would walk again and
    again while the rows are made).
    """
    drop = (index == 0)[ids]
    dropped = np.flatnonzero(drop)
    if dropped.size:
        lengths = lengths - np.diff(np.searchsorted(dropped, np.cumsum(lengths)), prepend=0)
        ids = ids[~drop]
    values = index.astype(object)[ids]
    bounds = [0]
    bounds.extend(np.cumsum(lengths).tolist())
    return [values[a:b].tolist() for a, b in pairwise(bounds)]


_JSON_TABLES = ("word_counts", "word_docs", "index_docs", "index_word", "word_index")
_JSON_OPTIONS = ("num_words", "filters", "lower", "split", "char_level", "oov_token",
                 "document_count")


def tokenizer_from_json(json_string: str) -> Tokenizer:
    """Rebuild a Tokenizer from ``Tokenizer.to_json()`` (or Keras's ``to_json``).

    Examples
    --------
    >>> tok = Tokenizer(num_words=5); tok.fit_on_texts(["x y y"])
    >>> tokenizer_from_json(tok.to_json()).num_words
    5
    """
    return _from_json(json_string, "`json_string`")


def _from_json(text, source: str) -> Tokenizer:
    def bad(why) -> ConfigError:
        return ConfigError(f"{source} is not a Tokenizer JSON (as written by Tokenizer.to_json "
                           f"or Keras's): {why}.")

    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError included
        raise bad(exc) from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise bad("expected an object with a 'config' object")
    missing = [k for k in _JSON_TABLES if k not in config]
    unknown = sorted(set(config) - set(_JSON_TABLES) - set(_JSON_OPTIONS))
    if missing or unknown:
        raise bad(f"its config lacks {missing}" if missing else f"unknown config keys {unknown}")
    tables = {name: _json_table(config[name], name, bad) for name in _JSON_TABLES}
    tok = Tokenizer(**{k: config[k] for k in _JSON_OPTIONS if k in config})
    tok.word_counts = tables["word_counts"]
    tok.word_docs = defaultdict(int, tables["word_docs"])
    tok.index_docs = defaultdict(int, tables["index_docs"])
    tok.word_index = dict(tables["word_index"])
    tok.index_word = tables["index_word"]
    return tok


def _json_table(text, name: str, bad) -> dict:
    """One vocabulary table of the config: a JSON object in a string (int keys for index_*)."""
    why = None
    try:
        table = json.loads(text, object_pairs_hook=OrderedDict)
        if isinstance(table, dict) and name.startswith("index_"):
            table = {int(k): v for k, v in table.items()}
    except (TypeError, ValueError) as exc:
        why = exc
    else:
        if not isinstance(table, dict):
            why = f"a JSON {type(table).__name__}, not an object"
        elif name != "index_word" and not all(isinstance(v, int) for v in table.values()):
            why = "values must be ints"
    if why is not None:
        raise bad(f"`{name}` must be a string holding a JSON object ({why})")
    return table


def load(path: str | os.PathLike) -> Tokenizer:
    """Read a tokenizer written by ``Tokenizer.save``.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "tok.json")
    >>> tok = Tokenizer(); tok.fit_on_texts(["a b b"]); tok.save(p)
    >>> load(p).word_index
    {'b': 1, 'a': 2}
    """
    from ..datasets._files import existing_file

    file = existing_file(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise ConfigError(message("path", "a readable file", os.fspath(path), "load",
                                  shown=f"{os.fspath(path)!r} ({exc})")) from None
    return _from_json(text, f"The file {os.fspath(path)!r} (`path`)")
