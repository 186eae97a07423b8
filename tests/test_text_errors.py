"""Text functions on junk input: a ConfigError that names the argument, never a raw numpy error.

Where Keras accepts an input (whole floats cast to the dtype, string dtypes, NaN kept by a
float dtype), statdl gives what Keras 3's ``pad_sequences`` gives; where Keras cuts, wraps or
garbles a value silently, statdl refuses it by name.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from statdl.errors import ConfigError
from statdl.text import Tokenizer, load, load_embeddings, pad_sequences, tokenizer_from_json


def _raises(match: str):
    return pytest.raises(ConfigError, match=re.escape(match))


@pytest.fixture
def keras_pad(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    return keras.utils.pad_sequences


# ---------------------------------------------------------------------- pad_sequences
@pytest.mark.parametrize("seqs, kwargs", [
    ([[1.0, 2.0], [3.0]], {}),                       # whole floats: cast as Keras casts
    ([[1.5, 2.25], [3]], {"dtype": "float32"}),
    ([[1.0, float("nan")], [3]], {"dtype": "float64"}),  # a float dtype keeps NaN
    ([[1, 2], [300]], {"dtype": "int16", "value": -1}),
    ([np.array([1, 2], np.int64), np.array([3], np.int64)], {"maxlen": 1}),
    ([np.array([1.0, 2.0]), np.array([7.0])], {"padding": "post"}),
    (np.array([[1, 2, 3], [4, 5, 6]]), {"maxlen": 2, "truncating": "post"}),
])
def test_inputs_keras_accepts_give_what_keras_gives(keras_pad, seqs, kwargs):
    ours, ref = pad_sequences(seqs, **kwargs), keras_pad(seqs, **kwargs)
    assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("seqs, kwargs, match", [
    ([[1, 1.5], [2]], {}, "`sequences[0][1]` must be a value `dtype` int32 can hold (whole "
                          "numbers only); got 1.5. Round the values first or pass "
                          "dtype='float32'."),
    ([[1], [2, float("nan")]], {}, "`sequences[1]` must be a value `dtype` int32 can hold (whole "
                                   "numbers only); got nan. Replace it"),
    ([[float("inf")]], {"dtype": "int64"}, "`dtype` int64 can hold (whole numbers only); got inf"),
    ([[1], [2**40]], {}, "`sequences[1]` must be within the range of `dtype` int32 "
                         "[-2147483648, 2147483647]; got 1099511627776. Pass a wider dtype such "
                         "as 'int64'."),
    ([[-1]], {"dtype": "uint8"}, "must be within the range of `dtype` uint8 [0, 255]; got -1."),
    ([np.array([1, 70000])], {"dtype": "int16"}, "`sequences[0][1]` must be within the range of "
                                                 "`dtype` int16 [-32768, 32767]; got 70000."),
    ([np.array([0.5])], {}, "`sequences[0][0]` must be a value `dtype` int32 can hold"),
    (np.array([[1.0, np.nan]]), {}, "`sequences[0][1]` must be a value `dtype` int32 can hold "
                                    "(whole numbers only); got nan."),
    ([[1e300]], {"dtype": "float32"}, "`sequences[0][0]` must be within the range of `dtype` "
                                      "float32; got 1e+300. Pass dtype='float64'."),
    ([[1, [2, 3]], [4]], {}, "`sequences[0]` must be a list of numbers (or of equal-length "
                             "vectors); got [1, [2, 3]]"),
    ([[1, None]], {}, "`sequences[0]` must be a list of numbers (or of equal-length vectors) "
                      "that `dtype` int32 can hold; got [1, None]"),
    ([["a", "b"]], {}, "`sequences[0]` must be a list of numbers"),
    ([{"a": 1}], {}, "`sequences[0]` must be a list or array; got dict."),
    ([[1, 2]], {"dtype": "nonsense"}, "`dtype` must be a numeric, string or object numpy dtype "
                                      "(or its name), such as 'int32', 'float32', 'str' or "
                                      "object; got 'nonsense'."),
    ([[1, 2]], {"dtype": "datetime64"}, "`dtype` must be a numeric, string or object"),
    ([[1, 2]], {"value": float("nan")}, "`value` must be a value `dtype` int32 can hold (whole "
                                        "numbers only); got nan."),
    ([[1, 2]], {"value": 2**40}, "`value` must be within the range of `dtype` int32 "
                                 "[-2147483648, 2147483647]; got 1099511627776."),
    ([[1, 2]], {"value": "x"}, "`value` must be a number for `dtype` int32; got 'x'. Use "
                               "dtype=object or a numeric value."),
    ([[1, 2]], {"value": None}, "`value` must be a number for `dtype` int32; got None."),
])
def test_pad_sequences_names_what_does_not_fit(seqs, kwargs, match):
    with _raises(match):
        pad_sequences(seqs, maxlen=3, **kwargs)


def test_sequences_of_vectors_are_checked_too():
    out = pad_sequences([[[1, 2], [3, 4]], [[5, 6]]], maxlen=2)
    np.testing.assert_array_equal(out, [[[1, 2], [3, 4]], [[0, 0], [5, 6]]])
    with _raises("`sequences[1]` must be a value `dtype` int32 can hold (whole numbers only); "
                 "got 0.5."):
        pad_sequences([[[1, 2]], [[0.5, 6]]])


# ---------------------------------------------------------------------- Tokenizer
@pytest.fixture
def tok():
    t = Tokenizer(num_words=5)
    t.fit_on_texts(["a b b c", "b c d"])
    return t


@pytest.mark.parametrize("method", ["sequences_to_matrix", "sequences_to_texts",
                                    "fit_on_sequences"])
@pytest.mark.parametrize("seqs, match", [
    ([[1, 1.5]], "`sequences[0][1]` must be a word index (a whole number); got 1.5."),
    ([[1], [float("nan")]], "`sequences[1][0]` must be a word index (a whole number); got nan."),
    ([["a"]], "`sequences[0][0]` must be a word index (a whole number); got 'a'."),
    ([[None]], "`sequences[0][0]` must be a word index (a whole number); got None."),
    ([[1], 2], "`sequences[1]` must be a sequence of word indices; got int (2)."),
    ("abc", "`sequences` must be a list of sequences of word indices; got str."),
])
def test_index_sequences_must_hold_whole_numbers(tok, method, seqs, match):
    with _raises(match):
        getattr(tok, method)(seqs)


def test_whole_floats_and_huge_indices_are_indices(tok):
    keras_text = pytest.importorskip("keras_preprocessing.text")
    ref = keras_text.Tokenizer(num_words=5)
    ref.fit_on_texts(["a b b c", "b c d"])
    # Keras looks 2.0 up as 2 and drops an index beyond the vocabulary
    assert tok.sequences_to_texts([[1, 2.0, 2**70]]) == ref.sequences_to_texts([[1, 2.0, 2**70]])
    np.testing.assert_array_equal(tok.sequences_to_matrix([[1, 2**70]], mode="count"),
                                  ref.sequences_to_matrix([[1, 2**70]], mode="count"))
    with _raises("`sequences[0][1]` must be a word index >= 0; got -3."):
        tok.sequences_to_matrix([[1, -3]])


def test_tokenizer_options_are_checked():
    with _raises("`document_count` must be an int >= 0; got 'x'."):
        Tokenizer(document_count="x")
    from statdl.text import text_to_word_sequence

    with _raises("`filters` must be a str; got NoneType."):
        text_to_word_sequence("a b", filters=None)
    with _raises("`split` must be a non-empty str; got ''."):
        text_to_word_sequence("a b", split="")


def _config(tok, **changes) -> str:
    data = json.loads(tok.to_json())
    for k, v in changes.items():
        if v is None:
            del data["config"][k]
        else:
            data["config"][k] = v
    return json.dumps(data)


PREFIX = "`json_string` is not a Tokenizer JSON (as written by Tokenizer.to_json or Keras's): "


@pytest.mark.parametrize("changes, why", [
    ({"word_counts": None}, "its config lacks ['word_counts']."),
    ({"word_index": None, "index_docs": None}, "its config lacks ['index_docs', 'word_index']."),
    ({"extra": 1}, "unknown config keys ['extra']."),
    ({"word_counts": "{bad"}, "`word_counts` must be a string holding a JSON object (Expecting"),
    ({"word_index": json.dumps([1, 2])}, "`word_index` must be a string holding a JSON object "
                                         "(a JSON list, not an object)."),
    ({"index_word": json.dumps({"x": "a"})}, "`index_word` must be a string holding a JSON "
                                             "object (invalid literal"),
    ({"word_index": json.dumps({"a": "1"})}, "`word_index` must be a string holding a JSON "
                                             "object (values must be ints)."),
])
def test_incomplete_tokenizer_json_is_named(tok, changes, why):
    with _raises(PREFIX + why):
        tokenizer_from_json(_config(tok, **changes))


def test_tokenizer_json_that_is_not_an_object(tok):
    with _raises(PREFIX + "expected an object with a 'config' object."):
        tokenizer_from_json("[1, 2]")
    with _raises(PREFIX + "Expecting"):
        tokenizer_from_json(tok.to_json()[:28])


def test_load_names_the_path(tmp_path, tok):
    from statdl.datasets import DataFileError

    with _raises("`path` must be a file path (str or os.PathLike); got int (123)."):
        load(123)
    with pytest.raises(DataFileError, match=re.escape(f"`path` '{tmp_path}' is a folder; "
                                                      "expected a file.")):
        load(tmp_path)
    p = tmp_path / "tok.json"
    p.write_text(tok.to_json()[:30])
    with _raises(f"The file '{p}' (`path`) is not a Tokenizer JSON"):
        load(p)
    tok.save(p)
    assert load(p).word_index == tok.word_index


def test_load_embeddings_names_the_path(tmp_path):
    from statdl.datasets import DataFileError

    with _raises("`path` must be a file path (str or os.PathLike); got int (123)."):
        load_embeddings(123, {"a": 1}, dim=2)
    with pytest.raises(DataFileError, match=re.escape(f"`path` '{tmp_path / 'no.txt'}' does not "
                                                      "exist; expected a file.")):
        load_embeddings(tmp_path / "no.txt", {"a": 1}, dim=2)
    import gzip

    p = tmp_path / "vec.txt.gz"
    p.write_bytes(gzip.compress(b"a 1 2\n" * 1000)[:40])  # truncated gzip
    with pytest.raises(DataFileError, match=re.escape(f"`path` '{p}' is not a readable (gzip) "
                                                      "text file")):
        load_embeddings(p, {"a": 1}, dim=2)


@pytest.mark.parametrize("seqs", [["12"], [[1, 2], "34"], [b"5"]])
def test_strings_are_not_sequences_of_indices(seqs):
    """'12' has a length, but padding it as the indices [1, 2] would be garbage."""
    with pytest.raises(ConfigError, match=r"`sequences\[\d\]` must be a sequence of word "
                                          r"indices; got the string .*texts_to_sequences"):
        pad_sequences(seqs)


@pytest.mark.parametrize("seqs", [{"a": [1]}, {1, 2}, b"12"])
def test_unordered_or_flat_containers_are_not_lists_of_sequences(seqs):
    with pytest.raises(ConfigError, match=r"`sequences` must be a list of sequences; got "):
        pad_sequences(seqs)


def test_pad_sequences_refuses_a_maxlen_larger_than_memory_before_allocating():
    # 2**40 columns of int32: 5 TiB with the placement mask, more than any test machine; Linux
    # would grant it lazily and kill the process on touching the pages
    from statdl.text import pad_sequences

    with pytest.raises(ConfigError, match=r"`maxlen` of pad_sequences .* GiB"):
        pad_sequences([[1, 2]], maxlen=2**40)


@pytest.mark.parametrize("seqs, dtype", [
    # a string dtype of unset length was counted as 0 bytes a value: 2**36 columns are 1.25 TiB
    # of '<U1' (the fuzz test's maxlen=2**31 allocated 16 GiB and the machine killed it)
    ([[1], [2, 3]], "str"),
    ([[1], [2, 3]], "S"),
    # steps of 1,000 values: 2**30 x 4 kB, where the check counted 4 bytes a step
    ([np.zeros((2, 1000))], "float32"),
])
def test_the_memory_check_counts_string_lengths_and_step_shapes(seqs, dtype):
    maxlen = 2**36 if dtype != "float32" else 2**30
    with pytest.raises(ConfigError, match=r"`maxlen` of pad_sequences .* GiB"):
        pad_sequences(seqs, maxlen=maxlen, dtype=dtype)


def test_an_unsized_string_dtype_keeps_items_whole_where_keras_cuts_them(keras_pad):
    seqs = [[1, 2], [300]]
    assert keras_pad(seqs, dtype="str").tolist() == [["1", "2"], ["0", "3"]]  # sized from 0
    assert pad_sequences(seqs, dtype="str").tolist() == [["1", "2"], ["0", "300"]]


def test_an_unsized_string_dtype_keeps_every_item_whole():
    """dtype='str' means strings of any length: no item is cut to the fill value's length
    (numpy's np.full would size the array from the fill value alone)."""
    got = pad_sequences([["a", "bb"], ["ccc"]], maxlen=3, dtype="str", value="")
    assert got.tolist() == [["", "a", "bb"], ["", "", "ccc"]]
    got = pad_sequences([[b"a", b"bbbb"]], maxlen=2, dtype="S", value=b"")
    assert got.tolist() == [[b"a", b"bbbb"]]


def test_a_fill_value_a_str_dtype_cannot_hold_is_named():
    with pytest.raises(ConfigError, match=r"`value` must be a value `dtype` <U0 can hold"):
        pad_sequences([], dtype="str", value=b"\x80")
