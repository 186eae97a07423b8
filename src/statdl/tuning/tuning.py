"""tuning_run: a training run for each combination of a flag grid, resumable and parallel."""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._io import META, read_json, write_json
from .executors import make_executor, threads_per_run
from .flagset import convert_flag
from .grid import as_combinations, sample_grid
from .progress import GridProgress
from .runner import check_script, declared_flags
from .runs import check_runs_dir, is_run_dir, run_status

__all__ = ["tuning_run", "check_combinations", "existing_runs"]


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


def existing_runs(runs_dir: Path, script: Path) -> dict[str, list[tuple[Path, str]]]:
    """Runs of ``script`` already in ``runs_dir``: combination key -> [(run folder, status)]."""
    found: dict[str, list[tuple[Path, str]]] = {}
    if not runs_dir.is_dir():
        return found
    for entry in sorted(runs_dir.iterdir()):
        if entry.name.startswith(".") or not is_run_dir(entry):
            continue
        try:
            request = read_json(entry / META / "request.json")
            status = run_status(entry)
        except (OSError, ValueError) as exc:
            warnings.warn(f"skipping unreadable run folder {entry}: {exc}", stacklevel=3)
            continue
        if not request or request.get("script") != str(script):
            continue
        key = _key(script, request.get("flags", {}))
        found.setdefault(key, []).append((entry, status))
    return found


def _mark_interrupted(run: Path) -> None:
    meta = run / META
    if not (meta / "error.json").exists():
        write_json(meta / "error.json", {
            "message": "interrupted: the run's process was gone before it finished; "
                       "redone by a later tuning_run", "type": "Interrupted", "traceback": ""})
    props = read_json(meta / "properties.json", {}) or {}
    props.update(status="failed", completed=False)
    write_json(meta / "properties.json", props)


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
    n_jobs : int
        Runs at the same time (``-1``: one per core); the cores are split between them
        (``OMP_NUM_THREADS`` / torch threads of each child).
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
        Seconds after which a single run is stopped and recorded as failed.
    check_flags : bool
        Ask the script for its declared flags first (one quick start of the script that stops at
        ``statdl.flags()``) and reject unknown flags or values that do not convert.

    Returns
    -------
    pandas.DataFrame
        The runs of this grid, as :func:`ls_runs` lists them, newest first.
        ``attrs``: ``n_compared``, ``n_combinations``, ``n_sampled``, ``n_skipped``,
        ``n_failed``.

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

    root = check_runs_dir(root, create=True)
    earlier = existing_runs(root.resolve(), path)
    todo: list[dict[str, Any]] = []
    kept: list[str] = []
    skipped = 0
    for key, combo in unique.items():
        statuses = earlier.get(key, [])
        done = [r for r, s in statuses if s == "completed" or s == "running"
                or (s == "failed" and not retry_failed)]
        for r, s in statuses:
            if s == "interrupted":
                _mark_interrupted(r)
        if done:
            kept.append(str(done[-1]))
            skipped += 1
        else:
            todo.append(combo)
    if skipped:
        print(f"{skipped} of these combinations already ran in {root}; running the other "
              f"{len(todo)}")
    if confirm and todo and not _confirm(len(todo)):
        print("tuning run cancelled")
        todo = []

    threads = threads_per_run(n_jobs)
    results: list[dict] = []
    if todo:
        results = _run_all(path, todo, root.resolve(), n_jobs, backend, address, threads, echo,
                           progress, timeout)
    failed = [r for r in results if r["status"] != "completed"]
    return _summary(root, kept + [r["run_dir"] for r in results], n_total, len(combos),
                    skipped, len(failed))


def _run_all(path: Path, todo: list[dict], root: Path, n_jobs: int, backend: str,
             address: str | None, threads: int, echo: bool, progress: bool,
             timeout: float | None) -> list[dict]:
    executor = make_executor(backend, n_jobs, address, threads)
    display = GridProgress(len(todo), enabled=progress)
    results: list[dict] = []
    pending: dict[Any, tuple[int, dict]] = {}
    queue = list(enumerate(todo, start=1))
    t0 = time.perf_counter()
    try:
        with display:
            while queue or pending:
                while queue and len(pending) < n_jobs:
                    i, combo = queue.pop(0)
                    flags_text = ", ".join(f"{k}={v}" for k, v in combo.items())
                    display.started(i, flags_text)
                    if not progress:
                        print(f"Training run {i}/{len(todo)} (flags = {flags_text})")
                    fut = executor.submit(script=str(path), flags=combo, runs_dir=str(root),
                                          echo=echo and n_jobs == 1, num_threads=threads,
                                          timeout=timeout)
                    pending[fut] = (i, combo)
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in done:
                    i, combo = pending.pop(fut)
                    result = fut.result()
                    results.append(result)
                    display.finished(i, result["status"] == "completed")
                    if result["status"] != "completed" and not progress:
                        print(f"  run {i} failed: {result['error']}", file=sys.stderr)
    except BaseException:
        executor.shutdown(cancel=True)
        raise
    executor.shutdown()
    if not progress:
        print(f"{len(results)} runs in {time.perf_counter() - t0:.1f} s")
    return results


def _summary(root: Path, run_dirs: list[str], n_total: int, n_sampled: int, skipped: int,
             n_failed: int):
    from .listing import ls_runs

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
