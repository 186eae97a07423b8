"""MNIST and Fashion-MNIST from their IDX files, plus the small MNIST sample shipped inside."""

from __future__ import annotations

import os
from functools import partial
from importlib import resources

import numpy as np

from ._files import FileSpec, load
from .idx import read_idx

__all__ = ["mnist", "fashion_mnist", "mnist_sample", "MNIST_FILES", "FASHION_MNIST_FILES"]

_NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
          "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

MNIST_FILES = tuple(FileSpec(n, "mnist", (m,)) for n, m in zip(_NAMES, (
    "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
    "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c")))

# Upstream (Zalando) checksums, then Debian's recompressed files (same content).
FASHION_MNIST_FILES = tuple(FileSpec(n, "fashion-mnist", m) for n, m in zip(_NAMES, (
    ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "cf8536b0aa1a6ac5fa3f23001093305c"),
    ("25c81989df183df01b3e8a0aad5dffbe", "10bea18fdb374794d4bb42e356e600c9"),
    ("bef4ecab320f06d8554ea6380940ec79", "f78720b4224f21cce2f2ccf2d7a94c9a"),
    ("bb300cfdad3c16e7a12a480ee83cd310", "0d30e22e447f3c33dab9ed536400ac01"))))

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")

Split = tuple[np.ndarray, np.ndarray]


def _load_four(specs, path, shapes) -> tuple[Split, Split]:
    arrays = [load(s, path, partial(read_idx, expected_shape=shape))
              for s, shape in zip(specs, shapes)]
    return (arrays[0], arrays[1]), (arrays[2], arrays[3])


def mnist(path: str | os.PathLike | None = None) -> tuple[Split, Split]:
    """The MNIST digits: ``((x_train, y_train), (x_test, y_test))``, as Keras returns them.

    ``x_*`` are uint8 arrays of shape (60000, 28, 28) and (10000, 28, 28) with values 0-255;
    ``y_*`` are uint8 labels 0-9. Files are found in ``path`` (a folder with the four IDX
    ``.gz`` files), ``$STATDL_DATA/mnist``, the cache, or downloaded (MD5-checked).

    Examples
    --------
    >>> (x_train, y_train), (x_test, y_test) = mnist()  # doctest: +SKIP
    >>> x_train.shape, y_test[:3]                        # doctest: +SKIP
    ((60000, 28, 28), array([7, 2, 1], dtype=uint8))
    """
    return _load_four(MNIST_FILES, path, _shapes(60000, 10000))


def fashion_mnist(path: str | os.PathLike | None = None) -> tuple[Split, Split]:
    """Fashion-MNIST (Zalando): same layout and types as :func:`mnist`.

    Class names are in ``statdl.datasets.FASHION_MNIST_CLASSES``. Debian's package
    ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``) is used when present.

    Examples
    --------
    >>> (x_train, y_train), _ = fashion_mnist()  # doctest: +SKIP
    >>> x_train.shape                            # doctest: +SKIP
    (60000, 28, 28)
    """
    return _load_four(FASHION_MNIST_FILES, path, _shapes(60000, 10000))


def _shapes(n_train: int, n_test: int):
    return ((n_train, 28, 28), (n_train,), (n_test, 28, 28), (n_test,))


def mnist_sample() -> tuple[Split, Split]:
    """A *sample* of MNIST shipped inside statdl: the first 6,000 training and 1,000 test digits.

    For quick examples and tests without any download. It is never used in place of the full
    data by :func:`mnist`.

    Examples
    --------
    >>> (x_train, y_train), (x_test, y_test) = mnist_sample()
    >>> x_train.shape, x_test.shape, x_train.dtype
    ((6000, 28, 28), (1000, 28, 28), dtype('uint8'))
    """
    ref = resources.files("statdl") / "data" / "mnist_sample.npz"
    with resources.as_file(ref) as p, np.load(p) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
