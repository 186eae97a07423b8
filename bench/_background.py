"""Busy background processes for the benchmarks: a user's machine is rarely quiet.

``with busy_background(n): ...`` runs the block while ``n`` processes of the benchmark's own
(pure Python loops, one core each) compete for the cores. They are stopped when the block
ends, stop by themselves after ``max_seconds`` (30 minutes by default) and as soon as the
benchmark that started them dies, so a killed benchmark leaves nothing spinning.

Usage (from a script in ``bench/``, whose folder is on ``sys.path``)::

    from _background import busy_background

    with busy_background(1):        # one competing process
        run_the_timed_part()
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

MAX_SECONDS = 1800.0      # a busy process never outlives this, whatever happens to its parent
SETTLE_SECONDS = 0.5      # let the loops get going before the timed code starts

# The inner loop of 100,000 steps takes a few ms, so the parent check costs nothing. The
# parent's pid is passed in: read in the child, it could already be that of init.
_LOOP = """\
import os, time
end = time.monotonic() + {seconds!r}
while time.monotonic() < end and os.getppid() == {parent}:
    for _ in range(100_000):
        pass
"""


def check_count(n: object, name: str = "--background") -> int:
    """``n`` as a count of busy processes (an int >= 0), or a ValueError naming ``name``.

    Examples
    --------
    >>> check_count(2)
    2
    >>> check_count(-1)
    Traceback (most recent call last):
    ...
    ValueError: --background must be an int >= 0; got -1
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{name} must be an int >= 0; got {n!r}")
    return n


@contextlib.contextmanager
def busy_background(n: int, max_seconds: float = MAX_SECONDS,
                    settle: float = SETTLE_SECONDS) -> Iterator[list[subprocess.Popen]]:
    """Run the block while ``n`` processes each keep one core busy; yield the processes.

    Parameters
    ----------
    n : int
        Busy processes (0: none, the block runs on a quiet machine).
    max_seconds : float
        Each process stops by itself after this long, even if the block never ends.
    settle : float
        Seconds to wait after starting them, before the block runs.

    Examples
    --------
    >>> with busy_background(1, settle=0) as procs:
    ...     [p.poll() is None for p in procs]
    [True]
    >>> [p.poll() is not None for p in procs]
    [True]
    """
    check_count(n, "`n` of busy_background")
    code = _LOOP.format(seconds=float(max_seconds), parent=os.getpid())
    procs = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL) for _ in range(n)]
    try:
        if procs and settle > 0:
            time.sleep(settle)
        yield procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
