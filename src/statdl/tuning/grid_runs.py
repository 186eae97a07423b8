"""tuning_run: a training run for each combination of a flag grid, resumable and parallel."""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections import deque
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..run_folders.files import META, read_json, write_json
from ..run_folders.folders import (
    check_runs_dir,
    is_run_dir,
    locked_runs_dir,
    mark_interrupted,
    new_run_dir,
    release_lock,
    run_status,
    write_lock,
)
from ..validation import choice_error, message
from .executors import NODE_CHECK_S, make_executor, threads_per_run
from .flagset import convert_flag
from .grid_progress import GridProgress
from .runner import check_script, check_timeout, child_env, declare, sigterm_as_exit
from .schedulers import (
    SPEC_FILE,
    SchedulerSpec,
    bracket_of,
    forget_run,
    make_scheduler,
    state_path,
)
from .search import (
    SEARCHES,
    TPESearch,
    check_n_runs,
    check_space,
    grid_combinations,
    random_combinations,
    search_range,
)
from .warm import WarmPool

__all__ = ["tuning_run", "check_combinations", "existing_runs", "RunIndex"]


def _key(script: Path, combo: dict[str, Any]) -> str:
    return json.dumps([str(script), combo], sort_keys=True)


def check_combinations(combos: list[dict[str, Any]], declared: dict[str, dict],
                       script_name: str) -> list[dict[str, Any]]:
    """Check every flag of the grid is declared by the script and converts to its type.

    Examples
    --------
    >>> check_combinations([{"units": "8"}], {"units": {"type": "integer"}}, "train.py")
    [{'units': 8}]
    """
    unknown = sorted({k for c in combos for k in c if k not in declared})
    if unknown:
        raise ConfigError(message(
            "flags", f"flags that {script_name} declares ({', '.join(declared) or 'no flags'})",
            unknown, "tuning_run", verb="name",
            shown=f"{', '.join(unknown)}, which {script_name} does not declare"))
    return [{k: convert_flag(k, declared[k]["type"], v) for k, v in c.items()} for c in combos]


class RunIndex:
    """The runs of one script in a runs directory, by combination key; read incrementally.

    Only the ``request.json`` of folders not seen before is read on each :meth:`refresh`.
    """

    def __init__(self, root: Path, script: Path) -> None:
        self.root, self.script = root, script
        self.key_of: dict[str, str | None] = {}       # folder name -> key (None: not ours)

    def refresh(self) -> None:
        if not self.root.is_dir():
            return
        for name in sorted(os.listdir(self.root)):
            if name in self.key_of or name.startswith("."):
                continue
            entry = self.root / name
            if not is_run_dir(entry):
                continue
            try:
                request = read_json(entry / META / "request.json")
            except (OSError, ValueError) as exc:
                warnings.warn(f"skipping unreadable run folder {entry}: {exc}", stacklevel=4)
                self.key_of[name] = None
                continue
            if request is None:
                continue                               # being made: look again next time
            same = request.get("script") == str(self.script)
            self.key_of[name] = _key(self.script, request.get("flags", {})) if same else None

    def runs_of(self, key: str) -> list[Path]:
        """The folders of combination ``key``, oldest first."""
        return [self.root / n for n, k in self.key_of.items() if k == key]


def existing_runs(runs_dir: Path, script: Path) -> dict[str, list[tuple[Path, str]]]:
    """Runs of ``script`` already in ``runs_dir``: combination key -> [(run folder, status)]."""
    index = RunIndex(runs_dir, script)
    index.refresh()
    found: dict[str, list[tuple[Path, str]]] = {}
    for name, key in index.key_of.items():
        if key is not None:
            found.setdefault(key, []).append((runs_dir / name, run_status(runs_dir / name)))
    return found


_GONE = ("the run's processes were gone before it finished (its tuning run was killed); "
         "redone by a later tuning_run")
LOST_RETRIES = 2     # a combination whose run is lost (its Ray node died) is redone this often


def _plan(runs: list[tuple[Path, str]], retry_failed: bool) -> tuple[str, Path | None]:
    """What to do with a combination given its runs: ``done``, ``running`` or ``todo``."""
    for wanted in ("completed", "stopped", "running") + (() if retry_failed else ("failed",)):
        found = [r for r, s in runs if s == wanted]
        if found:        # a run stopped early by a scheduler was judged: it is not redone
            return ("running" if wanted == "running" else "done"), found[-1]
    return "todo", None


def _check_n_jobs(n_jobs: Any, backend: str = "local") -> int | None:
    """``n_jobs`` as a count; -1: one per core here, or (Ray) None: as the cluster allows."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or (n_jobs < 1 and n_jobs != -1):
        raise ConfigError(message("n_jobs", "an int >= 1 (or -1 for one per core)", n_jobs))
    if n_jobs == -1:
        return None if backend == "ray" else (os.cpu_count() or 1)
    return n_jobs


def _check_threads(num_threads: Any) -> int | None:
    if num_threads is None:
        return None
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ConfigError(message("num_threads", "an int >= 1 or None", num_threads))
    return num_threads


def _confirm(n: int) -> bool:
    answer = input(f"Proceed with tuning run of {n} runs? [Y/n]: ").strip().lower()
    return answer in ("", "y", "yes")


def tuning_run(script: str | os.PathLike = "train.py", flags: Any = None,
               sample: float | None = None, seed: int | None = None,
               runs_dir: str | os.PathLike = "runs", n_jobs: int = 1, backend: str = "local",
               address: str | None = None, confirm: bool = False, echo: bool = False,
               progress: bool = True, retry_failed: bool = True, timeout: float | None = None,
               check_flags: bool = True, search: str = "grid", n_runs: int | None = None,
               scheduler: str | None = None, metric: str = "val_loss", mode: str | None = None,
               max_epochs: int | None = None, grace_epochs: int = 1, reduction: int = 3,
               num_threads: int | None = None):
    """Run ``script`` once for each combination of flag values (tfruns's ``tuning_run``).

    Parameters
    ----------
    script : str or path
        Training script that declares its flags with ``statdl.flags``.
    flags : dict, DataFrame or list of dicts
        A grid ``{"nodes1": [64, 128, 256], "dropout1": [0.2, 0.4]}`` expanded to every
        combination (first flag varying fastest, as R's ``expand.grid``), or explicit
        combinations (a DataFrame or list of dicts), e.g. with invalid ones removed.
    sample : float, optional
        Run a random ``ceiling(sample * n)`` of the n combinations; ``0 < sample <= 1``.
    seed : int, optional
        Seed of that draw: the same seed gives the same runs.
    runs_dir : str or path
        Runs directory. Combinations already completed there by the same script are not run
        again, so repeating a call resumes it; runs that were killed are detected and redone.
        Several calls may work on one directory at once: each combination is claimed under a
        lock of the directory, runs once, and every call waits for the others' runs of its
        grid.
    n_jobs : int
        Runs at the same time (``-1``: one per core, or on Ray as many as the cluster's CPUs
        allow); the cores are split between them: each run may use its share
        (``OMP_NUM_THREADS`` of its process), and within it statdl's ``fit`` uses the cores
        other processes leave free (:mod:`statdl.threads`).
    backend : {"local", "ray"}
        Local processes, or one Ray task per run (``pip install statdl[ray]``). A Ray run
        whose node dies is recorded as ``interrupted`` with Ray's reason and its combination
        redone on another node (twice at most; then it is recorded as failed).
    address : str, optional
        Address of a running Ray cluster (``"head-host:6379"``; docs/tuning_cluster.md); by
        default a local Ray is started on demand. Every node must see ``runs_dir`` and the
        script at the same paths.
    confirm : bool
        Ask before starting.
    echo : bool
        Print each script's output here too (it is always saved in the run folder).
    progress : bool
        Show a progress display (run, done, failed, ETA).
    retry_failed : bool
        Also redo combinations whose earlier runs failed (not only interrupted ones).
    timeout : float, optional
        Seconds (> 0) after which a single run, and every process it started, is stopped and
        the run recorded as failed.
    check_flags : bool
        Ask the script for its declared flags first (one quick start of the script that stops at
        ``statdl.flags()``) and reject unknown flags or values that do not convert.
    search : {"grid", "random", "tpe"}
        How combinations are chosen (:mod:`statdl.tuning.search`): every combination of the
        grid (or a ``sample``); ``n_runs`` random draws, where ``flags`` may give
        :func:`statdl.tuning.search_range` (e.g. ``search_range(1e-4, 0.1, log=True)``) besides
        lists; or ``n_runs`` proposals of Optuna's TPE sampler, each told the run's final
        ``metric`` (``pip install 'statdl[optuna]'``). The runs are recorded alike.
    n_runs : int, optional
        The budget of runs of a random or TPE search.
    scheduler : {"asha", "hyperband", "median"}, optional
        Stop poor runs early on their validation ``metric`` (:mod:`statdl.tuning.schedulers`):
        such a run ends with status ``stopped`` and its last metrics, is neither failed nor
        completed, and is not redone when the call is repeated. Its script must report
        epochs as it trains (``fit`` does; a loop of its own calls
        ``statdl.tuning.epoch_done(epoch, logs)``) and train ``max_epochs`` epochs.
    metric, mode : str
        The validation metric that the scheduler and the TPE search judge runs by, and
        whether smaller (``"min"``) or larger (``"max"``) is better (by default from its
        name: accuracy, AUC, R2 ... are maximised).
    max_epochs, grace_epochs, reduction : int
        The scheduler's epochs of a full run, epochs before any run can be stopped, and its
        reduction factor (ASHA and Hyperband keep about 1/``reduction`` at each rung).
    num_threads : int, optional
        Fix each run's torch threads (recorded in the run as ``num_threads``; on Ray also
        the CPUs each run reserves): the same seed then gives the same results on either
        backend. By default a run may use up to its share of this machine's cores.

    Returns
    -------
    pandas.DataFrame
        The runs of this grid, as :func:`ls_runs` lists them, newest first.
        ``attrs``: ``n_compared``, ``n_combinations``, ``n_sampled``, ``n_skipped`` (done
        before this call), ``n_other`` (run meanwhile by another process), ``n_failed``.

    Notes
    -----
    Each run is a process group of its own; it stops when this process dies, even by
    SIGKILL (see :mod:`statdl.tuning._child`). When the script loads torch (seen when it
    declares its flags, or in its first run), runs are forked from a process that imported
    torch and statdl once (:mod:`statdl.tuning.warm`; on Ray, one per Ray worker), which
    takes ``import torch`` (2.6 s on a 2-core machine) off each run and keeps each run as
    isolated as a fresh process; ``STATDL_WARM_RUNS=0`` starts every run fresh. Ctrl-C or SIGTERM stops the runs going and
    records them as ``interrupted``; a later call redoes them, and never redoes a completed
    run.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "train.py")
    >>> _ = open(p, "w").write("import statdl\\nF = statdl.flags(units=8, lr=0.1)\\n"
    ...     "statdl.report(metrics={'val_loss': [1 / F.units + F.lr]})\\n")
    >>> runs = tuning_run(p, {"units": [8, 16], "lr": [0.1, 0.01]}, runs_dir=os.path.join(d, "r"),
    ...                   progress=False)  # doctest: +ELLIPSIS
    4 total combinations of flags
    ...
    >>> len(runs), runs.attrs["n_compared"]
    (4, 4)
    """
    path = check_script(script)
    root = check_runs_dir(runs_dir)
    n_jobs = _check_n_jobs(n_jobs, backend)
    num_threads = _check_threads(num_threads)
    timeout = check_timeout(timeout)
    if backend not in ("local", "ray"):
        raise choice_error("backend", backend, ("local", "ray"))
    if search not in SEARCHES:
        raise choice_error("search", search, SEARCHES)
    if flags is None and (search == "grid" or not check_flags):
        raise ConfigError(message("flags", "a grid such as {'nodes1': [64, 128]}", flags,
                                  "tuning_run"))
    if sample is not None and search != "grid":
        raise ConfigError(message("sample", "None unless search='grid'", sample, "tuning_run",
                                  f"With search={search!r} the budget is `n_runs`."))
    n_runs = check_n_runs(n_runs, search)
    mode = _check_mode(metric, mode)
    spec = None
    if scheduler is not None:
        spec = make_scheduler(scheduler, metric, mode, max_epochs, grace_epochs, reduction)
    threads = num_threads or threads_per_run(n_jobs or 1)
    pool = _warm_pool(backend, check_flags, num_threads, threads)
    try:
        declared, uses_torch = declare(path) if check_flags else (None, False)
        if pool is not None and not uses_torch and pool.active:
            pool.close()                  # the script did not load torch by its flags()
            pool = WarmPool(active=False)
        combos, n_total, space = _combinations(path, flags, search, sample, seed, n_runs, declared)
        unique: dict[str, dict[str, Any]] = {}
        for c in combos:
            unique.setdefault(_key(path, c), c)
        if len(unique) < len(combos):
            warnings.warn(f"{len(combos) - len(unique)} duplicate combinations of flags are run "
                          "once", stacklevel=2)

        root = check_runs_dir(root, create=True).resolve()
        if spec is not None:
            spec = SchedulerSpec(**{**spec.to_dict(),
                                    "state": str(state_path(root, path, spec))})
        grid = _Grid(path, root, retry_failed, spec)
        todo = grid.plan(unique)
        if grid.kept:
            print(f"{len(grid.kept)} of these combinations already ran in {root}; running the "
                  f"other {len(unique) - len(grid.kept)}")
        source: _Source = _Source(todo, list(unique))
        if search == "tpe":
            source = _TPESource(TPESearch(space, n_runs, seed, metric, mode,
                                          grid.previous(metric)), grid, declared)
            grid.kept.extend(source.tpe.told_before)
            if source.tpe.asked:
                print(f"{source.tpe.asked} runs of this script already in {root} count towards "
                      f"the budget of {n_runs}")
        if confirm and source.remaining() and not _confirm(source.remaining()):
            print("tuning run cancelled")
            source, grid.elsewhere = _Source([], []), {}
        results: list[dict] = []
        if source.remaining() or grid.elsewhere:
            with sigterm_as_exit():
                results = grid.run(source, n_jobs, backend, address, (threads, num_threads),
                                   echo, progress, timeout, pool,
                                   uses_torch)
        failed = [r for r in results if r["status"] not in ("completed", "stopped")]
        runs = _summary(root, grid.kept + grid.others + [r["run_dir"] for r in results], n_total,
                        len(combos) if search != "tpe" else n_runs, len(grid.kept), len(failed),
                        metric, mode)
        runs.attrs["n_other"] = len(grid.others)
        runs.attrs["n_stopped"] = sum(r["status"] == "stopped" for r in results)
        runs.attrs["search"] = search
        return runs
    finally:
        if pool is not None:
            pool.close()


def _warm_pool(backend: str, check_flags: bool, num_threads: int | None,
               threads: int) -> WarmPool | None:
    """The local runs' warm processes (:mod:`statdl.tuning.warm`): they fork from a process
    that loaded torch once when the script loads torch. Known from its declaration, so the
    warm process starts beside it (both import torch at once; it is stopped at once if the
    script had not loaded torch by its ``flags()``), else from the grid's first run."""
    if backend != "local":
        return None
    pool = WarmPool(active=check_flags)
    pool.prestart(child_env(None, None, num_threads, None if num_threads else threads))
    return pool


def _combinations(path: Path, flags: Any, search: str, sample: float | None, seed: int | None,
                  n_runs: int, declared: dict | None) -> tuple[list[dict], int, dict]:
    """The combinations to run (none yet for TPE, which proposes them one by one), the size
    of the grid or budget, and the search space (random, TPE)."""
    space: dict[str, Any] = {}
    if search == "grid":
        combos, n_total = grid_combinations(flags, sample, seed)
        print(f"{n_total} total combinations of flags"
              + (f" (sampled to {len(combos)} combinations)" if sample is not None else ""))
    else:
        space = check_space(_declared_space(declared, path.name) if flags is None else flags,
                            search)
        if declared is not None:
            _check_space_flags(space, declared, path.name)
        combos = random_combinations(space, n_runs, seed) if search == "random" else []
        n_total = n_runs
        print(f"{search} search: {n_runs} runs over {', '.join(space)}")
    if declared is not None:
        combos = check_combinations(combos, declared, path.name)
    return combos, n_total, space


def _check_mode(metric: Any, mode: str | None) -> str:
    if not isinstance(metric, str) or not metric:
        raise ConfigError(message("metric", "a metric name such as 'val_loss'", metric))
    if mode is None:
        from ..run_folders.listing import higher_is_better

        return "max" if higher_is_better(metric) else "min"
    if mode not in ("min", "max"):
        raise ConfigError(message("mode", "'min', 'max' or None (from the metric's name)",
                                  mode))
    return mode


def _declared_space(declared: dict[str, dict], script: str) -> dict[str, Any]:
    """The ranges the script declares (``flag_numeric(..., range=(low, high), log=...)``)."""
    space = {name: search_range(*d["range"], log=d.get("log", False))
             for name, d in declared.items() if d.get("range")}
    if not space:
        raise ConfigError(message(
            "flags", "a search space", None, "tuning_run",
            f"{script} declares no flag with a `range`: give flags={{'lr': "
            "statdl.tuning.search_range(1e-4, 0.1, log=True)} or declare flag_numeric('lr', "
            "0.01, range=(1e-4, 0.1), log=True)."))
    return space


def _check_space_flags(space: dict[str, Any], declared: dict[str, dict], script: str) -> None:
    """Names of the space must be declared; ranges must fit the flag's type."""
    unknown = sorted(k for k in space if k not in declared)
    if unknown:
        raise ConfigError(message(
            "flags", f"flags that {script} declares ({', '.join(declared) or 'no flags'})",
            unknown, "tuning_run", verb="name",
            shown=f"{', '.join(unknown)}, which {script} does not declare"))
    for name, values in space.items():
        kind = declared[name]["type"]
        if not isinstance(values, list) and kind not in ("integer", "numeric"):
            raise ConfigError(message(
                "flags", f"a list of values for the {kind} flag `{name}` (ranges are for "
                "integer and numeric flags)", values, "tuning_run", shown="a search_range"))
        if not isinstance(values, list) and kind == "integer" and not values.integer:
            raise ConfigError(message(
                "flags", f"int ends for the integer flag `{name}`", values, "tuning_run",
                f"E.g. search_range({int(values.low)}, {int(values.high)}).", verb="give",
                shown=f"the range {values.low!r}..{values.high!r}"))


class _Source:
    """The combinations still to run, handed out one at a time (key, combination, index)."""

    def __init__(self, todo: list[tuple[str, dict]], order: list[str]) -> None:
        position = {k: i for i, k in enumerate(order)}
        self.queue = deque((k, c, position.get(k, 0)) for k, c in todo)

    def remaining(self) -> int:
        return len(self.queue)

    def next(self) -> tuple[str, dict, int] | None:
        return self.queue.popleft() if self.queue else None

    def redo(self, items: list[tuple[str, dict]]) -> None:
        self.queue.extend((k, c, 0) for k, c in items)

    def tell(self, combo: dict, result: dict) -> None:
        """A run ended (the TPE search learns from it)."""


class _TPESource(_Source):
    """Combinations proposed by Optuna's TPE, each after the results it can see."""

    def __init__(self, tpe: TPESearch, grid: _Grid, declared: dict | None) -> None:
        super().__init__([], [])
        self.tpe, self.grid, self.declared = tpe, grid, declared
        self.repeats = 0

    def remaining(self) -> int:
        return len(self.queue) + self.tpe.n_runs - self.tpe.asked

    def next(self) -> tuple[str, dict, int] | None:
        if self.queue:
            return self.queue.popleft()
        while self.repeats <= 10 * self.tpe.n_runs:
            asked = self.tpe.ask()
            if asked is None:
                return None
            combo = (check_combinations([asked], self.declared, self.grid.script.name)[0]
                     if self.declared is not None else asked)
            key = _key(self.grid.script, combo)
            self.grid.seen.setdefault(key, set())
            done = self.grid.done_run(key)
            if done is None:
                return key, asked, self.tpe.asked - 1
            # a proposal already run: answer it from that run; it does not use the budget
            self.repeats += 1
            self.tpe.asked -= 1
            self.tpe.tell(asked, _final_metric(done, self.tpe.metric), run_status(done))
        return None

    def tell(self, combo: dict, result: dict) -> None:
        self.tpe.tell(combo, _final_metric(Path(result["run_dir"]), self.tpe.metric),
                      result["status"])


def _final_metric(run: Path, metric: str) -> float | None:
    series = (read_json(run / META / "metrics.json", {}) or {}).get(metric)
    values = [v for v in series if v is not None] if isinstance(series, list) else [series]
    value = values[-1] if values else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


class _Grid:
    """The combinations of one ``tuning_run`` call and their runs in the runs directory.

    Each combination is claimed under the lock of the runs directory: its run folder is made
    only if no other run of it appeared since this call looked, so two calls on one directory
    share the work (each combination runs once) and each waits for the other's runs.
    """

    def __init__(self, script: Path, root: Path, retry_failed: bool,
                 scheduler: SchedulerSpec | None = None) -> None:
        self.script, self.root, self.retry_failed = script, root, retry_failed
        self.scheduler = scheduler
        self.index = RunIndex(root, script)
        self.seen: dict[str, set[str]] = {}       # key -> its folders when last looked at
        self.kept: list[str] = []                 # runs done before this call
        self.others: list[str] = []               # runs done by another process meanwhile
        self.elsewhere: dict[str, tuple[dict, Path]] = {}    # running in another process

    def plan(self, unique: dict[str, dict[str, Any]]) -> list[tuple[str, dict]]:
        """Sort the combinations into done, running elsewhere and to do (returned)."""
        self.index.refresh()
        todo = []
        for key, combo in unique.items():
            runs = []
            for run in self.index.runs_of(key):
                status = run_status(run)
                if status == "interrupted":
                    mark_interrupted(run, _GONE)
                    forget_run(run)          # its redo must not count twice at a rung
                runs.append((run, status))
            self.seen[key] = {r.name for r, _ in runs}
            what, run = _plan(runs, self.retry_failed)
            if what == "done":
                self.kept.append(str(run))
            elif what == "running":
                self.elsewhere[key] = (combo, run)
            else:
                todo.append((key, combo))
        return todo

    def previous(self, metric: str) -> list[tuple[dict[str, Any], float | None, str, str]]:
        """The finished runs of this script: (flags, final ``metric``, status, run folder)."""
        self.index.refresh()
        out = []
        for name, key in self.index.key_of.items():
            run = self.root / name
            status = run_status(run) if key is not None else "running"
            if status in ("completed", "stopped", "failed"):
                flags = (read_json(run / META / "request.json", {}) or {}).get("flags", {})
                out.append((flags, _final_metric(run, metric), status, str(run)))
        return out

    def done_run(self, key: str) -> Path | None:
        """A finished run of combination ``key`` that is not to be redone, if any."""
        self.index.refresh()
        runs = [(r, run_status(r)) for r in self.index.runs_of(key)]
        what, run = _plan([(r, s) for r, s in runs if s != "running"], self.retry_failed)
        return run if what == "done" else None

    def claim(self, key: str, combo: dict[str, Any], index: int = 0) -> tuple[bool, Path]:
        """Make the run folder of ``combo`` (True, folder), unless another process did
        meanwhile (False, its folder)."""
        with locked_runs_dir(self.root):
            self.index.refresh()
            new = [r for r in self.index.runs_of(key) if r.name not in self.seen[key]]
            if new:
                return False, new[-1]
            run = new_run_dir(self.root)
            write_lock(run, [os.getpid()])
            write_json(run / META / "request.json",
                       {"script": str(self.script), "flags": combo, "args": []})
            if self.scheduler is not None:       # read by the run at the end of its epochs
                spec = self.scheduler
                bracket = (bracket_of(index, spec.grace_epochs, spec.max_epochs,
                                      spec.reduction) if spec.kind == "hyperband" else 0)
                write_json(run / META / SPEC_FILE, {**spec.to_dict(), "bracket": bracket})
        self.index.key_of[run.name] = key
        self.seen[key].add(run.name)
        return True, run

    def _lost(self, run: Path, result: dict, redo: bool) -> bool:
        """Record a run whose Ray node or worker died: interrupted when it is redone (its
        values leave the scheduler's state, so nothing counts twice), else failed."""
        why = f"its Ray worker or node died ({result['error']})"
        forget_run(run)
        if redo:
            mark_interrupted(run, why + "; redone on another node")
            print(f"  lost {run.name}: {why}; redoing its combination", file=sys.stderr)
        else:
            _record_failure(run, f"{why}, {LOST_RETRIES + 1} times", "NodeDiedError")
        return redo

    def poll_elsewhere(self) -> list[tuple[str, dict]]:
        """Collect the runs of other processes that ended; return those to redo here."""
        redo = []
        for key, (combo, run) in list(self.elsewhere.items()):
            status = run_status(run)
            if status == "running":
                continue
            del self.elsewhere[key]
            if status == "interrupted":
                mark_interrupted(run, _GONE)
                forget_run(run)
                self.index.refresh()
                self.seen[key] = {r.name for r in self.index.runs_of(key)}
                redo.append((key, combo))
            else:
                self.others.append(str(run))
        return redo

    def run(self, source: _Source, n_jobs: int | None, backend: str,
            address: str | None, threads: tuple[int, int | None], echo: bool, progress: bool,
            timeout: float | None, pool: WarmPool | None = None,
            uses_torch: bool = True) -> list[dict]:
        share, fixed = threads
        executor = make_executor(backend, n_jobs, address, share, pool, uses_torch)
        n_jobs = executor.capacity(n_jobs)
        lost: dict[str, int] = {}
        total = source.remaining()
        display = GridProgress(total, enabled=progress)
        results: list[dict] = []
        pending: dict[Any, tuple[int, Path, dict]] = {}
        count = 0
        told = False
        t0 = time.perf_counter()
        try:
            with display:
                while source.remaining() or pending or self.elsewhere:
                    while len(pending) < n_jobs:
                        item = source.next()
                        if item is None:
                            break
                        key, combo, index = item
                        mine, run = self.claim(key, combo, index)
                        if not mine:
                            self.elsewhere[key] = (combo, run)
                            continue
                        count += 1
                        flags_text = ", ".join(f"{k}={v}" for k, v in combo.items())
                        display.started(count, flags_text)
                        if not progress:
                            print(f"Training run {count}/{total} (flags = {flags_text})")
                        pending[None] = (count, run, combo)        # until it is submitted
                        fut = executor.submit(script=str(self.script), flags=combo,
                                              runs_dir=str(self.root), run_folder=str(run),
                                              echo=echo and n_jobs == 1, timeout=timeout,
                                              num_threads=fixed,
                                              max_threads=None if fixed else share)
                        pending[fut] = pending.pop(None)
                    if not pending and not self.elsewhere:
                        break                # the source has nothing more to give
                    if pending:
                        done, _ = wait(list(pending), timeout=0.5 if self.elsewhere else
                                       (NODE_CHECK_S if backend == "ray" else None),
                                       return_when=FIRST_COMPLETED)
                        executor.check()
                    else:
                        if not told:
                            print(f"waiting for {len(self.elsewhere)} runs of this grid that "
                                  "another process is running")
                            told = True
                        done = set()
                        time.sleep(0.25)
                    for fut in done:
                        i, run, combo = pending.pop(fut)
                        result = fut.result()
                        if result["status"] == "lost":
                            key = _key(self.script, combo)
                            lost[key] = lost.get(key, 0) + 1
                            if self._lost(run, result, lost[key] <= LOST_RETRIES):
                                source.redo([(key, combo)])
                                display.finished(i, False)
                                continue
                            result = {**result, "status": "failed"}
                        elif result.get("unrecorded"):
                            _record_failure(run, result["error"], "RayTaskError")
                        results.append(result)
                        source.tell(combo, result)
                        display.finished(i, result["status"] in ("completed", "stopped"))
                        if result["status"] == "stopped" and not progress:
                            print(f"  run {i} stopped early by the scheduler")
                        elif result["status"] != "completed" and not progress:
                            print(f"  run {i} failed: {result['error']}", file=sys.stderr)
                    source.redo(self.poll_elsewhere())
        except BaseException:
            executor.shutdown(cancel=True)
            for _, run, _ in pending.values():
                if run_status(run) in ("running", "interrupted"):
                    mark_interrupted(run, "the tuning run was stopped before this run finished")
            raise
        executor.shutdown()
        if not progress:
            print(f"{len(results)} runs in {time.perf_counter() - t0:.1f} s")
        return results


def _record_failure(run: Path, message: str, kind: str) -> None:
    """Record a run as failed from outside it (its process never could)."""
    meta = run / META
    if not (meta / "error.json").exists():
        write_json(meta / "error.json", {"message": message, "type": kind, "traceback": ""})
    props = read_json(meta / "properties.json", {}) or {}
    props.update(status="failed", completed=False)
    write_json(meta / "properties.json", props)
    release_lock(run)


def _summary(root: Path, run_dirs: list[str], n_total: int, n_sampled: int, skipped: int,
             n_failed: int, metric: str = "val_loss", mode: str = "min"):
    from ..run_folders.listing import ls_runs

    wanted = {str(Path(r).resolve()) for r in run_dirs}
    runs = ls_runs(root)
    if not runs.empty:
        runs = runs[[str(Path(r).resolve()) in wanted for r in runs["run_dir"]]]
    runs = runs.reset_index(drop=True)
    runs.attrs.update(n_compared=len(runs), n_combinations=n_total, n_sampled=n_sampled,
                      n_skipped=skipped, n_failed=n_failed, runs_dir=str(root))
    # runs stopped early by a scheduler are not candidates: their value is from fewer epochs
    done = runs[runs["status"] == "completed"] if "status" in runs.columns else runs
    n_stopped = int((runs["status"] == "stopped").sum()) if "status" in runs.columns else 0
    column = next((c for c in (f"metric_{metric}", "metric_val_loss", "eval_loss",
                               "metric_loss") if c in done.columns and done[c].notna().any()),
                  None)
    if column is not None:
        values = done[column].astype(float)
        larger = mode == "max" and column == f"metric_{metric}"
        best = done.loc[values.idxmax() if larger else values.idxmin()]
        stopped = f", {n_stopped} stopped early by the scheduler" if n_stopped else ""
        print(f"best {column} = {float(best[column]):.4g} in {best['run_dir']} among "
              f"{len(done)} completed runs ({n_failed} failed{stopped}). That value is "
              f"optimistic: it was the {'maximum' if larger else 'minimum'} of many. "
              "Evaluate the chosen model once on held-out test data, e.g. "
              "statdl.tuning.evaluate_best(runs_dir, x_test, y_test).")
    return runs
