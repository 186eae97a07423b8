"""Labs ``imdb-embed``, ``imdb-rnn``, ``imdb-rnn3``, ``imdb-lstm``, ``imdb-gru``, ``imdb-bilstm``
(course "Text data" to "Regularization").

IMDB reviews as the 10,000 most frequent words, each cut to its last ``--maxlen`` words (course:
20). An 8-dimensional embedding, then: flattened into a dense sigmoid unit (``embed``, batch
32), or a recurrent layer of 32 units (batch 128). RMSprop, binary cross-entropy, 10 epochs,
20% validation. ``--dropout`` and ``--recurrent-dropout`` regularise the recurrent layers.
"""

from __future__ import annotations

import argparse

import statdl as sd
from statdl import layers as L

from ._common import Timer, classification_report, imdb_data

# The course's test accuracies (maxlen 20, then 100 where reported), and the targets.
COURSE = {("embed", 20): 0.76, ("rnn", 20): 0.72, ("rnn3", 20): 0.70, ("lstm", 20): 0.76,
          ("bilstm", 20): 0.75, ("rnn", 100): 0.80, ("rnn3", 100): 0.82, ("lstm", 100): 0.82,
          ("bilstm", 100): 0.83, ("lstm", 500): 0.87}
TARGET = {("embed", 20): 0.75, ("rnn", 20): 0.70, ("lstm", 20): 0.75, ("bilstm", 20): 0.74,
          ("lstm", 100): 0.82, ("bilstm", 100): 0.82, ("lstm", 500): 0.86}


def build(model: str, maxlen: int, dropout: float = 0.0,
          recurrent_dropout: float = 0.0) -> sd.Sequential:
    """Embedding(10000, 8) followed by the named head."""
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
    return sd.Sequential([L.Embedding(10000, 8), *heads[model],
                          L.Dense(1, activation="sigmoid")],
                         input_shape=(maxlen,), name=f"imdb_{model}")


def run(args: argparse.Namespace, run) -> dict:
    """Train the chosen network on the IMDB reviews; caret statistics on the test reviews."""
    x_train, y_train, x_test, y_test = imdb_data(args, args.maxlen)
    model = build(args.model, args.maxlen, getattr(args, "dropout", 0.0),
                  getattr(args, "recurrent_dropout", 0.0))
    model.summary()
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"],
                  device=args.device)
    timer = Timer()
    with timer:
        history = model.fit(x_train, y_train, epochs=args.epochs,
                            batch_size=32 if args.model == "embed" else 128,
                            validation_split=0.2, verbose=args.verbose)
    key = (args.model, args.maxlen)
    results = classification_report(run, model, history, x_test, y_test, timer,
                                    COURSE.get(key), TARGET.get(key))
    results.pop("predictions")
    return results
