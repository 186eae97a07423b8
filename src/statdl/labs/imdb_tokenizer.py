"""Lab ``imdb-tokenizer``: the course's tokenizer example ("Text data"), output as in the notes.

A tokenizer keeping the 1,000 most common words is fitted on two sentences; it turns them into
lists of word indices, a binary one-hot matrix, and a word index (``Found 9 unique tokens.``).
"""

from __future__ import annotations

import argparse

from statdl.text import Tokenizer

SAMPLES = ["The cat sat on the mat.", "The dog ate my homework."]


def r_list(sequences: list[list[int]]) -> str:
    """Print a list of integer vectors as R does (``[[1]]`` / ``[1] 1 2 3``)."""
    out = []
    for i, seq in enumerate(sequences, start=1):
        out += [f"[[{i}]]", "[1] " + " ".join(map(str, seq)), ""]
    return "\n".join(out)


def run(args: argparse.Namespace, run) -> dict:
    """Fit the tokenizer on the two samples and print what the course prints."""
    tokenizer = Tokenizer(num_words=1000)
    tokenizer.fit_on_texts(SAMPLES)
    sequences = tokenizer.texts_to_sequences(SAMPLES)
    print(r_list(sequences))
    one_hot = tokenizer.texts_to_matrix(SAMPLES, mode="binary")
    print(f"one-hot matrix: {one_hot.shape[0]} x {one_hot.shape[1]}, "
          f"{int(one_hot.sum())} ones\n")
    word_index = dict(tokenizer.word_index)
    for word, index in word_index.items():
        print(f"${word}\n[1] {index}\n")
    print(f"Found {len(word_index)} unique tokens.")
    results = {"sequences": [list(map(int, s)) for s in sequences],
               "word_index": word_index, "unique_tokens": len(word_index),
               "one_hot_shape": list(one_hot.shape),
               "headline": {"name": "unique tokens", "value": len(word_index), "course": 9}}
    run.record(results)
    return results
