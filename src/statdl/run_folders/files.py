"""Names and light file helpers of run folders (no torch or pandas: a run's child process
imports them before the script does)."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from ..errors import ConfigError
from ..utils import atomic_write
from ..validation import message

__all__ = [
    "ENV_RUN_DIR", "ENV_FLAGS", "ENV_DECLARE", "ENV_THREADS", "ENV_PARENT", "META",
    "CAPTIONS_FILE", "VIEW_FILE", "RESULTS_FILE",
    "write_text", "write_json", "read_json", "to_jsonable", "flag_value", "utc_now",
    "record_thread_settings",
]

ENV_RUN_DIR = "STATDL_RUN_DIR"          # the run folder of the current training run
ENV_FLAGS = "STATDL_FLAGS"              # JSON of flag values passed by training_run/tuning_run
ENV_DECLARE = "STATDL_DECLARE_FLAGS"    # path: flags() writes its declaration there and exits
ENV_THREADS = "STATDL_NUM_THREADS"      # torch threads for the child
ENV_PARENT = "STATDL_PARENT_PID"        # the runner: the child stops when it dies
META = "statdl.d"                       # metadata folder inside a run folder
CAPTIONS_FILE = "captions.json"         # plots/captions.json: figure file -> what it shows
VIEW_FILE = "view.html"                 # a run's HTML report
RESULTS_FILE = "results.json"           # every number a lab reports


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file, fsync, rename).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.txt"); write_text(p, "hi"); open(p).read()
    'hi'
    """
    with atomic_write(path, "w") as fh:
        fh.write(text)


def to_jsonable(value: Any) -> Any:
    """Turn numpy/torch scalars and arrays, tuples and NaN into plain JSON values.

    NaN and infinities become ``None`` (JSON has no NaN), like tfruns's NA padding.

    Examples
    --------
    >>> to_jsonable({"a": (1, float("nan")), "b": 2.5})
    {'a': [1, None], 'b': 2.5}
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "tolist"):          # numpy / torch arrays and scalars
        return to_jsonable(value.tolist())
    if hasattr(value, "item"):
        return to_jsonable(value.item())
    return str(value)


def flag_value(name: str, value: Any, where: str = "`flags` ") -> Any:
    """A flag value given to a run, as JSON; NaN and infinities are refused, naming the flag.

    Examples
    --------
    >>> flag_value("lr", 0.1)
    0.1
    >>> flag_value("lr", float("nan"))
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `flags` value of `lr` must be a finite number; got nan.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()                    # numpy / torch scalar
    if isinstance(value, float) and not math.isfinite(value):
        # the container (`flags`, a grid's combination) names where the value came from
        raise ConfigError(f"{where}value of " + message(name, "a finite number", value))
    return to_jsonable(value)


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    write_text(path, json.dumps(to_jsonable(data), indent=2) + "\n")


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    """Read JSON from ``path``; ``default`` when the file does not exist."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return default


def record_thread_settings(run: str | os.PathLike) -> None:
    """Add the thread count and OpenMP wait policy the run trained with to
    ``statdl.d/properties_reported.json`` (what the run reported itself is kept): ``threads``
    (the count the last fit or predict used), ``thread_mode`` ("auto" or "fixed"),
    ``thread_cores`` (the most it would use), ``thread_wait`` and ``thread_source``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> (run / META).mkdir()
    >>> record_thread_settings(run)
    >>> sorted(read_json(run / META / "properties_reported.json"))[:2]
    ['thread_cores', 'thread_mode']
    """
    from .. import threads

    try:
        settings = threads.thread_settings()
    except ValueError as exc:      # e.g. a bad STATDL_NUM_THREADS, which the script met too
        facts: dict[str, Any] = {"thread_error": str(exc)}
    else:
        facts = {"threads": settings["threads"],
                 **{f"thread_{k}": v for k, v in settings.items() if k != "threads"}}
    path = os.path.join(run, META, "properties_reported.json")
    current = read_json(path, {}) or {}
    write_json(path, {**facts, **current})


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds, e.g. ``2026-01-02T03:04:05.123456Z``."""
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
