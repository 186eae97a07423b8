"""Real data (slow): MNIST, Fashion-MNIST, IMDB, and the tokenizer against Keras on IMDB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import statdl as sd

pytestmark = pytest.mark.slow

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("STATDL_CACHE", str(tmp_path_factory.getbasetemp() / "statdl-cache"))
    monkeypatch.setenv("STATDL_OFFLINE", "1")


def test_mnist_real(shared_data):
    (xtr, ytr), (xte, yte) = sd.datasets.mnist(path=shared_data / "mnist")
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert xtr.dtype == np.uint8 and xtr.max() == 255
    # label counts published in shared/data/mnist/README.txt
    assert np.bincount(ytr).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                         5851, 5949]
    assert np.bincount(yte).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    (str_, sy), (ste, sye) = sd.datasets.mnist_sample()
    np.testing.assert_array_equal(str_, xtr[:6000])
    np.testing.assert_array_equal(sye, yte[:1000])


def test_mnist_via_statdl_data(shared_data, monkeypatch):
    monkeypatch.setenv("STATDL_DATA", str(shared_data))
    (_, ytr), _ = sd.datasets.mnist()
    assert len(ytr) == 60000


def test_fashion_mnist_real():
    if not (FASHION / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("apt-get install dataset-fashion-mnist to run this test")
    (xtr, ytr), (xte, yte) = sd.datasets.fashion_mnist()
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert np.bincount(ytr).tolist() == [6000] * 10  # balanced classes, per Zalando
    assert np.bincount(yte).tolist() == [1000] * 10


def test_imdb_real(shared_data):
    tar = shared_data / "aclImdb_labeled.tar.gz"
    (xtr, ytr), (xte, yte) = sd.datasets.imdb(num_words=10000, path=tar)
    assert len(xtr) == len(xte) == 25000
    assert ytr.mean() == 0.5 and yte.mean() == 0.5
    assert all(s[0] == 1 for s in xtr[:100])
    assert max(int(s.max()) for s in xtr) == 9999
    wi = sd.datasets.imdb_word_index(path=tar)
    assert wi["the"] == 1 and wi.get("br", 10**9) > 50000  # <br /> tags stripped


def test_tokenizer_equals_keras_on_imdb(shared_data):
    keras_text = pytest.importorskip("keras_preprocessing.text")
    (texts, _), (test_texts, _) = sd.datasets.imdb_texts(
        path=shared_data / "aclImdb_labeled.tar.gz")
    ours, ref = sd.text.Tokenizer(num_words=10000), keras_text.Tokenizer(num_words=10000)
    ours.fit_on_texts(texts)
    ref.fit_on_texts(texts)
    assert ours.word_index == ref.word_index
    assert ours.texts_to_sequences(test_texts[:3000]) == ref.texts_to_sequences(test_texts[:3000])




def test_real_mnist_is_verified_once_and_a_damaged_copy_refused(shared_data, tmp_path,
                                                                monkeypatch):
    import json
    import shutil

    from statdl.datasets import DataFileError

    monkeypatch.setenv("STATDL_CACHE", str(tmp_path / "cache"))
    sd.datasets.mnist(path=shared_data / "mnist")
    memo = json.loads((tmp_path / "cache" / "verified.json").read_text())
    real = shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz"
    assert memo[str(real.resolve())]["md5"] == "ec29112dd5afa0611ce80d1b7f02629c"
    copy = tmp_path / "mine"
    shutil.copytree(shared_data / "mnist", copy)
    damaged = copy / "t10k-labels-idx1-ubyte.gz"
    damaged.chmod(0o644)
    damaged.write_bytes(damaged.read_bytes()[:-100])
    with pytest.raises(DataFileError, match="expected ec29112dd5afa0611ce80d1b7f02629c"):
        sd.datasets.mnist(path=copy)
