"""``statdl run | tune | runs`` sub-commands."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..validation import message

__all__ = ["register"]


def _flag_pairs(items: list[str] | None, many: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(message("--flag", "name=value", item, verb="look like"))
        out[name.strip().replace("-", "_")] = value.split(",") if many else value
    return out


def _add_run_options(p: argparse.ArgumentParser, defaults: bool) -> None:
    d = None if not defaults else argparse.SUPPRESS
    p.add_argument("--flag", action="append", metavar="NAME=VALUE", default=d,
                   help="set a flag (repeatable)")
    p.add_argument("--runs-dir", default=d, help="runs directory (default: runs)")
    p.add_argument("--no-echo", action="store_true", default=d,
                   help="do not print the script's output (it is saved anyway)")
    p.add_argument("--timeout", type=float, default=d, help="stop the run after SECONDS")
    p.add_argument("--help-flags", action="store_true", default=d,
                   help="list the script's flags and exit")


def _cmd_run(args: argparse.Namespace) -> int:
    extra = argparse.ArgumentParser(prog="statdl run SCRIPT", add_help=False)
    _add_run_options(extra, defaults=True)
    extra.add_argument("--help", "-h", dest="help_flags", action="store_true",
                       default=argparse.SUPPRESS)
    more, script_args = extra.parse_known_args(args.script_args)
    for k, v in vars(more).items():
        if k == "flag":
            args.flag = (args.flag or []) + v
        else:
            setattr(args, k, v)
    from .runner import _command, check_script, child_env

    script = check_script(args.script)
    if args.help_flags:
        return subprocess.run(_command(script, ["--help-flags"]), env=child_env(None, None, 1),
                              check=False).returncode
    from .runner import execute_run

    result = execute_run(script, _flag_pairs(args.flag, many=False),
                         args.runs_dir or "runs", args=script_args, echo=not args.no_echo,
                         timeout=args.timeout)
    if result["status"] == "completed":
        print(f"Run completed: {result['run_dir']}")
        return 0
    print(f"Run failed: {result['run_dir']}\n{result['error']}", file=sys.stderr)
    return 1


def _cmd_tune(args: argparse.Namespace) -> int:
    from .grid_runs import tuning_run

    if args.grid:
        import pandas as pd

        flags: Any = pd.read_csv(args.grid)
        if args.flag:
            raise ConfigError(message("--flag", "left out with `--grid` (a CSV of combinations): "
                                      "give either, not both", args.flag))
    else:
        flags = _flag_pairs(args.flag, many=True)
        if not flags and args.search == "grid":
            raise ConfigError(message("--flag", "given for a grid, e.g. --flag nodes1=64,128,256",
                                      None, shown="none"))
        flags = flags or None          # random / TPE: the ranges the script declares
    runs = tuning_run(args.script, flags, sample=args.sample, seed=args.seed,
                      runs_dir=args.runs_dir, n_jobs=args.jobs, backend=args.backend,
                      address=args.address, confirm=args.confirm, echo=args.echo,
                      progress=not args.no_progress, timeout=args.timeout,
                      search=args.search, n_runs=args.runs, scheduler=args.scheduler,
                      metric=args.metric, mode=args.mode, max_epochs=args.max_epochs,
                      grace_epochs=args.grace_epochs, reduction=args.reduction,
                      num_threads=args.threads)
    _print_table(runs, None)
    return 0 if runs.attrs.get("n_failed", 0) == 0 else 1


def _print_table(df: Any, order: str | None, max_rows: int = 20,
                 columns: list[str] | None = None) -> None:
    from .table import render_table

    print(render_table(df, columns, order, max_rows=max_rows))


def _columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise ConfigError(message("--columns", "columns, comma separated", text, verb="name"))
    return names


def _cmd_ls(args: argparse.Namespace) -> int:
    from ..run_folders.listing import ls_runs
    from .table import display_frame

    df = ls_runs(args.runs_dir, order=args.order, filter=args.filter, latest_n=args.latest)
    columns = _columns(args.columns)
    if args.csv:
        if columns is None:
            df = df.drop(columns=[c for c in ("model", "error_traceback") if c in df.columns])
        elif df.empty:
            df = df.reindex(columns=columns)
        else:
            df = display_frame(df, columns, args.order, raw=True)
        df.to_csv(sys.stdout, index=False)
    else:
        _print_table(df, args.order, max_rows=args.max_rows, columns=columns)
    return 0


def _cmd_view(args: argparse.Namespace) -> int:
    from ..reports.pages import view_run

    print(view_run(args.run, args.runs_dir, open_browser=not args.no_open))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..reports.pages import compare_runs

    a, b = (args.runs + [None, None])[:2]
    print(compare_runs(a, b, args.runs_dir, open_browser=not args.no_open))
    return 0


def _cmd_best(args: argparse.Namespace) -> int:
    from ..run_folders.listing import best_run

    best = best_run(args.runs_dir, args.metric, args.mode)
    keep = [k for k in best.index if k.startswith(("metric_", "eval_", "flag_", "test_"))]
    print(f"best run: {best['run_dir']}")
    for k in keep:
        print(f"  {k} = {best[k]}")
    print(best["selection_note"])
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from ..reports.pages import open_in_browser, save_tuning_report

    path = save_tuning_report(args.runs_dir, args.metric, args.mode)
    print(path)
    if not args.no_open:
        open_in_browser(path)
    return 0


def _confirmed(args: argparse.Namespace, question: str) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise ConfigError(message("--yes", f"given where no terminal can confirm: {question}",
                                  None, shown="no --yes"))
    return input(f"{question} [y/N]: ").strip().lower() in ("y", "yes")


def _cmd_clean(args: argparse.Namespace) -> int:
    from ..run_folders.listing import clean_runs, ls_runs

    runs: Any = args.runs or None
    if args.failed:
        df = ls_runs(args.runs_dir)
        runs = df[df["status"].isin(["failed", "interrupted"])] if not df.empty else df
    count = len(runs) if runs is not None else len(ls_runs(args.runs_dir))
    if count and not _confirmed(args, f"Move {count} runs to the archive?"):
        return 1
    moved = clean_runs(runs, args.runs_dir) if count else []
    print(f"moved {len(moved)} runs to {Path(args.runs_dir) / '.archive'}")
    return 0


def _cmd_purge(args: argparse.Namespace) -> int:
    from ..run_folders.listing import purge_runs

    if not _confirmed(args, f"Delete the archive of {args.runs_dir} for good?"):
        return 1
    print(f"deleted {purge_runs(args.runs_dir)} archived runs")
    return 0


def register(subparsers: Any) -> None:
    """Add ``run``, ``tune`` and ``runs`` to the ``statdl`` command."""
    p = subparsers.add_parser("run", help="run a training script and record it",
                              description="Run SCRIPT in a fresh process and record a run "
                                          "folder. Options may follow the script; other "
                                          "arguments go to the script.")
    p.add_argument("script")
    _add_run_options(p, defaults=False)
    p.add_argument("script_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_run)

    p = subparsers.add_parser("tune", help="run a script for each combination of flags",
                              description="tfruns-style tuning run over a grid of flags.")
    p.add_argument("script")
    p.add_argument("--flag", action="append", metavar="NAME=V1,V2",
                   help="values of a flag, comma separated (repeatable)")
    p.add_argument("--grid", help="CSV file of explicit combinations (one column per flag)")
    p.add_argument("--sample", type=float, help="fraction of the grid to run, in (0, 1]")
    p.add_argument("--seed", type=int, help="seed of the sample")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--jobs", type=int, default=1, help="runs at the same time (-1: per core)")
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--address", help="Ray cluster address (backend ray), e.g. head:6379")
    p.add_argument("--threads", type=int,
                   help="fix each run's torch threads (on Ray also the CPUs it reserves)")
    p.add_argument("--confirm", action="store_true", help="ask before starting")
    p.add_argument("--echo", action="store_true", help="print the scripts' output too")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--timeout", type=float, help="stop any single run after SECONDS")
    p.add_argument("--search", choices=["grid", "random", "tpe"], default="grid",
                   help="grid (default), random draws or Optuna's TPE; random and tpe "
                        "without --flag draw the ranges the script declares")
    p.add_argument("--runs", type=int, help="budget of runs of a random or TPE search")
    p.add_argument("--scheduler", choices=["asha", "hyperband", "median"],
                   help="stop poor runs early on a validation metric")
    p.add_argument("--metric", default="val_loss", help="validation metric to judge runs by")
    p.add_argument("--mode", choices=["min", "max"], help="default: from the metric's name")
    p.add_argument("--max-epochs", type=int, help="epochs of a full run (scheduler)")
    p.add_argument("--grace-epochs", type=int, default=1,
                   help="epochs before a run may be stopped (scheduler)")
    p.add_argument("--reduction", type=int, default=3,
                   help="ASHA/Hyperband keep about 1/REDUCTION at each rung")
    p.set_defaults(func=_cmd_tune)

    runs = subparsers.add_parser("runs", help="list, view, compare and clean runs")
    sub = runs.add_subparsers(dest="runs_command", metavar="ACTION")

    def add(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help)
        q.add_argument("--runs-dir", default="runs")
        q.set_defaults(func=func)
        return q

    q = add("ls", _cmd_ls, "table of runs, newest first (key columns that fit the terminal)")
    q.add_argument("--order", help="sort by a column, e.g. metric_val_loss or val_loss")
    q.add_argument("--filter", help="pandas query, e.g. 'metric_val_accuracy > 0.9'")
    q.add_argument("--latest", type=int, help="only the N most recent runs")
    q.add_argument("--max-rows", type=int, default=20)
    q.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    q.add_argument("--columns", metavar="A,B,C",
                   help="columns to show: run, script, flags, metric, status, time, or any "
                        "column of the runs (val_loss, flag_nodes1, elapsed_s ...)")
    q = add("view", _cmd_view, "write (and open) the HTML report of a run")
    q.add_argument("run", nargs="?", help="run folder or its name (default: latest)")
    q.add_argument("--no-open", action="store_true", help="do not open a browser")
    q = add("compare", _cmd_compare, "HTML comparison of two runs (default: two latest)")
    q.add_argument("runs", nargs="*", help="two run folders or names")
    q.add_argument("--no-open", action="store_true")
    q = add("best", _cmd_best, "the best run by a metric")
    q.add_argument("--metric", default="val_loss")
    q.add_argument("--mode", choices=["min", "max"], default="min")
    q = add("report", _cmd_report, "HTML tuning report of all runs (ranking, best, advice)")
    q.add_argument("--metric", default="val_loss")
    q.add_argument("--mode", choices=["min", "max"])
    q.add_argument("--no-open", action="store_true")
    q = add("clean", _cmd_clean, "move runs to <runs-dir>/.archive")
    q.add_argument("runs", nargs="*", help="runs to archive (default: all)")
    q.add_argument("--failed", action="store_true", help="only failed or interrupted runs")
    q.add_argument("--yes", "-y", action="store_true", help="do not ask")
    q = add("purge", _cmd_purge, "delete the archive for good")
    q.add_argument("--yes", "-y", action="store_true", help="do not ask")
    runs.set_defaults(func=lambda a: (runs.print_help(), 0)[1])
