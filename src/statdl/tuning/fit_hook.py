"""A callback that records each epoch into the run folder, and the callbacks a run's ``fit``
calls get (the run's child process registers ``run_callbacks`` with
``statdl.models.hooks.register_fit_callback_factory``)."""

from __future__ import annotations

from typing import Any

from ..run_folders.recording import report_epoch
from ..training.callbacks import Callback

__all__ = ["RunMetricsCallback", "run_callbacks"]


class RunMetricsCallback(Callback):
    """Write each epoch's logs to ``statdl.d/metrics.json`` as training goes.

    A run that is killed half-way then still shows the curves of the epochs it finished;
    outside a training run the callback does nothing.

    Examples
    --------
    >>> cb = RunMetricsCallback()
    >>> cb.on_epoch_end(0, {"loss": 0.4})      # a no-op outside a run
    """

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        report_epoch(epoch, logs or {})


def run_callbacks() -> list[Callback]:
    """The callbacks every ``fit`` of a training run gets: ``[RunMetricsCallback()]`` inside a
    run (``STATDL_RUN_DIR`` set), none outside.

    Examples
    --------
    >>> run_callbacks()      # not inside `statdl run`
    []
    """
    from ..run_folders.recording import is_run_active

    return [RunMetricsCallback()] if is_run_active() else []


