"""``cross_validate``: a network (or any model with ``fit``/``predict``) trained and judged on
every resample of K-fold, repeated K-fold, stratified or grouped cross-validation.

Each resample is one job: seed, fresh model, fit on the resample's training rows (early
stopping, when asked for, on a part of those rows only), predict the held-out rows, metrics.
Its seed comes from ``seed`` and its position alone, and its torch thread count is fixed for
the whole call, so the numbers do not depend on ``n_jobs`` or on which process ran the job.

With ``n_jobs > 1`` the jobs run in forked worker processes (a fork inherits ``model_fn``, the
data and everything else, so a lambda or a notebook's function works as it is) with one torch
thread each. One, not ``tuning.executors.threads_per_run(n_jobs)`` as ``tuning_run`` gives its
fresh processes: torch's OpenMP runtime (GNU libgomp) cannot start threads again in a forked
child once the parent has used its thread pool: a child's first parallel region with two
threads waits forever (measured: torch 2.13, a 1000x1000 product in the child after one in the
parent), while one thread never enters the pool. So ``n_jobs`` up to the number of cores uses
the machine (on 2 cores ``threads_per_run(2)`` is 1 anyway).

And one thread with ``n_jobs=1`` too, by default: the numbers of a network with wider layers
depend on the thread count (the course's MNIST MLP, 10-fold CV of 2 epochs: mean accuracy
0.9057 with two threads, 0.9048 with one), so the same count everywhere is what makes the
results the same whatever ``n_jobs`` is. ``threads_per_job`` (an int, or ``"auto"``) gives
``n_jobs=1`` more threads when speed matters more than that.
"""

from __future__ import annotations

import copy
import math
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import validation
from ..errors import ConfigError, ShapeError
from .folds import Folds, make_folds, strata_of
from .metrics import default_metrics, is_classifier_loss, resolve_metrics
from .stats import check_level, mean_interval

__all__ = ["cross_validate", "CVResult", "clone_model", "fold_seed"]

_NOT_IN_FIT = ("x", "y", "validation_data")


def fold_seed(seed: int, i: int) -> int:
    """The training seed of resample ``i`` (0-based) of a call with ``seed``.

    Examples
    --------
    >>> fold_seed(1, 0) == fold_seed(1, 0) != fold_seed(1, 1)
    True
    """
    return int(np.random.SeedSequence([seed, i]).generate_state(1)[0])


def clone_model(model: Any) -> Any:
    """A new model with ``model``'s architecture and compile settings and fresh weights.

    The weights are drawn from torch's generator as they are for any new model (seed it first
    for repeatable weights). A model compiled with a loss function keeps that function.

    Examples
    --------
    >>> import statdl as sd
    >>> m = sd.Sequential([sd.layers.Dense(2)], input_shape=(3,))
    >>> m.compile(optimizer="adam", loss="mse")
    >>> c = clone_model(m)
    >>> c.count_params(), type(c.optimizer_).__name__, c is m
    (8, 'Adam', False)
    """
    from ..models.functional import Model
    from ..saving import layer_from_spec, layer_to_config

    if not isinstance(model, Model):
        raise TypeError(validation.message("model", "a statdl Sequential or Model", model,
                                           "clone_model", shown=type(model).__name__))
    new = layer_from_spec(layer_to_config(model), "model")
    shape = model.built_shape_ or model._input_shape  # one sample's shape (no batch axis)
    if shape:
        new.build(tuple(shape) if not isinstance(shape[0], list | tuple)
                  else [tuple(s) for s in shape])
    compiled = model._compiled
    if compiled is None:
        raise ConfigError(validation.message(
            "model_fn", "a compiled model or a function that returns one", model,
            "cross_validate", shown="a model that is not compiled",
            fix="Compile it first, or pass a function that returns a compiled model."))
    loss_name = compiled["loss_name"]
    loss = loss_name if isinstance(loss_name, dict) else compiled["loss"]
    if isinstance(loss_name, str) and compiled.get("loss_weights") is None:
        loss = loss_name  # a known name, or the custom function's name: its Loss object below
        from ..training.losses import loss_key

        if loss_key(loss_name) is None:
            loss = compiled["loss"]
    opt = compiled["optimizer"]
    new.compile(optimizer=type(opt)(**opt.get_config()), loss=loss,
                metrics=compiled["metric_names"] or None,
                loss_weights=compiled.get("loss_weights"), device=model.device_.type)
    return new


# ----------------------------------------------------------------------------- one resample
@dataclass
class _Job:
    """Everything a resample needs; inherited by forked workers (never pickled)."""

    model_fn: Any
    x: Any
    y: np.ndarray
    folds: Folds
    fit: dict
    validation_split: float
    metrics: Any
    seed: int
    threads: int | str


def _take(x: Any, rows: np.ndarray) -> Any:
    """Rows of an array, a frame, or of each array of a list / dict (several inputs)."""
    if isinstance(x, list | tuple):
        return [_take(v, rows) for v in x]
    if isinstance(x, dict):
        return {k: _take(v, rows) for k, v in x.items()}
    if hasattr(x, "iloc"):
        return x.iloc[rows]
    return x[rows]


def _n_rows(x: Any) -> int:
    if isinstance(x, list | tuple) and x:
        return _n_rows(x[0])
    if isinstance(x, dict) and x:
        return _n_rows(next(iter(x.values())))
    return len(x)


def _new_model(model_fn: Any) -> Any:
    from ..models.functional import Model

    if isinstance(model_fn, Model):
        return clone_model(model_fn)
    if not callable(model_fn):
        raise TypeError(validation.message(
            "model_fn", "a function returning a compiled model, or a statdl model to clone",
            model_fn, "cross_validate", shown=type(model_fn).__name__))
    model = model_fn()
    if not (hasattr(model, "fit") and hasattr(model, "predict")):
        raise TypeError(validation.message(
            "model_fn", "a function returning a model with `fit` and `predict`", model_fn,
            "cross_validate", shown=f"one that returned {type(model).__name__}"))
    if isinstance(model, Model) and model._compiled is None:
        raise ConfigError(validation.message(
            "model_fn", "a function returning a compiled model", model_fn, "cross_validate",
            shown="one that returned a model that is not compiled",
            fix="Call model.compile(...) inside model_fn."))
    return model


def split_training_rows(train: np.ndarray, validation_split: float,
                        seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows to fit on, rows for early stopping) of one resample's training rows.

    The training rows are put in a random order (from the resample's seed) and the last
    ``validation_split`` of them are held out, as Keras's ``validation_split`` does with the
    rows it is given: the held-out rows of the resample are never among them.

    Examples
    --------
    >>> fit_rows, val_rows = split_training_rows(np.arange(10), 0.2, seed=3)
    >>> len(fit_rows), len(val_rows), sorted(np.r_[fit_rows, val_rows].tolist()) == list(range(10))
    (8, 2, True)
    """
    if validation_split == 0:
        return train, train[:0]
    order = np.random.default_rng(seed).permutation(train)
    split_at = int(len(order) * (1 - validation_split))
    return order[:split_at], order[split_at:]


def _run_resample(job: _Job, i: int) -> dict:
    """Train and judge resample ``i``: metrics, epochs, seconds, sizes, predictions."""
    from ..utils import set_seed

    seed = fold_seed(job.seed, i)
    fit_rows, val_rows = split_training_rows(job.folds.train(i), job.validation_split, seed)
    test = job.folds.test[i]
    start = time.perf_counter()
    set_seed(seed)
    model = _new_model(job.model_fn)
    kwargs = {**job.fit, **({"callbacks": copy.deepcopy(job.fit["callbacks"])}
                            if job.fit.get("callbacks") else {})}
    if "sample_weight" in kwargs and kwargs["sample_weight"] is not None:
        kwargs["sample_weight"] = np.asarray(kwargs["sample_weight"])[fit_rows]
    if len(val_rows):
        kwargs["validation_data"] = (_take(job.x, val_rows), job.y[val_rows])
    history = model.fit(_take(job.x, fit_rows), job.y[fit_rows], **kwargs)
    pred = np.asarray(model.predict(_take(job.x, test)))
    seconds = time.perf_counter() - start
    metrics = job.metrics
    if metrics is None:
        metrics = resolve_metrics(default_metrics(is_classifier_loss(model)))
    values = {name: float(fn(job.y[test], pred)) for name, fn in metrics.items()}
    epoch = getattr(history, "epoch", None)
    params = getattr(history, "params", None) or {}
    return {"metrics": values, "epochs": len(epoch) if epoch is not None else math.nan,
            "threads": params.get("threads", math.nan),
            "seconds": seconds, "n_fit": len(fit_rows), "n_validation": len(val_rows),
            "n_test": len(test), "prediction": pred,
            "model": getattr(model, "name", None) or type(model).__name__}


# ----------------------------------------------------------------------------- running them
_WORKER_JOB: _Job | None = None  # the job of a forked worker process


def _init_worker(job: _Job) -> None:
    """First thing in a forked worker: one torch thread (see the module docstring), then the
    job."""
    global _WORKER_JOB
    import torch

    from ..threads import set_threads

    torch.set_num_threads(1)  # before any torch operation: a larger count would hang here
    set_threads(1)
    _WORKER_JOB = job


def _worker_resample(i: int) -> dict:
    if _WORKER_JOB is None:  # _init_worker runs first in every worker
        raise RuntimeError("a cross_validate worker started without its job")
    return _run_resample(_WORKER_JOB, i)


@contextmanager
def _fixed_threads(n: int | str):
    """statdl's thread count fixed at ``n`` inside, the caller's policy restored after
    (``"auto"``: the caller's policy throughout)."""
    from .. import threads

    if n == "auto":
        yield
        return
    before = threads.thread_settings()
    torch_count = None
    if before["source"] == "torch.set_num_threads":
        import torch

        torch_count = torch.get_num_threads()
    threads.set_threads(n)
    try:
        yield
    finally:
        if before["mode"] == "fixed" and before["source"] == "statdl.set_threads":
            threads.set_threads(before["threads"])
        else:
            threads.set_threads("auto")
            if torch_count is not None:
                import torch

                torch.set_num_threads(torch_count)


@contextmanager
def _kept_random_state():
    """The caller's Python, NumPy and torch generators as they were, whatever ran inside."""
    import torch

    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


def _run_all(job: _Job, n_jobs: int) -> list[dict]:
    n = len(job.folds)
    if n_jobs == 1:
        with _fixed_threads(job.threads), _kept_random_state():
            return [_run_resample(job, i) for i in range(n)]
    import multiprocessing

    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        raise ConfigError(validation.message(
            "n_jobs", "1 once CUDA is in use (forked processes cannot share it)", n_jobs,
            "cross_validate", fix="Run the resamples one after another on the GPU."))
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        raise ConfigError(validation.message(
            "n_jobs", "1 where processes cannot be started by fork (only Linux and macOS "
            "can)", n_jobs, "cross_validate", fix="Use n_jobs=1 here.")) from None
    with ProcessPoolExecutor(max_workers=min(n_jobs, n), mp_context=context,
                             initializer=_init_worker, initargs=(job,)) as pool:
        futures = [pool.submit(_worker_resample, i) for i in range(n)]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


# ----------------------------------------------------------------------------- the result
@dataclass(eq=False)
class CVResult:
    """What :func:`cross_validate` measured on every resample.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per resample: ``Resample`` (caret's name), one column per metric, ``epochs``
        (run by that resample's fit, fewer than asked when early stopping stopped it),
        ``seconds`` (model, fit and prediction), ``threads`` (torch threads of the fit, as
        ``history.params`` reports them), ``n_fit``, ``n_validation``, ``n_test``.
    metrics : list of str
        Metric names, in the table's order.
    folds : Folds
        The resamples (pass them to another ``cross_validate`` to compare on the same rows).
    level : float
        Confidence level of :meth:`summary`.
    model_name : str
    predictions : list of numpy.ndarray
        Each resample's predictions for its held-out rows (``folds.test[i]``).
    """

    table: pd.DataFrame
    metrics: list[str]
    folds: Folds
    level: float = 0.95
    model_name: str = "model"
    n_predictors: int | None = None
    validation_split: float = 0.0
    predictions: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def n_train(self) -> float:
        """Mean rows a resample trains on (fit and early-stopping rows together)."""
        return float((self.table["n_fit"] + self.table["n_validation"]).mean())

    @property
    def n_test(self) -> float:
        """Mean rows a resample holds out."""
        return float(self.table["n_test"].mean())

    def summary(self, level: float | None = None, corrected: bool = True) -> pd.DataFrame:
        """Per metric: mean over resamples, SD, SE (SD / sqrt(J)) and a t interval.

        With ``corrected`` (the default) the interval is Nadeau and Bengio's corrected
        resampled t interval, whose standard error ``se_corrected`` is
        ``SD * sqrt(1/J + n_test/n_train)``: resamples share training rows, so the plain
        ``SE`` understates the uncertainty of the mean. ``corrected=False`` gives the plain
        t interval.
        """
        level = self.level if level is None else check_level(level, "CVResult.summary")
        rows = {}
        for name in self.metrics:
            values = self.table[name].to_numpy(dtype=float)
            if np.count_nonzero(~np.isnan(values)) < 2:  # e.g. Rsquared of a constant fit
                rows[name] = dict.fromkeys(("mean", "sd", "se", "se_corrected", "lower",
                                            "upper"), math.nan)
                rows[name]["n"] = int(np.count_nonzero(~np.isnan(values)))
                continue
            plain = mean_interval(values, level=level)
            test = mean_interval(values, level=level, n_train=self.n_train,
                                 n_test=self.n_test) if corrected else plain
            rows[name] = {"mean": plain.estimate, "sd": plain.se * math.sqrt(plain.n),
                          "se": plain.se, "se_corrected": test.se if corrected else math.nan,
                          "lower": test.lower, "upper": test.upper, "n": plain.n}
        return pd.DataFrame(rows).T.astype({"n": int})

    @property
    def mean(self) -> pd.Series:
        """Mean of each metric over the resamples."""
        return self.table[self.metrics].mean()

    @property
    def se(self) -> pd.Series:
        """Plain standard error (SD / sqrt(J)) of each metric's mean."""
        return self.summary()["se"]

    @property
    def ci(self) -> pd.DataFrame:
        """Corrected t interval (columns lower, upper) of each metric's mean."""
        return self.summary()[["lower", "upper"]]

    def __repr__(self) -> str:
        from ..evaluation._rformat import format_real, print_matrix

        s = self.summary()
        j = len(self.table)
        train_sizes = (self.table["n_fit"] + self.table["n_validation"]).tolist()
        shown = ", ".join(str(v) for v in train_sizes[:5]) + (", ..." if j > 5 else "")
        pct = round(100 * self.level)
        lines = [self.model_name, "",
                 f"{self.folds.n} samples" + (f"\n{self.n_predictors} predictors"
                                              if self.n_predictors else ""), "",
                 f"Resampling: {self.folds.description}",
                 f"Summary of sample sizes: {shown}"]
        if self.validation_split:
            lines.append(f"Early stopping data: {self.validation_split:g} of each resample's "
                         "training rows")
        lines += ["Resampling results:", ""]
        labels = ["Mean", "SD", "SE", f"{pct}% lower", f"{pct}% upper"]
        keys = ["mean", "sd", "se", "lower", "upper"]
        columns = [format_real(s.loc[m, keys].to_numpy(dtype=float), digits=4)
                   for m in self.metrics]
        cells = [[col[r].strip() for col in columns] for r in range(len(keys))]
        lines += ["  " + line for line in print_matrix(cells, labels, self.metrics)]
        epochs = self.table["epochs"].to_numpy(dtype=float)
        lines += ["", f"SE = SD / sqrt({j}); the {pct}% interval is the corrected resampled t "
                  f"interval (Nadeau and Bengio 2003: SE x sqrt(1 + {j} x n_test / n_train), "
                  f"{j - 1} df)."]
        if np.all(np.isfinite(epochs)):
            lines.append(f"Epochs per resample: {int(epochs.min())} to {int(epochs.max())} "
                         f"(median {np.median(epochs):g}); "
                         f"{self.table['seconds'].mean():.2f} s per resample.")
        return "\n".join(lines)

    __str__ = __repr__


# ----------------------------------------------------------------------------- the call
def _check_fit(fit: Any) -> tuple[dict, float]:
    if fit is None:
        return {}, 0.0
    if not isinstance(fit, dict):
        raise ConfigError(validation.message(
            "fit", "a dict of fit arguments, e.g. dict(epochs=20, batch_size=32)", fit,
            "cross_validate", shown=type(fit).__name__))
    for key in _NOT_IN_FIT:
        if key in fit:
            raise ConfigError(validation.message(
                "fit", f"fit arguments without {key!r} (each resample's rows come from the "
                "folds)", fit, "cross_validate", shown=f"a dict with {key!r}",
                fix="For early stopping give validation_split, taken from each resample's "
                    "training rows."))
    fit = dict(fit)
    split = fit.pop("validation_split", 0.0) or 0.0
    validation.check_number(split, "fit['validation_split']", "cross_validate", low=0, high=1,
                            high_open=True)
    fit.setdefault("verbose", 0)
    return fit, float(split)


def _check_jobs(n_jobs: Any) -> int:
    n_jobs = validation.check_int(n_jobs, "n_jobs", "cross_validate", low=1, also=(-1,),
                                  also_text="or -1: one per core")
    return n_jobs if n_jobs != -1 else (os.cpu_count() or 1)


def cross_validate(model_fn: Callable[[], Any] | Any, x: Any, y: Any, folds: int | Folds = 10,
                   repeats: int = 1, stratify: Any = None, seed: int = 1,
                   fit: dict | None = None, metrics: Any = None, n_jobs: int = 1,
                   groups: Any = None, level: float = 0.95,
                   threads_per_job: int | str | None = None) -> CVResult:
    """Resample a model: train a fresh copy on each fold's training rows, judge it on the
    fold's held-out rows, and summarise the metrics over the resamples (as caret's ``train``
    with ``trainControl(method = "repeatedcv")``).

    Parameters
    ----------
    model_fn : callable or statdl model
        A function returning a fresh compiled model (anything with ``fit(x, y, **fit)`` and
        ``predict(x)`` works), or a compiled statdl model cloned with fresh weights for each
        resample.
    x, y : array-like
        Inputs (an array, a DataFrame, or a list / dict of arrays) and targets, one row each.
    folds : int or Folds
        Folds per repeat, or the ``Folds`` of an earlier result (``result.folds``) to reuse.
    repeats : int
        Repeated K-fold: that many independent partitions.
    stratify : None, True or array-like
        ``True`` balances the classes of ``y`` (or its quantile groups, for a numeric ``y``)
        across folds; an array gives the labels to balance.
    seed : int
        Seeds the folds and every resample's training; same seed, same numbers.
    fit : dict
        Arguments of each ``fit`` (``epochs``, ``batch_size``, ``callbacks`` ...).
        ``validation_split`` takes the early-stopping rows from each resample's training rows
        (at random): the held-out rows never steer training.
    metrics : name, callable, list or dict, optional
        caret's names (``"RMSE"``, ``"Rsquared"``, ``"MAE"``, ``"MSE"``, ``"Accuracy"``,
        ``"Kappa"``, ``"LogLoss"``, ``"AUC"``) or functions ``f(y_true, y_pred) -> float``.
        Default: RMSE, Rsquared, MAE; Accuracy, Kappa for a classification loss.
    n_jobs : int
        Resamples run at once, each in a forked process with one torch thread (-1: one per
        core).
    groups : array-like, optional
        Group of each row: all rows of a group fall in the same fold (group K-fold).
    level : float
        Confidence level of the intervals.
    threads_per_job : int or "auto", optional
        torch threads of each resample. Default 1, as forked workers (``n_jobs > 1``) must
        use, so that results do not depend on ``n_jobs``. With ``n_jobs=1`` an int fixes more
        threads and ``"auto"`` follows the machine's load as ``fit`` does: faster for wide
        layers, but their numbers then differ slightly from those with one thread.

    Returns
    -------
    CVResult

    Examples
    --------
    >>> import numpy as np, statdl as sd
    >>> x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    >>> y = x @ np.array([1.0, -1.0, 0.5], dtype="float32")
    >>> def net():
    ...     m = sd.Sequential([sd.layers.Dense(1)], input_shape=(3,))
    ...     m.compile(optimizer="adam", loss="mse")
    ...     return m
    >>> cv = cross_validate(net, x, y, folds=4, fit=dict(epochs=2))
    >>> cv.table.shape[0], list(cv.metrics)
    (4, ['RMSE', 'Rsquared', 'MAE'])
    """
    n = _n_rows(x)
    y_arr = np.asarray(y)
    if len(y_arr) != n:
        raise ShapeError(validation.message(["x", "y"], "the same number of rows", None,
                                            "cross_validate", verb="have",
                                            shown=f"{n} and {len(y_arr)}"))
    if isinstance(folds, Folds):
        if folds.n != n:
            raise ShapeError(validation.message("folds", f"folds of the {n} rows of `x`", folds,
                                                "cross_validate",
                                                shown=f"folds of {folds.n} rows"))
        if repeats != 1 or stratify is not None or groups is not None:
            raise ConfigError(validation.message(
                "folds", "a number of folds when `repeats`, `stratify` or `groups` is given (a "
                "Folds object already fixes the repeats, strata and groups)", folds,
                "cross_validate", shown="a Folds object", fix="Leave those arguments out."))
        fold_set = folds
    else:
        labels = strata_of(y_arr) if stratify is True else (
            None if stratify is None or stratify is False else stratify)
        fold_set = make_folds(n, folds, repeats, stratify=labels, groups=groups, seed=seed)
    fit_kwargs, split = _check_fit(fit)
    n_jobs = _check_jobs(n_jobs)
    level = check_level(level, "cross_validate")
    if threads_per_job is not None and threads_per_job != "auto" and not (
            validation.is_int(threads_per_job) and threads_per_job >= 1):
        raise ConfigError(validation.message("threads_per_job", "an int >= 1 or 'auto'",
                                             threads_per_job, "cross_validate"))
    if n_jobs > 1 and threads_per_job not in (None, 1):
        raise ConfigError(validation.message(
            "threads_per_job", f"1 (or left out) with n_jobs = {n_jobs}: forked workers "
            "cannot run more torch threads", threads_per_job, "cross_validate",
            fix="Raise n_jobs instead."))
    if threads_per_job is None:
        threads_per_job = 1
    job = _Job(model_fn, x, y_arr, fold_set, fit_kwargs, split,
               None if metrics is None else resolve_metrics(metrics), seed, threads_per_job)
    out = _run_all(job, n_jobs)
    names = list(out[0]["metrics"])
    table = pd.DataFrame({"Resample": list(fold_set.ids),
                          **{m: [r["metrics"][m] for r in out] for m in names},
                          **{k: [r[k] for r in out] for k in
                             ("epochs", "seconds", "threads", "n_fit", "n_validation",
                              "n_test")}})
    x_shape = np.shape(x) if not isinstance(x, list | tuple | dict) else ()
    return CVResult(table, names, fold_set, level, out[0]["model"],
                    int(np.prod(x_shape[1:])) if len(x_shape) > 1 else None, split,
                    [r["prediction"] for r in out])
