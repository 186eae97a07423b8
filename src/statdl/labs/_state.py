"""A lab runs in the caller's process (a notebook, a test, ``run_lab``): it leaves it as found."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..threads import policy_kept

__all__ = ["process_kept"]


def _rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {"random": random.getstate(), "numpy": np.random.get_state()}
    torch = sys.modules.get("torch")
    if torch is not None:
        states["torch"] = torch.get_rng_state()
        if torch.cuda.is_initialized():
            states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_rng(states: dict[str, Any]) -> None:
    random.setstate(states["random"])
    np.random.set_state(states["numpy"])
    torch = sys.modules.get("torch")
    if "torch" in states:
        torch.set_rng_state(states["torch"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


def _restore_env(saved: dict[str, str]) -> None:
    for key in [k for k in os.environ if k not in saved]:
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


@contextmanager
def process_kept() -> Iterator[None]:
    """Inside the block a lab may change environment variables, ``sys.stdout`` /
    ``sys.stderr``, the thread policy and torch's thread count (``--threads``), and the global
    random generators (``--seed``); afterwards they are the caller's again, also when the lab
    raises.

    Examples
    --------
    >>> import os
    >>> with process_kept():
    ...     os.environ["STATDL_EXAMPLE"] = "1"
    >>> "STATDL_EXAMPLE" in os.environ
    False
    """
    env = dict(os.environ)
    streams = sys.stdout, sys.stderr
    rng = _rng_states()
    try:
        with policy_kept():
            yield
    finally:
        sys.stdout, sys.stderr = streams
        _restore_env(env)
        _restore_rng(rng)
