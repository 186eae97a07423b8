"""Keras-style automatic names: ``dense``, ``dense_1``, ``dense_2`` ... per kind."""

from __future__ import annotations

import re
from collections import defaultdict

_counts: defaultdict[str, int] = defaultdict(int)


def snake_case(class_name: str) -> str:
    """``MaxPooling2D`` -> ``max_pooling2d`` as Keras names layers."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(prefix: str) -> str:
    """Return ``prefix`` the first time, then ``prefix_1``, ``prefix_2`` ..."""
    n = _counts[prefix]
    _counts[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def reset_names() -> None:
    """Start the name counters again (like ``keras.backend.clear_session``)."""
    _counts.clear()
