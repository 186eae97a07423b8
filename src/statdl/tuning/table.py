"""The runs table of ``statdl runs ls`` and ``statdl tune``: a few key columns that fit.

By default: ``run`` (the folder name, which is its UTC start time), ``script`` (or lab),
``flags`` (those that vary between the runs listed), the main metric, ``status``, ``time``
(how long the run took) and, for runs that recorded it, ``threads`` (the CPU threads its
training used). Columns are dropped, last-priority first, until the table fits the
terminal; long cells are cut with ``…``, headers never are.
"""

from __future__ import annotations

import math
import shutil
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ..run_folders.listing import metric_column, unknown_column_error

__all__ = ["KEY_COLUMNS", "main_metric", "display_frame", "render_table", "terminal_width"]

KEY_COLUMNS = ("run", "script", "flags", "status", "time")
_METRICS = ("metric_val_loss", "eval_loss", "metric_loss", "metric_val_accuracy",
            "eval_accuracy")
_PRIORITY = ("run", "status", "metric", "flags", "script", "time", "threads")  # kept first
_SHRINK = ("flags", "script")                 # cut first when narrow (run names never)
_GAP = "  "


def terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` first); 160 when not writing to one."""
    return shutil.get_terminal_size((160, 24)).columns


def main_metric(df: pd.DataFrame, order: str | None = None) -> str | None:
    """The metric column to show: ``order`` when it is one, else validation loss, else the
    first ``eval_``/``metric_`` column.

    Examples
    --------
    >>> main_metric(pd.DataFrame({"metric_loss": [0.3], "metric_val_loss": [0.4]}))
    'metric_val_loss'
    """
    if order and order in df.columns and order.startswith(("metric_", "eval_", "test_")):
        return order
    found = [c for c in _METRICS if c in df.columns and df[c].notna().any()]
    if found:
        return found[0]
    rest = [c for c in df.columns if c.startswith(("eval_", "metric_", "test_"))]
    return rest[0] if rest else None


def _flags_text(df: pd.DataFrame) -> pd.Series:
    flags = [c for c in df.columns if c.startswith("flag_")]
    if len(df) > 1:
        varying = [c for c in flags if df[c].astype(str).nunique() > 1]
        flags = varying or flags

    def text(row: pd.Series) -> str:
        return " ".join(f"{c[5:]}={_cell(row[c])}" for c in flags if _present(row[c]))

    return df.apply(text, axis=1) if len(df) else pd.Series(dtype=object)


def _elapsed(seconds: Any) -> str:
    if not _present(seconds):
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes}m{sec:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _cell(value: Any) -> str:
    if not _present(value):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _resolve(df: pd.DataFrame, names: Iterable[str]) -> list[tuple[str, str]]:
    """(header, source) for each wanted name: a key column or a column of the runs."""
    out = []
    for name in names:
        if name in KEY_COLUMNS or name == "metric":
            out.append((name, name))
            continue
        try:
            out.append((name, metric_column(df, name, argument="columns")))
        except ValueError:
            raise unknown_column_error("columns", name,
                                       list(KEY_COLUMNS) + list(df.columns)) from None
    return out


def display_frame(df: pd.DataFrame, columns: list[str] | None = None,
                  order: str | None = None, raw: bool = False) -> pd.DataFrame:
    """The runs as shown: key columns (or ``columns``), values as text, headers as names.

    With ``raw`` the columns of the runs keep their values (for CSV).

    Examples
    --------
    >>> runs = pd.DataFrame({"run_dir": ["runs/2024-01-01T00-00-00Z"], "script": ["t.py"],
    ...                      "flag_units": [8], "metric_val_loss": [0.51234],
    ...                      "status": ["completed"], "elapsed_s": [75.0]})
    >>> display_frame(runs).iloc[0].tolist()
    ['2024-01-01T00-00-00Z', 't.py', 'units=8', '0.5123', 'completed', '1m15s']
    """
    metric = main_metric(df, order)
    fmt = (lambda v: v) if raw else _cell
    if columns is None:
        wanted = ["run", "script", "flags"] + (["metric"] if metric else []) + ["status", "time"]
        if "threads" in df.columns and df["threads"].notna().any():
            wanted.append("threads")
    else:
        wanted = list(columns)
    out = {}
    for header, source in _resolve(df, wanted):
        if source == "run":
            values = [Path(p).name for p in df["run_dir"]]
        elif source == "flags":
            values = list(_flags_text(df))
        elif source == "time":
            values = [_elapsed(v) for v in df.get("elapsed_s", pd.Series([None] * len(df)))]
        elif source == "metric":
            if metric is None:
                continue
            header = metric.removeprefix("metric_")
            values = [fmt(v) for v in df[metric]]
        elif source in df.columns:
            values = [fmt(v) for v in df[source]]
        else:
            values = [""] * len(df)
        out[header] = values
    return pd.DataFrame(out, index=range(len(df)), dtype=object)


def _fit(shown: pd.DataFrame, width: int, drop: bool) -> dict[str, int]:
    """Width of each column kept so that the table fits ``width``, if it can.

    Headers and run names are never cut; the key columns are dropped, lowest priority first,
    while even the shortest widths do not fit (``drop``, the default view); an explicit
    choice of columns keeps them all and cuts long text in any column but ``run``.
    """
    natural = {c: max([len(c)] + [len(v) for v in shown[c]]) for c in shown.columns}
    cut = [c for c in shown.columns if c in _SHRINK
           or (not drop and c not in ("run", "run_dir") and natural[c] > 12)]
    floor = {c: min(natural[c], max(len(c), 8)) if c in cut else natural[c]
             for c in shown.columns}
    keep = list(shown.columns)

    def total(widths: dict[str, int]) -> int:
        return sum(widths[c] for c in keep) + len(_GAP) * (len(keep) - 1)

    if drop:
        rank = {c: (_PRIORITY.index(c) if c in _PRIORITY else 2) for c in keep}
        while len(keep) > 1 and total(floor) > width:
            keep.remove(max(keep, key=lambda c: (rank[c], keep.index(c))))
    widths = {c: natural[c] for c in keep}
    for c in sorted((c for c in cut if c in keep), key=lambda c: -natural[c]):
        excess = total(widths) - width
        if excess <= 0:
            break
        widths[c] = max(floor[c], widths[c] - excess)
    return widths


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def render_table(df: pd.DataFrame, columns: list[str] | None = None, order: str | None = None,
                 width: int | None = None, max_rows: int = 20) -> str:
    """The runs table as text that fits ``width`` columns (default: the terminal's).

    Examples
    --------
    >>> runs = pd.DataFrame({"run_dir": ["runs/2024-01-01T00-00-00Z"], "script": ["t.py"],
    ...                      "status": ["completed"], "elapsed_s": [2.0]})
    >>> print(render_table(runs, width=60))
    1 runs (compared: 1)
    run                   script  flags  status     time
    --------------------  ------  -----  ---------  ----
    2024-01-01T00-00-00Z  t.py           completed  2.0s
    """
    if df.empty:
        return "no runs"
    width = width or terminal_width()
    shown = display_frame(df.head(max_rows), columns, order)
    widths = _fit(shown, width, drop=columns is None)
    numeric = {c for c in widths if c not in KEY_COLUMNS
               and all(_is_number(v) for v in shown[c] if v)}

    def line(cells: dict[str, str]) -> str:
        parts = []
        for c, w in widths.items():
            text = _clip(cells[c], w)
            parts.append(text.rjust(w) if c in numeric else text.ljust(w))
        return _GAP.join(parts).rstrip()

    lines = [f"{len(df)} runs (compared: {df.attrs.get('n_compared', len(df))})",
             line({c: c for c in widths}), _GAP.join("-" * w for w in widths.values())]
    lines += [line(row) for row in shown.to_dict(orient="records")]
    if len(df) > max_rows:
        lines.append(f"... {len(df) - max_rows} more rows")
    hidden = [c for c in shown.columns if c not in widths]
    if hidden:
        lines.append(textwrap.fill(f"(not shown for lack of width: {', '.join(hidden)}; see "
                                   "--columns, --csv)", width))
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
