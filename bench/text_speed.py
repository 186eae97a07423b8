"""Text preprocessing speed: statdl versus keras-preprocessing's Tokenizer with Keras 3's
``pad_sequences`` on the 25,000 IMDB training reviews, in one process.

Each pipeline is ``Tokenizer(num_words=10000)``, ``fit_on_texts``, ``texts_to_sequences`` on
the same texts and ``pad_sequences(maxlen=500)``. The sides take turns, each going first in
every other round (so that a busy machine slows both alike), each run after a full garbage
collection and with only the first run's output kept, to check every later run against it.
The report gives each side's best run, with its steps, and the speed ratio of the best runs;
it fails unless all runs gave identical sequences and matrices. Usage::

    pip install keras-preprocessing keras   # Keras 3 runs on KERAS_BACKEND=torch here
    python bench/text_speed.py [--repeats 5] [path/to/aclImdb_labeled.tar.gz]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")

STEPS = ("fit_on_texts", "texts_to_sequences", "pad_sequences")
TARGET = 5.0  # the speed ratio statdl aims for


def run(tokenizer: type, pad: Callable, texts: list[str]) -> tuple[list[float], list, np.ndarray]:
    """One pipeline: the seconds of each step, the sequences and the padded matrix."""
    times = []
    t0 = time.perf_counter()
    tok = tokenizer(num_words=10000)
    tok.fit_on_texts(texts)
    times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    seqs = tok.texts_to_sequences(texts)
    times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    x = pad(seqs, maxlen=500)
    times.append(time.perf_counter() - t0)
    return times, seqs, x


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=None,
                        help="the IMDB reviews (aclImdb_labeled.tar.gz or an aclImdb folder); "
                             "default: statdl's data lookup (STATDL_DATA, the data cache), "
                             "else ../shared/data next to this repository")
    parser.add_argument("--repeats", type=int, default=5,
                        help="runs of each side, interleaved; the best counts (default 5)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")

    from keras.utils import pad_sequences as keras_pad
    from keras_preprocessing.text import Tokenizer as KerasTokenizer

    import statdl as sd

    path = args.path
    shared = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
                          "data", "aclImdb_labeled.tar.gz")
    if path is None and not os.environ.get("STATDL_DATA") and os.path.isfile(shared):
        path = shared
    (texts, _), _ = sd.datasets.imdb_texts(path=path)

    sides = {"statdl": (sd.text.Tokenizer, sd.text.pad_sequences),
             "keras-preprocessing + keras3 pad": (KerasTokenizer, keras_pad)}
    best: dict[str, list[float]] = {}
    runs: dict[str, list[float]] = {name: [] for name in sides}
    reference: tuple[list, np.ndarray] | None = None  # the first run's output
    order = list(sides)
    for round_ in range(args.repeats):
        for name in order if round_ % 2 == 0 else order[::-1]:  # each side first in turn
            gc.collect()
            times, seqs, x = run(*sides[name], texts)
            if reference is None:
                reference = (seqs, x)
            elif (seqs != reference[0] or x.dtype != reference[1].dtype
                  or not np.array_equal(x, reference[1])):
                print(f"MISMATCH: {name}'s sequences differ from the first run's")
                return 1
            del seqs, x  # only the reference stays alive during the next runs
            runs[name].append(sum(times))
            if name not in best or sum(times) < sum(best[name]):
                best[name] = times

    print(f"reviews: {len(texts)}, tokens kept: {sum(map(len, reference[0]))}, "
          f"best of {args.repeats} interleaved runs per side")
    print(f"{'':34s}{'total':>8s}" + "".join(f"{s:>20s}" for s in STEPS) + "   all runs")
    for name in sides:
        cells = "".join(f"{t:19.3f}s" for t in best[name])
        spread = ", ".join(f"{t:.2f}" for t in runs[name])
        print(f"{name:34s}{sum(best[name]):7.3f}s{cells}   {spread}")
    t_ours, t_ref = (sum(best[name]) for name in sides)
    print(f"speed ratio: {t_ref / t_ours:.2f}x (target >= {TARGET:g}x); sequences identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
