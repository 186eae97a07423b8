"""scikit-learn's own estimator checks on NetRegressor and NetClassifier.

Each check that cannot hold for a network trained by minibatch gradient descent in float32 is
listed with its reason as an expected failure (scikit-learn >= 1.6's ``expected_failed_checks``).
The networks are tiny (16 units) and the fits short (8 epochs of Adam at 0.03), so the whole
file takes seconds of CPU; the estimators carry routed parameters (``model__units``,
``optimizer__learning_rate``) so that cloning and ``set_params`` are checked with them.
"""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from statdl.sklearn import NetClassifier, NetRegressor  # noqa: E402

SETTINGS = dict(model__units=16, epochs=8, seed=0, optimizer="adam",
                optimizer__learning_rate=0.03)

EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "a weight of 2 is not the row given twice for minibatch training: the repeated rows "
        "change the batches, the steps per epoch and the mean that the weighted loss divides "
        "by (Keras's sum(w * loss) / n); the float32 fits agree to about 1e-5, the check "
        "wants 1e-7"),
    "check_methods_subset_invariance": (
        "float32 network: BLAS multiplies a batch of 1 and a batch of 20 with different "
        "kernels, so a row's prediction can move by one unit in the last place (2e-7 on "
        "values near 1); the check's tolerance is 1e-7. It passes on most data."),
}


def expected_failures(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES


@parametrize_with_checks([NetRegressor(**SETTINGS), NetClassifier(**SETTINGS)],
                         expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
