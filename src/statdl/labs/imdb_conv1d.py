"""Lab ``imdb-conv1d``: a one-dimensional convolutional text classifier on the IMDB reviews.

The reviews as the 10,000 most frequent words, each cut to its last 500 words, as in the other
IMDB labs. Embedding(10000, 32), Conv1D(32, 7, relu) (32 filters sliding over windows of 7
words), GlobalMaxPooling1D (each filter's strongest response anywhere in the review),
Dense(1, sigmoid): 327,233 weights. RMSprop, binary cross-entropy, batch 128, 8 epochs, the
course's 20% validation split. Target: test accuracy >= 0.87 (issue #14).
``bench/reproduce.py`` trains the same network in Keras 3 on the same arrays (row
``imdb-conv1d``).
"""

from __future__ import annotations

import argparse

import statdl as sd
from statdl import layers as L

from ._common import Timer, classification_report, imdb_data

MAXLEN, EMBED_DIM, FILTERS, KERNEL = 500, 32, 32, 7
TARGET = 0.87


def build(maxlen: int = MAXLEN) -> sd.Sequential:
    """Embedding(10000, 32), Conv1D(32, 7, relu), GlobalMaxPooling1D, Dense(1, sigmoid).

    Examples
    --------
    >>> build().count_params()       # 10000*32 + (7*32*32 + 32) + (32 + 1)
    327233
    """
    return sd.Sequential([L.Embedding(10000, EMBED_DIM),
                          L.Conv1D(FILTERS, KERNEL, activation="relu"),
                          L.GlobalMaxPooling1D(), L.Dense(1, activation="sigmoid")],
                         input_shape=(maxlen,), name="imdb_conv1d")


def run(args: argparse.Namespace, run) -> dict:
    """Train the convolutional classifier; caret statistics on the 25,000 test reviews."""
    x_train, y_train, x_test, y_test = imdb_data(args, MAXLEN)
    model = build(MAXLEN)
    model.summary()
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"],
                  device=args.device)
    timer = Timer()
    with timer:
        history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=128,
                            validation_split=0.2, verbose=args.verbose)
    results = classification_report(run, model, history, x_test, y_test, timer, None,
                                    None if args.quick else TARGET, source="Target")
    results.pop("predictions")
    return results
