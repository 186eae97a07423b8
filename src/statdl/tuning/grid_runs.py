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
    run_status,
    write_lock,
)
from .executors import make_executor, threads_per_run
from .flagset import convert_flag
from .grid import as_combinations, sample_grid
from .grid_progress import GridProgress
from .runner import check_script, check_timeout, declared_flags, sigterm_as_exit

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
        raise ConfigError(
            f"`flags` names {', '.join(unknown)}, which {script_name} does not declare; "
            f"it declares: {', '.join(declared) or '(no flags)'}.")
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


def _plan(runs: list[tuple[Path, str]], retry_failed: bool) -> tuple[str, Path | None]:
    """What to do with a combination given its runs: ``done``, ``running`` or ``todo``."""
    for wanted in ("completed", "running") + (() if retry_failed else ("failed",)):
        found = [r for r, s in runs if s == wanted]
        if found:
            return ("running" if wanted == "running" else "done"), found[-1]
    return "todo", None


def _check_n_jobs(n_jobs: Any) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or (n_jobs < 1 and n_jobs != -1):
        raise ConfigError(f"`n_jobs` must be an int >= 1 (or -1 for one per core); "
                          f"got {n_jobs!r}.")
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


def _confirm(n: int) -> bool:
    answer = input(f"Proceed with tuning run of {n} runs? [Y/n]: ").strip().lower()
    return answer in ("", "y", "yes")


def tuning_run(script: str | os.PathLike = "train.py", flags: Any = None,
               sample: float | None = None, seed: int | None = None,
               runs_dir: str | os.PathLike = "runs", n_jobs: int = 1, backend: str = "local",
               address: str | None = None, confirm: bool = False, echo: bool = False,
               progress: bool = True, retry_failed: bool = True, timeout: float | None = None,
               check_flags: bool = True):
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
        Runs at the same time (``-1``: one per core); the cores are split between them: each
        run may use its share (``OMP_NUM_THREADS`` of its process), and within it statdl's
        ``fit`` uses the cores other processes leave free (:mod:`statdl.threads`).
    backend : {"local", "ray"}
        Local processes, or one Ray task per run (``pip install statdl[ray]``).
    address : str, optional
        Address of a running Ray cluster; by default a local Ray is started on demand.
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

    Returns
    -------
    pandas.DataFrame
        The runs of this grid, as :func:`ls_runs` lists them, newest first.
        ``attrs``: ``n_compared``, ``n_combinations``, ``n_sampled``, ``n_skipped`` (done
        before this call), ``n_other`` (run meanwhile by another process), ``n_failed``.

    Notes
    -----
    Each run is a process group of its own; it stops when this process dies, even by
    SIGKILL (see :mod:`statdl.tuning._child`). Ctrl-C or SIGTERM stops the runs going and
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
    n_jobs = _check_n_jobs(n_jobs)
    timeout = check_timeout(timeout)
    if backend not in ("local", "ray"):
        raise ConfigError(f"`backend` must be one of 'local', 'ray'; got {backend!r}.")
    if flags is None:
        raise ConfigError("`flags` is missing: give a grid such as {'nodes1': [64, 128]}.")
    combos = as_combinations(flags)
    n_total = len(combos)
    combos = sample_grid(combos, sample, seed)
    print(f"{n_total} total combinations of flags"
          + (f" (sampled to {len(combos)} combinations)" if sample is not None else ""))
    if check_flags:
        combos = check_combinations(combos, declared_flags(path), path.name)
    unique: dict[str, dict[str, Any]] = {}
    for c in combos:
        unique.setdefault(_key(path, c), c)
    if len(unique) < len(combos):
        warnings.warn(f"{len(combos) - len(unique)} duplicate combinations of flags are run "
                      "once", stacklevel=2)

    root = check_runs_dir(root, create=True).resolve()
    grid = _Grid(path, root, retry_failed)
    todo = grid.plan(unique)
    if grid.kept:
        print(f"{len(grid.kept)} of these combinations already ran in {root}; running the "
              f"other {len(unique) - len(grid.kept)}")
    if confirm and todo and not _confirm(len(todo)):
        print("tuning run cancelled")
        todo, grid.elsewhere = [], {}
    threads = threads_per_run(n_jobs)
    results: list[dict] = []
    if todo or grid.elsewhere:
        with sigterm_as_exit():
            results = grid.run(todo, n_jobs, backend, address, threads, echo, progress,
                               timeout)
    failed = [r for r in results if r["status"] != "completed"]
    runs = _summary(root, grid.kept + grid.others + [r["run_dir"] for r in results], n_total,
                    len(combos), len(grid.kept), len(failed))
    runs.attrs["n_other"] = len(grid.others)
    return runs


class _Grid:
    """The combinations of one ``tuning_run`` call and their runs in the runs directory.

    Each combination is claimed under the lock of the runs directory: its run folder is made
    only if no other run of it appeared since this call looked, so two calls on one directory
    share the work (each combination runs once) and each waits for the other's runs.
    """

    def __init__(self, script: Path, root: Path, retry_failed: bool) -> None:
        self.script, self.root, self.retry_failed = script, root, retry_failed
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

    def claim(self, key: str, combo: dict[str, Any]) -> tuple[bool, Path]:
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
        self.index.key_of[run.name] = key
        self.seen[key].add(run.name)
        return True, run

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
                self.index.refresh()
                self.seen[key] = {r.name for r in self.index.runs_of(key)}
                redo.append((key, combo))
            else:
                self.others.append(str(run))
        return redo

    def run(self, todo: list[tuple[str, dict]], n_jobs: int, backend: str,
            address: str | None, threads: int, echo: bool, progress: bool,
            timeout: float | None) -> list[dict]:
        executor = make_executor(backend, n_jobs, address, threads)
        display = GridProgress(len(todo), enabled=progress)
        results: list[dict] = []
        pending: dict[Any, tuple[int, Path]] = {}
        queue = deque(todo)
        count = 0
        told = False
        t0 = time.perf_counter()
        try:
            with display:
                while queue or pending or self.elsewhere:
                    while queue and len(pending) < n_jobs:
                        key, combo = queue.popleft()
                        mine, run = self.claim(key, combo)
                        if not mine:
                            self.elsewhere[key] = (combo, run)
                            continue
                        count += 1
                        flags_text = ", ".join(f"{k}={v}" for k, v in combo.items())
                        display.started(count, flags_text)
                        if not progress:
                            print(f"Training run {count}/{len(todo)} (flags = {flags_text})")
                        pending[None] = (count, run)        # until it is submitted
                        fut = executor.submit(script=str(self.script), flags=combo,
                                              runs_dir=str(self.root), run_folder=str(run),
                                              echo=echo and n_jobs == 1, max_threads=threads,
                                              timeout=timeout)
                        pending[fut] = pending.pop(None)
                    if pending:
                        done, _ = wait(list(pending), timeout=0.5 if self.elsewhere else None,
                                       return_when=FIRST_COMPLETED)
                    else:
                        if not told:
                            print(f"waiting for {len(self.elsewhere)} runs of this grid that "
                                  "another process is running")
                            told = True
                        done = set()
                        time.sleep(0.25)
                    for fut in done:
                        i, _ = pending.pop(fut)
                        result = fut.result()
                        results.append(result)
                        display.finished(i, result["status"] == "completed")
                        if result["status"] != "completed" and not progress:
                            print(f"  run {i} failed: {result['error']}", file=sys.stderr)
                    queue.extend(self.poll_elsewhere())
        except BaseException:
            executor.shutdown(cancel=True)
            for _, run in pending.values():
                if run_status(run) in ("running", "interrupted"):
                    mark_interrupted(run, "the tuning run was stopped before this run finished")
            raise
        executor.shutdown()
        if not progress:
            print(f"{len(results)} runs in {time.perf_counter() - t0:.1f} s")
        return results


def _summary(root: Path, run_dirs: list[str], n_total: int, n_sampled: int, skipped: int,
             n_failed: int):
    from ..run_folders.listing import ls_runs

    wanted = {str(Path(r).resolve()) for r in run_dirs}
    runs = ls_runs(root)
    if not runs.empty:
        runs = runs[[str(Path(r).resolve()) in wanted for r in runs["run_dir"]]]
    runs = runs.reset_index(drop=True)
    runs.attrs.update(n_compared=len(runs), n_combinations=n_total, n_sampled=n_sampled,
                      n_skipped=skipped, n_failed=n_failed, runs_dir=str(root))
    metric = next((c for c in ("metric_val_loss", "eval_loss", "metric_loss")
                   if c in runs.columns and runs[c].notna().any()), None)
    if metric is not None:
        best = runs.loc[runs[metric].astype(float).idxmin()]
        print(f"best {metric} = {float(best[metric]):.4g} in {best['run_dir']} among "
              f"{len(runs)} runs ({n_failed} failed). That value is optimistic: it was the "
              "minimum of many. Evaluate the chosen model once on held-out test data, e.g. "
              "statdl.tuning.evaluate_best(runs_dir, x_test, y_test).")
    return runs
