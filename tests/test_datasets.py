"""Datasets: file resolution, download, IDX validation, Hitters, IMDB encoding rules."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import shutil
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import statdl as sd
from statdl.datasets import _files
from statdl.datasets._files import DataFileError, FileSpec, resolve
from statdl.datasets.idx import read_idx
from statdl.errors import ConfigError

FIX = Path(__file__).parent / "fixtures" / "data"


def _expected_images(n: int, offset: int) -> np.ndarray:
    i, r, c = np.meshgrid(np.arange(n), np.arange(28), np.arange(28), indexing="ij")
    return ((i + offset + r * 3 + c) % 256).astype(np.uint8)


# every test gets its own empty cache, no data folders and no network
pytestmark = pytest.mark.usefixtures("isolated_data_env")


# ---------------------------------------------------------------------- IDX
def test_read_idx_matches_the_generating_formula():
    x = read_idx(FIX / "mnist" / "train-images-idx3-ubyte.gz")
    assert x.dtype == np.uint8 and x.shape == (10, 28, 28)
    np.testing.assert_array_equal(x, _expected_images(10, 0))
    y = read_idx(FIX / "mnist" / "t10k-labels-idx1-ubyte.gz")
    assert y.tolist() == [0, 3, 6, 9, 2]


def test_truncated_idx_is_an_error(tmp_path):
    raw = gzip.decompress((FIX / "mnist" / "train-images-idx3-ubyte.gz").read_bytes())
    p = tmp_path / "cut.gz"
    p.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataFileError, match="truncated"):
        read_idx(p)


def test_corrupt_gzip_and_bad_magic_are_errors(tmp_path):
    good = (FIX / "mnist" / "train-images-idx3-ubyte.gz").read_bytes()
    p = tmp_path / "bad.gz"
    p.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataFileError):
        read_idx(p)
    q = tmp_path / "magic"
    q.write_bytes(bytes([1, 2, 8, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(DataFileError, match="magic"):
        read_idx(q)


def test_mnist_refuses_files_of_the_wrong_size():
    with pytest.raises(DataFileError, match="expected"):
        sd.datasets.mnist(path=FIX / "mnist")


def test_offline_missing_file_names_the_file_and_where_to_put_it():
    with pytest.raises(DataFileError) as err:
        sd.datasets.mnist()
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg and "cache" in msg and "path=" in msg


def test_statdl_data_folder_is_searched(tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(FIX / "mnist", data / "mnist")
    monkeypatch.setenv("STATDL_DATA", str(data))
    spec = FileSpec("t10k-labels-idx1-ubyte.gz", "mnist")
    assert resolve(spec) == data / "mnist" / "t10k-labels-idx1-ubyte.gz"


# ---------------------------------------------------------------------- download
@pytest.fixture
def server():
    handler = partial(_QuietHandler, directory=str(FIX))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_verifies_checksum_and_lands_in_cache(server, monkeypatch, tmp_path):
    monkeypatch.setenv("STATDL_OFFLINE", "0")
    monkeypatch.setenv("STATDL_DATA_URL", server + "/mnist")
    name = "train-labels-idx1-ubyte.gz"
    md5 = hashlib.md5((FIX / "mnist" / name).read_bytes()).hexdigest()
    got = resolve(FileSpec(name, "mnist", (md5,)))
    assert got == tmp_path / "cache" / "mnist" / name
    assert read_idx(got).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert not list(got.parent.glob("*.part"))


def test_download_with_wrong_checksum_leaves_nothing(server, monkeypatch, tmp_path):
    monkeypatch.setenv("STATDL_OFFLINE", "0")
    monkeypatch.setattr(_files, "BASE_URLS", {"mnist": server + "/mnist"})
    name = "train-labels-idx1-ubyte.gz"
    with pytest.raises(DataFileError, match="MD5"):
        resolve(FileSpec(name, "mnist", ("0" * 32,)))
    assert not any((tmp_path / "cache" / "mnist").iterdir())


def test_download_of_absent_file_is_a_clear_error(server, monkeypatch):
    monkeypatch.setenv("STATDL_OFFLINE", "0")
    monkeypatch.setenv("STATDL_DATA_URL", server + "/nowhere")
    with pytest.raises(DataFileError, match="download .* failed"):
        resolve(FileSpec("absent.gz", "mnist"))


def test_public_loader_downloads_through_the_mirror(server, monkeypatch):
    """imdb() with nothing local fetches the tarball from the (local) mirror."""
    monkeypatch.setenv("STATDL_OFFLINE", "0")
    monkeypatch.setenv("STATDL_DATA_URL", server)
    tiny = (FIX / "aclImdb_tiny.tar.gz").read_bytes()
    import sys

    imdb_mod = sys.modules["statdl.datasets.imdb"]  # the module, not the function

    spec = FileSpec("aclImdb_tiny.tar.gz", "imdb", (hashlib.md5(tiny).hexdigest(),))
    monkeypatch.setattr(imdb_mod, "IMDB_FILES", (spec, spec))
    (texts, y), _ = sd.datasets.imdb_texts()
    assert len(texts) == 4 and y.tolist() == [0, 0, 1, 1]


# ---------------------------------------------------------------------- MNIST sample
def test_mnist_sample_is_small_and_labelled():
    (xtr, ytr), (xte, yte) = sd.datasets.mnist_sample()
    assert xtr.shape == (6000, 28, 28) and xte.shape == (10000 // 10, 28, 28)
    assert xtr.dtype == np.uint8 and set(np.unique(ytr)) == set(range(10))
    # the canonical first test labels of MNIST
    assert yte[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


# ---------------------------------------------------------------------- Hitters
def test_hitters_na_omit_and_model_matrix_columns():
    df = sd.datasets.hitters()
    assert df.shape == (263, 20) and df["Salary"].notna().all()
    assert sd.datasets.hitters(drop_na=False).shape == (322, 20)
    x, y = sd.datasets.hitters(response="log_salary")
    # R: colnames(model.matrix(Salary ~ . - 1, na.omit(ISLR2::Hitters)))
    assert list(x.columns) == [
        "AtBat", "Hits", "HmRun", "Runs", "RBI", "Walks", "Years", "CAtBat", "CHits", "CHmRun",
        "CRuns", "CRBI", "CWalks", "LeagueA", "LeagueN", "DivisionW", "PutOuts", "Assists",
        "Errors", "NewLeagueN"]
    np.testing.assert_allclose(y.to_numpy(), np.log(df["Salary"].to_numpy()))
    assert (x["LeagueA"] + x["LeagueN"] == 1).all()
    xs, _ = sd.datasets.hitters(response="Salary", standardize=True)
    np.testing.assert_allclose(xs.std(ddof=1).to_numpy(), 1.0)


def test_hitters_bad_response():
    with pytest.raises(ConfigError, match="`response` must be one of"):
        sd.datasets.hitters(response="salary")


# ---------------------------------------------------------------------- IMDB (tiny)
TINY_TRAIN = [  # neg 0, neg 1, pos 0, pos 1 (the canonical order)
    "The movie was bad. Bad, bad acting!<br />Terrible plot.",
    "Boring and bad; the plot was thin.",
    "A great movie: great acting, great plot.",
    "The acting was good and the movie was fun.",
]


def _tiny_ranks() -> dict[str, int]:
    """Word ranks by the definition: count descending, ties by first appearance."""
    words: list[str] = []
    for t in TINY_TRAIN:
        t = t.replace("<br />", " ").lower()
        for ch in '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n':
            t = t.replace(ch, " ")
        words += t.split()
    first = {w: i for i, w in reversed(list(enumerate(words)))}
    counts = {w: words.count(w) for w in first}
    order = sorted(first, key=lambda w: (-counts[w], first[w]))
    return {w: r for r, w in enumerate(order, start=1)}


def test_imdb_texts_order_and_labels():
    (xtr, ytr), (xte, yte) = sd.datasets.imdb_texts(path=FIX / "aclImdb_tiny.tar.gz")
    assert xtr == TINY_TRAIN and ytr.tolist() == [0, 0, 1, 1]
    assert yte.tolist() == [0, 1] and "<br />" not in xte[0]


def test_imdb_word_index_follows_the_definition():
    wi = sd.datasets.imdb_word_index(path=FIX / "aclImdb_tiny.tar.gz")
    assert wi == _tiny_ranks()
    assert "br" not in wi


def test_imdb_encoding_rules_match_keras_load_data():
    path = FIX / "aclImdb_tiny.tar.gz"
    ranks = _tiny_ranks()
    (xtr, ytr), (xte, yte) = sd.datasets.imdb(path=path, seed=113)
    order = np.arange(4)
    rng = np.random.RandomState(113)
    rng.shuffle(order)
    test_order = np.arange(2)
    rng.shuffle(test_order)
    assert ytr.tolist() == np.array([0, 0, 1, 1])[order].tolist()
    first = TINY_TRAIN[order[0]].replace("<br />", " ")
    words = sd.text.text_to_word_sequence(first)
    assert list(xtr[0]) == [1] + [ranks[w] + 3 for w in words]
    # test review "Bad movie, awful zebra." (neg) : unseen words become oov_char 2
    neg_pos = test_order.tolist().index(0)
    assert list(xte[neg_pos]) == [1, ranks["bad"] + 3, ranks["movie"] + 3, 2, 2]
    # num_words / skip_top apply to shifted ids, start_char included
    (xtr2, _), _ = sd.datasets.imdb(path=path, num_words=6, skip_top=2)
    for seq, full in zip(xtr2, xtr):
        assert list(seq) == [w if 2 <= w < 6 else 2 for w in full]
    (xtr3, _), _ = sd.datasets.imdb(path=path, num_words=6, oov_char=None, start_char=None,
                                    index_from=0)
    for seq, full in zip(xtr3, xtr):
        assert list(seq) == [w - 3 for w in full[1:] if w - 3 < 6]
    # maxlen drops reviews with len >= maxlen
    lens = sorted(len(s) for s in xtr)
    (xtr4, ytr4), _ = sd.datasets.imdb(path=path, maxlen=lens[2])
    assert len(xtr4) == sum(n < lens[2] for n in lens) == len(ytr4)


def test_imdb_cache_is_reused(tmp_path):
    path = FIX / "aclImdb_tiny.tar.gz"
    sd.datasets.imdb(path=path)
    cached = list((tmp_path / "cache" / "imdb").glob("*.npz"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    sd.datasets.imdb(path=path, num_words=5)
    assert cached[0].stat().st_mtime_ns == stamp


@pytest.mark.parametrize("kwargs, match", [
    ({"num_words": 0}, "`num_words` must be an int >= 1 or None; got 0."),
    ({"maxlen": 0}, "`maxlen` must be an int >= 1 or None; got 0."),
    ({"skip_top": -1}, "`skip_top`"),
    ({"maxlen": 2}, "leaves no train review"),
])
def test_imdb_bad_options(kwargs, match):
    with pytest.raises(ConfigError, match=match.replace("(", r"\(").replace(")", r"\)")):
        sd.datasets.imdb(path=FIX / "aclImdb_tiny.tar.gz", **kwargs)


def test_imdb_unknown_option_is_a_type_error():
    with pytest.raises(TypeError, match="num_word"):
        sd.datasets.imdb(num_word=10)
