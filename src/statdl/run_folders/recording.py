"""What a training script records into its run folder: metrics, evaluation, model facts.

Everything here is a no-op outside a training run, so the same script runs standalone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..validation import message
from .files import ENV_RUN_DIR, META, read_json, to_jsonable, write_json, write_text

__all__ = ["report", "report_to", "report_epoch", "run_dir", "plots_dir", "is_run_active"]

MODEL_FILE = "model.statdl"


def run_dir() -> Path | None:
    """The folder of the current training run, or ``None`` outside one.

    Save artefacts (plots, data, models) there to have them kept with the run.

    Examples
    --------
    >>> run_dir() is None   # not inside `statdl run`
    True
    """
    value = os.environ.get(ENV_RUN_DIR)
    return Path(value) if value and os.path.isdir(value) else None


def is_run_active() -> bool:
    """Whether this process is a training run recorded by statdl.

    Examples
    --------
    >>> is_run_active()
    False
    """
    return run_dir() is not None


def plots_dir() -> Path | None:
    """``<run>/plots`` (created on demand), where PNG figures of the run belong.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    >>> d = plots_dir()
    >>> if d is not None: plt.savefig(d / "loss.png")
    """
    root = run_dir()
    if root is None:
        return None
    (root / "plots").mkdir(exist_ok=True)
    return root / "plots"


def _meta(name: str) -> Path | None:
    root = run_dir()
    return None if root is None else root / META / name


def _merge(path: Path, data: dict[str, Any]) -> None:
    current = read_json(path, {}) or {}
    current.update(to_jsonable(data))
    write_json(path, current)


def _as_series(name: str, value: Any) -> list:
    value = to_jsonable(value)
    if isinstance(value, list):
        return value
    if isinstance(value, int | float) or value is None:
        return [value]
    raise ConfigError(message(f"metrics[{name!r}]", "a number or a list of per-epoch numbers",
                              value, "report"))


def _model_facts(model: Any) -> tuple[dict[str, Any], str | None]:
    facts: dict[str, Any] = {"model_class": type(model).__name__}
    summary = None
    if hasattr(model, "summary"):
        lines: list[str] = []
        text = model.summary(print_fn=lambda *a, **k: lines.append(" ".join(map(str, a))))
        summary = text if isinstance(text, str) and text else "\n".join(lines)
    opt = getattr(model, "optimizer_", None) or getattr(model, "optimizer", None)
    if opt is not None:
        facts["optimizer"] = opt if isinstance(opt, str) else type(opt).__name__
        lr = getattr(opt, "learning_rate", None)
        if lr is None and hasattr(opt, "param_groups"):
            lr = opt.param_groups[0].get("lr")
        if lr is not None and not callable(lr):
            facts["learning_rate"] = float(lr)
    compiled = getattr(model, "_compiled", None)
    loss = (compiled.get("loss_name") if isinstance(compiled, dict) else None) or getattr(
        model, "loss_", None) or getattr(model, "loss", None)
    if isinstance(loss, str):
        facts["loss_function"] = loss
    elif loss is not None:
        facts["loss_function"] = getattr(loss, "__name__", type(loss).__name__)
    if hasattr(model, "count_params"):
        try:
            facts["params"] = int(model.count_params())
        except (ValueError, AttributeError, TypeError) as exc:      # an unbuilt model
            facts["params_error"] = str(exc)
    return facts, summary


def report(history: Any = None, *, metrics: dict[str, Any] | None = None,
           evaluation: dict[str, Any] | None = None, model: Any = None,
           save_model: bool = False, **properties: Any) -> None:
    """Record results of the current training run (nothing happens outside a run).

    Parameters
    ----------
    history : History, optional
        What ``model.fit`` returned (anything with ``.history``, a dict of per-epoch lists,
        and optionally ``.params`` with epochs, batch_size, samples).
    metrics : dict, optional
        Per-epoch metrics, name -> list of floats (or a single float).
    evaluation : dict, optional
        Final evaluation, e.g. ``model.evaluate(x_test, y_test)``; listed as ``eval_*``.
    model : Sequential, optional
        Records its summary, optimizer, learning rate and loss; with ``save_model=True`` also
        saves it as ``model.statdl`` in the run folder (needed by :func:`evaluate_best`).
    **properties
        Any other JSON-able facts (listed as columns by :func:`ls_runs`).

    Examples
    --------
    >>> report(metrics={"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]},
    ...        evaluation={"loss": 0.71})        # a no-op here: not inside a run
    """
    root = run_dir()
    if root is not None:
        report_to(root, history, metrics=metrics, evaluation=evaluation, model=model,
                  save_model=save_model, **properties)


def report_to(root: str | os.PathLike, history: Any = None, *,
              metrics: dict[str, Any] | None = None, evaluation: dict[str, Any] | None = None,
              model: Any = None, save_model: bool = False, **properties: Any) -> None:
    """:func:`report` into the run folder ``root`` (a lab's or any other), wherever this runs.

    Examples
    --------
    >>> import tempfile
    >>> from statdl.run_folders.folders import new_run_dir
    >>> run = new_run_dir(tempfile.mkdtemp())
    >>> report_to(run, metrics={"loss": [0.9, 0.5]})
    >>> read_json(run / META / "metrics.json")
    {'loss': [0.9, 0.5]}
    """
    root = Path(root)
    meta = root / META
    if history is not None:
        hist = getattr(history, "history", history)
        if not isinstance(hist, dict):
            raise ConfigError(message("history", "a History or a dict of per-epoch lists",
                                      history, shown=type(history).__name__))
        metrics = {**hist, **(metrics or {})}
        params = dict(getattr(history, "params", None) or {})
        keep = ("epochs", "batch_size", "samples", "validation_samples", "steps", "verbose")
        _merge(meta / "properties_reported.json", {k: params[k] for k in keep if k in params})
    if metrics:
        path = meta / "metrics.json"
        current = read_json(path, {}) or {}
        current.update({str(k): _as_series(k, v) for k, v in metrics.items()})
        write_json(path, current)
    if evaluation is not None:
        if not isinstance(evaluation, dict):
            evaluation = {"value": evaluation}
        _merge(meta / "evaluation.json", evaluation)
    if model is not None:
        facts, summary = _model_facts(model)
        if summary:
            write_text(meta / "model.txt", summary)
        if save_model:
            model.save(str(root / MODEL_FILE))
            facts["model_file"] = MODEL_FILE
        _merge(meta / "properties_reported.json", facts)
    if properties:
        _merge(meta / "properties_reported.json", properties)


def report_epoch(epoch: int, logs: dict[str, Any]) -> None:
    """Record one epoch's metrics while training (so a killed run keeps its curves).

    Examples
    --------
    >>> report_epoch(0, {"loss": 0.5})       # a no-op outside a run
    """
    path = _meta("metrics.json")
    if path is None or not logs:
        return
    current = read_json(path, {}) or {}
    for name, value in to_jsonable(dict(logs)).items():
        series = current.setdefault(str(name), [])
        series.extend([None] * (epoch + 1 - len(series)))
        series[epoch] = value
    write_json(path, current)
