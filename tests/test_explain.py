"""Permutation importance, partial dependence and saliency (statdl.explain) against
scikit-learn run for real on the same prediction functions, and against closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.inspection import partial_dependence as sk_partial_dependence
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.linear_model import LogisticRegression, Ridge

import statdl as sd
from statdl.errors import ConfigError
from statdl.explain import partial_dependence, permutation_importance, saliency, term_groups
from statdl.plots.explain import plot_importance, plot_partial_dependence, plot_saliency


class _Wrapped(RegressorMixin, BaseEstimator):
    """A statdl model seen by scikit-learn: predict is the model's predict, nothing else."""

    def __init__(self, model=None):
        self.model = model

    def fit(self, x, y=None):
        self.fitted_ = True
        return self

    def predict(self, x):
        return self.model.predict(np.asarray(x, dtype=np.float32))[:, 0]


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = 2 * x[:, 0] - x[:, 1] + 0.5 * x[:, 0] * x[:, 2] + rng.normal(scale=0.3, size=n)
    return x, y


def _net(x, y):
    sd.set_seed(0)
    m = sd.Sequential([sd.layers.Dense(8, activation="tanh"), sd.layers.Dense(1)],
                      input_shape=(x.shape[1],))
    m.compile(optimizer=sd.optimizers.Adam(learning_rate=0.05), loss="mse")
    m.fit(x.astype("float32"), y.astype("float32"), epochs=5, verbose=0)
    return m


def _by_name(frame):
    return frame.attrs["importances"][np.argsort(frame.index.map(lambda s: int(s[1:])))]


def test_permutation_importance_equals_scikit_learn_for_a_statdl_model():
    x, y = _data()
    m = _net(x, y)
    ours = permutation_importance(m, x, y, metric="mse", repeats=6, seed=3)
    theirs = sk_permutation_importance(_Wrapped(m).fit(x), x, y,
                                       scoring="neg_mean_squared_error", n_repeats=6,
                                       random_state=3)
    np.testing.assert_allclose(_by_name(ours), theirs.importances, rtol=1e-6, atol=1e-7)
    assert list(ours.index[:2]) == ["x0", "x1"]  # the two strong effects lead
    # the interval: mean -/+ t(0.975, 5) sd / sqrt(6), sd over repeats
    row = ours.loc["x0"]
    raw = theirs.importances[0]
    half = 2.570581835636 * raw.std(ddof=1) / np.sqrt(6)
    np.testing.assert_allclose([row["lower"], row["upper"]],
                               [raw.mean() - half, raw.mean() + half], rtol=1e-6)


def test_permutation_importance_equals_scikit_learn_accuracy_and_r2():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + 0.3 * x[:, 1] + rng.normal(scale=0.5, size=400) > 0).astype(int)
    clf = LogisticRegression().fit(x, y)
    ours = permutation_importance(clf.predict_proba, x, y, metric="accuracy", repeats=5,
                                  seed=11)
    theirs = sk_permutation_importance(clf, x, y, scoring="accuracy", n_repeats=5,
                                       random_state=11)
    np.testing.assert_allclose(_by_name(ours), theirs.importances, atol=1e-12)
    xr, yr = _data(seed=2)
    reg = Ridge().fit(xr, yr)
    ours = permutation_importance(reg, xr, yr, metric="r2", repeats=4, seed=0)
    theirs = sk_permutation_importance(reg, xr, yr, scoring="r2", n_repeats=4, random_state=0)
    np.testing.assert_allclose(_by_name(ours), theirs.importances, rtol=1e-10)


def test_grouped_columns_are_shuffled_together():
    """A group's importance is the loss when its columns share one row order (the same
    RandomState stream as single columns); a group of one column is that column."""
    x, y = _data(seed=3)
    reg = Ridge().fit(x, y)
    out = permutation_importance(reg, x, y, repeats=3, seed=5,
                                 groups={"first two": ["x0", "x1"], "third": [2]})
    assert set(out.index) == {"first two", "third", "x3"}
    seed = np.random.RandomState(5).randint(np.iinfo(np.int32).max + 1)
    rng, work, order = np.random.RandomState(seed), x.copy(), np.arange(len(x))
    base = np.mean((y - reg.predict(x)) ** 2)
    want = []
    for _ in range(3):
        rng.shuffle(order)
        work[:, [0, 1]] = work[order][:, [0, 1]]
        want.append(np.mean((y - reg.predict(work)) ** 2) - base)
    i = list(out.index).index("first two")
    np.testing.assert_allclose(out.attrs["importances"][i], want, rtol=1e-12)
    single = permutation_importance(reg, x, y, repeats=3, seed=5)
    assert out.loc["third", "importance"] == pytest.approx(single.loc["x2", "importance"])
    with pytest.raises(ConfigError, match="in both"):
        permutation_importance(reg, x, y, groups={"a": [0, 1], "b": [1]})


def test_term_groups_names_the_dummy_columns_of_a_factor():
    df = sd.datasets.hitters()
    x = sd.model_matrix("Salary ~ . - 1", df)
    groups = term_groups(x, df)
    assert sorted(groups["League"]) == ["LeagueA", "LeagueN"]
    assert groups["Division"] == ["DivisionW"] and groups["CRuns"] == ["CRuns"]


def test_partial_dependence_equals_scikit_learn_brute_force():
    x, y = _data(n=120, seed=4)
    m = _net(x, y)
    est = _Wrapped(m).fit(x)
    for features, sk_features in ((0, [0]), ([0, 2], [0, 2])):
        ours = partial_dependence(m, x, features, grid=15, kind="both")
        theirs = sk_partial_dependence(est, x, sk_features, grid_resolution=15, kind="both",
                                       method="brute")
        for g, tg in zip(ours.grid, theirs["grid_values"]):
            np.testing.assert_allclose(g, tg, rtol=1e-12)
        np.testing.assert_allclose(ours.average, theirs["average"][0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours.individual, theirs["individual"][0], rtol=1e-5,
                                   atol=1e-6)
    few = np.round(x[:, 1])  # fewer unique values than the resolution: the uniques
    xf = x.copy()
    xf[:, 1] = few
    ours = partial_dependence(m, xf, 1, grid=15)
    theirs = sk_partial_dependence(est, xf, [1], grid_resolution=15, kind="average",
                                   method="brute")
    np.testing.assert_allclose(ours.grid[0], theirs["grid_values"][0])
    np.testing.assert_allclose(ours.average, theirs["average"][0], rtol=1e-5, atol=1e-6)
    fig = plot_partial_dependence(partial_dependence(m, x, [0, 2], grid=6))
    assert len(fig.axes) == 2  # heat map and colour bar


def test_partial_dependence_of_a_factor_group_by_definition(tmp_path):
    rng = np.random.default_rng(5)
    level = rng.integers(0, 3, size=90)
    x = pd.DataFrame({"z": rng.normal(size=90), "gb": (level == 1) * 1.0,
                      "gc": (level == 2) * 1.0})

    def f(v):
        return v[:, 0] + 2 * v[:, 1] - v[:, 2] + v[:, 0] * v[:, 2]

    out = partial_dependence(f, x, [["gb", "gc"]], kind="both")
    assert out.labels[0] == ["(reference)", "gc", "gb"]  # observed rows (0,0), (0,1), (1,0)
    z = x["z"].to_numpy()
    want = [np.mean(z), np.mean(z - 1 + z), np.mean(z + 2)]
    np.testing.assert_allclose(out.average, want, rtol=1e-12)
    assert out.individual.shape == (90, 3)
    frame = out.frame()
    assert list(frame.columns) == ["gb+gc", "yhat"] and frame["yhat"].tolist() == \
        pytest.approx(want)
    plot_partial_dependence(out, path=tmp_path / "pd.png")
    assert (tmp_path / "pd.png").stat().st_size > 1000


def test_saliency_of_a_linear_softmax_model_is_its_weights():
    """Flatten + Dense softmax: the logit of class k is x . W[:, k] + b_k, so its gradient is
    W[:, k]; the probability's gradient is p_k (W_k - sum_j p_j W_j)."""
    sd.set_seed(0)
    m = sd.Sequential([sd.layers.Flatten(), sd.layers.Dense(3, activation="softmax")],
                      input_shape=(5, 4, 1))
    x = np.random.default_rng(6).uniform(size=(2, 5, 4, 1)).astype("float32")
    kernel, bias = m.layers[-1].get_weights()
    maps = saliency(m, x, target=[2, 0])
    np.testing.assert_allclose(maps[0], np.abs(kernel[:, 2]).reshape(5, 4), rtol=1e-6)
    np.testing.assert_allclose(maps[1], np.abs(kernel[:, 0]).reshape(5, 4), rtol=1e-6)
    gxi = saliency(m, x, target=1, kind="gradient_x_input")
    np.testing.assert_allclose(gxi, x[..., 0] * kernel[:, 1].reshape(5, 4), rtol=1e-5,
                               atol=1e-7)
    p = torch.softmax(torch.tensor(x.reshape(2, -1) @ kernel + bias), dim=1).numpy()
    pred = p.argmax(axis=1)
    by_prob = saliency(m, x, score="probability")
    for i, k in enumerate(pred):
        want = p[i, k] * (kernel[:, k] - kernel @ p[i])
        np.testing.assert_allclose(by_prob[i], np.abs(want).reshape(5, 4), rtol=1e-4,
                                   atol=1e-7)
    fig = plot_saliency(x, gxi, labels=["a", "b"])
    assert len(fig.axes) == 2


def test_importance_plot_and_errors():
    x, y = _data(n=60)
    imp = permutation_importance(Ridge().fit(x, y), x, y, repeats=3)
    fig = plot_importance(imp)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[-1] == imp.index[0]
    with pytest.raises(ConfigError, match="`metric`"):
        permutation_importance(Ridge().fit(x, y), x, y, metric="auc_pr")
    with pytest.raises(ConfigError, match="`features`"):
        partial_dependence(lambda v: v[:, 0], x, "nope")
    with pytest.raises(ConfigError, match="`kind`"):
        saliency(None, np.zeros((1, 2, 2)), kind="grad-cam")


def test_partial_dependence_of_a_binary_classifier_equals_scikit_learn():
    """Two probability columns: the second class's probability, scikit-learn's positive
    class; three classes need `output=`, and give scikit-learn's row for that class."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(150, 3))
    y = (x[:, 0] - x[:, 1] + rng.normal(size=150) > 0).astype(int)
    clf = LogisticRegression().fit(x, y)
    ours = partial_dependence(clf.predict_proba, x, 0, grid=12, kind="both")
    theirs = sk_partial_dependence(clf, x, [0], grid_resolution=12, kind="both",
                                   method="brute")
    np.testing.assert_allclose(ours.average, theirs["average"][0], rtol=1e-12)
    np.testing.assert_allclose(ours.individual, theirs["individual"][0], rtol=1e-12)
    y3 = np.digitize(x[:, 0] + x[:, 2], [-0.5, 0.5])
    clf3 = LogisticRegression().fit(x, y3)
    with pytest.raises(ConfigError, match="`output` of partial_dependence must be the column"):
        partial_dependence(clf3.predict_proba, x, 1)
    ours = partial_dependence(clf3.predict_proba, x, [1, 2], grid=5, output=2)
    theirs = sk_partial_dependence(clf3, x, [1, 2], grid_resolution=5, method="brute")
    np.testing.assert_allclose(ours.average, theirs["average"][2], rtol=1e-12)
