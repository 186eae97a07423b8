"""Honest selection: evaluate the chosen run's model once on held-out test data."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..run_folders.files import META, read_json, to_jsonable, utc_now, write_json
from ..run_folders.listing import best_run
from ..run_folders.recording import MODEL_FILE

__all__ = ["evaluate_best"]

RESULT_FILE = "test_evaluation.json"


def evaluate_best(runs_dir: str | os.PathLike, x_test: Any, y_test: Any,
                  metric: str = "val_loss", mode: str = "min", force: bool = False,
                  **evaluate_kwargs: Any) -> dict[str, Any]:
    """Evaluate the best run's saved model once on held-out test data.

    The best run's validation score was the best among ``n_compared`` runs, so it is biased
    upwards; a test set that took no part in training or selection gives an honest estimate.
    The result is stored in ``<best run>/test_evaluation.json``; asking again returns the stored
    result with a warning (looking at the test set repeatedly and re-selecting would make it
    a second validation set) unless ``force=True``.

    Parameters
    ----------
    runs_dir : str or path
        The tuning runs directory.
    x_test, y_test : array-like
        Held-out data.
    metric, mode : str
        How the best run is chosen (see :func:`best_run`).
    force : bool
        Evaluate again even if it was done before.
    **evaluate_kwargs
        Passed to ``model.evaluate``.

    Returns
    -------
    dict
        ``run_dir``, ``evaluation`` (metric -> test value), ``selection_metric``,
        ``validation_value``, ``n_compared``, ``evaluated_at``.

    Examples
    --------
    >>> import tempfile
    >>> evaluate_best(tempfile.mkdtemp(), [[0.0]], [0.0])
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `metric` of best_run must be a metric of a completed run in ...; got 'val_loss'.
    """
    best = best_run(runs_dir, metric, mode)
    run = Path(best["run_dir"])
    target = run / RESULT_FILE
    if target.exists() and not force:
        warnings.warn(f"{run.name} was already evaluated on test data at "
                      f"{(read_json(target, {}) or {}).get('evaluated_at')}; returning that "
                      "result (force=True evaluates again)", stacklevel=2)
        return read_json(target)
    model_file = read_json(run / META / "properties_reported.json", {}).get("model_file",
                                                                             MODEL_FILE)
    path = run / model_file
    if not path.exists():
        raise ConfigError(
            f"the best run {run} saved no model ({model_file} is missing); in the training "
            "script call statdl.report(model=model, save_model=True).")
    from ..saving import load_model

    model = load_model(str(path))
    result = model.evaluate(x_test, y_test, **{"return_dict": True, **evaluate_kwargs})
    if not isinstance(result, dict):
        result = {"value": result}
    record = {
        "run_dir": str(run), "evaluation": to_jsonable(result),
        "selection_metric": best["selection_metric"],
        "validation_value": to_jsonable(best[best["selection_metric"]]),
        "n_compared": int(best["n_compared"]), "evaluated_at": utc_now(),
    }
    write_json(target, record)
    return record
