"""``NetRegressor`` and ``NetClassifier``: statdl networks as scikit-learn estimators."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d

from ..errors import ConfigError, ShapeError
from ..models.functional import Model
from ..validation import message
from ._base import NetEstimator

__all__ = ["NetRegressor", "NetClassifier"]

_PARAMETERS = """
    Parameters
    ----------
    model : list of layers, callable, statdl model or None
        The network. A list of layers becomes a ``Sequential`` with the data's input shape
        (the layers are copied at each fit). A function returning a model (compiled or not)
        is called at each fresh fit with the routed ``model__*`` parameters, and with
        ``meta`` (``n_features_in_``, ``target_type_``, ``n_outputs_``, ``n_classes_``,
        ``classes_``) if it has a parameter of that name. A statdl model is a template: its
        architecture and compile settings, new weights. None: ``statdl.sklearn.mlp``.
    epochs, batch_size, validation_split, callbacks, shuffle, verbose :
        As in ``Model.fit`` (``validation_split`` holds out the *last* rows, as Keras does).
    optimizer : str, Optimizer class or object
        For a network that is not compiled; ``optimizer__learning_rate=0.01`` and other
        ``optimizer__*`` parameters go to its constructor.
    loss, metrics, device :
        ``compile``'s, for a network that is not compiled (a compiled one keeps its own).
        ``loss=None``: {loss}.
    seed : int or None
        ``statdl.set_seed(seed)`` before the network is built and trained, so the fit repeats
        exactly and matches a script that seeds the same way; the program's own random states
        are restored afterwards. None: whatever the generators give.
    warm_start : bool
        ``fit`` continues from the current weights and optimiser state instead of starting
        anew (``partial_fit`` always does, one epoch per call).
    **routed :
        ``model__name=value`` (to the model function), ``optimizer__name=value`` (to the
        optimiser), ``fit__name=value`` (to ``Model.fit``, e.g. ``fit__class_weight``).

    Attributes
    ----------
    model_ : statdl model
        The trained network.
    history_ : statdl.History
        The last ``fit`` (or ``partial_fit``) call's history.
    n_features_in_, feature_names_in_ :
        The columns seen at fit (names when ``X`` was a DataFrame with string column names).
    n_outputs_ : int
        Targets per row.
"""


class NetRegressor(RegressorMixin, NetEstimator):
    __doc__ = """A statdl network as a scikit-learn regressor (``score``: R²).
    """ + _PARAMETERS.format(loss="``'mse'``") + """
    Examples
    --------
    >>> import numpy as np
    >>> from statdl import layers as L
    >>> x = np.random.default_rng(0).normal(size=(100, 3))
    >>> reg = NetRegressor([L.Dense(16, activation="relu"), L.Dense(1)], epochs=3, seed=1)
    >>> reg.fit(x, x @ [1.0, 2.0, 3.0]).predict(x[:2]).shape
    (2,)
    """

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> NetRegressor:
        """One epoch on ``X``, ``y``, from the current weights (a new network the first time)."""
        return self._fit(X, y, sample_weight, 1, fresh=not self._is_fitted())

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values: ``(n,)`` when the model was fitted on one target column given
        as a vector, else ``(n, n_outputs_)``."""
        out = self._forward(X).astype(np.float64)  # scikit-learn's regressors predict float64
        return out[:, 0] if self._target_ndim == 1 else out.reshape(len(out), -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _meta(self) -> dict[str, Any]:
        return {"n_features_in_": self.n_features_in_, "target_type_": self.target_type_,
                "n_outputs_": self.n_outputs_}

    def _encode_target(self, y: np.ndarray, fresh: bool, classes: Any) -> np.ndarray:
        y = np.asarray(y, dtype=np.float32)
        outputs = 1 if y.ndim == 1 else y.shape[1]
        if fresh:
            self._target_ndim = y.ndim
            self.n_outputs_ = outputs
            self.target_type_ = "continuous" if y.ndim == 1 else "continuous-multioutput"
        elif outputs != self.n_outputs_:
            raise ShapeError(message(
                "y", f"the {self.n_outputs_} column(s) the network was fitted on", y,
                type(self).__name__, "Give the same targets, or fit anew.", verb="have",
                shown=f"{outputs} column(s)"))
        return y

    def _check_output(self, net: Model, width: int) -> None:
        if width != self.n_outputs_:
            raise ShapeError(message(
                "model", f"a network with one output unit per column of `y` "
                f"({self.n_outputs_} column(s))", net, "NetRegressor",
                f"End the network with Dense({self.n_outputs_}).",
                shown=f"a network with {width} output unit(s)"))

    def _loss_for(self, net: Model) -> Any:
        return "mse" if self.loss is None else self.loss

    def _network_target(self, y: np.ndarray) -> np.ndarray:
        return y


class NetClassifier(ClassifierMixin, NetEstimator):
    __doc__ = """A statdl network as a scikit-learn classifier (``score``: accuracy).

    Labels may be of any sortable type (strings included): ``classes_`` holds them in sorted
    order and ``predict`` returns them. The network ends with ``Dense(1, "sigmoid")`` for two
    classes or ``Dense(n_classes, "softmax")``; ``predict_proba`` has one column per class.
    """ + _PARAMETERS.format(loss="``'binary_crossentropy'`` for one sigmoid unit, else "
                             "``'sparse_categorical_crossentropy'`` (``loss="
                             "'categorical_crossentropy'`` trains on one-hot rows)") + """
    classes_ : ndarray
        The class labels, sorted.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(100, 2))
    >>> labels = np.where(x[:, 0] > 0, "up", "down")
    >>> clf = NetClassifier(model__units=8, epochs=3, seed=1).fit(x, labels)
    >>> clf.classes_.tolist(), clf.predict_proba(x[:2]).shape
    (['down', 'up'], (2, 2))
    """

    _numeric_target = False

    def partial_fit(self, X: Any, y: Any, classes: Any = None,
                    sample_weight: Any = None) -> NetClassifier:
        """One epoch on ``X``, ``y``, from the current weights. On the first call ``classes``
        lists every label that will come (default: those in ``y``)."""
        return self._fit(X, y, sample_weight, 1, fresh=not self._is_fitted(), classes=classes)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per entry of ``classes_`` (rows sum to 1)."""
        p = self._forward(X).astype(np.float64)
        if p.shape[1] == 1:
            p = np.hstack([1.0 - p, p])
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row, as a label of ``classes_``."""
        best = self.predict_proba(X).argmax(axis=1)  # first: it checks that the model is fitted
        return self.classes_[best]

    def _meta(self) -> dict[str, Any]:
        return {"n_features_in_": self.n_features_in_, "target_type_": self.target_type_,
                "n_outputs_": 1, "n_classes_": len(self.classes_), "classes_": self.classes_}

    def _encode_target(self, y: np.ndarray, fresh: bool, classes: Any) -> np.ndarray:
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # one type_of_target (check_classification_targets would make a second): its
        # "Unknown label type" words are those scikit-learn's checks look for
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass"):
            unknown = "Unknown label type: " if kind.startswith(("continuous", "unknown")) else ""
            raise ValueError(f"{unknown}NetClassifier needs one column of class labels; `y` "
                             f"is {kind} (shape {y.shape}). Use NetRegressor for numbers or "
                             "several outputs, or fit one classifier per column.")
        if fresh:
            if classes is None:  # labels and codes in one sort
                labels, index = np.unique(y, return_inverse=True)
            else:
                labels, index = np.unique(np.asarray(classes)), None
            if len(labels) < 2:
                raise ValueError(f"NetClassifier needs at least 2 classes in `y`; got 1 class "
                                 f"({_plain(labels[0])!r}).")
            self.classes_ = labels
            self.n_outputs_ = 1
            self.target_type_ = "binary" if len(labels) == 2 else "multiclass"
            if index is not None:
                return index.reshape(-1)
        index = np.searchsorted(self.classes_, y)
        known = (index < len(self.classes_)) & (
            self.classes_[np.minimum(index, len(self.classes_) - 1)] == y)
        if not known.all():
            raise ValueError(f"`y` has label {_plain(y[~known][0])!r}, which is not in classes_ "
                             f"{self.classes_.tolist()}; give every label in `classes` at the "
                             "first partial_fit, or fit anew.")
        return index

    def _check_output(self, net: Model, width: int) -> None:
        k = len(self.classes_)
        if width == 1 and k == 2:
            self._target_form, expected = "binary", "sigmoid"
        elif width == k:
            loss = net._compiled["loss_name"] if net.compiled else self.loss
            self._target_form = "onehot" if loss == "categorical_crossentropy" else "index"
            expected = "softmax"
        else:
            raise ShapeError(message(
                "model", f"a network with one output unit per class ({k} classes)", net,
                "NetClassifier", f"End it with Dense({k}, activation='softmax')"
                + (" or Dense(1, activation='sigmoid')" if k == 2 else "") + ".",
                shown=f"a network with {width} output unit(s)"))
        active = net._final_activations()[0]
        if active is not None and active != expected:
            raise ConfigError(message(
                "model", "a network that ends in class probabilities", net, "NetClassifier",
                f"End it with Dense({width}, activation={expected!r}).",
                shown=f"an output layer with activation {active!r}"))

    def _loss_for(self, net: Model) -> Any:
        if self.loss is not None:
            return self.loss
        if self._target_form == "binary":
            return "binary_crossentropy"
        return "sparse_categorical_crossentropy"

    def _network_target(self, y: np.ndarray) -> np.ndarray:
        if self._target_form == "binary":
            return y.astype(np.float32).reshape(-1, 1)
        if self._target_form == "onehot":
            return np.eye(len(self.classes_), dtype=np.float32)[y]
        return y.astype(np.int64)


def _plain(label: Any) -> Any:
    """A label as Python prints it (``'a'``, not ``np.str_('a')``) for messages."""
    return label.item() if isinstance(label, np.generic) else label
