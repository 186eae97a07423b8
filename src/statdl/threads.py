"""How many CPU threads statdl's work uses, and how those threads wait: chosen per ``fit``.

torch runs each operation on a pool of OpenMP threads, one per core. Between operations the
threads spin, waiting for the next one. That is right on a quiet machine and wrong on a shared
one: when another process holds a core, one of our threads is off the CPU at every one of the
thousands of small parallel regions of a training step, and the others spin at the barrier
until the scheduler brings it back. Measured on a 2-core machine with one other busy process
(``bench/train_speed.py --background 1``), an Embedding + LSTM(32) model over 500 words
trained at 387 samples/s with torch's two threads and at 931 with the count chosen here (one),
against 1,217 on the quiet machine; the course's MLP at 5,084 against 15,101.

So statdl decides, for each ``fit`` (and ``predict``/``evaluate``):

* **Cores**: the CPUs this process may use (affinity mask, container CPU quota, physical
  cores rather than hyper-threads, ``OMP_NUM_THREADS`` if set), the most threads it will use.
* **Threads**: as many as the cores that other processes leave free, measured from
  ``/proc/stat`` (CPU time of the other processes since the last look) and from our own
  threads' time waiting for a CPU (``/proc/self/task/*/schedstat``). A core counts as taken
  once other processes use half of it, and as free again when they use less than 0.3 of it.
  During training this is looked at again every second (one clock read per step), so a job
  that starts or stops in the middle of a fit is followed within a second or two.
* **Waiting**: torch's OpenMP threads keep their own policy (spin for a while, then sleep).
  Since the count never outnumbers the free cores for more than a second, there is nothing to
  gain from passive waiting, which costs 10-25% on a quiet machine (MLP 23,707 against 18,919
  samples/s with ``OMP_WAIT_POLICY=PASSIVE``, LSTM 1,261 against 1,025); shorter spinning
  (``GOMP_SPINCOUNT=30000`` against the default 300,000, four runs each in turn) measured
  the same within noise for the LSTM (median epoch 1.69 against 1.67 s) and 5% slower for
  the MLP (1.76 against 1.67 s). ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` set before the
  program starts are the user's to choose, and recorded.

The user decides instead with ``statdl.set_threads(n)`` (or ``"auto"``), the environment
variable ``STATDL_NUM_THREADS`` (a number: that many threads, never changed), or by calling
``torch.set_num_threads(n)`` after ``import statdl`` (kept as a fixed count). What a fit used is in
``history.params["threads"]`` and in a tuning run's metadata (``thread_settings()``).

Where ``/proc`` is missing (macOS, Windows) nothing is measured: ``fit`` uses all the cores.

Examples
--------
>>> import statdl as sd
>>> settings = sd.threads.thread_settings()
>>> settings["mode"], settings["cores"] >= 1
('auto', True)
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import validation
from .errors import ConfigError

__all__ = ["set_threads", "thread_settings", "governed", "available_cores", "choose_threads",
           "prepare", "policy_kept"]

ENV_THREADS = "STATDL_NUM_THREADS"  # also what the tuning runner gives each run
CHECK_EVERY = 1.0  # seconds between looks at the load during a fit
FIRST_CHECK = 0.25  # the first look comes sooner: the fit's start may have guessed wrong
TAKEN, FREED = 0.5, 0.3  # share of a core others must use for it to count as taken / free

# Module state, shared by all fits of the process.
_wait_policy = "unknown"  # how idle OpenMP threads wait, for thread_settings()
_fixed: int | None = None  # set_threads(n); None: automatic
_lock = threading.Lock()
_last_sample: LoadSample | None = None  # the counters at the last look at the load
_left: int | None = None  # torch's count as the last scope left it (the program's own)
_torch_fixed: int | None = None  # a count the user gave torch between fits
_last_used: int | None = None  # the count the last fit or predict ended with


def prepare() -> str:
    """Note the load, torch's default thread count and the OpenMP waiting policy at start.

    Called by ``import statdl``, which does not import torch: the first fit compares the load
    with this moment, and a thread count given to torch later is told apart from torch's own.

    Returns
    -------
    str
        How idle OpenMP threads wait, as recorded in run metadata.
    """
    global _wait_policy, _last_sample
    _last_sample = take_sample()
    # torch's own count, so that one the program gives torch later is told apart (and kept)
    when_torch_loads(_note_default)
    user = {k: os.environ[k] for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ}
    if user:
        _wait_policy = ", ".join(f"{k}={v}" for k, v in user.items()) + " (set by the user)"
    else:
        _wait_policy = "OpenMP default (spin a while, then sleep)"
    return _wait_policy


class _AfterTorchLoads(importlib.abc.MetaPathFinder):
    """Runs ``callback(torch)`` right after torch has loaded, then steps aside."""

    def __init__(self, callback: Callable[[Any], None]) -> None:
        self.callback = callback

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "torch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torch")
        if spec is None or spec.loader is None:
            return spec
        exec_module, callback = spec.loader.exec_module, self.callback

        def exec_then_call(module: Any) -> None:
            exec_module(module)
            callback(module)

        spec.loader.exec_module = exec_then_call  # type: ignore[method-assign]
        return spec


def when_torch_loads(callback: Callable[[Any], None]) -> None:
    """Call ``callback(torch)`` now if torch is loaded, else as soon as something imports it
    (without importing torch here)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        callback(torch)
    else:
        sys.meta_path.insert(0, _AfterTorchLoads(callback))


def _note_default(torch: Any) -> None:
    global _left
    _left = torch.get_num_threads()


# -- what the machine offers ---------------------------------------------------------------

def _affinity() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


@functools.lru_cache(maxsize=1)
def _cgroup_quota() -> float | None:
    """CPUs allowed by a container's CPU quota (cgroup v2 or v1), or None when unlimited.
    Read once per process (reading costs 0.2 ms, and quotas are set when a container starts)."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 else None
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=8)
def _physical_cores(cpus: frozenset[int]) -> int:
    """Distinct (package, core) pairs among ``cpus``: hyper-threads of one core count once."""
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topology.joinpath("physical_package_id").read_text().strip(),
                       topology.joinpath("core_id").read_text().strip()))
        except OSError:
            return len(cpus)
    return len(cores) or len(cpus)


def _omp_limit() -> int | None:
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"].split(",")[0]))
    except (KeyError, ValueError):
        return None


def available_cores() -> int:
    """The most threads statdl uses: physical cores of the affinity mask, capped by a
    container's CPU quota and by ``OMP_NUM_THREADS``.

    Examples
    --------
    >>> available_cores() >= 1
    True
    """
    cpus = _affinity()
    limits = [_physical_cores(frozenset(cpus))]
    quota = _cgroup_quota()
    if quota is not None:
        limits.append(max(1, math.floor(quota + 0.5)))
    omp = _omp_limit()
    if omp is not None:
        limits.append(omp)
    return max(1, min(limits))


# -- what the other processes use ----------------------------------------------------------

@dataclass(frozen=True)
class LoadSample:
    """Counters at one moment: wall clock, all CPU time spent on our CPUs (seconds), our own
    CPU time and our threads' time spent waiting for a CPU (seconds)."""

    wall: float
    busy: float
    own: float
    waiting: float


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _busy_seconds(cpus: set[int]) -> float | None:
    """Non-idle time of ``cpus`` from /proc/stat (steal counts: another guest had the core)."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    total = 0
    for line in lines:
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        # user nice system idle iowait irq softirq steal (guest time is inside user)
        values = [int(v) for v in rest.split()[:8]]
        total += sum(values) - values[3] - values[4]
    return total / _TICK


def _waiting_seconds() -> float:
    """Time our threads spent runnable but off the CPU (schedstat's second field, in ns)."""
    total = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0.0
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):  # the thread ended, or no schedstat
            continue
    return total / 1e9


def take_sample(cpus: set[int] | None = None) -> LoadSample | None:
    """The counters now, or None where /proc is missing."""
    busy = _busy_seconds(cpus if cpus is not None else _affinity())
    if busy is None:
        return None
    return LoadSample(time.perf_counter(), busy, time.process_time(), _waiting_seconds())


def others_load(before: LoadSample, after: LoadSample) -> float:
    """Cores kept busy by other processes between two samples, plus our threads' waiting
    (a core we wait for is a core someone else holds)."""
    wall = after.wall - before.wall
    if wall <= 0:
        return 0.0
    others = (after.busy - before.busy) - (after.own - before.own)
    waiting = after.waiting - before.waiting
    return max(0.0, others, waiting) / wall


def choose_threads(current: int, cores: int, others: float) -> int:
    """Threads for the next stretch of work: the cores the other processes leave free.

    A core counts as taken once others use ``TAKEN`` (half) of it, and as free again when they
    use less than ``FREED`` (0.3) of it, so a load near a boundary does not flip the count back
    and forth. Always between 1 and ``cores``.

    Examples
    --------
    >>> choose_threads(current=2, cores=2, others=0.0)
    2
    >>> choose_threads(current=2, cores=2, others=0.7)   # one busy process squeezed by ours
    1
    >>> choose_threads(current=1, cores=2, others=0.4)   # not yet free enough to go back
    1
    """
    fewer = cores - math.floor(others + (1 - TAKEN))  # cores others use at least half of
    more = cores - max(0, math.ceil(others - FREED))  # cores others use 0.3 or more of
    target = fewer if fewer < current else max(current, more)
    return max(1, min(cores, target))


# -- the user's choice -----------------------------------------------------------------------



def _check_count(n, argument: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(validation.message(argument, "'auto' or an int >= 1", n))
    return n


def set_threads(n: int | str = "auto") -> None:
    """Fix the number of CPU threads statdl trains and predicts with, or go back to ``"auto"``.

    Parameters
    ----------
    n : int or "auto"
        A number of threads used as it is for every fit, or ``"auto"`` (the default): as many
        as the cores other processes leave free, looked at again every second.

    Examples
    --------
    >>> import statdl as sd
    >>> sd.set_threads(1)
    >>> sd.threads.thread_settings()["mode"]
    'fixed'
    >>> sd.set_threads("auto")
    """
    global _fixed, _torch_fixed, _left
    _fixed = None if n == "auto" else _check_count(n, "n")
    _torch_fixed = None  # and torch's count as it is now is the program's own again
    torch = sys.modules.get("torch")
    _left = torch.get_num_threads() if torch is not None else _left


class policy_kept:
    """``with policy_kept():`` whatever the block does to the thread policy
    (:func:`set_threads`, ``torch.set_num_threads``), the policy and torch's count are as
    before afterwards, also when it raises: a lab run from a notebook leaves the caller's
    settings alone.

    Examples
    --------
    >>> with policy_kept():
    ...     set_threads(1)
    >>> thread_settings()["mode"]
    'auto'
    """

    def __enter__(self) -> None:
        torch = sys.modules.get("torch")
        self._count = torch.get_num_threads() if torch is not None else None
        self._saved = (_fixed, _torch_fixed, _left)

    def __exit__(self, *exc) -> None:
        global _fixed, _torch_fixed, _left
        torch = sys.modules.get("torch")
        if self._count is None:  # torch loaded inside: keep the default count it noted
            _fixed, _torch_fixed = self._saved[:2]
            return
        _fixed, _torch_fixed, _left = self._saved
        if torch.get_num_threads() != self._count:
            torch.set_num_threads(self._count)


def _env_fixed() -> int | None:
    text = os.environ.get(ENV_THREADS, "").strip()
    if not text or text == "auto":
        return None
    try:
        return _check_count(int(text), ENV_THREADS)
    except ValueError:
        raise ConfigError(validation.message(ENV_THREADS, "'auto' or an int >= 1",
                                             text)) from None


def _user_torch_threads(torch) -> int | None:
    """The count the user gave torch between fits (``torch.set_num_threads``), if any."""
    current = torch.get_num_threads()
    if _left is not None and current != _left:
        return current
    return _torch_fixed


def thread_settings() -> dict:
    """What statdl's thread policy is now, as recorded in run metadata.

    Returns
    -------
    dict
        ``mode`` ("auto" or "fixed"), ``threads`` (used by the last fit or predict, else the
        number a fit would start with), ``cores`` (the most it uses), ``wait`` (how idle
        OpenMP threads wait) and ``source`` (who decided).

    Examples
    --------
    >>> sorted(thread_settings())
    ['cores', 'mode', 'source', 'threads', 'wait']
    """
    fixed, source = _fixed, "statdl.set_threads"
    if fixed is None:
        fixed, source = _env_fixed(), ENV_THREADS
    torch = sys.modules.get("torch")
    if fixed is None and torch is not None:
        fixed, source = _user_torch_threads(torch), "torch.set_num_threads"
    cores = available_cores()
    if fixed is not None:
        return {"mode": "fixed", "threads": fixed, "cores": cores, "wait": _wait_policy,
                "source": source}
    return {"mode": "auto", "threads": _last_used or cores, "cores": cores,
            "wait": _wait_policy, "source": "statdl (free cores, checked every second)"}


# -- the governor around a fit ---------------------------------------------------------------

class ThreadGovernor:
    """Sets torch's thread count for one fit/predict and follows the load while it runs.

    ``tick()`` is called once per training step: it reads the clock and, once a second, the
    load, and changes the count when the free cores change.
    """

    def __init__(self, torch, cores: int, fixed: int | None):
        self.torch, self.cores, self.fixed = torch, cores, fixed
        self.cpus = _affinity()
        self.threads = fixed or min(_last_used or cores, cores)
        self._due = math.inf if fixed else time.perf_counter() + FIRST_CHECK

    def start(self) -> None:
        recent = _last_sample is not None and time.perf_counter() - _last_sample.wall < 0.5
        # a predict called in a loop reuses the last decision instead of reading /proc each time
        if self.fixed is None and not recent:
            load = self._look()
            if load is not None:
                self.threads = choose_threads(self.threads, self.cores, load)
        self._apply()

    def _look(self) -> float | None:
        """The other processes' load since the last look (this fit's or an earlier one's),
        which this look replaces; None when there is nothing to compare with."""
        global _last_sample
        now = take_sample(self.cpus)
        with _lock:
            before, _last_sample = _last_sample, now
        if now is None:  # no /proc here: nothing will ever be measured
            self._due = math.inf
            return None
        if before is None or now.wall - before.wall < 0.1:
            return None
        return others_load(before, now)

    def _apply(self) -> None:
        global _last_used
        if self.torch.get_num_threads() != self.threads:
            self.torch.set_num_threads(self.threads)
        _last_used = self.threads

    def tick(self) -> None:
        """Once per step: look at the load when a second has passed."""
        if time.perf_counter() >= self._due:
            self.check()

    def check(self) -> None:
        """Look at the load now and change the thread count if the free cores changed."""
        self._due = time.perf_counter() + CHECK_EVERY
        load = self._look()
        if load is None:
            return
        threads = choose_threads(self.threads, self.cores, load)
        if threads != self.threads:
            self.threads = threads
            self._apply()


class _NoGovernor:
    """Stand-in outside ``governed()``: ``tick`` does nothing."""

    threads = None

    def tick(self) -> None:
        pass


_local = threading.local()


def current() -> ThreadGovernor | _NoGovernor:
    """The governor of the fit running in this thread (a do-nothing one outside any)."""
    return getattr(_local, "governor", None) or _NoGovernor()


class governed:
    """``with governed():`` sets torch's threads for a fit/predict/evaluate and restores the
    count the program had afterwards. Nested scopes (validation inside fit) share the outer
    one.

    Examples
    --------
    >>> with governed() as governor:
    ...     governor.threads >= 1
    True
    """

    def __enter__(self) -> ThreadGovernor | _NoGovernor:
        outer = getattr(_local, "governor", None)
        if outer is not None:
            self._owner = False
            return outer
        import torch

        global _torch_fixed
        self._owner = True
        _torch_fixed = _user_torch_threads(torch)
        fixed = _fixed or _env_fixed() or _torch_fixed
        self._restore = torch.get_num_threads()
        governor = ThreadGovernor(torch, available_cores(), fixed)
        governor.start()
        _local.governor = governor
        return governor

    def __exit__(self, *exc) -> None:
        global _left
        if not self._owner:
            return
        governor = _local.governor
        _local.governor = None
        if governor.torch.get_num_threads() != self._restore:
            governor.torch.set_num_threads(self._restore)
        _left = self._restore
