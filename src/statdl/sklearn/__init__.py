"""scikit-learn estimators around statdl networks: ``NetRegressor`` and ``NetClassifier``.

A network becomes an estimator that fits in a ``Pipeline``, ``GridSearchCV``,
``cross_val_score``, ``permutation_importance`` or ``CalibratedClassifierCV``. The network is a
list of layers, a function returning a model (compiled or not; its arguments are tuned as
``model__units=64``), or a statdl model used as a template; without one, ``mlp`` builds a
one-hidden-layer network sized to the data.

scikit-learn is an optional extra (``pip install 'statdl[sklearn]'``): ``import statdl`` never
imports it, and this package says so when it is missing.

Examples
--------
>>> import numpy as np
>>> from statdl.sklearn import NetRegressor
>>> x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
>>> net = NetRegressor(model__units=8, epochs=2, seed=1).fit(x, x.sum(axis=1))
>>> net.predict(x).shape
(64,)
"""

from __future__ import annotations

_MINIMUM = (1, 6)  # Tags (__sklearn_tags__) and sklearn.utils.validation.validate_data

try:
    import sklearn
except ImportError as exc:  # pragma: no cover - the test environment has the extra
    raise ImportError(
        "statdl.sklearn needs scikit-learn, an optional extra of statdl; install it with "
        "`pip install 'statdl[sklearn]'` (or `pip install 'scikit-learn>=1.6'`)."
    ) from exc

if tuple(int(p) for p in sklearn.__version__.split(".")[:2] if p.isdigit()) < _MINIMUM:
    raise ImportError(
        f"statdl.sklearn needs scikit-learn >= 1.6; found {sklearn.__version__}. Upgrade it with "
        "`pip install -U 'scikit-learn>=1.6'`."
    )

from .estimators import NetClassifier, NetRegressor  # noqa: E402
from .networks import mlp  # noqa: E402

__all__ = ["NetRegressor", "NetClassifier", "mlp"]
