"""Helpers shared by the labs: data loading with clear messages, timing, classification reports."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..validation import message

__all__ = ["mnist_data", "imdb_data", "fashion_data", "classification_report", "Timer",
           "check_data_files", "headline", "with_interval"]


class Timer:
    """Accumulates wall-clock seconds of the timed blocks (training and prediction).

    Examples
    --------
    >>> t = Timer()
    >>> with t:
    ...     pass
    >>> t.seconds >= 0
    True
    """

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> Timer:
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds += time.perf_counter() - self._t0


def check_data_files(specs: Any, what: str, sample_ships: bool = False) -> None:
    """Say where data will come from when it is not on this machine (before a download).

    ``sample_ships``: a sample of this data ships with statdl, so ``--quick`` needs no files.
    """
    from ..datasets._files import cache_dir, find_local, url_for

    missing = [s for s in specs if find_local(s) is None]
    if missing:
        names = ", ".join(s.name for s in missing)
        quick = ("or use --quick for the sample shipped with statdl" if sample_ships else
                 "--quick also needs them: it trains on a subset of these files")
        print(f"{what}: {names} not found locally (looked in --data-dir / $STATDL_DATA and "
              f"{cache_dir()}); downloading from {url_for(missing[0]).rsplit('/', 1)[0]} "
              "into the cache. Put the files in <data-dir>/"
              f"{missing[0].subdir}/ to avoid this ({quick}).")


def mnist_data(args: argparse.Namespace, shape: str = "flat") -> tuple[np.ndarray, ...]:
    """MNIST scaled to [0, 1]: ``x_train, y_train, x_test, y_test``.

    ``shape``: ``"flat"`` (n, 784) or ``"image"`` (n, 28, 28, 1). ``--quick`` uses the
    6,000/1,000-digit sample shipped with statdl; otherwise the full 60,000/10,000 digits.
    """
    from .. import datasets

    if args.quick:
        (x_tr, y_tr), (x_te, y_te) = datasets.mnist_sample()
        print("Data: the MNIST sample shipped with statdl (6,000 training, 1,000 test digits).")
    else:
        from ..datasets.mnist import MNIST_FILES

        check_data_files(MNIST_FILES, "MNIST", sample_ships=True)
        (x_tr, y_tr), (x_te, y_te) = datasets.mnist()
        print("Data: MNIST (60,000 training, 10,000 test digits).")
    dims = (784,) if shape == "flat" else (28, 28, 1)
    x_tr = x_tr.reshape(len(x_tr), *dims).astype("float32") / 255
    x_te = x_te.reshape(len(x_te), *dims).astype("float32") / 255
    return x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64)


def fashion_data(args: argparse.Namespace) -> tuple[np.ndarray, ...]:
    """Fashion-MNIST as images (n, 28, 28, 1) in [0, 1]: ``x_train, y_train, x_test, y_test``."""
    from .. import datasets
    from ..datasets.mnist import FASHION_MNIST_FILES

    check_data_files(FASHION_MNIST_FILES, "Fashion-MNIST")
    (x_tr, y_tr), (x_te, y_te) = datasets.fashion_mnist()
    x_tr = x_tr.reshape(-1, 28, 28, 1).astype("float32") / 255
    x_te = x_te.reshape(-1, 28, 28, 1).astype("float32") / 255
    return x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64)


def imdb_data(args: argparse.Namespace, maxlen: int, num_words: int = 10000,
              quick_train: int = 4000, quick_test: int = 2000) -> tuple[np.ndarray, ...]:
    """IMDB reviews as padded integer sequences: ``x_train, y_train, x_test, y_test``.

    As the course: the 10,000 most frequent words, each review cut to its last ``maxlen``
    words by ``pad_sequences``. ``--quick`` keeps a random ``quick_train``/``quick_test``.
    """
    from .. import datasets
    from ..datasets._files import find_local
    from ..datasets.imdb import IMDB_FILES
    from ..text import pad_sequences

    if all(find_local(s) is None for s in IMDB_FILES):
        check_data_files(IMDB_FILES[1:], "IMDB")
    (x_tr, y_tr), (x_te, y_te) = datasets.imdb(num_words=num_words)
    if args.quick:
        rng = np.random.default_rng(args.seed)
        tr = rng.choice(len(x_tr), quick_train, replace=False)
        te = rng.choice(len(x_te), quick_test, replace=False)
        x_tr, y_tr, x_te, y_te = x_tr[tr], y_tr[tr], x_te[te], y_te[te]
    print(f"Data: IMDB, {len(x_tr):,} training and {len(x_te):,} test reviews, "
          f"{num_words:,} words, maxlen {maxlen}.")
    return (pad_sequences(x_tr, maxlen=maxlen), np.asarray(y_tr, dtype=np.int64),
            pad_sequences(x_te, maxlen=maxlen), np.asarray(y_te, dtype=np.int64))


def headline(name: str, value: float, lower: float | None = None, upper: float | None = None,
             course: float | None = None, target: float | None = None,
             higher_is_better: bool = True) -> dict[str, Any]:
    """The one number a lab is judged by, with its interval, the course's figure and target."""
    out: dict[str, Any] = {"name": name, "value": float(value), "lower": lower, "upper": upper,
                           "course": course, "target": target,
                           "higher_is_better": higher_is_better}
    if target is not None:
        out["meets_target"] = bool(value >= target if higher_is_better else value <= target)
    return out


def with_interval(name: str, value: float, lower: float, upper: float) -> dict[str, float]:
    """``{name: value, name_lower: lower, name_upper: upper}``: an evaluation entry whose
    interval the HTML report shows beside the value.

    Examples
    --------
    >>> with_interval("accuracy", 0.9, 0.88, 0.92)
    {'accuracy': 0.9, 'accuracy_lower': 0.88, 'accuracy_upper': 0.92}
    """
    return {name: float(value), f"{name}_lower": float(lower), f"{name}_upper": float(upper)}


def classification_report(run: Any, model: Any, history: Any, x_test: np.ndarray,
                          y_test: np.ndarray, timer: Timer, course: float | None = None,
                          target: float | None = None, figure_prefix: str = "",
                          source: str = "Course") -> dict:
    """Predict the test set, print caret's statistics, save the history and confusion figures.

    ``course`` is the published test accuracy; ``source`` says where it was published.
    ``figure_prefix`` (e.g. ``"mlp2_"``) names this model's figures and evaluation entries.

    Returns the results dict (also recorded in the run folder), with ``predictions``.
    """
    from .. import confusion_matrix, plot_confusion_matrix, plot_history

    with timer:
        pred = model.predict_classes(x_test)
    cm = confusion_matrix(pred, y_test)
    print("\nTest set, caret-style statistics:")
    print(cm)
    if course is not None:
        print(f"\n{source}: test accuracy {course}; here {cm.accuracy:.4f} "
              f"(95% CI {cm.overall['AccuracyLower']:.4f}-{cm.overall['AccuracyUpper']:.4f}).")
    model_name = f"{figure_prefix.rstrip('_')}: " if figure_prefix else ""
    run.figure(plot_history(history), f"{figure_prefix}history",
               f"{model_name}loss and accuracy per epoch, training and validation data")
    run.figure(plot_confusion_matrix(cm, data="test"), f"{figure_prefix}confusion_matrix",
               f"{model_name}confusion matrix of the test set, predicted against true class")
    evaluation = {**with_interval(f"{figure_prefix}accuracy", cm.accuracy,
                                  cm.overall["AccuracyLower"], cm.overall["AccuracyUpper"]),
                  f"{figure_prefix}kappa": cm.kappa}
    results = {
        "headline": headline("accuracy", cm.accuracy, float(cm.overall["AccuracyLower"]),
                             float(cm.overall["AccuracyUpper"]), course, target),
        "confusion_matrix": cm.to_dict(), "fit_seconds": timer.seconds,
        "epochs_run": len(history.epoch),
    }
    run.record(results, history=history, model=model, evaluation=evaluation)
    results["predictions"] = pred
    return results


@contextmanager
def data_dir(path: str | None) -> Iterator[None]:
    """Point ``$STATDL_DATA`` at ``path`` (``--data-dir``) while a lab runs."""
    import os
    from pathlib import Path

    if path is None:
        yield
        return
    if not Path(path).expanduser().is_dir():
        raise ConfigError(message(
            "--data-dir", "a folder", path, fix="It should hold mnist/ (the four IDX .gz "
            "files), hitters/Hitters.csv and/or aclImdb_labeled.tar.gz (or aclImdb_v1.tar.gz)."))
    old = os.environ.get("STATDL_DATA")
    os.environ["STATDL_DATA"] = str(Path(path).expanduser().resolve())
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("STATDL_DATA", None)
        else:
            os.environ["STATDL_DATA"] = old
