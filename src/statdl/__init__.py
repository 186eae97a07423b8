"""statdl: deep learning for statisticians, on PyTorch.

Networks are declared as a stack of Keras-style layers, trained with ``compile``/``fit``, judged
with caret-style statistics and tuned with tfruns-style runs.

Examples
--------
>>> import statdl as sd
>>> model = sd.Sequential([sd.layers.Dense(64, activation="relu"), sd.layers.Dense(1)],
...                       input_shape=(20,))
>>> model.count_params()
1409
"""

from __future__ import annotations

import importlib
import os as _os
from typing import Any

from . import threads as _threads
from ._version import __version__

# Before any part of statdl loads torch: note the load and torch's default thread count, so
# that each fit can use the cores other processes leave free (see statdl.threads).
_threads.prepare()

# STATDL_FAST_PATHS=0 (or -name,...) turns fast paths off for the whole program. Only then is
# the switchboard loaded here; it imports no torch (each switch is set as its module loads).
if _os.environ.get("STATDL_FAST_PATHS", "").strip() not in ("", "1"):
    from . import fast_paths as _fast_paths  # noqa: F401  (applies the variable on import)

# Public names and the module that defines each. Imported on first use, so ``import statdl``
# stays fast and a part of the package (say, tuning) costs nothing until it is used.
_EXPORTS: dict[str, str] = {
    # core engine
    "Sequential": "statdl.model",
    "Model": "statdl.model",
    "Input": "statdl.model",
    "models": "statdl.models",
    "load_model": "statdl.model",
    "set_seed": "statdl.utils",
    "set_threads": "statdl.threads",
    "threads": "statdl.threads",
    "fast_paths": "statdl.fast_paths",
    "layers": "statdl.layers",
    "callbacks": "statdl.training.callbacks",
    "optimizers": "statdl.training.optimizers",
    "losses": "statdl.training.losses",
    "metrics": "statdl.training.metrics",
    "errors": "statdl.errors",
    "utils": "statdl.utils",
    "regularizers": "statdl.regularizers",
    "History": "statdl.training.history",
    "StatdlError": "statdl.errors",
    "NotFittedError": "statdl.errors",
    "ShapeError": "statdl.errors",
    "ConfigError": "statdl.errors",
    # data and text
    "datasets": "statdl.datasets",
    "text": "statdl.text",
    "model_matrix": "statdl.preprocessing",
    "scale": "statdl.preprocessing",
    "train_test_split": "statdl.preprocessing",
    "to_categorical": "statdl.preprocessing",
    # evaluation and figures
    "confusion_matrix": "statdl.evaluation",
    "regression_report": "statdl.evaluation",
    "roc_curve": "statdl.evaluation",
    "calibration_table": "statdl.evaluation",
    "log_loss": "statdl.evaluation",
    "compare_classifiers": "statdl.evaluation",
    "compare_regressors": "statdl.evaluation",
    "roc_auc": "statdl.evaluation",
    "confusion_matrix_from_table": "statdl.evaluation",
    "ConfusionMatrix": "statdl.evaluation",
    "plots": "statdl.plots",
    "plot_history": "statdl.plots",
    "plot_predictions": "statdl.plots",
    "plot_activations": "statdl.plots",
    "plot_images": "statdl.plots",
    "plot_filters": "statdl.plots",
    "plot_feature_maps": "statdl.plots",
    "plot_reconstructions": "statdl.plots",
    "plot_error_histogram": "statdl.plots",
    "plot_confusion_matrix": "statdl.plots",
    "plot_resamples_dot": "statdl.plots",
    "plot_resamples_box": "statdl.plots",
    "plot_intervals": "statdl.plots",
    "plot_set_sizes": "statdl.plots",
    "plot_accuracy_by_uncertainty": "statdl.plots",
    "plot_importance": "statdl.plots",
    "plot_partial_dependence": "statdl.plots",
    "plot_saliency": "statdl.plots",
    "plot_roc": "statdl.plots",
    "plot_calibration": "statdl.plots",
    "plot_augmented": "statdl.plots",
    # autoencoders
    "autoencoders": "statdl.autoencoders",
    # R habits and time series
    "r_sample": "statdl.rsample",
    "RRandom": "statdl.rsample",
    "timeseries": "statdl.timeseries",
    # statistical inference: resampling, prediction intervals, importance and effects
    "resampling": "statdl.resampling",
    "cross_validate": "statdl.resampling",
    "resamples": "statdl.resampling",
    "corrected_ttest": "statdl.resampling",
    "intervals": "statdl.intervals",
    "predict_interval": "statdl.intervals",
    "predict_set": "statdl.intervals",
    "predict_uncertainty": "statdl.intervals",
    "coverage_report": "statdl.intervals",
    "accuracy_by_uncertainty": "statdl.intervals",
    "Ensemble": "statdl.intervals",
    "explain": "statdl.explain",
    "permutation_importance": "statdl.explain",
    "partial_dependence": "statdl.explain",
    "saliency": "statdl.explain",
    "term_groups": "statdl.explain",
    # sub-packages reachable as attributes after ``import statdl``
    "evaluation": "statdl.evaluation",
    "labs": "statdl.labs",
    "tuning": "statdl.tuning",
    # tuning
    "flags": "statdl.tuning",
    "report": "statdl.tuning",
    "training_run": "statdl.tuning",
    "tuning_run": "statdl.tuning",
    "ls_runs": "statdl.tuning",
    "best_run": "statdl.tuning",
    "latest_run": "statdl.tuning",
    "evaluate_best": "statdl.tuning",
    "view_run": "statdl.tuning",
    "compare_runs": "statdl.tuning",
    "clean_runs": "statdl.tuning",
    "purge_runs": "statdl.tuning",
    "run_info": "statdl.tuning",
    "flag_integer": "statdl.tuning",
    "flag_numeric": "statdl.tuning",
    "flag_boolean": "statdl.tuning",
    "flag_string": "statdl.tuning",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'statdl' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
