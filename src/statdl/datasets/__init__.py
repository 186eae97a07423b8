"""Datasets of the course: Hitters, MNIST, Fashion-MNIST and IMDB.

Files are looked up, in order, at an explicit ``path=``, in ``$STATDL_DATA`` (as
``<folder>/<file>`` or ``<file>``), in the cache (``$STATDL_CACHE`` or ``~/.cache/statdl``),
in ``/usr/share/datasets`` (Debian packages), and otherwise downloaded from the canonical
public URL into the cache (checksum-verified; set ``STATDL_OFFLINE=1`` to forbid downloads,
``STATDL_DATA_URL`` to use a mirror). A file found locally is checked against its known MD5 once
(remembered by size and mtime in ``<cache>/verified.json``): a damaged cached copy is fetched
again (offline, the error names the file to delete), any other damaged file is refused by name.

Examples
--------
>>> import statdl as sd
>>> sd.datasets.hitters().shape
(263, 20)
>>> (x_train, y_train), _ = sd.datasets.mnist_sample()
>>> x_train.shape
(6000, 28, 28)
"""

from __future__ import annotations

from ._files import BASE_URLS, DataFileError, cache_dir
from .hitters import hitters
from .imdb import imdb, imdb_texts, imdb_word_index
from .islp import ISLP_DATASETS, islp
from .mnist import FASHION_MNIST_CLASSES, fashion_mnist, mnist, mnist_sample

__all__ = [
    "BASE_URLS",
    "DataFileError",
    "FASHION_MNIST_CLASSES",
    "cache_dir",
    "fashion_mnist",
    "hitters",
    "imdb",
    "imdb_texts",
    "imdb_word_index",
    "islp",
    "ISLP_DATASETS",
    "mnist",
    "mnist_sample",
]
