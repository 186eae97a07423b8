"""statdl.resampling: folds, cross_validate, resamples and the corrected resampled t-test.

References: definitions (every row held out once per repeat, class shares, whole groups), an
independent loop of least-squares fits on the same folds, the Nadeau-Bengio formula computed
here with scipy.stats.t, scikit-learn's classification metrics, and (in
test_resampling_caret_r.py) caret itself.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import statdl as sd
from statdl import layers as L
from statdl.errors import ConfigError, ShapeError
from statdl.plots.resampling import plot_resamples_box, plot_resamples_dot
from statdl.resampling import (
    Folds,
    clone_model,
    corrected_ttest,
    cross_validate,
    fold_seed,
    make_folds,
    mean_interval,
    resamples,
)
from statdl.resampling.cv import split_training_rows


class LeastSquares:
    """A model with fit/predict (no network): cross_validate takes any such model."""

    def fit(self, x, y, **kwargs):
        design = np.column_stack([np.ones(len(x)), x])
        self.coef = np.linalg.lstsq(design, y, rcond=None)[0]

    def predict(self, x):
        return np.column_stack([np.ones(len(x)), x]) @ self.coef


class MeanOnly:
    def fit(self, x, y, **kwargs):
        self.mean = float(np.mean(y))

    def predict(self, x):
        return np.full(len(x), self.mean)


@pytest.fixture(scope="module")
def hitters():
    x, y = sd.datasets.hitters(response="log_salary")
    return np.asarray(sd.scale(x).x, dtype="float32"), np.asarray(y, dtype="float32")


def small_net(n_in: int = 20):
    model = sd.Sequential([L.Dense(8, activation="relu"), L.Dense(1)], input_shape=(n_in,))
    model.compile(optimizer="rmsprop", loss="mse")
    return model


# ----------------------------------------------------------------------------- folds
@pytest.mark.parametrize("n,k,repeats", [(263, 10, 3), (20, 3, 2), (7, 7, 1)])
def test_folds_partition_rows_each_repeat(n, k, repeats):
    f = make_folds(n, folds=k, repeats=repeats, seed=5)
    assert len(f) == k * repeats
    for r in range(repeats):
        held = np.concatenate(f.test[r * k:(r + 1) * k])
        assert sorted(held.tolist()) == list(range(n))     # each row held out exactly once
        sizes = [len(t) for t in f.test[r * k:(r + 1) * k]]
        assert max(sizes) - min(sizes) <= 1
    for i in range(len(f)):
        assert np.intersect1d(f.train(i), f.test[i]).size == 0
        assert len(f.train(i)) + len(f.test[i]) == n
    width = len(str(k))
    assert f.ids[0] == f"Fold{1:0{width}d}" + (".Rep1" if repeats > 1 else "")
    assert make_folds(n, k, repeats, seed=5).same_as(f)
    assert not make_folds(n, k, repeats, seed=6).same_as(f)


def test_repeats_are_different_partitions():
    f = make_folds(50, folds=5, repeats=2, seed=1)
    assert not all(np.array_equal(a, b) for a, b in zip(f.test[:5], f.test[5:]))


@pytest.mark.parametrize("seed", range(8))
def test_stratified_class_counts_within_one_of_their_share(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(30, 300)), int(rng.integers(2, 11))
    probs = rng.dirichlet(np.ones(int(rng.integers(2, 6))) * 0.7)
    y = rng.choice(len(probs), size=n, p=probs)
    f = make_folds(n, folds=k, repeats=2, stratify=y, seed=seed)
    for test in f.test:
        for c in np.unique(y):
            share = np.mean(y == c) * len(test)                # the overall proportion's count
            assert abs(np.sum(y[test] == c) - share) < 1
    for r in range(2):
        assert sorted(np.concatenate(f.test[r * k:(r + 1) * k]).tolist()) == list(range(n))


def test_stratify_true_uses_classes_of_one_hot_y(hitters):
    y = np.eye(3)[np.r_[np.zeros(30, int), np.ones(12, int), np.full(6, 2)]]
    cv = cross_validate(MeanOnly, np.zeros((48, 1)), y[:, 1], folds=6, stratify=True,
                        metrics="MAE")
    for test in cv.folds.test:
        assert np.sum(y[test, 1]) == 2                         # 12 ones over 6 folds


@pytest.mark.parametrize("seed", range(4))
def test_group_folds_never_split_a_group(seed):
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 25, size=200)
    f = make_folds(200, folds=5, repeats=2, groups=groups, seed=seed)
    for r in range(2):
        where = {}
        for j, test in enumerate(f.test[r * 5:(r + 1) * 5]):
            for g in np.unique(groups[test]):
                assert where.setdefault(g, j) == j             # a group sits in one fold only
        assert len(where) == len(np.unique(groups))
    with pytest.raises(ConfigError, match="at least `folds` = 5 distinct groups; got 3"):
        make_folds(30, folds=5, groups=np.arange(30) % 3)


def test_fold_arguments_are_checked():
    with pytest.raises(ConfigError, match="`folds` of make_folds must be an int >= 2; got 1"):
        make_folds(10, folds=1)
    with pytest.raises(ConfigError, match="at most the number of rows, 5; got 6"):
        make_folds(5, folds=6)
    with pytest.raises(ConfigError, match="`stratify` or `groups`, not both"):
        make_folds(10, 2, stratify=np.zeros(10), groups=np.arange(10))
    with pytest.raises(ShapeError, match="`groups` must have one entry per row"):
        make_folds(10, 2, groups=np.arange(9))


# ----------------------------------------------------------------------------- statistics
def test_corrected_ttest_matches_the_formula():
    d = np.array([0.031, -0.012, 0.044, 0.020, 0.008, 0.027, -0.003, 0.051, 0.015, 0.011])
    n_train, n_test = 236.7, 26.3
    j = d.size
    se = math.sqrt((1 / j + n_test / n_train) * np.sum((d - d.mean()) ** 2) / (j - 1))
    t = d.mean() / se
    r = corrected_ttest(d, n_train, n_test, level=0.9)
    assert r.se == pytest.approx(se, rel=1e-12)
    assert r.t == pytest.approx(t, rel=1e-12)
    assert r.df == j - 1
    assert r.p_value == pytest.approx(2 * stats.t.sf(abs(t), j - 1), rel=1e-10)
    q = stats.t.ppf(0.95, j - 1)
    assert (r.lower, r.upper) == pytest.approx((d.mean() - q * se, d.mean() + q * se), rel=1e-12)
    # without the correction: the one-sample t-test of scipy
    plain = mean_interval(d, level=0.9)
    ref = stats.ttest_1samp(d, 0.0)
    assert plain.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    ci = ref.confidence_interval(0.9)
    assert (plain.lower, plain.upper) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert r.upper - r.lower > plain.upper - plain.lower     # the correction widens it


def test_corrected_ttest_arguments():
    with pytest.raises(ShapeError, match="at least 2 non-missing values; got 1"):
        corrected_ttest([0.1, float("nan")], 90, 10)
    with pytest.raises(ConfigError, match="`level` of mean_interval must be a number"):
        mean_interval([1.0, 2.0], level=95)


# ----------------------------------------------------------------------------- cross_validate
def test_cross_validate_equals_a_plain_loop_on_the_same_folds():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(90, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.7, size=90)
    cv = cross_validate(LeastSquares, x, y, folds=5, repeats=2, seed=11)
    assert list(cv.table["Resample"]) == [f"Fold{j}.Rep{r}" for r in (1, 2) for j in range(1, 6)]
    for i, (_, train, test) in enumerate(cv.folds):
        coef = np.linalg.lstsq(np.column_stack([np.ones(len(train)), x[train]]), y[train],
                               rcond=None)[0]
        pred = np.column_stack([np.ones(len(test)), x[test]]) @ coef
        err = y[test] - pred
        row = cv.table.iloc[i]
        assert row["RMSE"] == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=1e-12)
        assert row["MAE"] == pytest.approx(np.mean(np.abs(err)), rel=1e-12)
        assert row["Rsquared"] == pytest.approx(stats.pearsonr(y[test], pred)[0] ** 2, rel=1e-10)
        np.testing.assert_allclose(cv.predictions[i], pred)
    s = cv.summary()
    rmse = cv.table["RMSE"].to_numpy()
    assert s.loc["RMSE", "mean"] == pytest.approx(rmse.mean())
    assert s.loc["RMSE", "se"] == pytest.approx(rmse.std(ddof=1) / np.sqrt(10))
    ratio = 18 / 72                                            # 90 rows in 5 folds
    half = stats.t.ppf(0.975, 9) * rmse.std(ddof=1) * np.sqrt(1 / 10 + ratio)
    assert s.loc["RMSE", "upper"] - s.loc["RMSE", "mean"] == pytest.approx(half)
    text = repr(cv)
    assert "Cross-Validated (5 fold, repeated 2 times)" in text
    assert "Summary of sample sizes: 72, 72, 72, 72, 72, ..." in text


def test_early_stopping_rows_come_from_the_resample_training_rows(hitters):
    x, y = hitters
    ids = np.arange(len(y), dtype="float32")[:, None]
    xid = np.hstack([ids, x[:, :3]])                          # column 0: the row number
    seen = []

    class Recorder(sd.Sequential):
        def fit(self, x, y, **kwargs):
            vx, _ = kwargs["validation_data"]
            history = super().fit(x, y, **kwargs)
            seen.append((x[:, 0].astype(int), vx[:, 0].astype(int), len(history.epoch)))
            return history

        def predict(self, x, **kwargs):
            seen[-1] += (x[:, 0].astype(int),)
            return super().predict(x, **kwargs)

    def net():
        m = Recorder([L.Dense(4, activation="relu"), L.Dense(1)], input_shape=(4,))
        m.compile(optimizer=sd.optimizers.RMSprop(learning_rate=0.5), loss="mse")
        return m

    # an improvement no epoch makes: Keras's rule stops every fit after its second epoch
    stop = sd.callbacks.EarlyStopping(patience=1, min_delta=1e9)
    cv = cross_validate(net, xid, y, folds=3, seed=2,
                        fit=dict(epochs=12, batch_size=64, validation_split=0.25,
                                 callbacks=[stop]))
    assert len(seen) == 3
    for i, (fit_rows, val_rows, epochs, pred_rows) in enumerate(seen):
        train, test = cv.folds.train(i), cv.folds.test[i]
        assert np.array_equal(np.sort(np.r_[fit_rows, val_rows]), train)  # only training rows
        assert np.intersect1d(val_rows, test).size == 0
        assert len(val_rows) == len(train) - int(len(train) * 0.75)
        assert np.array_equal(np.sort(pred_rows), test)                  # judged on held out
        assert cv.table.loc[i, "epochs"] == epochs
        assert cv.table.loc[i, "n_validation"] == len(val_rows)
    assert cv.table["epochs"].tolist() == [2, 2, 2]         # early stopping acted in each fit


@pytest.mark.skipif(torch.cuda.is_available(), reason="forked workers cannot share CUDA; "
                    "cross_validate refuses n_jobs > 1 once CUDA is in use")
def test_n_jobs_two_gives_the_numbers_of_n_jobs_one(hitters):
    x, y = hitters
    before = torch.get_num_threads()
    torch.set_num_threads(2)        # the parent uses OpenMP's thread pool before forking: the
    a = torch.randn(800, 800)       # workers must not hang in their first parallel region
    assert float((a @ a).abs().sum()) > 0
    torch.set_num_threads(before)
    kwargs = dict(folds=4, seed=9, fit=dict(epochs=3, batch_size=32, validation_split=0.2))
    one = cross_validate(small_net, x, y, n_jobs=1, **kwargs)
    two = cross_validate(small_net, x, y, n_jobs=2, **kwargs)
    cols = ["RMSE", "Rsquared", "MAE", "epochs", "n_fit", "n_validation", "n_test"]
    pd.testing.assert_frame_equal(one.table[cols], two.table[cols])
    assert set(one.table["threads"]) == set(two.table["threads"]) == {1}
    for a, b in zip(one.predictions, two.predictions):
        np.testing.assert_array_equal(a, b)


def test_model_is_cloned_with_fresh_weights(hitters):
    x, y = hitters
    model = small_net()
    model.fit(x, y, epochs=1, verbose=0)
    before = [w.copy() for w in model.get_weights()]
    kwargs = dict(folds=3, seed=4, fit=dict(epochs=2))
    from_model = cross_validate(model, x, y, **kwargs)
    from_fn = cross_validate(small_net, x, y, **kwargs)
    pd.testing.assert_frame_equal(from_model.table[from_model.metrics],
                                  from_fn.table[from_fn.metrics])
    for a, b in zip(before, model.get_weights()):           # the given model is untouched
        np.testing.assert_array_equal(a, b)


def test_functional_model_with_its_own_loss_is_cloned():
    inp = sd.Input((3,))
    out = L.Dense(1)(L.Dense(4, activation="relu")(inp))
    model = sd.Model(inp, out)

    def squared(pred, y):
        return (pred - y) ** 2

    model.compile(optimizer="adam", loss=squared, metrics=["mae"])
    clone = clone_model(model)
    assert type(clone) is sd.Model and clone is not model
    assert clone.count_params() == model.count_params() == 21
    assert clone._compiled["loss"] is model._compiled["loss"]          # the same function
    assert clone.metrics_names == model.metrics_names
    assert type(clone.optimizer_) is type(model.optimizer_)
    assert clone.optimizer_ is not model.optimizer_
    diffs = [np.abs(a - b).max() for a, b in zip(clone.get_weights(), model.get_weights())
             if a.ndim == 2]                            # kernels (biases start at 0)
    assert min(diffs) > 0                                          # fresh random weights


def test_resample_seeds_and_caller_random_state():
    assert fold_seed(1, 0) != fold_seed(1, 1) and fold_seed(1, 0) != fold_seed(2, 0)
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    cross_validate(MeanOnly, np.zeros((12, 1)), np.arange(12.0), folds=3, metrics="MAE")
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_split_training_rows_is_keras_validation_split_of_shuffled_rows():
    train = np.arange(100, 150)
    fit_rows, val_rows = split_training_rows(train, 0.3, seed=1)
    assert len(val_rows) == 50 - int(50 * 0.7)
    assert sorted(np.r_[fit_rows, val_rows].tolist()) == train.tolist()
    assert not np.array_equal(val_rows, train[-15:])          # not just the last rows


def test_classification_metrics_match_scikit_learn():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 2))
    y = (x[:, 0] + rng.normal(scale=0.8, size=120) > 0).astype(int)

    class Logistic:                                        # Newton steps, no network needed
        def fit(self, x, y, **kw):
            d = np.column_stack([np.ones(len(x)), x])
            b = np.zeros(3)
            for _ in range(25):
                p = 1 / (1 + np.exp(-d @ b))
                b += np.linalg.solve(d.T @ (d * (p * (1 - p))[:, None]), d.T @ (y - p))
            self.b = b

        def predict(self, x):
            return (1 / (1 + np.exp(-np.column_stack([np.ones(len(x)), x]) @ self.b)))[:, None]

    cv = cross_validate(Logistic, x, y, folds=4, stratify=True,
                        metrics=["Accuracy", "Kappa", "LogLoss", "AUC"])
    for i, test in enumerate(cv.folds.test):
        p = cv.predictions[i][:, 0]
        row = cv.table.iloc[i]
        assert row["Accuracy"] == pytest.approx(skm.accuracy_score(y[test], p > 0.5))
        assert row["Kappa"] == pytest.approx(skm.cohen_kappa_score(y[test], p > 0.5))
        assert row["LogLoss"] == pytest.approx(skm.log_loss(y[test], p), rel=1e-9)
        assert row["AUC"] == pytest.approx(skm.roc_auc_score(y[test], p), rel=1e-12)


def test_default_metrics_follow_the_loss(hitters):
    x, y = hitters
    yb = (y > np.median(y)).astype("float32")

    def classifier():
        m = sd.Sequential([L.Dense(1, activation="sigmoid")], input_shape=(20,))
        m.compile(optimizer="adam", loss="binary_crossentropy")
        return m

    cv = cross_validate(classifier, x, yb, folds=2, stratify=True, fit=dict(epochs=1))
    assert cv.metrics == ["Accuracy", "Kappa"]
    assert 0 <= cv.table["Accuracy"].min() <= cv.table["Accuracy"].max() <= 1


def test_cross_validate_refuses_bad_arguments(hitters):
    x, y = hitters
    with pytest.raises(ConfigError, match="without 'validation_data'"):
        cross_validate(small_net, x, y, fit=dict(validation_data=(x, y)))
    with pytest.raises(ShapeError, match="same number of rows; got 263 and 10"):
        cross_validate(small_net, x, y[:10])
    with pytest.raises(ConfigError, match="`n_jobs` of cross_validate must be an int >= 1"):
        cross_validate(small_net, x, y, n_jobs=0)

    def uncompiled():
        return sd.Sequential([L.Dense(1)], input_shape=(20,))

    with pytest.raises(ConfigError, match="returned a model that is not compiled"):
        cross_validate(uncompiled, x, y, folds=2)
    with pytest.raises(ConfigError, match=r"`metrics` of cross_validate must be one of .*; got 'R2'"):
        cross_validate(small_net, x, y, metrics=["R2"])
    with pytest.raises(ConfigError, match="`threads_per_job` of cross_validate must be an int "
                                          ">= 1 or 'auto'; got 0"):
        cross_validate(small_net, x, y, threads_per_job=0)


# ----------------------------------------------------------------------------- resamples
def _two_models(seed=1, **kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    y = x[:, 0] + rng.normal(size=80)
    return (cross_validate(LeastSquares, x, y, folds=5, repeats=2, seed=seed, **kwargs),
            cross_validate(MeanOnly, x, y, folds=5, repeats=2, seed=seed, **kwargs), x, y)


def test_resamples_compares_paired_resamples():
    ls, mean, _, _ = _two_models()
    res = resamples({"ls": ls, "mean": mean})
    assert list(res.values.columns[:3]) == ["Resample", "ls~RMSE", "ls~Rsquared"]
    stat = res.summary()["RMSE"]
    v = ls.table["RMSE"].to_numpy()
    assert stat.loc["ls"].tolist() == pytest.approx(
        [v.min(), np.quantile(v, 0.25), np.median(v), v.mean(), np.quantile(v, 0.75), v.max(), 0])
    d = res.diff(metric="RMSE")
    row = d.table.iloc[0]
    diffs = v - mean.table["RMSE"].to_numpy()
    assert row["estimate"] == pytest.approx(diffs.mean())
    nb = corrected_ttest(diffs, ls.n_train, ls.n_test, level=0.95)
    assert (row["lower_corrected"], row["upper_corrected"]) == pytest.approx((nb.lower, nb.upper))
    assert row["p_corrected"] == pytest.approx(nb.p_value)   # one comparison: no adjustment
    assert "Corrected resampled t-test" in repr(d)


def test_resamples_refuses_results_on_other_folds():
    ls, _, x, y = _two_models(seed=1)
    other = cross_validate(MeanOnly, x, y, folds=5, repeats=2, seed=2)
    with pytest.raises(ConfigError, match="must hold results that come from the same folds; got 'ls' "
                                          "and 'mean', which differ: resample Fold1.Rep1 holds "
                                          "out different rows"):
        resamples({"ls": ls, "mean": other})
    fewer = cross_validate(MeanOnly, x, y, folds=5, seed=1)
    with pytest.raises(ConfigError, match="their resamples are Fold1.Rep1"):
        resamples({"ls": ls, "mean": fewer})
    same = cross_validate(MeanOnly, x, y, folds=ls.folds)     # reusing the folds works
    assert resamples({"ls": ls, "mean": same}).folds.same_as(ls.folds)
    assert isinstance(ls.folds, Folds)


def test_resampling_figures(tmp_path):
    ls, mean, _, _ = _two_models()
    res = resamples({"ls": ls, "mean": mean})
    fig = plot_resamples_dot(res, metric=["RMSE", "MAE"], path=tmp_path / "dot.png")
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_xlabel() for a in axes] == ["RMSE", "MAE"]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["ls", "mean"]
    dots = [line for line in axes[0].get_lines() if line.get_marker() == "o"]
    assert [float(line.get_xdata()[0]) for line in dots] == pytest.approx(
        [ls.table["RMSE"].mean(), mean.table["RMSE"].mean()])   # each model's dot: its mean
    fig = plot_resamples_box(res, metric="RMSE", path=tmp_path / "box.svg")
    assert (tmp_path / "dot.png").stat().st_size > 0 and (tmp_path / "box.svg").exists()
    assert fig.axes[0].get_xlabel() == "RMSE"
