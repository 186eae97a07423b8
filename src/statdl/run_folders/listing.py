"""Reading runs back: ls_runs, run_info, best_run, latest_run, clean_runs, purge_runs."""

from __future__ import annotations

import difflib
import os
import re
import shutil
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError
from ..validation import check_choice, check_int, message
from .files import META, read_json
from .folders import ARCHIVE, as_run_dir, check_runs_dir, is_run_dir, run_status, status_from

__all__ = ["read_run", "run_info", "ls_runs", "best_run", "latest_run", "clean_runs",
           "purge_runs", "metric_column", "higher_is_better", "unknown_column_error"]

_PREFIXES = ("metric_", "eval_", "flag_", "test_")
# the columns of an empty listing, so that filters and orders on them work
_BASE_COLUMNS = ["run_dir", "script", "start", "end", "elapsed_s", "completed", "status"]

_HIGHER = re.compile(r"acc|auc|r2|rsq|precision|recall|f1|kappa|sensitivity|specificity")
_PROPS_ORDER = ["samples", "validation_samples", "batch_size", "epochs", "epochs_completed",
                "metrics", "model", "loss_function", "optimizer", "learning_rate", "params",
                "script", "source", "start", "end", "elapsed_s", "completed", "status",
                "stopped_epoch", "stopped_reason", "output", "error_message", "error_traceback",
                "context", "type"]


def _last(values: list) -> Any:
    for v in reversed(values):
        if v is not None:
            return v
    return None


def read_run(run: str | os.PathLike, output: bool = True) -> dict[str, Any]:
    """Everything recorded about one run, as a flat dict of ``ls_runs`` columns.

    With ``output=False`` the console output is not read (only its size, ``output_bytes``):
    that is how :func:`ls_runs` lists many runs quickly. Raises ``OSError`` or ``ValueError``
    when the folder cannot be read.
    """
    run = Path(run)
    meta = run / META
    props = read_json(meta / "properties.json", {}) or {}
    request = read_json(meta / "request.json", {}) or {}
    row: dict[str, Any] = {"run_dir": str(run)}
    for k, v in (read_json(meta / "evaluation.json", {}) or {}).items():
        row[f"eval_{k}"] = v
    metrics = read_json(meta / "metrics.json", {}) or {}
    for k, series in metrics.items():
        row[f"metric_{k}"] = _last(series) if isinstance(series, list) else series
    flags = read_json(meta / "flags.json")
    if flags is None:
        flags = request.get("flags", {}) or {}
    for k, v in flags.items():
        row[f"flag_{k}"] = v
    reported = read_json(meta / "properties_reported.json", {}) or {}
    completed_epochs = max((sum(v is not None for v in s) for s in metrics.values()
                            if isinstance(s, list)), default=0)
    row.update({k: v for k, v in reported.items() if k != "verbose"})
    row["epochs_completed"] = completed_epochs
    if metrics:
        row["metrics"] = str(meta / "metrics.json")
    summary = meta / "model.txt"
    if summary.exists():
        row["model"] = summary.read_text(encoding="utf-8")
    for key in ("script", "start", "end", "elapsed_s", "context", "type", "host",
                "returncode", "output_bytes", "output_truncated"):
        if key in props:
            row[key] = props[key]
    row["source"] = str(meta / "source")
    row["status"] = status_from(meta, props)
    row["completed"] = row["status"] == "completed"
    error = read_json(meta / "error.json")
    if error is None and row["status"] == "interrupted":
        error = {"message": "interrupted: the run's process is gone and it never finished"}
    stopped = read_json(meta / "stopped.json") if row["status"] == "stopped" else None
    if stopped is not None:                 # by a tuning run's scheduler: not an error
        row["stopped_epoch"] = stopped.get("epoch")
        row["stopped_reason"] = stopped.get("reason")
    if error is not None:
        row["error_message"] = error.get("message")
        row["error_traceback"] = error.get("traceback")
    if output:
        for name in ("output.txt", "output.txt.partial"):
            if (meta / name).exists():
                row["output"] = (meta / name).read_text(encoding="utf-8", errors="replace")
                break
    if (run / "test_evaluation.json").exists():
        for k, v in (read_json(run / "test_evaluation.json", {}) or {}).get(
                "evaluation", {}).items():
            row[f"test_{k}"] = v
    return row


def _order_columns(df: pd.DataFrame, order: str | None) -> pd.DataFrame:
    cols = list(df.columns)
    first = ["run_dir"] + ([order] if order and order in cols and order not in ("start", "run_dir")
                           else [])
    groups = [c for p in ("eval_", "test_", "metric_", "flag_") for c in cols
              if c.startswith(p) and c not in first]
    props = [c for c in _PROPS_ORDER if c in cols and c not in first]
    rest = [c for c in cols if c not in first + groups + props]
    return df[first + groups + props + rest]


def unknown_column_error(argument: str, name: str, columns: Iterable[str]) -> ConfigError:
    """The error for a column that a runs table lacks: the closest names, then all of them.

    Examples
    --------
    >>> str(unknown_column_error("order", "statsu", ["run_dir", "status"]))
    "`order` 'statsu' is not a column of the runs; did you mean 'status'? columns: run_dir, status."
    """
    columns = list(columns)
    short = {c.split("_", 1)[1]: c for c in columns if c.startswith(_PREFIXES)}
    close = difflib.get_close_matches(name, columns + list(short), n=3, cutoff=0.6)
    close = list(dict.fromkeys(short.get(c, c) for c in close))
    hint = f" did you mean {' or '.join(map(repr, close))}?" if close else ""
    return ConfigError(f"`{argument}` {name!r} is not a column of the runs;{hint} columns: "
                       f"{', '.join(columns) or '(no runs)'}.")


def metric_column(df: pd.DataFrame, name: str, argument: str = "order") -> str:
    """Resolve ``val_loss`` to ``metric_val_loss`` (or ``eval_val_loss``) in a runs table."""
    if name in df.columns:
        return name
    for prefix in _PREFIXES:
        if prefix + name in df.columns:
            return prefix + name
    raise unknown_column_error(argument, name, df.columns)


def higher_is_better(column: str) -> bool:
    """Whether a metric column is better when larger (accuracy, AUC, R2 ...; not losses).

    Examples
    --------
    >>> higher_is_better("metric_val_accuracy"), higher_is_better("metric_val_loss")
    (True, False)
    """
    return bool(_HIGHER.search(column.lower())) and "loss" not in column.lower()


def _scan(root: Path) -> list[dict[str, Any]]:
    rows = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir() or not is_run_dir(entry):
            continue
        try:
            rows.append(read_run(entry, output=False))
        except (OSError, ValueError) as exc:
            warnings.warn(f"skipping unreadable run folder {entry}: {exc}", stacklevel=3)
    return rows


class RunsTable(pd.DataFrame):
    """An ``ls_runs`` table: a pandas DataFrame that a notebook shows without its long text
    columns (``statdl.display.runs_table_html``); whatever is derived from it is a plain
    DataFrame."""

    @property
    def _constructor(self):
        return pd.DataFrame

    def _repr_html_(self) -> str:
        from ..display import runs_table_html

        return runs_table_html(self)


def ls_runs(runs_dir: str | os.PathLike = "runs", order: str | None = None,
            filter: str | Callable[[pd.DataFrame], Any] | None = None,
            decreasing: bool | None = None, latest_n: int | None = None) -> pd.DataFrame:
    """Table of the runs in ``runs_dir``, one row per run, newest first by default.

    Parameters
    ----------
    runs_dir : str or path
        The runs directory.
    order : str, optional
        Column to sort by (``"metric_val_loss"``, or just ``"val_loss"``); default start time.
    filter : str or callable, optional
        A ``DataFrame.query`` string (``"metric_val_accuracy > 0.97"``, ``"completed"``) or a
        function of the table returning a boolean mask.
    decreasing : bool, optional
        Sort order. By default newest first for times, best first for metrics (larger first for
        accuracy, AUC, R2 ...; smaller first otherwise).
    latest_n : int, optional
        Keep only the ``latest_n`` most recent runs (before ordering).

    Returns
    -------
    pandas.DataFrame
        (a ``RunsTable``: in a notebook it displays without the long text columns.)
        Columns ``run_dir``, ``eval_*``, ``metric_*`` (last value of each per-epoch metric),
        ``flag_*``, ``epochs``, ``epochs_completed``, ``start``, ``end``, ``completed``,
        ``status`` ... ``df.attrs["n_compared"]`` is the number of runs listed: when you pick
        the best of them, its validation metric is optimistic by selection among that many.
        Unreadable run folders are skipped with a warning. Only the small metadata files of
        each run are read: the console output is not listed (``output_bytes`` gives its
        size; ``run_info(run)["output"]`` reads it). An empty or missing runs directory gives
        an empty table whatever ``order`` and ``filter`` say.

    Examples
    --------
    >>> import tempfile
    >>> ls_runs(tempfile.mkdtemp()).empty
    True
    """
    root = check_runs_dir(runs_dir)
    rows = _scan(root) if root.is_dir() else []
    df = pd.DataFrame(rows) if rows else pd.DataFrame(
        {c: pd.Series(dtype=bool if c == "completed" else object) for c in _BASE_COLUMNS})
    for col in ("start", "end"):
        if col in df.columns:
            df[col] = pd.to_datetime(df[col], utc=True, errors="coerce")
    if "start" in df.columns:
        df = df.sort_values(["start", "run_dir"], ascending=False, kind="stable")
    if latest_n is not None:
        check_int(latest_n, "latest_n", "ls_runs", low=1)
        df = df.head(latest_n)
    if filter is not None:
        if isinstance(filter, str):
            try:
                df = df.query(filter)
            except Exception as exc:  # pandas raises many types for a bad expression
                raise ConfigError(message(
                    "filter", "a query pandas can evaluate on the runs table", filter, "ls_runs",
                    shown=f"{filter!r} ({exc})")) from exc
        elif callable(filter):
            df = df[filter(df)]
        else:
            raise ConfigError(message("filter", "a query string or a function", filter,
                                      "ls_runs"))
    if order is not None and order != "start" and not df.empty:
        col = metric_column(df, order)
        if decreasing is None:
            decreasing = col == "end" or higher_is_better(col)
        df = df.sort_values(col, ascending=not decreasing, na_position="last", kind="stable")
        order = col
    elif decreasing is False and "start" in df.columns:
        df = df.iloc[::-1]
    df = RunsTable(_order_columns(df.reset_index(drop=True), order))
    df.attrs["n_compared"] = len(df)
    df.attrs["runs_dir"] = str(root)
    return df


def run_info(run: Any, runs_dir: str | os.PathLike = "runs") -> pd.Series:
    """One run as a pandas Series (like tfruns's ``run_info``).

    Examples
    --------
    >>> run_info("/no/such/run")
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `run` must be a run folder (with statdl.d inside); got '/no/such/run'.
    """
    row = read_run(as_run_dir(run, runs_dir))
    series = pd.Series(row, name=Path(row["run_dir"]).name)
    for col in ("start", "end"):
        if series.get(col) is not None:
            series[col] = pd.Timestamp(series[col])
    return series


def best_run(runs_dir: str | os.PathLike = "runs", metric: str = "val_loss",
             mode: str = "min", filter: str | Callable | None = None) -> pd.Series:
    """The completed run with the best value of ``metric``.

    The returned Series holds ``n_compared``, the number of completed runs it was chosen
    among, and ``selection_note``: its validation metric is optimistically biased by that
    choice, so evaluate the chosen model once on held-out test data (:func:`evaluate_best`).

    Examples
    --------
    >>> import tempfile
    >>> best_run(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `metric` of best_run must be a metric of a completed run in ...; got 'val_loss'.
    """
    check_choice(mode, "mode", ("min", "max"), "best_run")
    df = ls_runs(runs_dir, filter=filter)
    done = df[df["completed"]] if "completed" in df.columns else df.iloc[0:0]
    try:
        col = metric_column(done, metric)
    except ConfigError:
        raise _no_run_has(metric, runs_dir) from None
    done = done[done[col].notna()]
    if done.empty:
        raise _no_run_has(metric, runs_dir)
    values = pd.to_numeric(done[col], errors="coerce")
    best = done.loc[values.idxmin() if mode == "min" else values.idxmax()].copy()
    n = len(done)
    best["n_compared"] = n
    best["selection_metric"] = col
    best["selection_note"] = (
        f"best of {n} runs by {col} ({mode}); this value is optimistic because it was chosen "
        f"among {n}. Evaluate the chosen model once on held-out test data "
        f"(statdl.tuning.evaluate_best).")
    best.name = Path(best["run_dir"]).name
    return best


def _no_run_has(metric: str, runs_dir) -> ConfigError:
    return ConfigError(message("metric", f"a metric of a completed run in {runs_dir}", metric,
                               "best_run"))


def latest_run(runs_dir: str | os.PathLike = "runs") -> pd.Series | None:
    """The most recently started run, or ``None`` when there is none.

    Examples
    --------
    >>> import tempfile
    >>> latest_run(tempfile.mkdtemp()) is None
    True
    """
    df = ls_runs(runs_dir, latest_n=1)
    if df.empty:
        return None
    row = df.iloc[0].dropna()
    row.name = Path(row["run_dir"]).name
    return row


def _run_paths(runs: Any, runs_dir: str | os.PathLike) -> list[Path]:
    if runs is None:
        return [Path(p) for p in ls_runs(runs_dir)["run_dir"]]
    if isinstance(runs, pd.DataFrame):
        runs = list(runs["run_dir"])
    elif isinstance(runs, pd.Series):
        runs = [runs["run_dir"]] if "run_dir" in runs.index else list(runs)
    elif isinstance(runs, str | os.PathLike):
        runs = [runs]
    if not isinstance(runs, Iterable):
        raise ConfigError(message("runs", "run folders or an ls_runs table", runs))
    return [as_run_dir(r, runs_dir) for r in runs]


def clean_runs(runs: Any = None, runs_dir: str | os.PathLike = "runs") -> list[Path]:
    """Move runs (default: all) into ``<runs_dir>/.archive``; running runs are left alone.

    Examples
    --------
    >>> import tempfile
    >>> clean_runs(runs_dir=tempfile.mkdtemp())
    []
    """
    root = check_runs_dir(runs_dir)
    moved = []
    for run in _run_paths(runs, root):
        if run_status(run) == "running":
            warnings.warn(f"not archiving {run}: it is still running", stacklevel=2)
            continue
        archive = run.parent / ARCHIVE
        archive.mkdir(exist_ok=True)
        target = archive / run.name
        n = 1
        while target.exists():
            target = archive / f"{run.name}-{n}"
            n += 1
        shutil.move(str(run), str(target))
        moved.append(target)
    return moved


def purge_runs(runs_dir: str | os.PathLike = "runs") -> int:
    """Delete the archive ``<runs_dir>/.archive`` for good; return how many runs it held.

    Examples
    --------
    >>> import tempfile
    >>> purge_runs(tempfile.mkdtemp())
    0
    """
    archive = check_runs_dir(runs_dir) / ARCHIVE
    if not archive.is_dir():
        return 0
    n = sum(1 for p in archive.iterdir() if p.is_dir())
    shutil.rmtree(archive)
    return n
