"""Fast tests of statdl.evaluation; reference values come from the definitions and scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import statdl as sd
from statdl.errors import ConfigError
from statdl.evaluation import confusion_matrix_from_table, roc_auc
from statdl.evaluation.compare import newcombe_paired_ci


def expand(table, labels):
    pred, ref = [], []
    for i, row in enumerate(table):
        for j, c in enumerate(row):
            pred += [labels[i]] * c
            ref += [labels[j]] * c
    return pred, ref


# ---------------------------------------------------------------- confusion matrix
def test_two_class_statistics_from_the_formulas():
    # rows = prediction, columns = reference; A=TP=10, B=FP=2, C=FN=3, D=TN=15
    pred, ref = expand([[10, 2], [3, 15]], ["a", "b"])
    cm = sd.confusion_matrix(pred, ref)
    assert cm.positive == "a"
    assert cm.table.index.name == "Prediction" and cm.table.columns.name == "Reference"
    assert cm.table.to_numpy().tolist() == [[10, 2], [3, 15]]
    n = 30
    o = cm.overall
    assert o["Accuracy"] == pytest.approx(25 / 30)
    pc = (12 / n) * (13 / n) + (18 / n) * (17 / n)
    assert o["Kappa"] == pytest.approx((25 / 30 - pc) / (1 - pc))
    assert o["AccuracyLower"] == pytest.approx(stats.beta.ppf(0.025, 25, 6))
    assert o["AccuracyUpper"] == pytest.approx(stats.beta.ppf(0.975, 26, 5))
    assert o["AccuracyNull"] == pytest.approx(17 / 30)
    assert o["AccuracyPValue"] == pytest.approx(
        stats.binomtest(25, 30, 17 / 30, alternative="greater").pvalue)
    # McNemar with continuity correction: (|2-3|-1)^2/(2+3) = 0 -> p = 1
    assert o["McnemarPValue"] == pytest.approx(1.0)
    b = cm.by_class
    assert b["Sensitivity"] == pytest.approx(10 / 13)
    assert b["Specificity"] == pytest.approx(15 / 17)
    assert b["Pos Pred Value"] == pytest.approx(10 / 12)   # observed prevalence -> A/(A+B)
    assert b["Neg Pred Value"] == pytest.approx(15 / 18)
    assert b["Precision"] == pytest.approx(10 / 12)
    assert b["F1"] == pytest.approx(2 * (10 / 12) * (10 / 13) / (10 / 12 + 10 / 13))
    assert b["Prevalence"] == pytest.approx(13 / 30)
    assert b["Detection Rate"] == pytest.approx(10 / 30)
    assert b["Detection Prevalence"] == pytest.approx(12 / 30)
    assert b["Balanced Accuracy"] == pytest.approx((10 / 13 + 15 / 17) / 2)


def test_mcnemar_and_bowker_match_scipy_chi2():
    pred, ref = expand([[40, 7], [12, 41]], ["a", "b"])
    cm = sd.confusion_matrix(pred, ref)
    assert cm.overall["McnemarPValue"] == pytest.approx(stats.chi2.sf((5 - 1) ** 2 / 19, 1))
    t = np.array([[30, 4, 2], [6, 25, 3], [1, 8, 21]])
    cm3 = confusion_matrix_from_table(t)
    bowker = (4 - 6) ** 2 / 10 + (2 - 1) ** 2 / 3 + (3 - 8) ** 2 / 11
    assert cm3.overall["McnemarPValue"] == pytest.approx(stats.chi2.sf(bowker, 3))


def test_perfect_and_degenerate_tables_give_nan_like_r():
    cm = confusion_matrix_from_table([[100, 0], [0, 100]])
    assert cm.accuracy == 1.0 and cm.overall["AccuracyUpper"] == 1.0
    assert math.isnan(cm.overall["McnemarPValue"])          # 0/0 in R's mcnemar.test
    one = confusion_matrix_from_table([[7, 0], [0, 0]])
    assert math.isnan(one.kappa)                             # pc = 1
    assert math.isnan(one.by_class["Specificity"])          # no reference negatives
    wrong = confusion_matrix_from_table([[0, 5], [4, 0]])
    assert wrong.overall["AccuracyLower"] == 0.0 and wrong.overall["AccuracyPValue"] == 1.0


def test_multiclass_one_vs_rest_and_level_order():
    ref = pd.Categorical(["lo", "mid", "hi", "hi", "mid", "lo"], categories=["lo", "mid", "hi"])
    pred = ["lo", "hi", "hi", "hi", "mid", "mid"]
    cm = sd.confusion_matrix(pred, ref)
    assert cm.levels == ["lo", "mid", "hi"]
    assert cm.positive is None
    assert list(cm.by_class.index) == ["lo", "mid", "hi"]
    # class "mid": TP=1 (pos 4), FN=1 (pos 1 predicted hi), FP=1 (pos 5), TN=3
    row = cm.by_class.loc["mid"]
    assert row["Sensitivity"] == pytest.approx(0.5)
    assert row["Specificity"] == pytest.approx(3 / 4)
    assert row["Precision"] == pytest.approx(0.5)
    assert cm.by_class["Sensitivity"].shape == (3,)


def test_levels_seen_in_one_vector_get_row_and_column():
    cm = sd.confusion_matrix([1, 2, 3, 3], [1, 2, 2, 9])
    assert cm.levels == [1, 2, 3, 9]
    assert cm.table.shape == (4, 4)
    assert cm.table.loc[3, 9] == 1 and cm.table.loc[9].sum() == 0
    assert math.isnan(cm.by_class.loc[3, "Sensitivity"])     # never in the reference


def test_positive_second_level_and_prevalence():
    pred, ref = expand([[40, 7], [12, 41]], ["neg", "pos"])
    cm = sd.confusion_matrix(pred, ref, positive="pos")
    assert cm.by_class["Sensitivity"] == pytest.approx(41 / 48)
    cmp = sd.confusion_matrix(pred, ref, prevalence=0.1)
    sens, spec = 40 / 52, 41 / 48
    assert cmp.by_class["Pos Pred Value"] == pytest.approx(
        sens * 0.1 / (sens * 0.1 + (1 - spec) * 0.9))
    assert cmp.by_class["Prevalence"] == 0.1


def test_print_looks_like_caret():
    pred, ref = expand([[10, 2], [3, 15]], ["a", "b"])
    text = str(sd.confusion_matrix(pred, ref))
    # lines as R 4.2 / caret 6.0-93 print them for this table
    assert text.splitlines()[2:6] == ["          Reference", "Prediction  a  b",
                                      "         a 10  2", "         b  3 15"]
    for line in ("               Accuracy : 0.8333", "                 95% CI : (0.6528, 0.9436)",
                 "    P-Value [Acc > NIR] : 0.001939", " Mcnemar's Test P-Value : 1.000000",
                 "   Detection Prevalence : 0.4000", "       'Positive' Class : a"):
        assert line in text
    multi = str(confusion_matrix_from_table(np.diag([50, 50, 50])))
    assert "Overall Statistics" in multi and "Statistics by Class:" in multi
    assert " Mcnemar's Test P-Value : NA" in multi
    assert "P-Value [Acc > NIR] : < 2.2e-16" in multi


def test_to_dict_is_json_able():
    import json

    cm = confusion_matrix_from_table([[100, 0], [0, 100]])
    d = json.loads(json.dumps(cm.to_dict()))
    assert d["overall"]["McnemarPValue"] is None and d["table"] == [[100, 0], [0, 100]]


@pytest.mark.parametrize("call, words", [
    (lambda: sd.confusion_matrix([0, 1], [0, 1, 1]), ["`pred`", "`reference`", "length"]),
    (lambda: sd.confusion_matrix([], []), ["`pred`", "empty"]),
    (lambda: sd.confusion_matrix([0, np.nan], [0, 1]), ["`pred`", "missing"]),
    (lambda: sd.confusion_matrix([0, 1], [0, 1], positive="x"), ["`positive`", "'x'"]),
    (lambda: sd.confusion_matrix([1, 1], [1, 1]), ["at least 2 classes", "levels="]),
    (lambda: sd.confusion_matrix([0, 1], [0, 1], mode="all"), ["`mode`"]),
])
def test_confusion_matrix_bad_input(call, words):
    with pytest.raises(ConfigError) as err:
        call()
    for w in words:
        assert w in str(err.value)


def test_single_class_with_declared_levels():
    cm = sd.confusion_matrix([1, 1, 1], [1, 1, 1], levels=[0, 1], positive=1)
    assert cm.accuracy == 1.0 and math.isnan(cm.by_class["Specificity"])


# ---------------------------------------------------------------- regression
def test_regression_report_estimates_and_intervals():
    rng = np.random.default_rng(3)
    y = rng.normal(size=800)
    pred = y + rng.normal(scale=0.5, size=800)
    rep = sd.regression_report(y, pred)
    err = y - pred
    assert rep["MSE"] == pytest.approx(np.mean(err ** 2))
    assert rep["RMSE"] == pytest.approx(np.sqrt(np.mean(err ** 2)))
    assert rep["MAE"] == pytest.approx(np.mean(np.abs(err)))
    assert rep["R-squared"] == pytest.approx(1 - np.sum(err ** 2) / np.sum((y - y.mean()) ** 2))
    t = rep.table
    assert (t["lower"] <= t["estimate"]).all() and (t["estimate"] <= t["upper"]).all()
    # with n = 800 the bootstrap interval of the MSE is close to the t interval of the losses
    half = stats.t.ppf(0.975, 799) * np.std(err ** 2, ddof=1) / np.sqrt(800)
    assert t.loc["MSE", "upper"] - t.loc["MSE", "lower"] == pytest.approx(2 * half, rel=0.15)
    assert t.loc["RMSE", "upper"] == pytest.approx(np.sqrt(t.loc["MSE", "upper"]))
    again = sd.regression_report(y, pred)
    pd.testing.assert_frame_equal(rep.table, again.table)    # same seed, same intervals
    assert "percentile bootstrap" in str(rep)


@pytest.mark.parametrize("y, pred, words", [
    ([1.0, 2.0], [1.0], ["`y`", "`pred`", "same length"]),
    ([], [], ["`y`", "empty"]),
    ([1.0, 2.0], [1.0, np.nan], ["`pred`", "NaN"]),
])
def test_regression_report_bad_input(y, pred, words):
    with pytest.raises(ConfigError) as err:
        sd.regression_report(y, pred)
    for w in words:
        assert w in str(err.value)


# ---------------------------------------------------------------- probabilities
def test_roc_curve_and_auc_against_mann_whitney():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    prob = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1).round(2)   # with ties
    curve = sd.roc_curve(y, prob)
    fpr, tpr, thr = curve
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1 and np.isinf(thr[0])
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    u = stats.mannwhitneyu(prob[y == 1], prob[y == 0]).statistic
    m, n = (y == 1).sum(), (y == 0).sum()
    assert curve.auc.auc == pytest.approx(u / (m * n))
    assert np.trapezoid(tpr, fpr) == pytest.approx(u / (m * n))


def test_delong_variance_against_the_definition():
    rng = np.random.default_rng(7)
    y = np.r_[np.ones(15), np.zeros(20)]
    prob = np.r_[rng.random(15) * 0.8 + 0.2, rng.random(20) * 0.8].round(1)
    pos, neg = prob[y == 1], prob[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    se = np.sqrt(v10.var(ddof=1) / 15 + v01.var(ddof=1) / 20)
    res = roc_auc(y, prob)
    assert res.auc == pytest.approx(psi.mean())
    assert res.se == pytest.approx(se)
    assert res.lower == pytest.approx(max(0, psi.mean() - 1.959963984540054 * se))


def test_calibration_table_and_log_loss():
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.05, 0.15, 0.55, 0.95, 0.85, 0.6])
    tab = sd.calibration_table(y, p, bins=2)
    assert tab["n"].tolist() == [2, 4]
    assert tab["observed_rate"].tolist() == [0.0, 0.75]
    assert tab["mean_predicted"].tolist() == pytest.approx([0.1, (0.55 + 0.95 + 0.85 + 0.6) / 4])
    ci = stats.binomtest(3, 4).proportion_ci(method="exact")
    assert tab["rate_lower"].iloc[1] == pytest.approx(ci.low)
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert sd.log_loss(y, p) == pytest.approx(expected)
    assert sd.log_loss(["no", "yes"], [0.2, 0.9], positive="yes") == pytest.approx(
        -(np.log(0.8) + np.log(0.9)) / 2)
    assert sd.log_loss([0, 2], [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]) == pytest.approx(
        -(np.log(0.7) + np.log(0.8)) / 2)


@pytest.mark.parametrize("call, words", [
    (lambda: sd.roc_curve([0, 1, 1], [0.2, 1.3, 0.5]), ["`prob`", "[0, 1]", "1.3"]),
    (lambda: sd.roc_curve([0, 1], [0.2, 0.4, 0.5]), ["`y`", "`prob`", "same length"]),
    (lambda: sd.roc_curve([1, 1], [0.2, 0.4]), ["both outcomes"]),
    (lambda: sd.log_loss(["a", "b"], [0.2, 0.4]), ["`y`", "0/1", "positive"]),
    (lambda: sd.log_loss(["a", "b"], [0.2, 0.4], positive="c"), ["`positive`", "'c'"]),
    (lambda: sd.calibration_table([0, 1], [0.2, np.nan]), ["`prob`", "NaN"]),
    (lambda: sd.calibration_table([0, 1], [0.2, 0.3], bins=0), ["`bins`"]),
])
def test_probability_bad_input(call, words):
    with pytest.raises(ConfigError) as err:
        call()
    for w in words:
        assert w in str(err.value)


# ---------------------------------------------------------------- comparisons
def test_compare_classifiers_table_and_exact_mcnemar():
    rng = np.random.default_rng(5)
    ref = rng.integers(0, 3, 200)
    a = np.where(rng.random(200) < 0.85, ref, (ref + 1) % 3)
    b = np.where(rng.random(200) < 0.70, ref, (ref + 2) % 3)
    res = sd.compare_classifiers(a, b, ref)
    ca, cb = a == ref, b == ref
    assert res.table.to_numpy().tolist() == [[int(np.sum(ca & cb)), int(np.sum(ca & ~cb))],
                                             [int(np.sum(~ca & cb)), int(np.sum(~ca & ~cb))]]
    only_a, only_b = int(np.sum(ca & ~cb)), int(np.sum(~ca & cb))
    assert res.p_value == pytest.approx(stats.binomtest(only_a, only_a + only_b).pvalue)
    assert res.difference == pytest.approx(ca.mean() - cb.mean())
    assert res.lower < res.difference < res.upper
    assert "A is more accurate" in str(res) and "Newcombe" in str(res)


def test_newcombe_interval_formula_and_coverage():
    # method 10 by hand for (both, only_a, only_b, neither) = (40, 10, 2, 8), n = 60
    z = stats.norm.ppf(0.975)

    def wilson(x, n):
        p = x / n
        c = (2 * x + z * z) / (2 * (n + z * z))
        h = z * np.sqrt(z * z + 4 * x * (1 - p)) / (2 * (n + z * z))
        return c - h, c + h

    p1, p2 = 50 / 60, 42 / 60
    (l1, u1), (l2, u2) = wilson(50, 60), wilson(42, 60)
    phi = max(0, 40 * 8 - 10 * 2 - 30) / np.sqrt(50 * 10 * 42 * 18)
    lo = p1 - p2 - np.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    hi = p1 - p2 + np.sqrt((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2)
    assert newcombe_paired_ci(40, 10, 2, 8) == pytest.approx((lo, hi))
    # coverage in simulation: true difference 0.1 with correlated successes
    rng = np.random.default_rng(11)
    cover = 0
    probs = [0.6, 0.15, 0.05, 0.2]          # both, only a, only b, neither
    for _ in range(1000):
        counts = rng.multinomial(80, probs)
        lo, hi = newcombe_paired_ci(*counts)
        cover += lo <= 0.1 <= hi
    assert 0.92 <= cover / 1000 <= 0.985


def test_compare_regressors_paired_tests():
    rng = np.random.default_rng(2)
    y = rng.normal(size=120)
    a = y + rng.normal(scale=0.5, size=120)
    b = y + rng.normal(scale=0.8, size=120)
    res = sd.compare_regressors(y, a, b)
    d = (y - a) ** 2 - (y - b) ** 2
    row = res.table.loc["squared error"]
    assert row["difference"] == pytest.approx(d.mean())
    assert row["t_p_value"] == pytest.approx(stats.ttest_rel((y - a) ** 2, (y - b) ** 2).pvalue)
    assert row["wilcoxon_p_value"] == pytest.approx(stats.wilcoxon(d).pvalue)
    ci = stats.ttest_1samp(d, 0).confidence_interval()
    assert (row["lower"], row["upper"]) == pytest.approx((ci.low, ci.high))
    dabs = np.abs(y - a) - np.abs(y - b)
    assert res.table.loc["absolute error", "difference"] == pytest.approx(dabs.mean())
    assert "A has the lower mean squared error" in str(res)
    same = sd.compare_regressors(y, a, a)
    assert same.table.loc["squared error", "t_p_value"] == 1.0
    assert "No significant difference" in str(same)


@pytest.mark.parametrize("call, words", [
    (lambda: sd.compare_classifiers([0, 1], [0, 1, 1], [0, 1]), ["`pred_b`", "same length"]),
    (lambda: sd.compare_classifiers([], [], []), ["`pred_a`", "empty"]),
    (lambda: sd.compare_regressors([1.0, 2.0], [1.0, np.nan], [1.0, 2.0]), ["`pred_a`", "NaN"]),
    (lambda: sd.compare_regressors([1.0, 2.0], [1.0, 2.0], [1.0]), ["`pred_b`", "same length"]),
])
def test_compare_bad_input(call, words):
    with pytest.raises(ConfigError) as err:
        call()
    for w in words:
        assert w in str(err.value)
