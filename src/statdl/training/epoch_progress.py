"""Keras-like progress output: a rich bar per epoch in a terminal, one line per epoch elsewhere."""

from __future__ import annotations

import sys
import time

__all__ = ["EpochProgress"]


def format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class EpochProgress:
    """Show training progress. ``verbose=1``: a live bar (plain lines when not a terminal);
    ``verbose=2``: one line per epoch; ``verbose=0``: nothing."""

    def __init__(self, verbose: int, epochs: int, steps: int):
        self.verbose, self.epochs, self.steps = verbose, epochs, steps
        self._progress = None
        self._task = None
        self._live = False
        if verbose == 1:
            from rich.console import Console

            console = Console(file=sys.stdout)
            self._live = console.is_terminal
            if self._live:
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                )

                self._progress = Progress(
                    TextColumn("{task.description}"), BarColumn(bar_width=30),
                    MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[logs]}"),
                    console=console, refresh_per_second=8,
                )
                self._progress.start()

    def epoch_begin(self, epoch: int) -> None:
        self._t0 = time.perf_counter()
        self._last = 0.0
        if self._progress is not None:
            self._task = self._progress.add_task(f"Epoch {epoch + 1}/{self.epochs}",
                                                 total=self.steps, logs="")

    def wants_update(self) -> bool:
        """Whether a batch update is worth showing now (at most ~8 per second)."""
        if self._progress is None:
            return False
        now = time.perf_counter()
        if now - self._last >= 0.125:
            self._last = now
            return True
        return False

    def batch(self, step: int, logs: dict[str, float] | None = None) -> None:
        if self._progress is not None:
            fields = {"logs": format_logs(logs)} if logs is not None else {}
            self._progress.update(self._task, completed=step, **fields)

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        seconds = time.perf_counter() - self._t0
        if self._progress is not None:
            self._progress.update(self._task, completed=self.steps, logs=format_logs(logs))
        elif self.verbose in (1, 2):
            ms = 1000 * seconds / max(self.steps, 1)
            print(f"Epoch {epoch + 1}/{self.epochs} - {seconds:.1f}s {ms:.0f}ms/step - "
                  f"{format_logs(logs)}", flush=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
