"""A rich progress display over a grid of runs: current run, done, failed, ETA."""

from __future__ import annotations

from typing import Any

__all__ = ["GridProgress"]


class GridProgress:
    """Progress over ``total`` runs; a no-op when ``enabled`` is false.

    Examples
    --------
    >>> with GridProgress(2, enabled=False) as p:
    ...     p.started(1, "units=8"); p.finished(1, ok=True)
    """

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total = total
        self.enabled = enabled
        self.done = 0
        self.failed = 0
        self.running: dict[int, str] = {}
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> GridProgress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                MofNCompleteColumn(), TextColumn("[green]{task.fields[ok]} ok"),
                TextColumn("[red]{task.fields[failed]} failed"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("tuning", total=self.total, ok=0, failed=0)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def _describe(self) -> str:
        if not self.running:
            return "tuning"
        first = min(self.running)
        more = f" (+{len(self.running) - 1} more)" if len(self.running) > 1 else ""
        return f"run {first}/{self.total} {self.running[first]}{more}"

    def started(self, index: int, flags_text: str) -> None:
        self.running[index] = flags_text
        if self._progress is not None:
            self._progress.update(self._task, description=self._describe())

    def finished(self, index: int, ok: bool) -> None:
        self.running.pop(index, None)
        self.done += ok
        self.failed += not ok
        if self._progress is not None:
            self._progress.update(self._task, advance=1, ok=self.done, failed=self.failed,
                                  description=self._describe())
