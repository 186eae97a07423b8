"""What ``NetRegressor`` and ``NetClassifier`` share: parameters and their routing, building
the network, the seeded fit, prediction input checks, pickling through statdl's model files.

Routed parameters follow scikeras: ``model__units=64`` goes to the model function,
``optimizer__learning_rate=0.01`` to the optimiser, ``fit__class_weight={...}`` to
``Model.fit``. They are ordinary estimator parameters (``get_params``, ``set_params``,
``clone``), so ``GridSearchCV(param_grid={"model__units": [16, 64]})`` tunes the network.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import inspect
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..errors import ConfigError, ShapeError, StatdlError
from ..layers.base import Layer
from ..models.functional import Model
from ..training.callbacks import Callback
from ..training.optimizers import OPTIMIZERS, Optimizer, get_optimizer
from ..validation import check_choice, check_int, check_number, message
from .networks import mlp

__all__ = ["NetEstimator", "ROUTES"]

#: prefixes of routed parameters and where each goes
ROUTES = {"model": "the model function", "optimizer": "the optimiser",
          "fit": "statdl's Model.fit"}

#: arguments of Model.fit that the estimator passes itself (its own parameters, the data)
_FIT_OWN = {"x": "Give the data to fit(X, y).", "y": "Give the data to fit(X, y).",
            "sample_weight": "Give it to fit(X, y, sample_weight=...).",
            **{name: f"Set the estimator's `{name}` instead." for name in (
                "epochs", "batch_size", "verbose", "callbacks", "validation_split", "shuffle")}}
#: names that Keras users write for a parameter of another name
_ALIASES = {"lr": "learning_rate"}


def _route_of(name: str) -> str | None:
    prefix, sep, rest = name.partition("__")
    return prefix if sep and rest and prefix in ROUTES else None


class NetEstimator(BaseEstimator):
    """Base of ``NetRegressor`` and ``NetClassifier`` (see their docstrings)."""

    #: y is converted to numbers by validate_data (regression) or kept as labels (classes)
    _numeric_target = True

    def __init__(self, model: Any = None, *, epochs: int = 10, batch_size: int = 32,
                 optimizer: Any = "rmsprop", loss: Any = None, metrics: list | None = None,
                 validation_split: float = 0.0, callbacks: list | None = None,
                 seed: int | None = None, verbose: int = 0, warm_start: bool = False,
                 shuffle: bool = True, device: str = "auto", **routed: Any) -> None:
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.validation_split = validation_split
        self.callbacks = callbacks
        self.seed = seed
        self.verbose = verbose
        self.warm_start = warm_start
        self.shuffle = shuffle
        self.device = device
        # kept aside (sklearn's checks want no public attributes but the named ones); checked
        # at fit, as scikit-learn checks every parameter
        self._routed_params = dict(routed)

    # ------------------------------------------------------------------ parameters
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters and the routed ones (``model__units`` ...)."""
        return {**super().get_params(deep=deep), **self._routed_params}

    def set_params(self, **params: Any) -> NetEstimator:
        """Set parameters, routed ones (``model__units=64``) included; returns the estimator."""
        named = set(super().get_params(deep=False))
        for name, value in params.items():
            if name not in named and (name in self._routed_params or _route_of(name)):
                self._routed_params[name] = value
        plain = {k: v for k, v in params.items() if k not in self._routed_params}
        if plain:
            super().set_params(**plain)
        return self

    def _routed(self, route: str) -> dict[str, Any]:
        """The routed parameters of ``route`` without their prefix (``{"units": 64}``)."""
        for name, value in self._routed_params.items():
            if _route_of(name) is None:
                own = list(super().get_params(deep=False))
                close = difflib.get_close_matches(name, own, 1)
                raise ConfigError(message(
                    name, f"one of the parameters of {type(self).__name__} ({', '.join(own)}) "
                    "or a routed one: "
                    + ", ".join(f"{p}__NAME for {where}" for p, where in ROUTES.items()),
                    value, type(self).__name__, shown=f"{name}={value!r}",
                    fix=f"Did you mean `{close[0]}`?" if close
                    else f"Did you mean `model__{name}`?"))
        return {name.partition("__")[2]: value for name, value in self._routed_params.items()
                if _route_of(name) == route}

    def _check_params(self) -> None:
        """Each parameter checked at fit (as scikit-learn's estimators do: ``__init__`` and
        ``set_params`` only store), with the one message template of ``statdl.validation``."""
        owner = type(self).__name__
        check_int(self.epochs, "epochs", owner, low=1)
        check_int(self.batch_size, "batch_size", owner, low=1)
        check_number(self.validation_split, "validation_split", owner, low=0, high=1,
                     high_open=True)
        check_int(self.seed, "seed", owner, low=0, allow_none=True)
        check_choice(self.verbose, "verbose", (0, 1, 2), owner)
        for name in ("warm_start", "shuffle"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ConfigError(message(name, "True or False", getattr(self, name), owner))
        callbacks = self.callbacks
        if callbacks is not None and (not isinstance(callbacks, list | tuple) or not all(
                isinstance(c, Callback) for c in callbacks)):
            raise TypeError(message(
                "callbacks", "a list of statdl callbacks (statdl.callbacks.EarlyStopping(...) "
                "...) or None", callbacks, owner,
                shown=repr(callbacks) if isinstance(callbacks, list | tuple)
                else type(callbacks).__name__))
        if not (self.loss is None or isinstance(self.loss, str) or callable(self.loss)):
            raise TypeError(message("loss", "a loss name ('mse', 'binary_crossentropy' ...), "
                                    "a function loss(pred, y), or None", self.loss, owner))
        self._check_routed_fit()

    def _check_routed_fit(self) -> None:
        owner = type(self).__name__
        accepted = [p for p in inspect.signature(Model.fit).parameters
                    if p != "self" and p not in _FIT_OWN]
        for name, value in self._routed("fit").items():
            if name in _FIT_OWN:
                raise ConfigError(message(
                    f"fit__{name}", f"an argument of Model.fit that {owner} does not pass "
                    f"itself ({', '.join(accepted)})", value, owner,
                    fix=_FIT_OWN[name]))
            if name not in accepted:
                close = difflib.get_close_matches(name, accepted, 1)
                raise ConfigError(message(
                    f"fit__{name}", f"an argument of Model.fit ({', '.join(accepted)})", name,
                    owner, fix=f"Did you mean `fit__{close[0]}`?" if close else None))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.seed is None  # torch's generator draws the weights
        tags.input_tags.allow_nan = False
        return tags

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> NetEstimator:
        """Train the network for ``epochs`` epochs on ``X``, ``y``; returns the estimator.

        A new network is built (fresh weights, seeded by ``seed``) unless ``warm_start`` is
        true and the estimator is fitted: then training continues from the current weights
        and optimiser state. ``sample_weight`` scales each row's loss, as in Keras.
        """
        return self._fit(X, y, sample_weight, self.epochs,
                         fresh=not (self.warm_start and self._is_fitted()))

    def _is_fitted(self) -> bool:
        return getattr(self, "model_", None) is not None

    def _fit(self, X: Any, y: Any, sample_weight: Any, epochs: int, fresh: bool,
             classes: Any = None) -> NetEstimator:
        self._check_params()
        X, y = self._checked_data(X, y, fresh, classes)
        weights = None if sample_weight is None else _check_sample_weight(
            sample_weight, X, dtype=np.float32)
        with _seeded(self.seed):
            if fresh:
                self.model_ = self._new_network()
            self.history_ = self.model_.fit(
                X, self._network_target(y), batch_size=self.batch_size, epochs=epochs,
                verbose=self.verbose, callbacks=list(self.callbacks or []),
                validation_split=self.validation_split, shuffle=self.shuffle,
                sample_weight=weights, **self._routed("fit"))
        return self

    def _checked_data(self, X: Any, y: Any, fresh: bool,
                      classes: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """``X`` as float32 rows (``n_features_in_``, ``feature_names_in_`` set or checked)
        and ``y`` encoded for the network: the wrapper's only work that grows with the data.

        No finiteness pass here: statdl's fit makes its own over X and y (one sum each,
        "`x` contains NaN ..."), and scikit-learn's second one cost 3 ms on the 6,000
        digits (0.4% of a 2-epoch fit)."""
        X, y = validate_data(self, X, y, reset=fresh, dtype=np.float32, multi_output=True,
                             y_numeric=self._numeric_target, ensure_all_finite=False)
        return X, self._encode_target(y, fresh, classes)

    def _new_network(self) -> Model:
        """Build the network from ``model`` (and the routed ``model__*``), check its output
        against the target and compile it unless it came compiled."""
        meta = self._meta()
        net = _network_from(mlp if self.model is None else self.model, self._routed("model"),
                            meta, type(self).__name__)
        shape = net.compute_output_shape((meta["n_features_in_"],))
        if not shape or isinstance(shape[0], list | tuple):
            raise ShapeError(message("model", "a network with one output", self.model,
                                     type(self).__name__,
                                     shown=f"a network with {len(shape)} outputs"))
        self._check_output(net, int(np.prod(shape)))
        if not net.compiled:
            net.compile(optimizer=self._new_optimizer(), loss=self._loss_for(net),
                        metrics=self.metrics, device=self.device)
        return net

    def _new_optimizer(self) -> Optimizer:
        options, opt, owner = self._routed("optimizer"), self.optimizer, type(self).__name__
        if isinstance(opt, str):
            if opt.lower() not in OPTIMIZERS:
                check_choice(opt, "optimizer", list(OPTIMIZERS), owner)
            cls = type(get_optimizer(opt))
        elif isinstance(opt, Optimizer):
            cls, options = type(opt), {**opt.get_config(), **options}
        elif isinstance(opt, type) and issubclass(opt, Optimizer):
            cls = opt
        else:
            raise TypeError(message(
                "optimizer", "a name ('rmsprop', 'adam', ...), an optimiser class or object of "
                "statdl.optimizers", opt, owner, shown=type(opt).__name__))
        _check_routed_names("optimizer", options, cls.__init__, cls.__name__, owner)
        return cls(**options)

    # ------------------------------------------------------------------ predicting
    def _forward(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float32)
        return self.model_.predict(X)

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # object.__getstate__ gives __dict__ itself
        if state.get("model_") is not None:
            state["model_"] = _SavedModel.of(state["model_"])
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        saved = getattr(self, "model_", None)
        if isinstance(saved, _SavedModel):
            self.model_ = saved.load() if saved.data is not None else self._rebuilt(saved)

    def _rebuilt(self, saved: _SavedModel) -> Model:
        """The network from the estimator's own parameters, with the pickled weights."""
        with _seeded(0):  # building draws weights, to be replaced: leave the program's state
            net = self._new_network()
        if net.built_shape_ is None:
            net.build((self.n_features_in_,))
        net.set_weights(saved.weights)
        return net

    # ------------------------------------------------------------------ for the subclasses
    def _meta(self) -> dict[str, Any]:  # pragma: no cover - defined by the subclasses
        raise NotImplementedError

    def _encode_target(self, y: np.ndarray, fresh: bool, classes: Any) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover

    def _check_output(self, net: Model, width: int) -> None:
        raise NotImplementedError  # pragma: no cover

    def _loss_for(self, net: Model) -> Any:
        raise NotImplementedError  # pragma: no cover

    def _network_target(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover


def _network_from(spec: Any, routed: dict[str, Any], meta: dict[str, Any], owner: str) -> Model:
    """A new network from a model function, a list of layers or a template model."""
    if callable(spec) and not isinstance(spec, Layer):  # a Model is a Layer: a template
        net = _call_model_function(spec, routed, meta, owner)
    else:
        if routed:
            name = next(iter(routed))
            raise ConfigError(message(
                f"model__{name}", "a parameter routed to a function that builds the model",
                routed[name], owner, f"`model` of {owner} is a {type(spec).__name__}; give a "
                f"function that takes `{name}` to tune it."))
        net = _copy_network(spec, meta, owner)
    if not isinstance(net, Model):
        raise TypeError(message("model", "a function returning a statdl model (Sequential or "
                                "Model)", net, owner,
                                shown=f"a function returning {type(net).__name__}"))
    return net


def _check_routed_names(route: str, routed: dict[str, Any], fn: Callable, target: str,
                        owner: str) -> None:
    """Each routed name a parameter of ``fn`` (unless it takes ``**kwargs``): else the error
    names ``route__name``, the parameters ``fn`` has and the closest one."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [p for p in params if p not in ("self", "meta")]
    for name in routed:
        if name not in accepted:
            close = [_ALIASES[name]] if _ALIASES.get(name) in accepted else \
                difflib.get_close_matches(name, accepted, 1)
            raise ConfigError(message(
                f"{route}__{name}", f"a parameter of {target} ({', '.join(accepted) or 'none'})",
                name, owner, fix=f"Did you mean `{route}__{close[0]}`?" if close else None))


def _call_model_function(fn: Callable, routed: dict[str, Any], meta: dict[str, Any],
                         owner: str) -> Any:
    _check_routed_names("model", routed, fn, f"{getattr(fn, '__name__', 'the model function')}()",
                        owner)
    kwargs = dict(routed)
    if "meta" in inspect.signature(fn).parameters:
        kwargs["meta"] = meta
    return fn(**kwargs)


def _copy_network(spec: Any, meta: dict[str, Any], owner: str) -> Model:
    """A fresh network from a list of layers (copied: the list itself is never trained) or
    from a template model (same architecture and compile settings, new weights)."""
    if isinstance(spec, Model):
        from ..resampling.cv import clone_model
        from ..saving import layer_from_spec, layer_to_config

        if spec.compiled:
            return clone_model(spec)
        return layer_from_spec(layer_to_config(spec), "model")
    if isinstance(spec, list | tuple) and spec and all(isinstance(x, Layer) for x in spec):
        built = [x.name for x in spec if x.module_ is not None]
        if built:
            raise ConfigError(message(
                "model", "new layers, or a function that creates them", spec, owner,
                shown=f"layer '{built[0]}', which is already built (part of a model): its "
                      "weights would be shared"))
        from ..models.sequential import Sequential

        return Sequential(copy.deepcopy(list(spec)), input_shape=(meta["n_features_in_"],))
    raise TypeError(message("model", "a list of statdl layers, a function returning a statdl "
                            "model, a statdl model, or None (an mlp)", spec, owner,
                            shown=type(spec).__name__))


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """``statdl.set_seed(seed)`` for the block, then the caller's random states back (Python,
    NumPy, torch): the estimator draws the same numbers as a script that calls ``set_seed``
    first, without changing what the program draws after it."""
    if seed is None:
        yield
        return
    from ..utils import set_seed

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=devices):
            set_seed(seed)
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


class _SavedModel:
    """A fitted network inside a pickle: statdl's model file (architecture JSON, weights,
    optimiser state), which outlives changes to statdl's internal classes. A network the file
    cannot hold (a loss function is saved by its name only) travels as its weights, and the
    estimator rebuilds it from its own parameters; its optimiser then starts afresh."""

    def __init__(self, data: bytes | None, weights: list | None = None):
        self.data = data
        self.weights = weights

    @classmethod
    def of(cls, model: Model) -> _SavedModel:
        from ..saving import save_model

        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.statdl")
            try:
                save_model(model, path)
                with open(path, "rb") as f:
                    saved = cls(f.read())
                saved.load()  # a loss function is saved by its name, which cannot be loaded
            except (StatdlError, TypeError):
                return cls(None, model.get_weights())
        return saved

    def load(self) -> Model:
        from ..saving import load_model

        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.statdl")
            with open(path, "wb") as f:
                f.write(self.data)
            return load_model(path)
