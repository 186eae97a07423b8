"""Keep freed memory in the process for reuse while ``fit`` runs (glibc's malloc, on Linux).

A training step allocates and frees the same large blocks again and again: activations,
gradients, and the work buffers of torch's fused recurrent kernels (tens of MB per step for an
LSTM over 500 words). glibc serves blocks above its mmap threshold (at most 32 MiB, adjusted
as the program runs) straight from the operating system and hands them back when freed, so
every step pays for fresh, zero-filled pages; on a 2-core virtual machine that cost about
30 ms of a 65 ms LSTM step. Inside ``with keep_freed_memory():`` the mmap and trim thresholds
are 1 GiB, so those blocks come from malloc's heap and stay there for the next step.

When the outermost scope ends (normally, on an exception or on Ctrl-C), the thresholds go back
at once, and ``malloc_trim(0)`` returns the memory freed inside the scope to the system once no
scope has been open for ``TRIM_DELAY`` seconds, so memory the program frees after ``fit`` (an
800 MB array, say) leaves the process as it would without statdl. The delay spares back-to-back
calls (a resampling or tuning loop, predict after fit) the page faults of memory trimmed by one
call and taken back by the next: a one-batch fit of the IMDB LSTM (500 words) took 555 ms
after a trimmed fit against 276 ms otherwise. glibc cannot report its thresholds, and setting one by hand switches its dynamic
adjustment off for good, so "back" means: the values given by ``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_`` or ``GLIBC_TUNABLES`` when the user set them, otherwise the ceiling
of glibc's own dynamic adjustment (mmap 32 MiB, trim 64 MiB), which a torch program reaches
as soon as it frees a 32 MiB tensor. glibc's starting value (128 KiB) is not used: held fixed,
it makes every numpy operation on a few MB map fresh pages (ten times slower on that machine).
The trim returns the pages but not the address space of blocks freed below live data; a later
block that fits such a hole is served from it, and kept when freed, like any small block.

Scopes nest and may overlap across threads: only the outermost one sets and restores.
``fit`` opens one around training; set the environment variable ``STATDL_MALLOC_TUNING=0`` to
leave malloc as it is. Other C libraries and operating systems are left alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import platform
import threading
import time
from collections.abc import Iterator

__all__ = ["keep_freed_memory", "TRIM_DELAY"]

#: seconds without an open scope before the memory kept is trimmed
TRIM_DELAY = 1.0

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_TRAINING = (1 << 30, 1 << 30)  # (mmap, trim) inside a scope
_DYNAMIC_CEILING = (32 << 20, 64 << 20)  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64 bits, 2x

_lock = threading.Lock()
_idle = threading.Condition(_lock)  # wakes the trimming thread
_depth = 0  # open scopes, all threads together
_active = False  # the outermost scope set the training thresholds
_trim_at: float | None = None  # monotonic time of the pending trim
_trimmer: threading.Thread | None = None
_trimmer_unwatched = False  # the trimming thread sleeps with no deadline (needs a notify)
_libc: ctypes.CDLL | None | bool = None  # False: not glibc, or tuning switched off


@contextlib.contextmanager
def keep_freed_memory() -> Iterator[bool]:
    """Raise glibc's mmap and trim thresholds to 1 GiB for the ``with`` block, then restore.

    Yields
    ------
    bool
        True when the thresholds are raised; False on other platforms, when glibc refuses,
        or when ``STATDL_MALLOC_TUNING=0``.

    Examples
    --------
    >>> with keep_freed_memory() as tuned:
    ...     isinstance(tuned, bool)
    True
    """
    global _depth, _active, _trim_at
    with _lock:
        if _depth == 0:
            _trim_at = None  # the memory kept serves this scope
            _active = _set_thresholds(_TRAINING)
        _depth += 1
        tuned = _active
    try:
        yield tuned
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _active:
                _set_thresholds(_restored_thresholds())
                _schedule_trim()
                _active = False


def _schedule_trim() -> None:
    """Trim in ``TRIM_DELAY`` seconds unless a scope opens first (called holding ``_lock``).

    The trimming thread is woken only when it sleeps with no deadline: one sleeping until an
    earlier deadline wakes by itself and reads the new one. Waking it at the end of every
    scope cost about 1.3 ms of each predict call (the woken thread takes the GIL from the
    caller), a quarter of a 2,048-row predict of the MNIST softmax regression."""
    global _trim_at, _trimmer
    _trim_at = time.monotonic() + TRIM_DELAY
    if _trimmer is None or not _trimmer.is_alive():
        _trimmer = threading.Thread(target=_trim_when_idle, name="statdl-malloc-trim",
                                    daemon=True)
        _trimmer.start()
    elif _trimmer_unwatched:
        _idle.notify()


def _trim_when_idle() -> None:
    """The trimming thread: sleeps until a trim is due, trims, sleeps again."""
    global _trim_at, _trimmer_unwatched
    with _lock:
        while True:
            if _trim_at is None:
                _trimmer_unwatched = True
                _idle.wait()
                _trimmer_unwatched = False
            elif (left := _trim_at - time.monotonic()) > 0:
                _idle.wait(left)
            else:
                _trim_at = None
                if _depth == 0:
                    _glibc().malloc_trim(0)


def _after_fork_in_child() -> None:
    """A child starts with fresh locks (the parent's trimming thread may have held one) and
    no trimming thread; a trim pending in the parent is the child's too."""
    global _lock, _idle, _trimmer, _trimmer_unwatched
    _lock = threading.Lock()
    _idle = threading.Condition(_lock)
    _trimmer, _trimmer_unwatched = None, False
    if _trim_at is not None and _depth == 0:
        with _lock:
            _schedule_trim()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _glibc() -> ctypes.CDLL | None:
    """glibc with ``mallopt`` and ``malloc_trim`` typed, or None where tuning does not apply."""
    global _libc
    if _libc is None:
        _libc = _load_glibc() or False
    return _libc or None


def _load_glibc() -> ctypes.CDLL | None:
    if os.environ.get("STATDL_MALLOC_TUNING", "1").strip() == "0":
        return None
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def _set_thresholds(values: tuple[int, int]) -> bool:
    libc = _glibc()
    if libc is None:
        return False
    mmap, trim = values
    # mallopt returns 1 on success; the trim threshold first, so that a refused mmap
    # threshold leaves only a harmless change behind
    return libc.mallopt(_M_TRIM_THRESHOLD, trim) == 1 \
        and libc.mallopt(_M_MMAP_THRESHOLD, mmap) == 1


@functools.cache
def _restored_thresholds() -> tuple[int, int]:
    """(mmap, trim) to go back to: the user's environment settings, else glibc's ceiling.

    Read once: glibc reads these variables only when the process starts (and reading them at
    every scope's end cost 80 us of each predict call)."""
    given = {}
    for item in os.environ.get("GLIBC_TUNABLES", "").split(":"):
        name, _, value = item.partition("=")
        given[name.strip()] = value
    mmap = given.get("glibc.malloc.mmap_threshold", os.environ.get("MALLOC_MMAP_THRESHOLD_"))
    trim = given.get("glibc.malloc.trim_threshold", os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    return _as_size(mmap, _DYNAMIC_CEILING[0]), _as_size(trim, _DYNAMIC_CEILING[1])


def _as_size(text: str | None, default: int) -> int:
    try:
        value = int(text.strip(), 0) if text else default
    except ValueError:  # glibc ignores a setting it cannot read; so do we
        return default
    return value if 0 <= value < 1 << 31 else default
