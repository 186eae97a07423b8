"""IMDB movie reviews (Maas et al., 2011) encoded as Keras's ``imdb.load_data`` does.

Built from the raw ``aclImdb`` reviews (a ``.tar.gz`` or an extracted folder), not from
Keras's pre-encoded ``imdb.npz``:

* reviews are ordered by split, then label (neg = 0 before pos = 1), then numeric file id;
* ``<br />`` tags (any ``<br>``, ``<br/>`` spelling) are replaced by a space before tokenising (otherwise ``br`` becomes one of
  the most frequent "words");
* the word index is statdl's :class:`~statdl.text.Tokenizer` (the legacy Keras tokenizer:
  default filters, lower-case) fitted on the 25,000 training reviews; rank 1 = most frequent,
  ties in first-seen order;
* test words never seen in training have no rank: they become ``oov_char`` (or are dropped
  when ``oov_char=None``), like words ranked beyond ``num_words``.

The rank-encoded reviews are cached as ``.npz`` in the cache folder, so later calls skip the
tokenising.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import zipfile
import zlib
from itertools import chain, repeat
from pathlib import Path

import numpy as np

from .. import validation
from ..errors import ConfigError
from ..text.tokenizer import Tokenizer
from ._files import (
    DataFileError,
    FileSpec,
    cache_dir,
    check_path,
    explicit_file,
    find_local,
    resolve,
)

__all__ = ["imdb", "imdb_texts", "imdb_word_index", "IMDB_FILES"]

IMDB_FILES = (
    FileSpec("aclImdb_labeled.tar.gz", "imdb", ("f8628f111dd303d584161d1096ba7546",)),
    FileSpec("aclImdb_v1.tar.gz", "imdb", ("7c2ac02c03563afcf9b574c7e56c153a",)),
)
_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_CACHE_VERSION = "v2"

Texts = tuple[list[str], np.ndarray]


# ----------------------------------------------------------------------------- raw texts
def _source(path: str | os.PathLike | None) -> Path:
    """The aclImdb folder or tarball to read (a tarball of a known name is MD5-checked)."""
    p = check_path(path)
    if p is not None:
        if p.is_dir():
            if (p / "aclImdb").is_dir():
                return p / "aclImdb"
            if (p / "train").is_dir() and (p / "test").is_dir():
                return p
            for spec in IMDB_FILES:
                if (p / spec.name).is_file():
                    return explicit_file(spec, p)
            raise DataFileError(
                f"`path` {os.fspath(path)!r} holds neither an aclImdb folder nor "
                f"{IMDB_FILES[0].name!r} / {IMDB_FILES[1].name!r}."
            )
        if p.is_file():
            spec = next((s for s in IMDB_FILES if s.name == p.name), None)
            return p if spec is None else explicit_file(spec, p)
        raise DataFileError(f"`path` {os.fspath(path)!r} does not exist.")
    for spec in IMDB_FILES:
        local = find_local(spec)
        if local is not None:
            return local
    data = os.environ.get("STATDL_DATA")
    if data:
        for cand in (Path(data) / "imdb" / "aclImdb", Path(data) / "aclImdb"):
            if cand.is_dir():
                return cand
    return resolve(IMDB_FILES[1])  # download the canonical tarball (MD5-checked)


def _read_reviews(src: Path) -> dict[str, list[tuple[int, int, str]]]:
    out: dict[str, list[tuple[int, int, str]]] = {"train": [], "test": []}
    if src.is_dir():
        for split in ("train", "test"):
            for label, folder in ((0, "neg"), (1, "pos")):
                d = src / split / folder
                if not d.is_dir():
                    raise DataFileError(f"IMDB folder {d} is missing.")
                for f in d.iterdir():
                    m = _MEMBER.search(f"aclImdb/{split}/{folder}/{f.name}")
                    if m:
                        out[split].append((label, int(m.group(3)), f.read_text("utf-8")))
    else:
        try:
            with tarfile.open(src, "r:*") as tar:
                for member in tar:
                    m = _MEMBER.search(member.name)
                    if m and member.isfile():
                        fh = tar.extractfile(member)
                        text = io.TextIOWrapper(fh, encoding="utf-8").read()
                        out[m.group(1)].append((int(m.group(2) == "pos"), int(m.group(3)), text))
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataFileError(f"{src} is not a readable IMDB tarball: {exc}") from None
    for split, rows in out.items():
        if not rows:
            raise DataFileError(f"{src} holds no aclImdb/{split}/{{pos,neg}}/*.txt reviews.")
        rows.sort(key=lambda r: (r[0], r[1]))
    return out


def imdb_texts(path: str | os.PathLike | None = None) -> tuple[Texts, Texts]:
    """The raw IMDB reviews: ``((texts_train, y_train), (texts_test, y_test))``.

    Texts are the files' contents unchanged (``"<br />"`` tags included), ordered neg then pos,
    by file id; labels are int64 0 (negative) / 1 (positive).

    Examples
    --------
    >>> (texts, y), _ = imdb_texts()   # doctest: +SKIP
    >>> len(texts), y.mean()            # doctest: +SKIP
    (25000, 0.5)
    """
    reviews = _read_reviews(_source(path))
    out = []
    for split in ("train", "test"):
        rows = reviews[split]
        out.append(([r[2] for r in rows], np.array([r[0] for r in rows], dtype=np.int64)))
    return out[0], out[1]


# ----------------------------------------------------------------------------- encoding
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def _clean(texts: list[str]) -> list[str]:
    return [_BR.sub(" ", t) for t in texts]


def _cache_path(src: Path) -> Path:
    st = src.stat()
    ident = f"{src.name}|{st.st_size}" if src.is_file() else f"{src.resolve()}|{st.st_mtime_ns}"
    key = hashlib.md5(ident.encode()).hexdigest()[:12]
    return cache_dir() / "imdb" / f"imdb-encoded-{_CACHE_VERSION}-{key}.npz"


def _encode(src: Path) -> dict[str, np.ndarray]:
    (tr_texts, y_tr), (te_texts, y_te) = imdb_texts(src)
    tok = Tokenizer()
    tok.fit_on_texts(_clean(tr_texts))
    lookup = dict(tok.word_index)
    lookup[""] = -1  # empty tokens between separators: dropped
    arrays: dict[str, np.ndarray] = {}
    for name, texts, y in (("train", tr_texts, y_tr), ("test", te_texts, y_te)):
        docs = tok._tokenize(_clean(texts))
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        flat = np.fromiter(map(lookup.get, chain.from_iterable(docs), repeat(0)),
                           dtype=np.int64, count=int(lengths.sum()))
        keep = flat >= 0  # 0 = unknown word (kept, becomes OOV), -1 = empty token
        row = np.repeat(np.arange(len(docs)), lengths)
        arrays[f"{name}_flat"] = flat[keep].astype(np.int32)
        arrays[f"{name}_len"] = np.bincount(row[keep], minlength=len(docs)).astype(np.int64)
        arrays[f"y_{name}"] = y
    words = "\n".join(tok.word_index)
    arrays["words"] = np.frombuffer(words.encode("utf-8"), dtype=np.uint8)
    return arrays


def _load_encoded(path: str | os.PathLike | None) -> dict[str, np.ndarray]:
    src = _source(path)
    cache = _cache_path(src)
    if cache.is_file():
        arrays = _read_cache(cache)
        if arrays is not None:
            return arrays
    from ..utils import atomic_write  # imports torch: only when writing

    arrays = _encode(src)
    with atomic_write(cache, "wb") as fh:
        np.savez(fh, **arrays)
    return arrays


_ENCODED = ("train_flat", "train_len", "y_train", "test_flat", "test_len", "y_test", "words")


def _read_cache(cache: Path) -> dict[str, np.ndarray] | None:
    """The encoded reviews in ``cache``; ``None`` (the file deleted) when it is damaged."""
    try:
        with np.load(cache) as f:
            arrays = {k: f[k] for k in f.files}
        if set(_ENCODED) - arrays.keys():
            raise ValueError(f"arrays {sorted(set(_ENCODED) - arrays.keys())} are missing")
        return arrays
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        why = exc
    try:
        cache.unlink(missing_ok=True)  # rebuilt from the reviews by the caller
    except OSError as exc:
        raise DataFileError(
            f"The IMDB cache {cache} is damaged ({why}) and cannot be deleted ({exc}); delete "
            "it by hand: it is rebuilt from the reviews."
        ) from None
    return None


def imdb_word_index(path: str | os.PathLike | None = None) -> dict[str, int]:
    """Word -> frequency rank (1 = most frequent) over the training reviews, as Keras's
    ``imdb.get_word_index()`` (no ``index_from`` offset).

    Examples
    --------
    >>> wi = imdb_word_index()   # doctest: +SKIP
    >>> wi["the"]                # doctest: +SKIP
    1
    """
    words = _load_encoded(path)["words"].tobytes().decode("utf-8").split("\n")
    return {w: i for i, w in enumerate(words, start=1)}


def _check_int(value, name: str, minimum: int, allow_none: bool) -> int | None:
    return validation.check_int(value, name, low=minimum, allow_none=allow_none)


def imdb(num_words: int | None = None, skip_top: int = 0, maxlen: int | None = None,
         start_char: int | None = 1, oov_char: int | None = 2, index_from: int = 3,
         seed: int = 113, path: str | os.PathLike | None = None):
    """IMDB reviews as integer sequences, with the rules of Keras's ``imdb.load_data``.

    Parameters
    ----------
    num_words : int, optional
        Keep ids ``< num_words`` (ids are ranks shifted by ``index_from``, so 10000 keeps ranks
        1..9996); others become ``oov_char``.
    skip_top : int
        Ids ``< skip_top`` also become ``oov_char``.
    maxlen : int, optional
        Drop (not cut) reviews whose length, start mark included, is ``>= maxlen``.
    start_char, oov_char : int or None
        Mark prepended to every review; id of out-of-vocabulary words (``None`` drops them).
    index_from : int
        Offset added to every rank.
    seed : int
        Seed of the ``numpy.random.RandomState`` shuffle of train and of test.
    path : str, optional
        The aclImdb tarball or folder; found as described in ``statdl.datasets`` otherwise.

    Returns
    -------
    ((x_train, y_train), (x_test, y_test))
        ``x`` are 1-D object arrays holding one int32 array per review (Keras holds lists;
        arrays load ~10x faster and work the same with ``pad_sequences``, ``len`` and
        indexing; ``x[i].tolist()`` gives the list); ``y`` are int64 arrays of 0/1.

    Examples
    --------
    >>> (x_train, y_train), (x_test, y_test) = imdb(num_words=10000)  # doctest: +SKIP
    >>> len(x_train), x_train[0][0]                                      # doctest: +SKIP
    (25000, 1)
    """
    num_words = _check_int(num_words, "num_words", 1, True)
    skip_top = _check_int(skip_top, "skip_top", 0, False)
    maxlen = _check_int(maxlen, "maxlen", 1, True)
    start_char = _check_int(start_char, "start_char", 0, True)
    oov_char = _check_int(oov_char, "oov_char", 0, True)
    index_from = _check_int(index_from, "index_from", 0, False)
    seed = _check_int(seed, "seed", 0, False)
    enc = _load_encoded(path)
    rng = np.random.RandomState(seed)
    parts = []
    for name in ("train", "test"):
        flat, lengths, y = enc[f"{name}_flat"], enc[f"{name}_len"], enc[f"y_{name}"]
        order = np.arange(len(lengths))
        rng.shuffle(order)  # rows are reordered only when the views are made, at the end
        ids = flat + np.int32(index_from)
        ids[flat == 0] = -1  # unknown word: beyond any num_words, becomes oov_char
        if start_char is not None:
            ids = np.insert(ids, _starts(lengths), start_char)
            lengths = lengths + 1
        keep_row = np.ones(len(lengths), dtype=bool)
        if maxlen is not None:
            keep_row = lengths < maxlen
            if not keep_row.any():
                raise ConfigError(validation.message(
                    "maxlen", f"above the length of at least one {name} review", maxlen, "imdb",
                    "Increase it.", shown=f"{maxlen}, which leaves no {name} review (every "
                                          f"one has >= {maxlen} ids)"))
        parts.append([ids, lengths, y, order[keep_row[order]], keep_row])
    top = num_words
    if top is None:  # Keras: the largest id over the reviews kept
        top = 1 + max(int(ids[np.repeat(keep, lengths)].max(initial=0))
                      for ids, lengths, _, _, keep in parts)
    out = []
    for ids, lengths, y, order, _ in parts:
        ok = (ids >= skip_top) & (ids < top)
        if oov_char is not None:
            ids = np.where(ok, ids, np.int32(oov_char))
        else:
            row = np.repeat(np.arange(len(lengths)), lengths)
            ids = ids[ok]
            lengths = np.bincount(row[ok], minlength=len(lengths))
        out.append((_to_object(ids, lengths, order), y[order]))
    return out[0], out[1]


def _starts(lengths: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)


def _to_object(flat: np.ndarray, lengths: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rows ``order`` as int32 arrays (views of one buffer) in a 1-D object array."""
    buf = flat.astype(np.int32, copy=False)
    starts = _starts(lengths)
    ends = (starts + lengths).tolist()
    starts = starts.tolist()
    out = np.empty(len(order), dtype=object)
    for i, r in enumerate(order.tolist()):
        out[i] = buf[starts[r]:ends[r]]
    return out
