"""A callback that records each epoch into the run folder (and asks the run's scheduler whether
to go on), and the callbacks a run's ``fit`` calls get (the run's child process registers
``run_callbacks`` with ``statdl.models.hooks.register_fit_callback_factory``)."""

from __future__ import annotations

from typing import Any

from ..run_folders.recording import report_epoch, run_dir
from ..training.callbacks import Callback

__all__ = ["RunMetricsCallback", "run_callbacks", "epoch_done"]


def epoch_done(epoch: int, logs: dict[str, Any] | None) -> bool:
    """Record epoch ``epoch`` (0-based) of the current run; return True when the run's
    scheduler (``tuning_run(scheduler=...)``) stops it here.

    ``fit`` calls this through :class:`RunMetricsCallback`; a script with its own training
    loop calls it after each epoch and stops when it returns True. Outside a run, or without
    a scheduler, it records what it can and returns False.

    Examples
    --------
    >>> epoch_done(0, {"loss": 0.4, "val_loss": 0.5})      # not inside a run
    False
    """
    report_epoch(epoch, logs or {})
    run = run_dir()
    if run is None or not logs:
        return False
    from .schedulers import decide_in_run

    return decide_in_run(run, epoch + 1, logs) is not None


class RunMetricsCallback(Callback):
    """Write each epoch's logs to ``statdl.d/metrics.json`` as training goes, and stop training
    when the tuning run's scheduler says so (the run is then recorded as ``stopped``).

    A run that is killed half-way then still shows the curves of the epochs it finished;
    outside a training run the callback does nothing.

    Examples
    --------
    >>> cb = RunMetricsCallback()
    >>> cb.on_epoch_end(0, {"loss": 0.4})      # a no-op outside a run
    """

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if epoch_done(epoch, logs) and self.model is not None:
            self.model.stop_training = True


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
