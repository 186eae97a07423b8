"""The labs' old private name for R's ``sample()``; the public home is :mod:`statdl.rsample`.

Kept so that code written against ``statdl.labs._rsample`` (the labs, ``bench/reproduce.py``,
users' scripts) keeps working: ``r_sample(n, size, seed)`` returns a list of 1-based indices.
"""

from __future__ import annotations

from ..rsample import RRandom
from ..rsample import r_sample as _r_sample

__all__ = ["RRandom", "r_sample"]


def r_sample(n: int, size: int, seed: int) -> list[int]:
    """``set.seed(seed); sample(1:n, size)`` of R: 1-based indices (see ``statdl.r_sample``).

    Examples
    --------
    >>> r_sample(263, 79, 1001)[:4]
    [87, 203, 204, 156]
    """
    return _r_sample(n, size, seed=seed).tolist()
