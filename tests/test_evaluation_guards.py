"""Classification statistics refuse inputs that would give silently wrong answers.

Issue #12: a continuous response or probabilities passed as class labels used to produce a
table with one "class" per distinct value; a truth with three levels, NaN or infinite values
must be named in a clear error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import statdl as sd
from statdl.errors import ConfigError

RNG = np.random.default_rng(12)
PROB = RNG.random(120)                        # probabilities, not labels
TRUTH = (RNG.random(120) < PROB).astype(int)
RESPONSE = RNG.normal(500.0, 300.0, 120)      # a continuous response (Hitters' salary-like)


def _message(call) -> str:
    with pytest.raises(ConfigError) as err:
        call()
    return str(err.value)


# ---------------------------------------------------------------- continuous "labels"
@pytest.mark.parametrize("pred, ref, arg", [
    (PROB, TRUTH, "`pred`"),
    (TRUTH, PROB, "`reference`"),
    (RESPONSE, RESPONSE.round(1), "`pred`"),
    (pd.Series(PROB), TRUTH, "`pred`"),
])
def test_confusion_matrix_rejects_non_integer_values(pred, ref, arg):
    msg = _message(lambda: sd.confusion_matrix(pred, ref))
    assert f"{arg} of confusion_matrix must hold class labels; got non-integer values" in msg
    assert "predict_classes" in msg and "(prob > 0.5).astype(int)" in msg


def test_non_integer_message_shows_an_offending_value():
    msg = _message(lambda: sd.confusion_matrix([0.0, 1.0, 0.37], [0, 1, 1]))
    assert "e.g. 0.37" in msg


def test_integral_floats_strings_and_categoricals_are_still_labels():
    cm = sd.confusion_matrix(np.array([0.0, 1.0, 1.0, 0.0]), [0, 1, 0, 0])
    assert cm.accuracy == 0.75 and cm.table.shape == (2, 2)
    cm = sd.confusion_matrix(["a", "b", "b"], pd.Categorical(["a", "b", "a"]))
    assert cm.accuracy == pytest.approx(2 / 3)


def test_infinite_label_is_named():
    msg = _message(lambda: sd.confusion_matrix(np.array([0.0, np.inf, 1.0]), [0, 1, 1]))
    assert "`pred` of confusion_matrix" in msg and "infinite" in msg and "position 1" in msg


# ---------------------------------------------------------------- absurd level counts
def test_confusion_matrix_refuses_more_than_max_levels():
    counts = RNG.integers(0, 200, 300)        # an integer-valued response, not classes
    n_levels = len(np.unique(np.concatenate([counts, counts[::-1]])))
    msg = _message(lambda: sd.confusion_matrix(counts, counts[::-1]))
    assert f"got {n_levels} distinct labels" in msg and "`max_levels` = 50" in msg
    assert f"max_levels={n_levels}" in msg
    cm = sd.confusion_matrix(counts, counts[::-1], max_levels=None)
    assert cm.table.shape == (n_levels, n_levels)


def test_max_levels_allows_many_real_classes():
    ref = np.arange(300) % 60
    cm = sd.confusion_matrix(ref, ref, max_levels=100)
    assert cm.accuracy == 1.0 and len(cm.levels) == 60
    # declared levels are a statement of the classes: no count limit
    cm = sd.confusion_matrix(ref, ref, levels=list(range(60)))
    assert len(cm.levels) == 60


def test_bad_max_levels_is_named():
    msg = _message(lambda: sd.confusion_matrix([0, 1], [0, 1], max_levels=1))
    assert "`max_levels` of confusion_matrix must be an int >= 2 or None; got 1." == msg


# ---------------------------------------------------------------- compare_classifiers
def test_compare_classifiers_rejects_probabilities_and_many_levels():
    msg = _message(lambda: sd.compare_classifiers(PROB, TRUTH, TRUTH))
    assert "`pred_a` of compare_classifiers must hold class labels; got non-integer values" in msg
    msg = _message(lambda: sd.compare_classifiers(TRUTH, TRUTH, PROB))
    assert "`reference` of compare_classifiers must hold class labels; got non-integer values" in msg
    counts = RNG.integers(0, 100, 200)
    msg = _message(lambda: sd.compare_classifiers(counts, counts[::-1], counts))
    assert "of compare_classifiers must hold at most `max_levels` = 50" in msg
    assert sd.compare_classifiers(counts, counts[::-1], counts, max_levels=None).accuracy_a == 1


def test_compare_classifiers_mismatched_lengths_name_the_function():
    msg = _message(lambda: sd.compare_classifiers([0, 1, 1], [0, 1], [0, 1, 1]))
    assert msg == ("`pred_a`, `pred_b` and `reference` of compare_classifiers must have the "
                   "same length (one value per observation); got `pred_a` has 3, `pred_b` "
                   "has 2, `reference` has 3.")


# ---------------------------------------------------------------- ROC, AUC, calibration
@pytest.mark.parametrize("func", [sd.roc_auc, sd.roc_curve, sd.calibration_table,
                                  sd.log_loss])
def test_probability_scores_refuse_three_level_truth(func):
    y = np.array([0, 1, 2, 1, 0, 2])
    prob = np.array([0.1, 0.7, 0.4, 0.8, 0.3, 0.6])
    msg = _message(lambda: func(y, prob))
    assert f"`y` of {func.__name__} must be a binary outcome" in msg
    assert "got 3 levels: 0, 1, 2" in msg
    labels = np.array(["a", "b", "c", "b", "a", "c"])
    msg = _message(lambda: func(labels, prob, positive="a"))
    assert f"`y` of {func.__name__} must be a binary outcome" in msg
    assert "got 3 levels: 'a', 'b', 'c'" in msg


@pytest.mark.parametrize("func", [sd.roc_auc, sd.roc_curve, sd.calibration_table])
@pytest.mark.parametrize("bad, words", [(1.3, "outside"), (-0.2, "outside"), (np.nan, "NaN"),
                                        (np.inf, "infinite")])
def test_probability_scores_refuse_non_probabilities(func, bad, words):
    prob = np.array([0.1, 0.7, bad, 0.8])
    msg = _message(lambda: func([0, 1, 0, 1], prob))
    assert f"`prob` of {func.__name__}" in msg and words in msg


def test_swapped_truth_and_probabilities_are_caught():
    msg = _message(lambda: sd.roc_auc(PROB, TRUTH))
    assert "`y` of roc_auc must hold class labels; got non-integer values" in msg and "`prob`" in msg


# ---------------------------------------------------------------- regression_report
@pytest.mark.parametrize("y, pred, expected", [
    ([1.0, np.nan, 3.0], [1.0, 2.0, 3.0],
     "`y` of regression_report must be finite numbers; got 1 NaN or infinite value(s), the "
     "first at position 1 (nan)."),
    ([1.0, 2.0, 3.0], [1.0, 2.0, -np.inf],
     "`pred` of regression_report must be finite numbers; got 1 NaN or infinite value(s), "
     "the first at position 2 (-inf)."),
    ([1.0, 2.0, 3.0], [1.0, 2.0],
     "`y` and `pred` of regression_report must have the same length (one value per "
     "observation); got `y` has 3, `pred` has 2."),
    ([], [], "`y` of regression_report must hold at least one value; got an empty vector."),
])
def test_regression_report_bad_input_messages(y, pred, expected):
    assert _message(lambda: sd.regression_report(y, pred)) == expected


@pytest.mark.parametrize("call", [
    lambda bad: sd.confusion_matrix(bad, [0, 1]),
    lambda bad: sd.regression_report(bad, [0.5, 1.0]),
    lambda bad: sd.compare_classifiers(bad, [0, 1], [0, 1]),
    lambda bad: sd.roc_auc(bad, [0.2, 0.8]),
    lambda bad: sd.log_loss([0, 1], bad),
])
def test_ragged_input_is_named_not_a_numpy_error(call):
    with pytest.raises(ConfigError, match=r"`(pred|y|pred_a|prob)`.*ragged nested list"):
        call([[0.1], [0.2, 0.3]])
