"""The Tokenizer's and pad_sequences's fast paths against keras-preprocessing and Keras 3.

Tokenising runs in chunks of texts (``_corpus._CHUNK_BYTES``), ``texts_to_sequences``
reuses the tokenising of the texts last fitted, and ``pad_sequences`` cuts long sequences
with numpy: each must give exactly what Keras gives.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statdl.text import Tokenizer, _corpus, pad_sequences

TEXTS = [
    "The cat sat on the mat.", "A cat, a dog\tand a bird...", "", "   ",
    "Short words and extraordinarily long ones: internationalization, counterrevolutionaries.",
    "ABCDEFGH abcdefgh abcdefghi ABCDEFGHIJKLMNOP abcdefghijklmnopq",
    "ΣΟΦΟΣ σοφος ΟΔΥΣΣΕΥΣ café CAFÉ naïve İstanbul ﬁne",
    "y" * 16 + " " + "y" * 17 + " " + "y" * 9, "the the the end",
]
OTHER = ["a dog and a cat", "Unknown words, internationalization and the end", "σοφος"]


@pytest.fixture
def keras_text():
    return pytest.importorskip("keras_preprocessing.text")


@pytest.fixture
def tiny_chunks(monkeypatch):
    monkeypatch.setattr(_corpus, "_CHUNK_BYTES", 24)  # a few texts per chunk at most


def assert_same_fit(ours, ref) -> None:
    assert list(ours.word_counts.items()) == list(ref.word_counts.items())
    assert dict(ours.word_docs) == dict(ref.word_docs)
    assert dict(ours.index_docs) == dict(ref.index_docs)
    assert ours.word_index == ref.word_index and ours.index_word == ref.index_word


@pytest.mark.parametrize("kwargs", [
    {}, {"num_words": 6, "oov_token": "<oov>"}, {"num_words": 3, "oov_token": "the"},
    {"lower": False}, {"split": "a"}, {"filters": "", "split": "\t"},
])
def test_tokenising_in_chunks_equals_keras(keras_text, tiny_chunks, kwargs):
    ours, ref = Tokenizer(**kwargs), keras_text.Tokenizer(**kwargs)
    texts = TEXTS * 20  # over 64 texts: several blocks of the document counts too
    for tok in (ours, ref):
        tok.fit_on_texts(texts)
    assert_same_fit(ours, ref)
    assert ours.texts_to_sequences(texts) == ref.texts_to_sequences(texts)
    assert ours.texts_to_sequences(OTHER) == ref.texts_to_sequences(OTHER)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,\nΣσé", max_size=40), max_size=60),
       st.integers(1, 20), st.integers(1, 64))
def test_random_corpora_in_random_chunks_equal_keras(texts, num_words, chunk_bytes):
    keras_text = pytest.importorskip("keras_preprocessing.text")
    ours, ref = Tokenizer(num_words=num_words), keras_text.Tokenizer(num_words=num_words)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_corpus, "_CHUNK_BYTES", chunk_bytes)
        ours.fit_on_texts(texts)
    ref.fit_on_texts(texts)
    assert_same_fit(ours, ref)
    assert ours.texts_to_sequences(texts) == ref.texts_to_sequences(texts)


def test_a_nul_character_in_a_later_chunk_falls_back(keras_text, tiny_chunks):
    texts = [*TEXTS, "a\x00b c", "c d d"]
    ours, ref = Tokenizer(), keras_text.Tokenizer()
    for tok in (ours, ref):
        tok.fit_on_texts(texts)
    assert_same_fit(ours, ref)
    assert ours.texts_to_sequences(texts) == ref.texts_to_sequences(texts)


def test_a_nul_filter_is_a_separator_on_the_fast_path(keras_text):
    texts = ["a\x00b c", "c\x00\x00 d d", "plain text"]
    ours, ref = Tokenizer(filters="\x00."), keras_text.Tokenizer(filters="\x00.")
    for tok in (ours, ref):
        tok.fit_on_texts(texts)
    assert_same_fit(ours, ref)
    assert ours.texts_to_sequences(texts) == ref.texts_to_sequences(texts)


def test_encoding_the_fitted_texts_follows_the_current_vocabulary(keras_text):
    first, second = TEXTS[:5], OTHER * 4  # the second fit reorders the word index
    ours, ref = Tokenizer(num_words=8, oov_token="?"), keras_text.Tokenizer(num_words=8,
                                                                            oov_token="?")
    for tok in (ours, ref):
        tok.fit_on_texts(first)
    assert ours.texts_to_sequences(first) == ref.texts_to_sequences(first)
    for tok in (ours, ref):
        tok.fit_on_texts(second)
    assert ours._fitted[0] == second
    assert ours.texts_to_sequences(first) == ref.texts_to_sequences(first)  # tokenised anew
    assert ours.texts_to_sequences(second) == ref.texts_to_sequences(second)  # reused
    for tok in (ours, ref):
        tok.num_words, tok.oov_token = 4, None  # changed rules apply to the reused ids too
    assert ours.texts_to_sequences(second) == ref.texts_to_sequences(second)


def test_sequences_hold_python_ints():
    tok = Tokenizer(num_words=3)
    tok.fit_on_texts(["b b b a a c", "c a"])
    seqs = tok.texts_to_sequences(["a b c d", "", "b"])
    assert seqs == [[2, 1], [], [1]]
    assert all(type(i) is int for seq in seqs for i in seq)


@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_pad_sequences_cuts_like_keras3(monkeypatch, padding, truncating):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 100, n).tolist() for n in rng.integers(0, 12, 200)]
    for maxlen in (1, 5, 11, 12, None):
        ours = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating)
        ref = keras.utils.pad_sequences(seqs, maxlen=maxlen, padding=padding,
                                        truncating=truncating)
        assert ours.dtype == ref.dtype
        np.testing.assert_array_equal(ours, ref)
