"""Text utilities with Keras semantics: Tokenizer, pad_sequences, pretrained embeddings.

Examples
--------
>>> from statdl.text import Tokenizer, pad_sequences
>>> tok = Tokenizer(num_words=1000)
>>> tok.fit_on_texts(["The cat sat on the mat.", "The dog ate my homework."])
>>> pad_sequences(tok.texts_to_sequences(["the cat ate"]), maxlen=4).tolist()
[[0, 1, 2, 7]]
"""

from __future__ import annotations

from .embeddings import Embeddings, load_embeddings
from .sequence import pad_sequences
from .tokenizer import (
    DEFAULT_FILTERS,
    Tokenizer,
    load,
    text_to_word_sequence,
    tokenizer_from_json,
)

__all__ = [
    "DEFAULT_FILTERS",
    "Embeddings",
    "Tokenizer",
    "load",
    "load_embeddings",
    "pad_sequences",
    "text_to_word_sequence",
    "tokenizer_from_json",
]
