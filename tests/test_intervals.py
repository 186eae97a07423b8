"""Prediction intervals and sets (statdl.intervals) against independent references: MAPIE run
for real on the same predictions, the order-statistic definition, scipy's exact binomial
interval, and coverage on simulated heteroscedastic data with known truth."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

import statdl as sd
from statdl import fast_paths
from statdl.errors import ConfigError, ShapeError
from statdl.intervals import (
    Ensemble,
    accuracy_by_uncertainty,
    conformal_quantile,
    conformal_sets,
    conformalized_quantiles,
    coverage_report,
    mc_dropout_predict,
    predict_interval,
    predict_set,
    predict_uncertainty,
    split_conformal,
)
from statdl.layers.core import DropoutModule


class _Column(RegressorMixin, BaseEstimator):
    """A fitted 'regressor' whose prediction is column ``col`` of X: hands MAPIE our
    precomputed predictions unchanged."""

    def __init__(self, col=0):
        self.col = col

    def fit(self, x, y=None):
        self.n_features_in_ = np.asarray(x).shape[1]
        return self

    def predict(self, x):
        return np.asarray(x)[:, self.col]


class _Probabilities(ClassifierMixin, BaseEstimator):
    """A fitted 'classifier' whose probabilities are X itself."""

    def fit(self, x, y):
        self.classes_ = np.unique(y)
        self.n_features_in_ = np.asarray(x).shape[1]
        return self

    def predict_proba(self, x):
        return np.asarray(x)

    def predict(self, x):
        return np.asarray(x).argmax(axis=1)


def _hetero(n, rng):
    """y = sin(2x) + x with noise sd 0.1 + 0.5 |x|: heteroscedastic, known truth."""
    x = rng.uniform(-2, 2, size=n)
    return x, np.sin(2 * x) + x + rng.normal(size=n) * (0.1 + 0.5 * np.abs(x))


# ---------------------------------------------------------------- definitions
def test_conformal_quantile_is_the_order_statistic():
    rng = np.random.default_rng(1)
    for n, level in [(19, 0.9), (100, 0.95), (7, 0.5), (1000, 0.9)]:
        s = rng.normal(size=n)
        k = math.ceil((n + 1) * level)
        assert conformal_quantile(s, level) == np.sort(s)[k - 1]
    assert conformal_quantile(np.arange(18.0), 0.95) == math.inf  # ceil(19 * .95) = 19 > 18


def test_quantile_loss_is_the_pinball_loss_and_learns_quantiles(tmp_path):
    taus = [0.1, 0.5, 0.9]
    pred, y = torch.tensor([[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]]), torch.tensor([1.0, 0.5])
    want = [np.mean([max(t * (yy - q), (t - 1) * (yy - q)) for t, q in zip(taus, row)])
            for row, yy in zip(pred.tolist(), y.tolist())]
    got = sd.losses.quantile(taus)(pred, y[:, None])
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    # fitted on a constant input, the three outputs are the three sample quantiles
    rng = np.random.default_rng(0)
    yv = rng.exponential(size=400).astype("float32")
    sd.set_seed(0)
    m = sd.Sequential([sd.layers.Dense(3)], input_shape=(1,))
    m.compile(optimizer=sd.optimizers.Adam(learning_rate=0.05), loss=sd.losses.quantile(taus))
    m.fit(np.ones((400, 1), "float32"), yv, epochs=400, batch_size=400, verbose=0)
    np.testing.assert_allclose(m.predict(np.ones((1, 1)))[0], np.quantile(yv, taus), atol=0.03)
    m.save(tmp_path / "q.statdl")  # the loss travels by name: quantile(0.1, 0.5, 0.9)
    back = sd.load_model(tmp_path / "q.statdl")
    ones = np.ones((400, 1), "float32")
    assert back.evaluate(ones, yv) == pytest.approx(m.evaluate(ones, yv), rel=1e-6)
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        sd.losses.quantile([0.5, 1.0])
    with pytest.raises(ShapeError, match="one column"):
        m.fit(np.ones((4, 1)), np.ones((4, 3)), verbose=0)


# ---------------------------------------------------------------- MAPIE parity
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_split_conformal_equals_mapie(level):
    rng = np.random.default_rng(2)
    x, y = _hetero(901, rng)
    pred = np.sin(2 * x) + x + rng.normal(scale=0.05, size=x.size)  # any predictions
    cal, test = slice(0, 501), slice(501, None)
    lo, hi, _ = split_conformal(pred[cal], y[cal], pred[test], level)
    feats = pred[:, None]
    regression = pytest.importorskip("mapie.regression")
    peer = regression.SplitConformalRegressor(_Column().fit(feats), confidence_level=level, prefit=True)
    peer.conformalize(feats[cal], y[cal])
    _, bounds = peer.predict_interval(feats[test])
    np.testing.assert_allclose(lo, bounds[:, 0, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(hi, bounds[:, 1, 0], rtol=0, atol=1e-12)


def test_conformalized_quantile_regression_equals_mapie():
    rng = np.random.default_rng(3)
    x, y = _hetero(800, rng)
    mid = np.sin(2 * x) + x
    q = np.column_stack([mid - 0.8 * (0.1 + 0.5 * np.abs(x)), mid + 1.1 * (0.1 + 0.5 * abs(x)),
                         mid])  # lower, upper, median: MAPIE's order
    cal, test = slice(0, 400), slice(400, None)
    lo, hi, _ = conformalized_quantiles(q[cal, 0], q[cal, 1], y[cal], q[test, 0], q[test, 1],
                                        0.9)
    regression = pytest.importorskip("mapie.regression")
    peer = regression.ConformalizedQuantileRegressor([_Column(0).fit(q), _Column(1).fit(q),
                                           _Column(2).fit(q)], confidence_level=0.9,
                                          prefit=True)
    peer.conformalize(q[cal], y[cal])
    _, bounds = peer.predict_interval(q[test], symmetric_correction=True)
    np.testing.assert_allclose(lo, bounds[:, 0, 0], atol=1e-12)
    np.testing.assert_allclose(hi, bounds[:, 1, 0], atol=1e-12)


def _multinomial(n, k, rng):
    p = rng.dirichlet(np.full(k, 0.7), size=n)
    y = (p.cumsum(axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1)
    return p, y


@pytest.mark.parametrize("method,level", [("lac", 0.9), ("aps", 0.9), ("lac", 0.8),
                                          ("aps", 0.95)])
def test_prediction_sets_equal_mapie(method, level):
    rng = np.random.default_rng(4)
    p, y = _multinomial(1000, 5, rng)
    cal, test = slice(0, 600), slice(600, None)
    # MAPIE's APS: randomised calibration scores, sets up to the class reaching q
    sets, _ = conformal_sets(p[cal], y[cal], p[test], level, method, randomize=True,
                             include_last=True, seed=7)
    classification = pytest.importorskip("mapie.classification")
    peer = classification.SplitConformalClassifier(_Probabilities().fit(p, y), confidence_level=level,
                                    conformity_score=method, prefit=True, random_state=7)
    peer.conformalize(p[cal], y[cal])
    _, peer_sets = peer.predict_set(p[test])
    assert sets.shape == peer_sets[:, :, 0].shape
    assert (sets == peer_sets[:, :, 0]).all()


# ---------------------------------------------------------------- coverage
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_split_conformal_coverage_over_repeated_splits(level):
    """Average coverage over 300 random calibration/test splits of precomputed predictions of a
    deliberately poor model (a straight line): within 2 points of nominal, and never below
    nominal by more than the Monte Carlo error (the guarantee holds whatever the model)."""
    rng = np.random.default_rng(5)
    x, y = _hetero(2000, rng)
    pred = 0.9 * x  # misses the sine and the noise pattern
    cover = []
    for _ in range(300):
        idx = rng.permutation(x.size)
        cal, test = idx[:500], idx[500:]
        lo, hi, _ = split_conformal(pred[cal], y[cal], pred[test], level)
        cover.append(np.mean((y[test] >= lo) & (y[test] <= hi)))
    mean = float(np.mean(cover))
    assert abs(mean - level) < 0.02, mean
    assert mean > level - 3 * np.std(cover) / np.sqrt(len(cover))


def test_predict_interval_with_a_statdl_model_and_cqr_adapts_to_the_noise():
    """A small network's conformal intervals equal split_conformal on its predictions and
    cover about 90% of new cases; its CQR intervals cover too and are narrow where the noise
    is small (|x| < 0.5) and wide where it is large (|x| > 1.5), unlike constant-width ones."""
    rng = np.random.default_rng(6)
    x, y = _hetero(6000, rng)
    xs, ys = x[:, None].astype("float32"), y.astype("float32")
    train, cal, test = slice(0, 2000), slice(2000, 3000), slice(3000, None)
    sd.set_seed(0)
    m = sd.Sequential([sd.layers.Dense(16, activation="tanh"), sd.layers.Dense(3)],
                      input_shape=(1,))
    m.compile(optimizer=sd.optimizers.Adam(learning_rate=0.02),
              loss=sd.losses.quantile([0.05, 0.5, 0.95]))
    m.fit(xs[train], ys[train], epochs=40, batch_size=200, verbose=0)
    cqr = predict_interval(m, xs[test], level=0.9, method="cqr",
                           calibration=(xs[cal], ys[cal]))
    report = coverage_report(cqr, ys[test])
    assert abs(report.coverage - 0.9) < 0.025, str(report)
    width = (cqr["upper"] - cqr["lower"]).to_numpy()
    small, large = np.abs(x[test]) < 0.5, np.abs(x[test]) > 1.5
    assert width[large].mean() > 2.5 * width[small].mean()
    # the median column as a point model: split conformal on it
    point = sd.Sequential([sd.layers.Dense(1)], input_shape=(1,))
    point.compile(optimizer="adam", loss="mse")
    iv = predict_interval(point, xs[test], level=0.9, calibration=(xs[cal], ys[cal]))
    lo, hi, q = split_conformal(point.predict(xs[cal]), ys[cal], point.predict(xs[test]), 0.9)
    np.testing.assert_allclose(iv["lower"], lo, rtol=1e-12)
    np.testing.assert_allclose(iv["upper"], hi, rtol=1e-12)
    assert iv.attrs["q"] == q and (iv["method"] == "conformal").all()


@pytest.mark.parametrize("method,randomize", [("lac", False), ("aps", False), ("aps", True)])
def test_prediction_sets_cover_over_repeated_splits(method, randomize):
    """Probabilities that are the true class probabilities; over 200 splits the sets cover
    within 2 points of 90%. MAPIE's conservative variant (include_last) covers more."""
    rng = np.random.default_rng(8)
    p, y = _multinomial(3000, 4, rng)
    cover, conservative = [], []
    for seed in range(200):
        idx = rng.permutation(len(y))
        cal, test = idx[:600], idx[600:]
        sets, _ = conformal_sets(p[cal], y[cal], p[test], 0.9, method, randomize=randomize,
                                 seed=seed)
        cover.append(sets[np.arange(test.size), y[test]].mean())
        if method == "aps":
            sets, _ = conformal_sets(p[cal], y[cal], p[test], 0.9, method, randomize=True,
                                     include_last=True, seed=seed)
            conservative.append(sets[np.arange(test.size), y[test]].mean())
    assert abs(np.mean(cover) - 0.9) < 0.02, np.mean(cover)
    if conservative:
        assert np.mean(conservative) > np.mean(cover) + 0.02


def test_predict_set_on_a_statdl_classifier():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(900, 2)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.normal(size=900) > 0).astype(int) + (x[:, 1] > 1)
    sd.set_seed(0)
    m = sd.Sequential([sd.layers.Dense(3, activation="softmax")], input_shape=(2,))
    m.compile(optimizer=sd.optimizers.Adam(learning_rate=0.05),
              loss="sparse_categorical_crossentropy")
    m.fit(x[:300], y[:300], epochs=10, verbose=0)
    out = predict_set(m, x[600:], level=0.9, method="aps", calibration=(x[300:600], y[300:600]),
                      labels=["a", "b", "c"])
    want, q = conformal_sets(m.predict(x[300:600]), y[300:600], m.predict(x[600:]), 0.9, "aps")
    assert (out.attrs["sets"] == want).all() and out.attrs["q"] == q
    assert out["set"].iloc[0] == tuple(np.array(["a", "b", "c"])[want[0]])
    report = coverage_report(out, y[600:])
    assert report.covered == int(want[np.arange(300), y[600:]].sum())
    assert "guaranteed" in report.guarantee and report.kind == "set"


# ---------------------------------------------------------------- MC dropout, ensembles
def _dropout_net(rate=0.5):
    m = sd.Sequential([sd.layers.Dense(32, activation="relu"), sd.layers.Dropout(rate),
                       sd.layers.Dense(1)], input_shape=(3,))
    m.compile(optimizer="adam", loss="mse")
    return m


def test_mc_dropout_masks_only_dropout_and_averages_to_the_plain_prediction():
    """After the Dropout layer the network is linear, so E[pass] = the deterministic predict
    (inverted dropout): the mean of 4,000 passes lies within 4 standard errors of it."""
    sd.set_seed(0)
    m = _dropout_net()
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    plain = m.predict(x)[:, 0]
    draws = mc_dropout_predict(m, x, passes=4000, seed=1)[:, :, 0]
    se = draws.std(axis=0) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - plain) < 4 * se)
    assert np.all(draws.std(axis=0) > 0)
    # the seed repeats the passes and leaves the caller's random stream alone
    state = torch.get_rng_state()
    again = mc_dropout_predict(m, x, passes=4000, seed=1)[:, :, 0]
    assert np.array_equal(draws, again) and torch.equal(state, torch.get_rng_state())
    assert not m.module.training and np.array_equal(m.predict(x)[:, 0], plain)


@pytest.mark.parametrize("layers", [
    lambda: [sd.layers.Dense(16, activation="relu"), sd.layers.Dense(8, activation="tanh"),
             sd.layers.Dropout(0.3), sd.layers.Dense(4, activation="relu"),
             sd.layers.Dropout(0.5), sd.layers.Dense(2, activation="softmax")],
    lambda: [sd.layers.Dropout(0.2), sd.layers.Dense(3)],          # nothing before it
])
def test_mc_dropout_runs_the_layers_before_the_first_dropout_once(layers):
    """The layers before the first Dropout run once per batch, the rest once per pass: the
    same draws (same masks from the seed, values to float32 rounding) as whole passes, and
    the head really sees each row once (not once per pass)."""
    sd.set_seed(0)
    m = sd.Sequential(layers(), input_shape=(5,))
    x = np.random.default_rng(2).normal(size=(700, 5)).astype("float32")
    calls = []
    first = m.module.layers[0]
    hook = first.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    try:
        with fast_paths.on("mc_dropout_head_once"):  # also under STATDL_FAST_PATHS=0
            once = mc_dropout_predict(m, x, passes=60, seed=3, batch_size=500)
    finally:
        hook.remove()
    with fast_paths.off("mc_dropout_head_once"):
        whole = mc_dropout_predict(m, x, passes=60, seed=3, batch_size=500)
    np.testing.assert_allclose(once, whole, rtol=1e-5, atol=1e-6)
    assert once.std(axis=0).min() > 0
    if isinstance(first, DropoutModule):
        assert sum(calls) == 60 * 700                              # every pass sees every row
    else:
        assert sum(calls) == 700                                   # once per row


def test_mc_dropout_keeps_batch_normalisation_in_inference_mode():
    sd.set_seed(0)
    m = sd.Sequential([sd.layers.Dense(4), sd.layers.BatchNormalization(),
                       sd.layers.Dropout(0.01), sd.layers.Dense(1)], input_shape=(3,))
    x = np.random.default_rng(1).normal(size=(2, 3)).astype("float32") * 5 + 3
    bn = [mod for mod in m.module.modules() if "BatchNorm" in type(mod).__name__
          or "Normalization" in type(mod).__name__][0]
    before = [b.clone() for b in bn.buffers()]
    draws = mc_dropout_predict(m, x, passes=50, seed=0)[:, :, 0]
    assert all(torch.equal(a, b) for a, b in zip(before, bn.buffers()))
    # a pass that drops nothing is the inference-mode network with the kept units scaled by
    # 1 / (1 - rate): most passes at 1% dropout of 2 x 4 units (0.99**8 = 92%)
    h = m.layer_output(x, 1)  # after BatchNormalization, with its moving statistics
    kernel, bias = m.layers[-1].get_weights()
    no_drop = (h / 0.99) @ kernel[:, 0] + bias[0]
    assert np.mean(np.all(np.isclose(draws, no_drop, rtol=1e-5), axis=1)) > 0.7


def test_mc_dropout_needs_dropout():
    m = sd.Sequential([sd.layers.Dense(1)], input_shape=(3,))
    with pytest.raises(ConfigError, match="needs a model with Dropout"):
        mc_dropout_predict(m, np.ones((2, 3)))


def test_mc_dropout_and_ensemble_intervals_are_reported_without_guarantee():
    rng = np.random.default_rng(10)
    x, y = _hetero(900, rng)
    xs = np.column_stack([x, x ** 2, np.abs(x)]).astype("float32")
    sd.set_seed(0)
    m = _dropout_net(0.2)
    m.fit(xs[:300], y[:300], epochs=5, verbose=0)
    bare = predict_interval(m, xs[600:], level=0.9, method="mc_dropout", passes=30, seed=0)
    draws = mc_dropout_predict(m, xs[600:], passes=30, seed=0)[:, :, 0]
    np.testing.assert_allclose(bare["estimate"], draws.mean(axis=0), rtol=1e-6)
    # the definition in float64 (float32 interpolation is off by 2e-6 relative near zero)
    np.testing.assert_allclose(bare["lower"], np.quantile(draws.astype(np.float64), 0.05,
                                                          axis=0), rtol=1e-6)
    cal = predict_interval(m, xs[600:], level=0.9, method="mc_dropout", passes=30, seed=0,
                           calibration=(xs[300:600], y[300:600]))
    assert (cal["upper"] - cal["lower"]).mean() > (bare["upper"] - bare["lower"]).mean()
    report = coverage_report(bare, y[600:])
    assert "NO coverage guarantee" in str(report)
    ens = Ensemble(_dropout_net, n=3)
    ens.fit(xs[:300], y[:300], epochs=2, verbose=0)
    members = ens.predict_members(xs[600:])
    assert members.shape == (3, 300, 1) and not np.allclose(members[0], members[1])
    iv = predict_interval(ens, xs[600:], method="ensemble", level=0.9)
    np.testing.assert_allclose(iv["estimate"], members[:, :, 0].mean(axis=0), rtol=1e-6)
    assert "NO coverage guarantee" in coverage_report(iv, y[600:]).guarantee
    again = Ensemble(_dropout_net, n=3)
    again.fit(xs[:300], y[:300], epochs=2, verbose=0)
    assert np.array_equal(again.predict_members(xs[600:]), members)


def test_predict_uncertainty_entropy_and_mutual_information():
    sd.set_seed(0)
    m = sd.Sequential([sd.layers.Dense(16, activation="relu"), sd.layers.Dropout(0.5),
                       sd.layers.Dense(3, activation="softmax")], input_shape=(2,))
    x = np.random.default_rng(2).normal(size=(6, 2)).astype("float32")
    u = predict_uncertainty(m, x, passes=25, seed=3)
    draws = mc_dropout_predict(m, x, passes=25, seed=3).astype(np.float64)
    mean = draws.mean(axis=0)
    np.testing.assert_allclose(u[["p_0", "p_1", "p_2"]], mean, rtol=1e-9)
    np.testing.assert_allclose(u["entropy"], stats.entropy(mean.T), rtol=1e-9)
    mi = stats.entropy(mean.T) - stats.entropy(draws.transpose(2, 0, 1)).mean(axis=0)
    np.testing.assert_allclose(u["mutual_information"], mi, rtol=1e-7, atol=1e-12)


# ---------------------------------------------------------------- report
def test_coverage_report_matches_scipy_exact_interval_and_bins():
    rng = np.random.default_rng(11)
    est = rng.normal(size=500)
    y = est + rng.normal(size=500)
    iv = pd.DataFrame({"estimate": est, "lower": est - 1.5, "upper": est + 1.5,
                       "method": "conformal"})
    iv.attrs["level"] = 0.9
    r = coverage_report(iv, y, bins=4)
    k = int(np.sum(np.abs(y - est) <= 1.5))
    ci = stats.binomtest(k, 500).proportion_ci(0.95, method="exact")
    assert r.covered == k and r.coverage == k / 500
    np.testing.assert_allclose(r.ci, (ci.low, ci.high), rtol=1e-9)
    assert r.by_bin["n"].sum() == 500 and len(r.by_bin) == 4
    assert r.mean_width == pytest.approx(3.0)
    assert r.summary()["coverage"].iloc[0] == k / 500
    fig = r.plot()
    assert len(fig.axes) == 2


def test_input_errors_name_the_argument():
    m = sd.Sequential([sd.layers.Dense(1)], input_shape=(2,))
    with pytest.raises(ConfigError, match="calibration"):
        predict_interval(m, np.ones((3, 2)))
    with pytest.raises(ConfigError, match="`level`"):
        predict_interval(m, np.ones((3, 2)), level=95, calibration=(np.ones((3, 2)), [1, 2, 3]))
    with pytest.raises(TypeError, match="Ensemble"):
        predict_interval(m, np.ones((3, 2)), method="ensemble")
    with pytest.raises(ShapeError, match="cqr"):
        q = sd.Sequential([sd.layers.Dense(3)], input_shape=(2,))
        predict_interval(q, np.ones((3, 2)), calibration=(np.ones((3, 2)), [1, 2, 3]))


# ---------------------------------------------------------------- real data
def test_conformal_coverage_on_hitters_over_repeated_splits():
    """The course's Hitters data (log salary): a network fitted on half the players, its
    predictions for the other half split 300 times into calibration and test players. Split
    conformal covers within 2 points of 90% and 95% on average (theory: ceil(67 level) / 67 =
    0.910 and 0.955 for 66 calibration players)."""
    x, y = sd.datasets.hitters(response="log_salary", standardize=True)
    x, y = x.to_numpy("float32"), y.to_numpy("float64")
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(y))
    train, rest = idx[:131], idx[131:]
    sd.set_seed(0)
    m = sd.Sequential([sd.layers.Dense(32, activation="relu"), sd.layers.Dropout(0.3),
                       sd.layers.Dense(1)], input_shape=(x.shape[1],))
    m.compile(optimizer=sd.optimizers.Adam(learning_rate=0.01), loss="mse")
    m.fit(x[train], y[train], epochs=30, batch_size=32, verbose=0)
    pred, obs = m.predict(x[rest])[:, 0], y[rest]
    for level in (0.9, 0.95):
        cover = []
        for _ in range(300):
            j = rng.permutation(len(rest))
            lo, hi, _ = split_conformal(pred[j[:66]], obs[j[:66]], pred[j[66:]], level)
            cover.append(np.mean((obs[j[66:]] >= lo) & (obs[j[66:]] <= hi)))
        assert abs(np.mean(cover) - level) < 0.02, (level, np.mean(cover))


def test_prediction_sets_cover_on_mnist_digits():
    """An MLP fitted on the shipped MNIST sample; its probabilities for the 1,000 test digits
    split 300 times into 500 calibration and 500 test digits: LAC and APS sets cover within 1
    point of 90% on average, and LAC's sets are the smallest."""
    (xtr, ytr), (xte, yte) = sd.datasets.mnist_sample()
    xtr = xtr.reshape(len(xtr), -1).astype("float32") / 255
    xte = xte.reshape(len(xte), -1).astype("float32") / 255
    sd.set_seed(0)
    m = sd.Sequential([sd.layers.Dense(128, activation="relu"), sd.layers.Dropout(0.3),
                       sd.layers.Dense(10, activation="softmax")], input_shape=(784,))
    m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    m.fit(xtr, ytr, epochs=5, batch_size=128, verbose=0)
    p = m.predict(xte)
    rng = np.random.default_rng(0)
    sizes = {}
    for method, randomize in (("lac", False), ("aps", False), ("aps", True)):
        cover, size = [], []
        for seed in range(300):
            j = rng.permutation(len(yte))
            sets, _ = conformal_sets(p[j[:500]], yte[j[:500]], p[j[500:]], 0.9, method,
                                     randomize=randomize, seed=seed)
            cover.append(sets[np.arange(500), yte[j[500:]]].mean())
            size.append(sets.sum(axis=1).mean())
        assert abs(np.mean(cover) - 0.9) < 0.01, (method, randomize, np.mean(cover))
        sizes[method, randomize] = np.mean(size)
    assert sizes["lac", False] < sizes["aps", True] < sizes["aps", False]
    # MC-dropout entropy flags the errors: accuracy falls from the calmest to the most
    # uncertain fifth of the digits, and the table counts them as numpy does
    u = predict_uncertainty(m, xte, passes=20, seed=0)
    table = accuracy_by_uncertainty(u, yte, bins=5)
    right = u["prediction"].to_numpy() == yte
    calm = u["entropy"].to_numpy() <= np.quantile(u["entropy"], 0.2)
    assert table["accuracy"].iloc[0] == right[calm].mean() and table["n"].sum() == 1000
    assert table["accuracy"].iloc[0] > 0.97 > 0.8 > table["accuracy"].iloc[-1]


def test_any_model_with_predict_and_too_small_calibration_sets():
    """A scikit-learn regressor goes through predict_interval unchanged; 8 calibration cases
    cannot give a 90% interval (ceil(9 * 0.9) = 9 > 8): unbounded, with a warning."""
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(12)
    x = rng.normal(size=(60, 2))
    y = x @ [1.0, -1.0] + rng.normal(size=60)
    reg = LinearRegression().fit(x[:30], y[:30])
    iv = predict_interval(reg, x[40:], level=0.9, calibration=(x[30:40], y[30:40]))
    lo, _, _ = split_conformal(reg.predict(x[30:40]), y[30:40], reg.predict(x[40:]), 0.9)
    np.testing.assert_allclose(iv["lower"], lo)
    with pytest.warns(UserWarning, match="at least 9 calibration cases"):
        wide = predict_interval(reg, x[40:], level=0.9, calibration=(x[30:38], y[30:38]))
    assert np.isinf(wide["upper"]).all()
