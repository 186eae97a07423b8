"""The default network of the estimators: a dense network sized to the data (``mlp``)."""

from __future__ import annotations

from typing import Any

from ..validation import check_int, check_rate

__all__ = ["mlp"]


def mlp(meta: dict[str, Any], units: int = 32, hidden_layers: int = 1, dropout: float = 0.0,
        activation: str = "relu"):
    """A dense network for the data described by ``meta``, uncompiled.

    ``hidden_layers`` layers of ``units`` units (each followed by ``Dropout(dropout)`` when
    ``dropout > 0``), then the output layer the target needs: ``n_outputs_`` linear units for
    a regression, one sigmoid unit for two classes, ``n_classes_`` softmax units for more.
    It is the default ``model`` of ``NetRegressor`` and ``NetClassifier``, and an example of a
    model function: the estimator passes ``meta`` and the routed ``model__*`` parameters.

    Parameters
    ----------
    meta : dict
        What the estimator learnt from the data: ``n_features_in_``, ``target_type_``
        (``"continuous"``, ``"continuous-multioutput"``, ``"binary"`` or ``"multiclass"``),
        ``n_outputs_`` and, for a classifier, ``n_classes_``.
    units, hidden_layers, dropout, activation :
        The hidden layers: width, number, dropout rate after each, activation.

    Examples
    --------
    >>> net = mlp({"n_features_in_": 4, "target_type_": "multiclass", "n_outputs_": 1,
    ...            "n_classes_": 3}, units=8)
    >>> net.count_params()   # (4*8 + 8) + (8*3 + 3)
    67
    """
    from ..layers import Dense, Dropout
    from ..models.sequential import Sequential

    units = check_int(units, "units", "mlp", low=1)
    hidden_layers = check_int(hidden_layers, "hidden_layers", "mlp", low=0)
    dropout = check_rate(dropout, "dropout", "mlp")
    layers = []
    for _ in range(hidden_layers):
        layers.append(Dense(units, activation=activation))
        if dropout:
            layers.append(Dropout(dropout))
    kind = meta["target_type_"]
    if kind == "binary":
        layers.append(Dense(1, activation="sigmoid"))
    elif kind == "multiclass":
        layers.append(Dense(meta["n_classes_"], activation="softmax"))
    else:
        layers.append(Dense(meta["n_outputs_"]))
    return Sequential(layers, input_shape=(meta["n_features_in_"],))
