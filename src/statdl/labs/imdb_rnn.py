"""Labs ``imdb-embed``, ``imdb-rnn``, ``imdb-rnn3``, ``imdb-lstm``, ``imdb-gru``, ``imdb-bilstm``
(course "Text data" to "Regularization").

IMDB reviews as the 10,000 most frequent words, each cut to its last ``--maxlen`` words (course:
20). An 8-dimensional embedding (``--embed-dim``), then: flattened into a dense sigmoid unit
(``embed``, batch 32), or a recurrent layer of 32 units (batch 128). RMSprop, binary
cross-entropy, 10 epochs, 20% validation (``--validation split``). ``--dropout`` and
``--recurrent-dropout`` regularise the recurrent layers.

The ISLR2 textbook's LSTM lab (James et al., 2nd ed., chapter 10 lab), source of the 0.87 at 500
words, is ``imdb-lstm --maxlen 500 --embed-dim 32 --validation test``: Embedding(10000, 32),
LSTM(32), trained on all 25,000 training reviews with the test reviews as ``validation_data``
(watched per epoch only; nothing is chosen by them).
"""

from __future__ import annotations

import argparse

import numpy as np

import statdl as sd
from statdl import layers as L

from ._common import Timer, classification_report, imdb_data

COURSE_EMBED_DIM, TEXTBOOK_EMBED_DIM = 8, 32

# The course's test accuracies (maxlen 20, then 100 where reported) and the targets; they belong
# to the course's settings (embedding output 8, validation_split 0.2).
COURSE = {("embed", 20): 0.76, ("rnn", 20): 0.72, ("rnn3", 20): 0.70, ("lstm", 20): 0.76,
          ("bilstm", 20): 0.75, ("rnn", 100): 0.80, ("rnn3", 100): 0.82, ("lstm", 100): 0.82,
          ("bilstm", 100): 0.83}
TARGET = {("embed", 20): 0.75, ("rnn", 20): 0.70, ("lstm", 20): 0.75, ("bilstm", 20): 0.74,
          ("lstm", 100): 0.82, ("bilstm", 100): 0.82}
# The ISLR2 textbook's LSTM lab: Embedding(10000, 32), no dropout, the test set as validation.
TEXTBOOK = {("lstm", 500): 0.87}
TEXTBOOK_TARGET = {("lstm", 500): 0.86}


def build(model: str, maxlen: int, dropout: float = 0.0, recurrent_dropout: float = 0.0,
          embed_dim: int = COURSE_EMBED_DIM) -> sd.Sequential:
    """Embedding(10000, ``embed_dim``) followed by the named head."""
    reg = {"dropout": dropout, "recurrent_dropout": recurrent_dropout}
    heads = {
        "embed": [L.Flatten()],
        "rnn": [L.SimpleRNN(32, **reg)],
        "rnn3": [L.SimpleRNN(32, return_sequences=True, **reg),
                 L.SimpleRNN(32, return_sequences=True, **reg), L.SimpleRNN(32, **reg)],
        "lstm": [L.LSTM(32, **reg)],
        "gru": [L.GRU(32, **reg)],
        "bilstm": [L.Bidirectional(L.LSTM(32, **reg))],
    }
    return sd.Sequential([L.Embedding(10000, embed_dim), *heads[model],
                          L.Dense(1, activation="sigmoid")],
                         input_shape=(maxlen,), name=f"imdb_{model}")


def model_for(args: argparse.Namespace) -> sd.Sequential:
    """The lab's network for the parsed options."""
    return build(args.model, args.maxlen, getattr(args, "dropout", 0.0),
                 getattr(args, "recurrent_dropout", 0.0),
                 getattr(args, "embed_dim", COURSE_EMBED_DIM))


def validation_options(args: argparse.Namespace, x_test: np.ndarray,
                       y_test: np.ndarray) -> dict:
    """``fit`` keywords of ``--validation``: the course's 20% split or the test set."""
    if getattr(args, "validation", "split") == "test":
        return {"validation_data": (x_test, y_test)}
    return {"validation_split": 0.2}


def reference(args: argparse.Namespace) -> tuple[str, float | None, float | None]:
    """Where the published figure comes from, the figure and the target (None: no figure for
    these settings)."""
    key = (args.model, args.maxlen)
    embed_dim = getattr(args, "embed_dim", COURSE_EMBED_DIM)
    validation = getattr(args, "validation", "split")
    if embed_dim == COURSE_EMBED_DIM and validation == "split":
        return "Course", COURSE.get(key), TARGET.get(key)
    no_dropout = not getattr(args, "dropout", 0.0) and not getattr(args, "recurrent_dropout", 0.0)
    if embed_dim == TEXTBOOK_EMBED_DIM and validation == "test" and no_dropout:
        return "Textbook (ISLR2)", TEXTBOOK.get(key), TEXTBOOK_TARGET.get(key)
    return "Course", None, None


def run(args: argparse.Namespace, run) -> dict:
    """Train the chosen network on the IMDB reviews; caret statistics on the test reviews."""
    x_train, y_train, x_test, y_test = imdb_data(args, args.maxlen)
    model = model_for(args)
    model.summary()
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"],
                  device=args.device)
    validation = validation_options(args, x_test, y_test)
    if "validation_data" in validation:
        print(f"Validation: the {len(x_test):,} test reviews (validation_data, as the ISLR2 "
              f"textbook); training on all {len(x_train):,} training reviews.")
    timer = Timer()
    with timer:
        history = model.fit(x_train, y_train, epochs=args.epochs,
                            batch_size=32 if args.model == "embed" else 128,
                            verbose=args.verbose, **validation)
    source, figure, target = reference(args)
    results = classification_report(run, model, history, x_test, y_test, timer,
                                    figure, target, source=source)
    results.pop("predictions")
    return results
