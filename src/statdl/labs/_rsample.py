"""R's ``set.seed(s); sample(1:n, k)`` in Python, so a lab can use the course's exact split.

R (>= 3.6) draws with the Mersenne-Twister generator seeded by ``set.seed`` and samples by
rejection (``sample.kind = "Rejection"``). Checked against R 4: ``set.seed(1001);
sample(1:263, 79)`` starts ``87 203 204 156``.
"""

from __future__ import annotations

import math

__all__ = ["RRandom", "r_sample"]

_N, _M = 624, 397
_UPPER, _LOWER, _MATRIX_A = 0x80000000, 0x7FFFFFFF, 0x9908B0DF
_I2_32M1 = 2.328306437080797e-10  # 1 / (2^32 - 1)


class RRandom:
    """R's default generator (Mersenne-Twister, Inversion) after ``set.seed(seed)``.

    Examples
    --------
    >>> round(RRandom(1001).unif_rand(), 7)
    0.9856888
    """

    def __init__(self, seed: int):
        s = seed & 0xFFFFFFFF
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
        """A uniform integer in ``[0, dn)`` by rejection sampling (R_unif_index)."""
        if dn <= 0:
            return 0
        bits = int(math.ceil(math.log2(dn)))
        while True:
            dv = self._rbits(bits)
            if dv < dn:
                return dv


def r_sample(n: int, size: int, seed: int) -> list[int]:
    """``set.seed(seed); sample(1:n, size)`` of R: 1-based indices.

    Examples
    --------
    >>> r_sample(263, 79, 1001)[:4]
    [87, 203, 204, 156]
    """
    rng = RRandom(seed)
    pool = list(range(n))
    out = []
    for _ in range(size):
        j = rng.unif_index(n)
        out.append(pool[j] + 1)
        n -= 1
        pool[j] = pool[n]
    return out
