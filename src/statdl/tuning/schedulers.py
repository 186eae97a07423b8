"""Schedulers that stop poor runs of a tuning run early: ASHA, Hyperband, the median rule.

Each decision is a pure function of the scheduler's state (what runs reported so far) and one
run's validation metric after an epoch, so it can be checked by hand on synthetic curves.

* ``"asha"``: asynchronous successive halving (Li et al. 2018, "A system for massively
  parallel hyperparameter tuning"), in its stopping form (as Ray Tune's ``ASHAScheduler``):
  rungs at ``grace * reduction**k`` epochs below ``max_epochs``. A run reaching a rung is
  compared with the values that earlier runs recorded at that rung: it goes on when it is at
  least as good as their ``1 - 1/reduction`` quantile (the cut that keeps the best
  ``1/reduction``; linear interpolation, as ``numpy.percentile``), else it stops. The first run
  at a rung goes on. Its value is then recorded at the rung.
* ``"hyperband"``: Hyperband (Li et al. 2018, JMLR) run asynchronously: brackets
  ``s = s_max .. 0`` with ``s_max = floor(log_reduction(max_epochs / grace))``; bracket ``s``
  judges its runs as ASHA does, at its ``s`` rungs ``max_epochs / reduction**j`` (``j = s ..
  1``, rounded): Li et al.'s ``r_i = R * reduction**(i - s)``, so bracket 0 never stops a run
  (with ``max_epochs = grace * reduction**s_max``, bracket ``s_max`` is ASHA itself). Runs are
  dealt to brackets in Hyperband's proportions ``n_s = ceil((s_max + 1) / (s + 1) *
  reduction**s)``, one bracket after the other.
* ``"median"``: the median stopping rule (Golovin et al. 2017, Google Vizier): after epoch
  ``t >= grace``, a run stops when its best value so far is strictly worse than the median of
  the running averages (mean of epochs 1..t) of the other runs that reached epoch ``t``, when
  there are at least ``min_runs`` of them.

The state lives in one JSON file of the runs directory (``.statdl-schedulers/<id>.json``),
read and written under a file lock by the run itself at the end of its epochs (see
:func:`decide_in_run`): no round trip to the process that launched the runs, the same on every
backend whose runs directory all workers see, and a resumed tuning run keeps it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:            # Windows: decisions are not locked across processes
    fcntl = None  # type: ignore[assignment]

from ..errors import ConfigError
from ..run_folders.files import META, read_json, write_json
from ..validation import message

__all__ = ["SchedulerSpec", "make_scheduler", "rungs", "hyperband_brackets", "bracket_of",
           "quantile", "decide", "decide_in_run", "forget_run", "STOPPED_FILE", "SPEC_FILE",
           "KINDS"]

KINDS = ("asha", "hyperband", "median")
SPEC_FILE = "scheduler.json"        # statdl.d/scheduler.json: the run's scheduler and bracket
STOPPED_FILE = "stopped.json"       # statdl.d/stopped.json: why the scheduler stopped the run
STATE_DIR = ".statdl-schedulers"


@dataclass(frozen=True)
class SchedulerSpec:
    """A scheduler's settings, as the runs read them from ``statdl.d/scheduler.json``."""

    kind: str
    metric: str
    mode: str
    max_epochs: int
    grace_epochs: int = 1
    reduction: int = 3
    min_runs: int = 3
    state: str = ""
    bracket: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _int_arg(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(message(name, f"an int >= {low}", value, "tuning_run"))
    return value


def make_scheduler(kind: str, metric: str, mode: str, max_epochs: Any, grace_epochs: Any,
                   reduction: Any, state: str | os.PathLike = "") -> SchedulerSpec:
    """Check the scheduler arguments of ``tuning_run`` and return their spec.

    Examples
    --------
    >>> make_scheduler("asha", "val_loss", "min", 9, 1, 3).kind
    'asha'
    >>> make_scheduler("asha", "loss", "min", 9, 1, 3)
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `metric` of a scheduler must be a validation metric (val_...), so that runs are stopped on data they do not train on; got 'loss'.
    """
    if kind not in KINDS:
        raise ConfigError(message("scheduler", "one of 'asha', 'hyperband', 'median' or None",
                                  kind))
    if not isinstance(metric, str) or not metric.startswith("val_"):
        raise ConfigError(message("metric", "a validation metric (val_...), so that runs are "
                                  "stopped on data they do not train on", metric, "a scheduler"))
    if max_epochs is None:
        raise ConfigError(message("max_epochs", f"an int >= 2 with scheduler={kind!r} (the "
                                  "epochs each run trains when it is not stopped, e.g. "
                                  "max_epochs=9)", max_epochs, "a scheduler"))
    max_epochs = _int_arg("max_epochs", max_epochs, 2)
    grace_epochs = _int_arg("grace_epochs", grace_epochs, 1)
    reduction = _int_arg("reduction", reduction, 2)
    if grace_epochs >= max_epochs:
        raise ConfigError(message("grace_epochs", f"below `max_epochs` ({max_epochs})",
                                  grace_epochs, fix="Else no run could be stopped."))
    return SchedulerSpec(kind, metric, mode, max_epochs, grace_epochs, reduction,
                         state=str(state))


def state_path(root: Path, script: Path, spec: SchedulerSpec) -> Path:
    """The state file of one script's scheduler in a runs directory."""
    what = json.dumps([str(script), {**spec.to_dict(), "state": "", "bracket": 0}],
                      sort_keys=True)
    return root / STATE_DIR / f"{spec.kind}-{hashlib.sha1(what.encode()).hexdigest()[:12]}.json"


def rungs(grace: int, max_epochs: int, reduction: int, rate: int = 0) -> list[int]:
    """Epochs at which a run is judged: ``grace * reduction**(k + rate)`` below
    ``max_epochs`` (``rate``: ASHA's early-stopping rate; 0 for ASHA itself).

    Examples
    --------
    >>> rungs(1, 27, 3), rungs(1, 27, 3, rate=2), rungs(1, 3, 3)
    ([1, 3, 9], [9], [1])
    """
    out, epoch = [], grace * reduction ** rate
    while epoch < max_epochs:
        out.append(epoch)
        epoch *= reduction
    return out


def hyperband_brackets(grace: int, max_epochs: int, reduction: int) -> list[tuple[int, int]]:
    """Hyperband's brackets as ``(s, n_s)``, most aggressive first.

    Examples
    --------
    >>> hyperband_brackets(1, 9, 3)      # s_max = 2: 9 runs from epoch 1, 5 from 3, 3 full
    [(2, 9), (1, 5), (0, 3)]
    """
    s_max = 0
    while grace * reduction ** (s_max + 1) <= max_epochs:
        s_max += 1
    return [(s, math.ceil((s_max + 1) / (s + 1) * reduction ** s))
            for s in range(s_max, -1, -1)]


def _rungs_of(spec: SchedulerSpec) -> list[int]:
    """ASHA's rungs; Hyperband's bracket ``s`` has ``s`` rungs, at ``max_epochs /
    reduction**j`` epochs for ``j = s .. 1`` (rounded, at least ``grace``), as Li et al.'s
    successive halving with ``r = R * reduction**-s`` and ``R = max_epochs``: bracket 0
    trains every run in full. When ``max_epochs = grace * reduction**s_max`` these are
    ``grace * reduction**k``, and bracket ``s_max`` is ASHA itself.

    Examples
    --------
    >>> [_rungs_of(SchedulerSpec("hyperband", "val_loss", "min", 27, 1, 5, bracket=s))
    ...  for s in (2, 1, 0)]
    [[1, 5], [5], []]
    """
    if spec.kind == "hyperband":
        return sorted({max(spec.grace_epochs, round(spec.max_epochs / spec.reduction ** j))
                       for j in range(1, spec.bracket + 1)})
    return rungs(spec.grace_epochs, spec.max_epochs, spec.reduction)


def bracket_of(index: int, grace: int, max_epochs: int, reduction: int) -> int:
    """The Hyperband bracket of the ``index``-th run (0-based): the brackets take turns, each
    until it has its ``n_s`` runs, then the pattern repeats.

    Examples
    --------
    >>> [bracket_of(i, 1, 9, 3) for i in range(17)]
    [2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 2, 1, 2, 2, 2, 2]
    """
    brackets = hyperband_brackets(grace, max_epochs, reduction)
    pattern = [s for j in range(max(n for _, n in brackets)) for s, n in brackets if j < n]
    return pattern[index % len(pattern)]


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) with linear interpolation (``numpy.percentile``'s default).

    Examples
    --------
    >>> quantile([1.0, 2.0, 3.0, 4.0], 2 / 3)
    3.0
    """
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _better(a: float, b: float, mode: str) -> bool:
    return a > b if mode == "max" else a < b


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _asha(spec: SchedulerSpec, state: dict, run: str, epoch: int,
          value: float) -> str | None:
    if epoch not in _rungs_of(spec):
        return None
    table = state.setdefault("rungs", {}).setdefault(f"{spec.bracket}/{epoch}", {})
    recorded = [v for r, v in table.items() if r != run and _finite(v)]
    reason = None
    if recorded:
        # the cut that keeps the best 1/reduction of the values at this rung
        q = 1 - 1 / spec.reduction if spec.mode == "max" else 1 / spec.reduction
        cut = quantile(recorded, q)
        if not _finite(value) or _better(cut, value, spec.mode):
            reason = (f"{spec.metric} = {value:.4g} at epoch {epoch} is outside the best "
                      f"1/{spec.reduction} of the {len(recorded)} runs before it at this rung "
                      f"(cut {cut:.4g})")
    table[run] = value if _finite(value) else None
    return reason


def _median(spec: SchedulerSpec, state: dict, run: str, epoch: int,
            value: float) -> str | None:
    curves = state.setdefault("curves", {})
    curve = curves.setdefault(run, [])
    curve[:] = curve[:epoch - 1] + [None] * (epoch - 1 - len(curve))
    curve.append(value if _finite(value) else None)
    if epoch < spec.grace_epochs:
        return None
    averages = []
    for other, values in curves.items():
        seen = [v for v in values[:epoch] if v is not None]
        if other != run and len(values) >= epoch and seen:
            averages.append(sum(seen) / len(seen))
    if len(averages) < spec.min_runs:
        return None
    median = quantile(averages, 0.5)
    mine = [v for v in curve if v is not None]
    best = (max if spec.mode == "max" else min)(mine) if mine else None
    if best is None or _better(median, best, spec.mode):
        return (f"best {spec.metric} so far {best if best is None else format(best, '.4g')} "
                f"at epoch {epoch} is worse than the median {median:.4g} of the running "
                f"averages of {len(averages)} other runs")
    return None


def decide(spec: SchedulerSpec, state: dict, run: str, epoch: int, value: float) -> str | None:
    """Record ``run``'s ``value`` after ``epoch`` (1-based) in ``state``; return why it should
    stop, or ``None`` to go on.

    Examples
    --------
    >>> spec = SchedulerSpec("asha", "val_loss", "min", max_epochs=9, reduction=3)
    >>> state = {}
    >>> [decide(spec, state, r, 1, v) is None for r, v in [("a", .5), ("b", .4), ("c", .6)]]
    [True, True, False]
    """
    if spec.kind == "median":
        return _median(spec, state, run, epoch, value)
    return _asha(spec, state, run, epoch, value)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        yield                                  # closing the file releases the lock


def _as_number(value: Any) -> float:
    if hasattr(value, "item"):
        value = value.item()
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def decide_in_run(run: Path, epoch: int, logs: dict[str, Any]) -> str | None:
    """Inside a run with a scheduler (``statdl.d/scheduler.json``): record this epoch's
    validation metric in the shared state and return why the run should stop, if it should.

    When it should, ``statdl.d/stopped.json`` records the epoch, the value and the reason; the
    run then ends as ``stopped`` (not failed, not completed). Outside such a run: ``None``.
    """
    spec_data = read_json(run / META / SPEC_FILE)
    if spec_data is None:
        return None
    spec = SchedulerSpec(**spec_data)
    if spec.metric not in logs:
        return None             # fit without validation data: nothing to judge by
    value = _as_number(logs[spec.metric])
    state_file = Path(spec.state)
    with _locked(state_file):
        state = read_json(state_file, {}) or {}
        reason = decide(spec, state, run.name, epoch, value)
        write_json(state_file, state)
    if reason is not None:
        write_json(run / META / STOPPED_FILE, {
            "epoch": epoch, "metric": spec.metric, "value": value if _finite(value) else None,
            "scheduler": spec.kind, "bracket": spec.bracket,
            "reason": f"stopped early by the {spec.kind} scheduler: {reason}"})
    return reason


def forget_run(run: Path) -> bool:
    """Remove what ``run`` recorded in its scheduler's state (a run that was killed and is
    redone in another folder must not count twice at a rung); return whether it had any.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); run = d / "r1"
    >>> spec = SchedulerSpec("asha", "val_loss", "min", 9, state=str(d / "state.json"))
    >>> write_json(run / META / SPEC_FILE, spec.to_dict())
    >>> _ = decide_in_run(run, 1, {"val_loss": 0.5})
    >>> forget_run(run), read_json(d / "state.json")
    (True, {'rungs': {'0/1': {}}})
    """
    spec_data = read_json(run / META / SPEC_FILE)
    if spec_data is None or not spec_data.get("state"):
        return False
    state_file = Path(spec_data["state"])
    if not state_file.exists():
        return False
    with _locked(state_file):
        state = read_json(state_file, {}) or {}
        tables = [*state.get("rungs", {}).values(), state.get("curves", {})]
        found = [t.pop(run.name) for t in tables if run.name in t]
        if found:
            write_json(state_file, state)
    return bool(found)
