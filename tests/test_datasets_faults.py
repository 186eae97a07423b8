"""Datasets under faults: bad `path`, tampered files, corrupt or truncated caches.

Every file here is made by the test (real gzip, IDX and npz bytes, damaged on purpose), and
downloads come from an http.server on 127.0.0.1 serving a folder made by the test.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import re
import shutil
import sys
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
NAME = "train-labels-idx1-ubyte.gz"
GOOD = (FIX / "mnist" / NAME).read_bytes()  # IDX labels 0..9, gzipped
MD5 = hashlib.md5(GOOD).hexdigest()
SPEC = FileSpec(NAME, "mnist", (MD5,))


# every test gets its own empty cache, no data folders and no network
pytestmark = pytest.mark.usefixtures("isolated_data_env")


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """An HTTP mirror on 127.0.0.1 serving ``<tmp>/mirror/mnist/<NAME>`` (the good bytes)."""
    root = tmp_path / "mirror"
    (root / "mnist").mkdir(parents=True)
    (root / "mnist" / NAME).write_bytes(GOOD)
    handler = partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("STATDL_DATA_URL", f"http://127.0.0.1:{httpd.server_address[1]}/mnist")
    yield root
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _cached(tmp_path, data: bytes) -> Path:
    p = tmp_path / "cache" / "mnist" / NAME
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


# ---------------------------------------------------------------------- bad `path`
@pytest.mark.parametrize("loader", ["mnist", "fashion_mnist", "imdb", "imdb_texts",
                                    "imdb_word_index"])
@pytest.mark.parametrize("bad", [123, 1.5, ["a"], b"bytes", ""])
def test_a_path_that_is_not_a_path_is_named(loader, bad):
    with pytest.raises(ConfigError, match=re.escape(
            "`path` must be a file or folder path (str or os.PathLike) or None; got "
            f"{type(bad).__name__}")):
        getattr(sd.datasets, loader)(path=bad)


def test_a_missing_path_is_named(tmp_path):
    with pytest.raises(DataFileError, match=re.escape(
            f"`path` '{tmp_path / 'nope'}' does not exist; pass the folder holding "
            "'train-images-idx3-ubyte.gz', or the file itself.")):
        sd.datasets.mnist(path=tmp_path / "nope")


# ---------------------------------------------------------------------- cached copies
def test_corrupt_cache_offline_names_the_file_to_delete(tmp_path):
    p = _cached(tmp_path, GOOD[:-10])
    with pytest.raises(DataFileError) as err:
        resolve(SPEC)
    msg = str(err.value)
    assert f"The cached copy {p} is corrupt: delete it" in msg
    assert f"expected {MD5}" in msg and hashlib.md5(GOOD[:-10]).hexdigest() in msg
    assert p.read_bytes() == GOOD[:-10]  # offline: left for the user to look at


def test_corrupt_cache_is_fetched_again_when_downloads_are_allowed(tmp_path, monkeypatch,
                                                                  mirror):
    monkeypatch.setenv("STATDL_OFFLINE", "0")
    p = _cached(tmp_path, GOOD[:-10])
    assert resolve(SPEC) == p
    assert p.read_bytes() == GOOD and read_idx(p).tolist() == list(range(10))


def test_unparsable_cache_without_checksum_is_fetched_again(tmp_path, monkeypatch, mirror):
    """A spec with no MD5: the parse failure (truncated gzip) is what reveals the damage."""
    spec = FileSpec(NAME, "mnist")
    p = _cached(tmp_path, GOOD[: len(GOOD) // 2])
    with pytest.raises(DataFileError, match=re.escape(f"The cached copy {p} is corrupt")):
        _files.load(spec, None, read_idx)
    monkeypatch.setenv("STATDL_OFFLINE", "0")
    assert _files.load(spec, None, read_idx).tolist() == list(range(10))
    assert p.read_bytes() == GOOD


def test_mnist_rebuilds_its_truncated_cache(tmp_path, monkeypatch, mirror):
    """The public loader end to end: a truncated cached file is replaced from the mirror."""
    sizes = {"train-images-idx3-ubyte.gz": (3, 28, 28), NAME: (3,),
             "t10k-images-idx3-ubyte.gz": (2, 28, 28), "t10k-labels-idx1-ubyte.gz": (2,)}
    specs = []
    for name, shape in sizes.items():
        raw = _idx(np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape))
        (mirror / "mnist" / name).write_bytes(raw)
        specs.append(FileSpec(name, "mnist", (hashlib.md5(raw).hexdigest(),)))
        _cached(tmp_path, raw)  # overwritten below for the labels only
        (tmp_path / "cache" / "mnist" / name).write_bytes(raw)
    (tmp_path / "cache" / "mnist" / NAME).write_bytes(b"\x1f\x8b broken")
    mnist_mod = sys.modules["statdl.datasets.mnist"]
    monkeypatch.setattr(mnist_mod, "MNIST_FILES", tuple(specs))
    monkeypatch.setattr(mnist_mod, "_shapes", lambda n_train, n_test: tuple(sizes.values()))
    with pytest.raises(DataFileError, match="is corrupt: delete it"):
        sd.datasets.mnist()
    monkeypatch.setenv("STATDL_OFFLINE", "0")
    (_, y_train), (x_test, _) = sd.datasets.mnist()
    assert y_train.tolist() == [0, 1, 2] and x_test.shape == (2, 28, 28)


def _idx(arr: np.ndarray) -> bytes:
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return gzip.compress(head + arr.tobytes())


# ---------------------------------------------------------------------- files of the user
def test_tampered_file_in_statdl_data_is_refused_and_left_alone(tmp_path, monkeypatch):
    data = tmp_path / "data" / "mnist"
    data.mkdir(parents=True)
    bad = gzip.compress(gzip.decompress(GOOD)[:-1] + b"\x07")  # one label changed
    (data / NAME).write_bytes(bad)
    monkeypatch.setenv("STATDL_DATA", str(tmp_path / "data"))
    with pytest.raises(DataFileError) as err:
        resolve(SPEC)
    assert str(err.value).startswith(
        f"{data / NAME} has MD5 {hashlib.md5(bad).hexdigest()}, expected {MD5}: it is not the "
        f"original '{NAME}'")
    assert "Replace it with the original" in str(err.value)
    assert (data / NAME).read_bytes() == bad


def test_explicit_path_is_verified_but_a_renamed_variant_is_not(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / NAME).write_bytes(GOOD[:-10])
    with pytest.raises(DataFileError, match=re.escape(f"{folder / NAME} has MD5")):
        resolve(SPEC, folder)
    variant = folder / "my-labels.gz"  # a user's own file: no known checksum, read as it is
    variant.write_bytes(GOOD)
    assert resolve(SPEC, variant) == variant


def test_a_verified_file_is_remembered_by_size_and_mtime(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "mnist").mkdir(parents=True)
    f = data / "mnist" / NAME
    f.write_bytes(GOOD)
    monkeypatch.setenv("STATDL_DATA", str(data))
    assert resolve(SPEC) == f
    memo = json.loads((tmp_path / "cache" / "verified.json").read_text())
    st = f.stat()
    assert memo[str(f.resolve())] == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": MD5}
    # same size and mtime: trusted from the memo without reading the file again
    f.write_bytes(GOOD[:-1] + bytes([GOOD[-1] ^ 1]))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert resolve(SPEC) == f
    # a new mtime: checked again, and the change is caught
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(DataFileError, match="has MD5"):
        resolve(SPEC)


def test_a_damaged_memo_only_means_checking_again(tmp_path, monkeypatch):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "verified.json").write_text("{not json")
    data = tmp_path / "data"
    data.mkdir()
    (data / NAME).write_bytes(GOOD)
    monkeypatch.setenv("STATDL_DATA", str(data))
    assert resolve(SPEC) == data / NAME
    assert str((data / NAME).resolve()) in json.loads(
        (tmp_path / "cache" / "verified.json").read_text())


# ---------------------------------------------------------------------- IMDB
TINY = FIX / "aclImdb_tiny.tar.gz"


@pytest.mark.parametrize("damage", [
    lambda b: b[: len(b) // 2],          # truncated: BadZipFile
    lambda b: b"PK\x03\x04" + b"\0" * 40,  # a zip header and nothing else
    lambda b: b"",                        # empty
    lambda b: _npz_without_words(),       # a valid npz that lacks arrays
])
def test_imdb_damaged_encoded_cache_is_rebuilt(tmp_path, damage):
    first = sd.datasets.imdb(path=TINY)
    (cache,) = (tmp_path / "cache" / "imdb").glob("*.npz")
    cache.write_bytes(damage(cache.read_bytes()))
    again = sd.datasets.imdb(path=TINY)
    for (xa, ya), (xb, yb) in zip(first, again):
        assert [s.tolist() for s in xa] == [s.tolist() for s in xb] and (ya == yb).all()
    with np.load(cache) as f:  # and the cache is whole again
        assert "words" in f.files


def _npz_without_words() -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, train_flat=np.arange(3))
    return buf.getvalue()


def test_imdb_tarball_of_a_known_name_is_verified(tmp_path, monkeypatch):
    folder = tmp_path / "imdb"
    folder.mkdir()
    shutil.copy(TINY, folder / "aclImdb_v1.tar.gz")  # the tiny tarball is not the original
    with pytest.raises(DataFileError, match=re.escape(
            f"{folder / 'aclImdb_v1.tar.gz'} has MD5 {hashlib.md5(TINY.read_bytes()).hexdigest()}"
            ", expected 7c2ac02c03563afcf9b574c7e56c153a")):
        sd.datasets.imdb_texts(path=folder)
    (texts, _), _ = sd.datasets.imdb_texts(path=TINY)  # another name: a user's own variant
    assert len(texts) == 4


# ---------------------------------------------------------------------- Hitters
def test_hitters_refuses_a_damaged_install(monkeypatch):
    hitters_mod = sys.modules["statdl.datasets.hitters"]
    monkeypatch.setattr(hitters_mod, "_MD5", "0" * 32)  # as if the shipped CSV had changed
    with pytest.raises(DataFileError, match=re.escape(
            "is damaged: MD5 0a30c0f8b4bf70d60af3dcd770cda1de, expected 000")):
        sd.datasets.hitters()
