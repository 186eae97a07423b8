"""R's ``set.seed(seed); sample(...)`` in Python, draw for draw.

Students port R code line by line, and the course's test split is ``set.seed(1001); ind <-
sample(1:n, round(n*0.3))``: :func:`r_sample` returns exactly R's numbers (R >= 3.6, whose
default ``sample.kind`` is ``"Rejection"``, with the default Mersenne-Twister generator), so the
same rows land in the test set and in the same order. :class:`RRandom` keeps the generator
between calls, as R does after one ``set.seed``.

What is reproduced (checked against R itself in ``tests/test_rsample.py``):

- ``set.seed(s)``: R's seed scrambling (50 rounds of ``69069 * s + 1``, then 625 more to fill the
  Mersenne-Twister state) and ``unif_rand()``;
- ``sample(n, size)``, ``sample(1:n, size)``, ``sample(x, size)`` for a vector ``x``, with or
  without ``replace``; a non-integer ``size`` such as ``n/3`` is truncated, as R does;
- ``sample(n)`` (a permutation), and R's hashed algorithm for ``n > 1e7`` with ``size <= n/2``.

Not reproduced: ``prob=`` (weighted sampling) and ``sample.kind = "Rounding"`` (R < 3.6).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from .errors import ConfigError
from .validation import message

__all__ = ["RRandom", "r_sample"]

_N, _M = 624, 397
_UPPER, _LOWER, _MATRIX_A = 0x80000000, 0x7FFFFFFF, 0x9908B0DF
_I2_32M1 = 2.328306437080797e-10  # 1 / (2^32 - 1), R's fixup() bound
_HASH_N = 1e7                     # R's sample.int uses its hashed algorithm above this n
_INT_MAX = 2**31 - 1              # R's integers; -2^31 is NA (set.seed: "not a valid integer")


class RRandom:
    """R's default generator (Mersenne-Twister, Inversion, Rejection) after ``set.seed(seed)``.

    Successive calls continue one stream, as successive R calls after one ``set.seed`` do.

    Parameters
    ----------
    seed : int
        The argument of R's ``set.seed``: an int from -2147483647 to 2147483647, R's integers
        (negative seeds work as in R; R refuses the others, and so does this).

    Examples
    --------
    >>> rng = RRandom(1001)             # set.seed(1001)
    >>> round(rng.unif_rand(), 7)       # runif(1)
    0.9856888
    >>> rng = RRandom(1)
    >>> rng.sample(10, 3).tolist(), rng.sample(10, 3).tolist()   # two calls, one stream
    ([9, 4, 7], [1, 2, 5])
    """

    def __init__(self, seed: int):
        s = _seed(seed, "RRandom") & 0xFFFFFFFF
        for _ in range(50):                       # Randomize(): initial scrambling
            s = (69069 * s + 1) & 0xFFFFFFFF
        state = []
        for _ in range(_N + 1):                   # RNG_Init: fill i_seed[0..624]
            s = (69069 * s + 1) & 0xFFFFFFFF
            state.append(s)
        self.mt = state[1:]                       # dummy[0] is mti, reset to N (FixupSeeds)
        self.mti = _N

    def _genrand(self) -> float:
        mt = self.mt
        if self.mti >= _N:
            for kk in range(_N):
                y = (mt[kk] & _UPPER) | (mt[(kk + 1) % _N] & _LOWER)
                mt[kk] = mt[(kk + _M) % _N] ^ (y >> 1) ^ (_MATRIX_A if y & 1 else 0)
            self.mti = 0
        y = mt[self.mti]
        self.mti += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return (y & 0xFFFFFFFF) * 2.3283064365386963e-10

    def unif_rand(self) -> float:
        """One uniform draw in (0, 1), as R's ``runif(1)``."""
        value = self._genrand()
        if value <= 0.0:
            return 0.5 * _I2_32M1
        if 1.0 - value <= 0.0:
            return 1.0 - 0.5 * _I2_32M1
        return value

    def _rbits(self, bits: int) -> int:
        v = 0
        for _ in range(0, bits + 1, 16):
            v = 65536 * v + int(math.floor(self.unif_rand() * 65536))
        return v & ((1 << bits) - 1)

    def unif_index(self, dn: int) -> int:
        """A uniform integer in ``[0, dn)`` by rejection sampling (R's ``R_unif_index``)."""
        return self._unif_index(_count(dn, "dn", "RRandom.unif_index"))

    def _unif_index(self, dn: int) -> int:
        if dn <= 0:
            return 0
        bits = int(math.ceil(math.log2(dn)))
        while True:
            dv = self._rbits(bits)
            if dv < dn:
                return dv

    def sample_int(self, n: int, size: int | None = None, replace: bool = False) -> np.ndarray:
        """R's ``sample.int(n, size, replace)``: 1-based integers (an int64 array)."""
        return self._sample_int(_count(n, "n", "RRandom.sample_int"), size, replace,
                                "RRandom.sample_int")

    def _sample_int(self, n: int, size: Any, replace: Any, owner: str) -> np.ndarray:
        k = n if size is None else _size(size, owner)
        replace = _replace(replace, owner)
        if not replace and k > n:
            raise ConfigError(message(
                "size", f"at most the population ({n}) when `replace` is False", size, owner,
                fix="Pass replace=True to draw with replacement (R: 'cannot take a sample "
                    "larger than the population')."))
        if replace or k < 2:
            return np.array([self._unif_index(n) + 1 for _ in range(k)], dtype=np.int64)
        if n > _HASH_N and k <= n / 2:
            return self._sample_hashed(n, k)
        pool = list(range(n))
        out = []
        for _ in range(k):                 # do_sample: swap the drawn one out of the pool
            j = self._unif_index(n)
            out.append(pool[j] + 1)
            n -= 1
            pool[j] = pool[n]
        return np.array(out, dtype=np.int64)

    def _sample_hashed(self, n: int, k: int) -> np.ndarray:
        """R's ``sample2``: draw with replacement, draw again on a repeat."""
        seen: set[int] = set()
        out = []
        while len(out) < k:
            v = self._unif_index(n) + 1
            if v not in seen:
                seen.add(v)
                out.append(v)
        return np.array(out, dtype=np.int64)

    def sample(self, x: Any, size: float | None = None, replace: bool = False) -> np.ndarray:
        """R's ``sample(x, size, replace)``; see :func:`r_sample`."""
        return self._sample(x, size, replace, "RRandom.sample")

    def _sample(self, x: Any, size: Any, replace: Any, owner: str) -> np.ndarray:
        if _is_count(x):
            return self._sample_int(int(x), size, replace, owner)
        values = None if isinstance(x, str | bytes) else np.asarray(x)
        if values is None or values.ndim != 1 or len(values) == 0:
            raise ConfigError(message("x", "an int n >= 1 (R's sample(n, ...)) or a non-empty "
                                      "1-d sequence of values", x, owner, shown=_describe(x)))
        return values[self._sample_int(len(values), size, replace, owner) - 1]


def r_sample(x: Any, size: float | None = None, replace: bool = False, *,
             seed: int) -> np.ndarray:
    """``set.seed(seed); sample(x, size, replace)`` of R (>= 3.6), draw for draw.

    Parameters
    ----------
    x : int or sequence
        An int ``n`` samples from ``1:n`` (R's ``sample(n, ...)`` and ``sample(1:n, ...)`` draw
        the same numbers); a sequence (list, array, Series) samples its values, as R's
        ``sample(c(TRUE, FALSE), ...)``.
    size : int or float, optional
        How many draws; a fraction such as ``n / 3`` is truncated as R does. Default: all of
        them (a permutation).
    replace : bool
        Draw with replacement (R's ``replace = TRUE``, e.g. a bootstrap sample).
    seed : int
        The argument of R's ``set.seed`` (R's integers, as :class:`RRandom`). For several
        calls after one ``set.seed``, use
        :class:`RRandom` (``rng = RRandom(seed); rng.sample(...); rng.sample(...)``).

    Returns
    -------
    numpy.ndarray
        For an int ``x``, 1-based positions as R prints them (subtract 1 to index numpy or
        pandas rows); for a sequence, its drawn values.

    Examples
    --------
    The course's Hitters split (``set.seed(1001); ind <- sample(1:n, round(n*0.3))``):

    >>> ind = r_sample(263, round(263 * 0.3), seed=1001)
    >>> ind[:5].tolist(), len(ind)
    ([87, 203, 204, 156, 68], 79)
    >>> r_sample([True, False], 5, replace=True, seed=1).tolist()   # ISLR2's Ch. 6 lab
    [True, False, True, True, False]
    """
    return RRandom(_seed(seed, "r_sample"))._sample(x, size, replace, "r_sample")


def _is_count(x: Any) -> bool:
    return (isinstance(x, Integral | Real | np.number) and not isinstance(x, bool | np.bool_)
            and math.isfinite(x) and float(x) >= 1 and float(x) == math.floor(float(x)))


def _seed(seed: Any, owner: str) -> int:
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, Integral) \
            or not -_INT_MAX <= seed <= _INT_MAX:
        raise ConfigError(message("seed", f"an int from {-_INT_MAX} to {_INT_MAX} (R's "
                                  "set.seed takes R's integers)", seed, owner))
    return int(seed)


def _count(n: Any, argument: str, owner: str) -> int:
    if isinstance(n, bool | np.bool_) or not isinstance(n, Integral) or n < 0:
        raise ConfigError(message(argument, "an int >= 0", n, owner))
    return int(n)


def _size(size: Any, owner: str) -> int:
    if isinstance(size, bool | np.bool_) or not isinstance(size, Real) \
            or not math.isfinite(size) or not size >= 0:
        raise ConfigError(message("size", "a number >= 0 (a fraction is truncated, as R does)",
                                  size, owner))
    return int(size)


def _replace(replace: Any, owner: str) -> bool:
    if not isinstance(replace, bool | np.bool_):
        raise ConfigError(message("replace", "True or False", replace, owner))
    return bool(replace)


def _describe(x: Any) -> str:
    if isinstance(x, Sequence | np.ndarray) and not isinstance(x, str | bytes):
        return f"{type(x).__name__} of shape {np.shape(x)}"
    return repr(x)
