"""fit_on_texts + texts_to_sequences + pad_sequences on the 25,000 IMDB training reviews:
statdl versus keras-preprocessing's Tokenizer with Keras 3's pad_sequences, same run.

    pip install keras-preprocessing keras   # Keras 3 runs on KERAS_BACKEND=torch here
    python bench/text_speed.py [path/to/aclImdb_labeled.tar.gz]
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")


def main() -> int:
    import statdl as sd

    default = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                           "aclImdb_labeled.tar.gz")
    path = sys.argv[1] if len(sys.argv) > 1 else default
    (texts, _), _ = sd.datasets.imdb_texts(path=path)
    from keras.utils import pad_sequences as keras_pad
    from keras_preprocessing.text import Tokenizer as KerasTokenizer

    def run(tok_cls, pad):
        t0 = time.perf_counter()
        tok = tok_cls(num_words=10000)
        tok.fit_on_texts(texts)
        seqs = tok.texts_to_sequences(texts)
        x = pad(seqs, maxlen=500)
        return time.perf_counter() - t0, seqs, x

    t_ours, s_ours, x_ours = min((run(sd.text.Tokenizer, sd.text.pad_sequences)
                                  for _ in range(3)), key=lambda r: r[0])
    t_ref, s_ref, x_ref = min((run(KerasTokenizer, keras_pad) for _ in range(2)),
                              key=lambda r: r[0])
    if s_ours != s_ref or not np.array_equal(x_ours, x_ref):
        print("MISMATCH: statdl and keras-preprocessing sequences differ")
        return 1
    print(f"reviews: {len(texts)}, tokens kept: {sum(map(len, s_ours))}")
    print(f"keras-preprocessing + keras3 pad: {t_ref:.2f} s")
    print(f"statdl:                           {t_ours:.2f} s")
    print(f"speed ratio: {t_ref / t_ours:.1f}x (target >= 5x); sequences identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
