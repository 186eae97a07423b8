"""Tokenizer, pad_sequences and embeddings: definitions, invariants and the real Keras peers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statdl.errors import ConfigError
from statdl.text import Tokenizer, load, load_embeddings, pad_sequences, tokenizer_from_json

SAMPLES = ["The cat sat on the mat.", "The dog ate my homework."]
CORPUS = [
    "The cat sat on the mat.", "The dog ate my homework!", "A cat, a dog\tand a bird...",
    "it's   the   cat's mat", "", "UPPER case Words, upper CASE", "tab\there\nnewline ok",
    "émigré café naïve café", "x" * 3, "the the the end",
]


def test_course_example():
    tok = Tokenizer(num_words=1000)
    tok.fit_on_texts(SAMPLES)
    assert tok.texts_to_sequences(SAMPLES) == [[1, 2, 3, 4, 1, 5], [1, 6, 7, 8, 9]]
    assert len(tok.word_index) == 9
    assert tok.word_index == {"the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5, "dog": 6,
                              "ate": 7, "my": 8, "homework": 9}


def test_num_words_keeps_top_minus_one_and_oov():
    tok = Tokenizer(num_words=3, oov_token="<unk>")
    tok.fit_on_texts(["a a a b b c"])
    # oov gets index 1 and counts toward num_words: only 'a' (2) survives
    assert tok.word_index == {"<unk>": 1, "a": 2, "b": 3, "c": 4}
    assert tok.texts_to_sequences(["a b c zzz"]) == [[2, 1, 1, 1]]
    assert tok.sequences_to_texts([[2, 3, 9]]) == ["a <unk> <unk>"]


def test_matrix_modes_by_definition():
    tok = Tokenizer()
    tok.fit_on_texts(["a b b", "b c"])  # index: b=1, a=2, c=3; docs: b 2, a 1, c 1
    seqs = [[2, 1, 1]]
    np.testing.assert_array_equal(tok.sequences_to_matrix(seqs, "count"), [[0, 2, 1, 0]])
    np.testing.assert_array_equal(tok.sequences_to_matrix(seqs, "binary"), [[0, 1, 1, 0]])
    np.testing.assert_allclose(tok.sequences_to_matrix(seqs, "freq"), [[0, 2 / 3, 1 / 3, 0]])
    tfidf = tok.sequences_to_matrix(seqs, "tfidf")
    expect_b = (1 + math.log(2)) * math.log(1 + 2 / (1 + 2))
    expect_a = (1 + math.log(1)) * math.log(1 + 2 / (1 + 1))
    np.testing.assert_allclose(tfidf, [[0, expect_b, expect_a, 0]])


def test_json_round_trip(tmp_path):
    tok = Tokenizer(num_words=7, oov_token="?")
    tok.fit_on_texts(CORPUS)
    path = tmp_path / "tok.json"
    tok.save(path)
    back = load(path)
    assert back.word_index == tok.word_index and back.num_words == 7
    assert back.texts_to_sequences(CORPUS) == tok.texts_to_sequences(CORPUS)
    assert json.loads(tok.to_json())["class_name"] == "Tokenizer"


@pytest.mark.parametrize("bad, match", [
    ({"num_words": 0}, "`num_words` must be an int >= 1 or None; got 0."),
    ({"num_words": 2.5}, "`num_words`"),
    ({"split": ""}, "`split`"),
])
def test_tokenizer_bad_arguments(bad, match):
    with pytest.raises(ConfigError, match=match.replace("(", r"\(").replace(")", r"\)")):
        Tokenizer(**bad)


def test_non_string_texts_are_rejected():
    tok = Tokenizer()
    with pytest.raises(ConfigError, match=r"got item 1 \(int: 3\)"):
        tok.fit_on_texts(["ok", 3])
    with pytest.raises(ConfigError, match="single string"):
        tok.fit_on_texts("just one string")
    with pytest.raises(ConfigError, match="`mode` must be one of"):
        tok.fit_on_texts(["a"]) or tok.texts_to_matrix(["a"], mode="onehot")


def test_pad_sequences_definition():
    seqs = [[1, 2, 3, 4], [5], []]
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=3),
                                  [[2, 3, 4], [0, 0, 5], [0, 0, 0]])
    np.testing.assert_array_equal(
        pad_sequences(seqs, maxlen=3, padding="post", truncating="post", value=-1),
        [[1, 2, 3], [5, -1, -1], [-1, -1, -1]])
    assert pad_sequences(seqs).shape == (3, 4) and pad_sequences(seqs).dtype == np.int32


@pytest.mark.parametrize("kwargs, match", [
    ({"maxlen": 0}, "`maxlen` must be an int >= 1 or None; got 0."),
    ({"padding": "middle"}, "`padding` must be one of"),
    ({"truncating": "x"}, "`truncating` must be one of"),
])
def test_pad_sequences_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match.replace("(", r"\(").replace(")", r"\)")):
        pad_sequences([[1, 2]], **kwargs)


def test_pad_sequences_rejects_non_sequences():
    with pytest.raises(ConfigError, match=r"`sequences` must hold sequences; got item 1 \(int"):
        pad_sequences([[1], 5])
    with pytest.raises(ConfigError, match="steps of shape"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]])


# ---------------------------------------------------------------------- properties
words = st.text(alphabet="abcde .,!\n'", max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(words, max_size=8), st.integers(1, 6))
def test_tokenizer_invariants(texts, num_words):
    tok = Tokenizer(num_words=num_words)
    tok.fit_on_texts(texts)
    assert tok.document_count == len(texts)
    assert sorted(tok.word_index.values()) == list(range(1, len(tok.word_index) + 1))
    counts = [tok.word_counts[w] for w in tok.word_index]
    assert counts == sorted(counts, reverse=True)
    for seq in tok.texts_to_sequences(texts):
        assert all(1 <= i < num_words for i in seq)
    for w, d in tok.word_docs.items():
        assert 1 <= d <= min(tok.word_counts[w], len(texts))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), max_size=12), min_size=1, max_size=8),
       st.integers(1, 10), st.sampled_from(["pre", "post"]), st.sampled_from(["pre", "post"]))
def test_pad_sequences_matches_the_definition(seqs, maxlen, padding, truncating):
    out = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating, value=-7)
    for row, s in zip(out, seqs):
        kept = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        pad = [-7] * (maxlen - len(kept))
        assert row.tolist() == (pad + kept if padding == "pre" else kept + pad)


# ---------------------------------------------------------------------- peers
@pytest.fixture
def keras_text():
    return pytest.importorskip("keras_preprocessing.text")


@pytest.mark.parametrize("kwargs", [
    {}, {"num_words": 5}, {"num_words": 4, "oov_token": "<oov>"}, {"lower": False},
    {"char_level": True}, {"filters": "", "split": "a"}, {"oov_token": "the"},
])
def test_tokenizer_equals_keras_preprocessing(keras_text, kwargs):
    ours, ref = Tokenizer(**kwargs), keras_text.Tokenizer(**kwargs)
    for tok in (ours, ref):
        tok.fit_on_texts(CORPUS[:6])
        tok.fit_on_texts(CORPUS[6:])  # accumulation across calls
    assert ours.word_index == ref.word_index
    assert list(ours.word_counts.items()) == list(ref.word_counts.items())
    assert dict(ours.word_docs) == dict(ref.word_docs)
    assert dict(ours.index_docs) == dict(ref.index_docs)
    new = CORPUS + ["unknown words here", "the cat"]
    assert ours.texts_to_sequences(new) == ref.texts_to_sequences(new)
    seqs = ref.texts_to_sequences(new)
    assert ours.sequences_to_texts(seqs) == ref.sequences_to_texts(seqs)
    if not kwargs.get("char_level"):
        for mode in ("binary", "count", "freq", "tfidf"):
            np.testing.assert_allclose(ours.texts_to_matrix(new, mode),
                                       ref.texts_to_matrix(new, mode), rtol=1e-12)
    # JSON is interchangeable both ways
    assert keras_text.tokenizer_from_json(ours.to_json()).word_index == ref.word_index
    assert tokenizer_from_json(ref.to_json()).texts_to_sequences(new) == \
        ref.texts_to_sequences(new)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=6), st.integers(1, 8))
def test_tokenizer_equals_keras_on_arbitrary_unicode(texts, num_words):
    keras_text = pytest.importorskip("keras_preprocessing.text")
    ours, ref = Tokenizer(num_words=num_words), keras_text.Tokenizer(num_words=num_words)
    ours.fit_on_texts(texts)
    ref.fit_on_texts(texts)
    assert ours.word_index == ref.word_index
    assert ours.texts_to_sequences(texts) == ref.texts_to_sequences(texts)


@pytest.fixture
def keras_pad(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    return keras.utils.pad_sequences


@pytest.mark.parametrize("kwargs", [
    {}, {"maxlen": 3}, {"maxlen": 6, "padding": "post"}, {"maxlen": 2, "truncating": "post"},
    {"maxlen": 4, "value": 9, "dtype": "float32"}, {"dtype": "int64", "value": -1},
])
def test_pad_sequences_equals_keras3(keras_pad, kwargs):
    seqs = [[1, 2, 3, 4, 5], [], [7], [8, 9, 10]]
    ours, ref = pad_sequences(seqs, **kwargs), keras_pad(seqs, **kwargs)
    assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(ours, ref)


# ---------------------------------------------------------------------- embeddings
def test_load_embeddings_aligns_rows(tmp_path):
    p = tmp_path / "vec.txt"
    p.write_text("3 2\nthe 0.5 1.5\ncat -1 2\nzebra 9 9\n")  # word2vec header
    tok = Tokenizer()
    tok.fit_on_texts(["the cat the dog"])  # the=1, cat=2, dog=3
    emb = load_embeddings(p, tok.word_index, dim=2)
    np.testing.assert_array_equal(emb.matrix, [[0, 0], [0.5, 1.5], [-1, 2], [0, 0]])
    assert emb.found == 2 and emb.missing == ["dog"]
    rnd = load_embeddings(p, tok.word_index, dim=2, unknown="random", seed=0)
    assert np.all(rnd.matrix[3] != 0)
    small = load_embeddings(p, tok.word_index, dim=2, num_words=2)
    assert small.matrix.shape == (2, 2) and small.missing == []


def test_load_embeddings_wrong_dim(tmp_path):
    p = tmp_path / "vec.txt"
    p.write_text("the 1 2 3\n")
    with pytest.raises(ConfigError, match=r"`dim` of load_embeddings must be the count of "
                                          r"numbers after each word in .*; got 2, but line 1 "
                                          r"has 3\."):
        load_embeddings(p, {"the": 1}, dim=2)


# ---------------------------------------------------------------------- fast paths
LONG_CORPUS = [
    "Short words and extraordinarily long ones: internationalization, counterrevolutionaries.",
    "ABCDEFGH abcdefgh abcdefghi ABCDEFGHIJKLMNOP abcdefghijklmnopq " * 2,
    "ΣΟΦΟΣ σοφος ΟΔΥΣΣΕΥΣ café CAFÉ naïve İstanbul ﬁne",
    "", "   ", "tab\tseparated\nlines\r\nand\x0bvertical\x0cfeed",
    "the the the", "x" * 40, "y" * 16 + " " + "y" * 17 + " " + "y" * 9,
]


@pytest.mark.parametrize("kwargs", [
    {}, {"num_words": 6, "oov_token": "<oov>"}, {"lower": False}, {"split": "a"},
    {"filters": "aé", "split": "é"}, {"filters": "", "split": "\t"},
])
def test_fast_tokenising_equals_keras_on_long_and_unicode_words(keras_text, kwargs):
    ours, ref = Tokenizer(**kwargs), keras_text.Tokenizer(**kwargs)
    texts = LONG_CORPUS * 30  # > 64 texts: several blocks of the document counts
    for tok in (ours, ref):
        tok.fit_on_texts(texts)
        tok.fit_on_texts(CORPUS)
    assert list(ours.word_counts.items()) == list(ref.word_counts.items())
    assert dict(ours.word_docs) == dict(ref.word_docs)
    assert dict(ours.index_docs) == dict(ref.index_docs)
    assert ours.word_index == ref.word_index and ours.index_word == ref.index_word
    assert ours.texts_to_sequences(texts) == ref.texts_to_sequences(texts)
    assert ours.texts_to_sequences(CORPUS) == ref.texts_to_sequences(CORPUS)


def test_nul_characters_fall_back_to_text_by_text(keras_text):
    texts = ["a\x00b c", "c\x00 d d", "plain text"]
    ours, ref = Tokenizer(), keras_text.Tokenizer()
    ours.fit_on_texts(texts)
    ref.fit_on_texts(texts)
    assert list(ours.word_counts.items()) == list(ref.word_counts.items())
    assert ours.texts_to_sequences(texts) == ref.texts_to_sequences(texts)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,\nΣσé", max_size=60),
                max_size=150),
       st.integers(1, 30))
def test_fast_tokenising_equals_keras_on_random_corpora(texts, num_words):
    keras_text = pytest.importorskip("keras_preprocessing.text")
    ours, ref = Tokenizer(num_words=num_words), keras_text.Tokenizer(num_words=num_words)
    ours.fit_on_texts(texts)
    ref.fit_on_texts(texts)
    assert list(ours.word_counts.items()) == list(ref.word_counts.items())
    assert dict(ours.word_docs) == dict(ref.word_docs)
    assert ours.word_index == ref.word_index
    assert ours.texts_to_sequences(texts) == ref.texts_to_sequences(texts)


def test_document_counts_agree_with_the_sorting_fallback():
    tok = Tokenizer()
    texts = [" ".join(f"w{(i * j) % 97}" for j in range(i % 40)) for i in range(300)]
    corpus = tok._encode(texts)
    np.testing.assert_array_equal(corpus.doc_counts(), corpus._doc_counts_by_sorting())


def test_encoding_reuses_the_fit_only_for_the_same_texts_and_options(keras_text):
    texts = ["The cat, the hat.", "A dog; a log."]
    ours, ref = Tokenizer(), keras_text.Tokenizer()
    for tok in (ours, ref):
        tok.fit_on_texts(texts)
    assert ours._encode(list(texts)) is ours._fitted[2]  # same strings: no re-tokenising
    assert ours.texts_to_sequences(texts) == ref.texts_to_sequences(texts)
    for tok in (ours, ref):
        tok.filters = ""  # a different tokenising: the cache must not be used
    assert ours.texts_to_sequences(texts) == ref.texts_to_sequences(texts)
    copies = ["".join(t) for t in texts]  # equal but different objects: tokenised again
    assert ours.texts_to_sequences(copies) == ref.texts_to_sequences(copies)


def test_pickling_drops_the_fit_cache():
    import pickle

    tok = Tokenizer()
    tok.fit_on_texts(["a b", "b c"])
    back = pickle.loads(pickle.dumps(tok))
    assert back._fitted is None and back.word_index == tok.word_index
    assert back.texts_to_sequences(["a b c"]) == tok.texts_to_sequences(["a b c"])
