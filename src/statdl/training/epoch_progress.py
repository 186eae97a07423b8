"""Keras-like progress output of ``fit``: a live bar per epoch in a terminal (rich) or in a
Jupyter notebook (an updating display), one line per epoch elsewhere (log files, pipes)."""

from __future__ import annotations

import sys
import time
from typing import Any

from ..display import escape, kernel_stdout

__all__ = ["EpochProgress"]

#: at most this many bar updates per second (the loop asks ``wants_update()`` every step)
UPDATES_PER_SECOND = 8


def format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class EpochProgress:
    """Show training progress. ``verbose=1``: a live bar (in a terminal or a notebook; plain
    lines elsewhere); ``verbose=2``: one line per epoch; ``verbose=0``: nothing."""

    def __init__(self, verbose: int, epochs: int, steps: int):
        self.verbose, self.epochs, self.steps = verbose, epochs, steps
        self._bar: _RichBar | _NotebookBar | None = None
        self._last = 0.0
        if verbose == 1:
            if kernel_stdout():
                self._bar = _NotebookBar(epochs, steps)
            else:
                from rich.console import Console

                console = Console(file=sys.stdout)
                if console.is_terminal:
                    self._bar = _RichBar(console, epochs, steps)

    def epoch_begin(self, epoch: int) -> None:
        self._t0 = time.perf_counter()
        self._last = 0.0
        if self._bar is not None:
            self._bar.begin(epoch)

    def wants_update(self) -> bool:
        """Whether a batch update is worth showing now (at most ~8 per second)."""
        if self._bar is None:
            return False
        now = time.perf_counter()
        if now - self._last >= 1 / UPDATES_PER_SECOND:
            self._last = now
            return True
        return False

    def batch(self, step: int, logs: dict[str, float] | None = None) -> None:
        if self._bar is not None:
            self._bar.update(step, None if logs is None else format_logs(logs))

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        seconds = time.perf_counter() - self._t0
        line = (f"Epoch {epoch + 1}/{self.epochs} - {seconds:.1f}s "
                f"{1000 * seconds / max(self.steps, 1):.0f}ms/step - {format_logs(logs)}")
        if self._bar is not None:
            self._bar.end(format_logs(logs), line)
        elif self.verbose in (1, 2):
            print(line, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _RichBar:
    """rich's live bars in a terminal: one per epoch, kept on screen."""

    def __init__(self, console: Any, epochs: int, steps: int):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.epochs, self.steps = epochs, steps
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(bar_width=30),
            MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[logs]}"),
            console=console, refresh_per_second=UPDATES_PER_SECOND,
        )
        self.progress.start()
        self.task = None

    def begin(self, epoch: int) -> None:
        self.task = self.progress.add_task(f"Epoch {epoch + 1}/{self.epochs}",
                                           total=self.steps, logs="")

    def update(self, step: int, logs: str | None) -> None:
        fields = {"logs": logs} if logs is not None else {}
        self.progress.update(self.task, completed=step, **fields)

    def end(self, logs: str, line: str) -> None:
        self.progress.update(self.task, completed=self.steps, logs=logs)

    def close(self) -> None:
        self.progress.stop()


class _NotebookBar:
    """A bar in a Jupyter notebook: one display per epoch, updated in place (an HTML
    ``<progress>`` element, with a text form for saved notebooks and plain front ends), left
    as the epoch's line when the epoch ends. No ipywidgets needed."""

    def __init__(self, epochs: int, steps: int):
        from IPython.display import display

        self.display, self.epochs, self.steps = display, epochs, steps
        self.handle: Any = None
        self.title = ""

    def _show(self, step: int, logs: str, final: str | None = None) -> None:
        text = final or f"{self.title} {step}/{self.steps} - {logs}".rstrip(" -")
        html = (f"<div><code>{escape(self.title)}</code> "
                f"<progress value='{step}' max='{max(self.steps, 1)}' style='width:12em'>"
                f"</progress> <code>{step}/{self.steps}</code> <code>{escape(final or logs)}"
                "</code></div>")
        bundle = {"text/plain": text, "text/html": html}
        if self.handle is None:
            self.handle = self.display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)

    def begin(self, epoch: int) -> None:
        self.title = f"Epoch {epoch + 1}/{self.epochs}"
        self.handle = None
        self._show(0, "")

    def update(self, step: int, logs: str | None) -> None:
        self._show(step, logs or "")

    def end(self, logs: str, line: str) -> None:
        self._show(self.steps, logs, final=line)

    def close(self) -> None:
        self.handle = None
