"""statdl.sklearn: the estimators against statdl trained directly, and inside scikit-learn's
tools (Pipeline with ColumnTransformer on Hitters, searches with n_jobs=2, cross-validation,
permutation importance, partial dependence, calibration).

References come from statdl's own API called directly with the same seed (the wrapper must
add nothing to the training), from definitions (R², accuracy, the encoded labels), or from
scikit-learn computing the same quantity itself.
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.calibration import CalibratedClassifierCV  # noqa: E402
from sklearn.compose import ColumnTransformer, make_column_selector  # noqa: E402
from sklearn.inspection import PartialDependenceDisplay, permutation_importance  # noqa: E402
from sklearn.metrics import accuracy_score, r2_score  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

import statdl as sd  # noqa: E402
from statdl import layers as L  # noqa: E402
from statdl.errors import ConfigError, ShapeError  # noqa: E402
from statdl.sklearn import NetClassifier, NetRegressor, mlp  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    # the wrapped and the direct fit must sum in the same order: fix the thread count
    sd.set_threads(1)
    yield
    sd.set_threads("auto")


def regression_data(n=120, p=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)).astype("float32")
    return x, (x @ np.arange(1, p + 1) + 0.1 * rng.normal(size=n)).astype("float32")


def class_data(n=150, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    codes = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    return x, codes, np.array(["low", "mid", "top"])[codes]


def hidden_and_output(out_units, out_activation=None):
    return [L.Dense(16, activation="relu"), L.Dense(out_units, activation=out_activation)]


def two_copies(out_units, out_activation=None):
    """The same layers twice, made before seeding: creating a Dense layer draws one number
    from torch's generator (its initialiser check), so both lists must exist before
    ``set_seed`` for the direct and the wrapped fit to start from the same weights."""
    return hidden_and_output(out_units, out_activation), hidden_and_output(out_units,
                                                                          out_activation)


def hitters_frame():
    frame = sd.datasets.hitters()
    x = frame.drop(columns="Salary")
    counts = x.select_dtypes("number").columns      # integer counts, as floats (sklearn's
    x[counts] = x[counts].astype(float)              # partial dependence refuses integers)
    return x, np.log(frame["Salary"].to_numpy())


def hitters_pipeline(**net):
    prep = ColumnTransformer([
        ("num", StandardScaler(), make_column_selector(dtype_include="number")),
        ("fac", OneHotEncoder(drop="if_binary"), make_column_selector(dtype_include="category")),
    ])
    return make_pipeline(prep, NetRegressor(**{"epochs": 30, "seed": 1, "model__units": 16,
                                               "optimizer": "adam",
                                               "optimizer__learning_rate": 0.01, **net}))


# ------------------------------------------------------------------ the same as statdl directly
def test_regressor_predicts_as_the_same_network_trained_directly_with_the_same_seed():
    x, y = regression_data()
    mine, theirs = two_copies(1)
    sd.set_seed(7)
    direct = sd.Sequential(mine, input_shape=(4,))
    direct.compile(optimizer="rmsprop", loss="mse")
    direct.fit(x, y, epochs=5, batch_size=16, verbose=0)

    reg = NetRegressor(theirs, epochs=5, batch_size=16, seed=7).fit(x, y)
    np.testing.assert_array_equal(reg.predict(x), direct.predict(x)[:, 0])
    assert reg.score(x, y) == pytest.approx(r2_score(y, direct.predict(x)[:, 0]), rel=1e-6)
    assert reg.history_.history["loss"] == direct.history.history["loss"]


def test_classifier_with_string_labels_predicts_as_the_direct_network_on_the_codes():
    x, codes, labels = class_data()
    mine, theirs = two_copies(3, "softmax")
    sd.set_seed(3)
    direct = sd.Sequential(mine, input_shape=(3,))
    direct.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    direct.fit(x, codes, epochs=4, batch_size=32, verbose=0)

    clf = NetClassifier(theirs, optimizer="adam", epochs=4,
                        seed=3).fit(x, labels)
    assert clf.classes_.tolist() == ["low", "mid", "top"]
    np.testing.assert_allclose(clf.predict_proba(x), direct.predict(x), rtol=1e-6, atol=1e-7)
    expected = np.array(["low", "mid", "top"])[direct.predict(x).argmax(axis=1)]
    np.testing.assert_array_equal(clf.predict(x), expected)
    assert clf.score(x, labels) == accuracy_score(labels, expected)


def test_binary_classifier_uses_one_sigmoid_unit_and_two_probability_columns():
    x, codes, _ = class_data()
    y = np.where(codes > 0, "yes", "no")
    sd.set_seed(5)
    direct = mlp({"n_features_in_": 3, "target_type_": "binary", "n_outputs_": 1}, units=8)
    direct.compile(optimizer="rmsprop", loss="binary_crossentropy")
    direct.fit(x, (codes > 0).astype("float32"), epochs=3, verbose=0)

    clf = NetClassifier(model__units=8, epochs=3, seed=5).fit(x, y)
    p = direct.predict(x)[:, 0]
    np.testing.assert_allclose(clf.predict_proba(x), np.column_stack([1 - p, p]), atol=1e-7)
    np.testing.assert_array_equal(clf.predict(x), np.where(p > 0.5, "yes", "no"))
    assert clf.model_.layers[-1].units == 1


def test_a_compiled_model_from_a_function_keeps_its_own_compile_settings():
    x, y = regression_data()

    def build(units=8, meta=None):
        net = sd.Sequential([L.Dense(units, activation="tanh"), L.Dense(1)],
                            input_shape=(meta["n_features_in_"],))
        net.compile(optimizer=sd.optimizers.Adam(learning_rate=0.01), loss="mae")
        return net

    sd.set_seed(2)
    direct = build(units=12, meta={"n_features_in_": 4})
    direct.fit(x, y, epochs=3, verbose=0)
    reg = NetRegressor(build, model__units=12, loss="mse", epochs=3, seed=2).fit(x, y)
    np.testing.assert_array_equal(reg.predict(x), direct.predict(x)[:, 0])
    assert reg.model_._compiled["loss_name"] == "mae"


def test_a_template_model_is_trained_from_fresh_weights_each_fit():
    x, y = regression_data()
    template = sd.Sequential(hidden_and_output(1), input_shape=(4,))
    template.compile(optimizer="adam", loss="mse")
    before = [w.copy() for w in template.get_weights()]
    reg = NetRegressor(template, epochs=2, seed=4).fit(x, y)
    sd.set_seed(4)           # the clone makes its layers from the template's specs, seeded
    direct = sd.Sequential(hidden_and_output(1), input_shape=(4,))
    direct.compile(optimizer="adam", loss="mse")
    direct.fit(x, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(reg.predict(x), direct.predict(x)[:, 0])
    for old, new in zip(before, template.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)        # the template itself is never trained


def test_routed_optimizer_and_fit_parameters_reach_statdl():
    x, codes, labels = class_data()
    mine, theirs = two_copies(3, "softmax")
    sd.set_seed(9)
    direct = sd.Sequential(mine, input_shape=(3,))
    direct.compile(optimizer=sd.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                   loss="categorical_crossentropy")
    direct.fit(x, sd.to_categorical(codes, 3), epochs=3, verbose=0,
               class_weight={0: 1.0, 1: 2.0, 2: 0.5}, shuffle=False)
    clf = NetClassifier(theirs, optimizer="sgd",
                        optimizer__learning_rate=0.05, optimizer__momentum=0.9,
                        loss="categorical_crossentropy", shuffle=False, epochs=3, seed=9,
                        fit__class_weight={0: 1.0, 1: 2.0, 2: 0.5}).fit(x, labels)
    np.testing.assert_allclose(clf.predict_proba(x), direct.predict(x), rtol=1e-6, atol=1e-7)


def test_sample_weight_is_the_direct_fits_sample_weight():
    x, y = regression_data()
    w = np.where(np.arange(len(y)) % 3 == 0, 0.0, 2.0)
    mine, theirs = two_copies(1)
    sd.set_seed(1)
    direct = sd.Sequential(mine, input_shape=(4,))
    direct.compile(optimizer="rmsprop", loss="mse")
    direct.fit(x, y, epochs=3, sample_weight=w, verbose=0)
    reg = NetRegressor(theirs, epochs=3, seed=1).fit(x, y, sample_weight=w)
    np.testing.assert_array_equal(reg.predict(x), direct.predict(x)[:, 0])


def test_warm_start_and_partial_fit_continue_as_fit_called_again():
    x, y = regression_data()
    mine, theirs = two_copies(1)
    sd.set_seed(6)
    direct = sd.Sequential(mine, input_shape=(4,))
    direct.compile(optimizer="rmsprop", loss="mse")
    direct.fit(x, y, epochs=2, verbose=0)
    sd.set_seed(6)                        # the estimator seeds each call
    direct.fit(x, y, epochs=2, verbose=0)

    warm = NetRegressor(theirs, epochs=2, seed=6, warm_start=True)
    warm.fit(x, y).fit(x, y)
    np.testing.assert_array_equal(warm.predict(x), direct.predict(x)[:, 0])

    cold = NetRegressor(theirs, epochs=2, seed=6).fit(x, y)
    first = cold.predict(x)
    np.testing.assert_array_equal(cold.fit(x, y).predict(x), first)   # refit: starts anew
    assert not np.array_equal(first, warm.predict(x))

    mine, theirs = two_copies(1)
    sd.set_seed(6)
    once = sd.Sequential(mine, input_shape=(4,))
    once.compile(optimizer="rmsprop", loss="mse")
    once.fit(x, y, epochs=1, verbose=0)
    sd.set_seed(6)
    once.fit(x, y, epochs=1, verbose=0)
    part = NetRegressor(theirs, seed=6)
    part.partial_fit(x, y).partial_fit(x, y)
    np.testing.assert_array_equal(part.predict(x), once.predict(x)[:, 0])


def test_callbacks_and_validation_split_work_as_in_fit_and_survive_clone():
    x, y = regression_data()
    stop = sd.callbacks.EarlyStopping(monitor="val_loss", patience=0)
    reg = NetRegressor(epochs=50, validation_split=0.25, callbacks=[stop], seed=0,
                       optimizer="sgd", optimizer__learning_rate=0.08)
    reg.fit(x, y)        # a large step: val_loss falls, then rises, and training stops
    losses = reg.history_.history["val_loss"]
    assert len(losses) < 50 and losses[-1] > losses[-2]
    again = clone(reg).fit(x, y)         # a clone carries a fresh copy of the callback
    assert again.history_.history["val_loss"] == losses


def test_partial_fit_takes_every_class_first_and_refuses_new_labels():
    x, _, labels = class_data()
    clf = NetClassifier(epochs=1, seed=0)
    clf.partial_fit(x[:20], labels[:20], classes=["low", "mid", "top"])
    assert clf.classes_.tolist() == ["low", "mid", "top"]
    clf.partial_fit(x[20:], labels[20:])
    assert set(clf.predict(x)) <= {"low", "mid", "top"}
    with pytest.raises(ValueError, match="'other', which is not in classes_"):
        clf.partial_fit(x[:3], np.array(["low", "other", "top"]))


def test_seed_leaves_the_programs_random_state_as_it_was():
    x, y = regression_data()
    torch.manual_seed(11)
    np.random.seed(11)
    expected_t, expected_n = torch.rand(3), np.random.rand(3)
    torch.manual_seed(11)
    np.random.seed(11)
    NetRegressor(epochs=1, seed=3).fit(x, y)
    np.testing.assert_array_equal(torch.rand(3), expected_t)
    np.testing.assert_array_equal(np.random.rand(3), expected_n)


def test_multi_output_regression_predicts_one_column_per_target():
    x, y = regression_data()
    y2 = np.column_stack([y, -y])
    reg = NetRegressor(epochs=2, seed=0).fit(x, y2)
    assert reg.n_outputs_ == 2 and reg.predict(x).shape == (len(x), 2)
    assert reg.model_.layers[-1].units == 2


def test_pickled_estimators_predict_the_same_and_keep_training():
    x, _, labels = class_data()
    clf = NetClassifier(model__units=8, epochs=2, seed=0).fit(x, labels)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(x), clf.predict_proba(x))
    np.testing.assert_array_equal(copy.predict(x), clf.predict(x))
    # the optimiser state travels too: one more epoch of each gives the same weights
    clf.partial_fit(x, labels)
    copy.partial_fit(x, labels)
    np.testing.assert_allclose(copy.predict_proba(x), clf.predict_proba(x), atol=1e-6)


def test_a_network_the_model_file_cannot_hold_is_pickled_as_an_object():
    x, y = regression_data()
    reg = NetRegressor(loss=_half_abs, epochs=2, seed=0).fit(x, y)
    copy = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(copy.predict(x), reg.predict(x))


def _half_abs(pred, y):
    return 0.5 * (pred - y).abs()


def test_feature_names_come_from_data_frames_and_are_checked():
    x, y = regression_data()
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    reg = NetRegressor(epochs=1, seed=0).fit(frame, y)
    assert reg.n_features_in_ == 4 and reg.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="feature names"):
        reg.predict(frame[["b", "a", "c", "d"]])
    with pytest.warns(UserWarning, match="valid feature names"), \
            pytest.raises(ValueError, match="4 features"):
        reg.predict(x[:, :3])


def test_get_set_params_and_clone_carry_routed_parameters():
    reg = NetRegressor(model__units=8, optimizer__learning_rate=0.01)
    params = reg.get_params()
    assert params["model__units"] == 8 and params["optimizer__learning_rate"] == 0.01
    reg.set_params(model__units=32, epochs=3)
    twin = clone(reg)
    assert twin.get_params()["model__units"] == 32 and twin.epochs == 3
    assert "model__units=32" in repr(twin)
    with pytest.raises(ValueError, match="Invalid parameter 'units'"):
        reg.set_params(units=4)


def test_tags_say_what_the_estimators_are():
    from sklearn.base import is_classifier, is_regressor
    from sklearn.utils import get_tags

    assert is_regressor(NetRegressor()) and is_classifier(NetClassifier())
    assert get_tags(NetRegressor()).non_deterministic            # no seed: torch draws
    assert not get_tags(NetRegressor(seed=1)).non_deterministic
    assert get_tags(NetRegressor()).target_tags.multi_output
    assert not get_tags(NetClassifier()).target_tags.multi_output
    assert not get_tags(NetClassifier()).input_tags.allow_nan


def test_mistakes_are_named_with_their_fix():
    x, y = regression_data()
    xc, _, labels = class_data()
    with pytest.raises(ConfigError, match="`units` of NetRegressor must be one of the "
                                          "parameters .*got units=8. Did you mean `model__units`"):
        NetRegressor(units=8).fit(x, y)
    with pytest.raises(ConfigError, match="`model__unit` of NetRegressor must be a parameter of "
                                          "mlp\\(\\) \\(units, hidden_layers, dropout, "
                                          "activation\\); got 'unit'. Did you mean `model__units`"):
        NetRegressor(model__unit=8).fit(x, y)
    with pytest.raises(ConfigError, match="^`model__units` of NetRegressor must be a parameter routed to "
                                          "a function that builds the model; got 8\\. `model` "
                                          "of NetRegressor is a list"):
        NetRegressor(hidden_and_output(1), model__units=8).fit(x, y)
    with pytest.raises(ShapeError, match="^`model` of NetRegressor must be a network with one output "
                                         "unit per column of `y` \\(1 column\\(s\\)\\); got a "
                                         "network with 3 output unit\\(s\\)\\. End the "
                                         "network with Dense\\(1\\)\\.$"):
        NetRegressor(hidden_and_output(3)).fit(x, y)
    with pytest.raises(ConfigError, match="activation 'linear'.*softmax"):
        NetClassifier(hidden_and_output(3)).fit(xc, labels)
    with pytest.raises(ShapeError, match="^`model` of NetClassifier must be a network with one output "
                                         "unit per class \\(3 classes\\); got a network with 2 "
                                         "output unit\\(s\\)\\."):
        NetClassifier(hidden_and_output(2, "softmax")).fit(xc, labels)
    with pytest.raises(ValueError, match="at least 2 classes"):
        NetClassifier().fit(x, np.zeros(len(x)))
    with pytest.raises(TypeError, match="`model` of NetRegressor must be a list of statdl"):
        NetRegressor(model="mlp").fit(x, y)
    with pytest.raises(TypeError, match="`optimizer` of NetRegressor must be a name.*got type"):
        NetRegressor(optimizer=torch.optim.Adam).fit(x, y)
    built = hidden_and_output(1)
    sd.Sequential(built, input_shape=(4,))
    with pytest.raises(ConfigError, match="already built"):
        NetRegressor(built).fit(x, y)


BAD_PARAMETERS = [  # parameter, value, error, what the message says (argument, expected, got)
    ("epochs", 0, ConfigError, "`epochs` of NetRegressor must be an int >= 1; got 0."),
    ("epochs", 2.5, ConfigError, "`epochs` of NetRegressor must be an int >= 1; got 2.5."),
    ("batch_size", True, ConfigError, "`batch_size` of NetRegressor must be an int >= 1; got "
                                      "True."),
    ("validation_split", 1.0, ConfigError, "`validation_split` of NetRegressor must be a "
                                           "number in [0, 1); got 1.0."),
    ("seed", -1, ConfigError, "`seed` of NetRegressor must be an int >= 0 or None; got -1."),
    ("verbose", 3, ConfigError, "`verbose` of NetRegressor must be one of 0, 1, 2; got 3."),
    ("warm_start", "yes", ConfigError, "`warm_start` of NetRegressor must be True or False; "
                                       "got 'yes'."),
    ("shuffle", None, ConfigError, "`shuffle` of NetRegressor must be True or False; got None."),
    ("callbacks", 5, TypeError, "`callbacks` of NetRegressor must be a list of statdl "
                                "callbacks (statdl.callbacks.EarlyStopping(...) ...) or None; "
                                "got int."),
    ("callbacks", ["stop"], TypeError, "got ['stop']."),
    ("loss", 3, TypeError, "`loss` of NetRegressor must be a loss name ('mse', "
                           "'binary_crossentropy' ...), a function loss(pred, y), or None; "
                           "got 3."),
    ("optimizer", "rmsprp", ConfigError, "`optimizer` of NetRegressor must be one of "
                                         "'adagrad', 'adam', 'rmsprop', 'sgd'; got 'rmsprp'. "
                                         "Did you mean 'rmsprop'?"),
    ("optimizer__lr", 0.1, ConfigError, "`optimizer__lr` of NetRegressor must be a parameter "
                                        "of RMSprop (learning_rate, rho, momentum, epsilon, "
                                        "centered); got 'lr'. Did you mean "
                                        "`optimizer__learning_rate`?"),
    ("optimizer__learning_rate", -1, ConfigError, "`learning_rate` of RMSprop must be a "
                                                  "number > 0; got -1."),
    ("fit__class_weights", {0: 1}, ConfigError, "`fit__class_weights` of NetRegressor must be "
                                                "an argument of Model.fit (validation_data, "
                                                "class_weight, initial_epoch, precision); got "
                                                "'class_weights'. Did you mean "
                                                "`fit__class_weight`?"),
    ("fit__epochs", 3, ConfigError, "`fit__epochs` of NetRegressor must be an argument of "
                                    "Model.fit that NetRegressor does not pass itself "
                                    "(validation_data, class_weight, initial_epoch, "
                                    "precision); got 3. Set the estimator's `epochs` instead."),
    ("fit__sample_weight", [1.0], ConfigError, "Give it to fit(X, y, sample_weight=...)."),
    ("model__units", 0, ConfigError, "`units` of mlp must be an int >= 1; got 0."),
    ("model__hidden_layers", -1, ConfigError, "`hidden_layers` of mlp must be an int >= 0; "
                                              "got -1."),
    ("model__dropout", 1.5, ConfigError, "`dropout` of mlp must be a number in [0, 1); got "
                                         "1.5."),
    ("optimizer", torch.optim.Adam, TypeError, "`optimizer` of NetRegressor must be a name "
                                               "('rmsprop', 'adam', ...), an optimiser class or "
                                               "object of statdl.optimizers; got type."),
]


@pytest.mark.parametrize("name, value, error, text", BAD_PARAMETERS,
                         ids=[f"{n}={v!r}" for n, v, _, _ in BAD_PARAMETERS])
def test_each_bad_parameter_is_named_with_what_was_expected_and_what_came(name, value, error,
                                                                         text):
    x, y = regression_data(n=20)
    reg = NetRegressor(**{"epochs": 1, name: value})   # stored as given, as sklearn wants
    assert reg.get_params()[name] is value
    with pytest.raises(error) as caught:
        reg.fit(x, y)
    assert text in str(caught.value)
    # the classifier checks the same parameters with its own name
    with pytest.raises(error, match=r"NetClassifier|mlp|RMSprop"):
        NetClassifier(**{"epochs": 1, name: value}).fit(x, np.arange(20) % 2)


def test_import_statdl_does_not_import_sklearn_and_a_missing_sklearn_names_the_extra():
    code = ("import sys, statdl\n"
            "statdl.Sequential\n"
            "assert 'sklearn' not in sys.modules, 'import statdl imported sklearn'\n"
            "sys.modules['sklearn'] = None  # as if scikit-learn were not installed\n"
            "try:\n"
            "    import statdl.sklearn\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install 'statdl[sklearn]'" in out


# ------------------------------------------------------------------ inside scikit-learn's tools
def test_pipeline_with_column_transformer_on_the_hitters_frame():
    from sklearn.linear_model import LinearRegression

    x, y = hitters_frame()
    pipe = hitters_pipeline(epochs=60).fit(x, y)
    net = pipe[-1]
    assert net.n_features_in_ == 19        # 16 numbers + League, Division, NewLeague dummies
    pred = pipe.predict(x)
    assert pred.shape == (263,)
    assert pipe.score(x, y) == pytest.approx(r2_score(y, pred))
    # in sample, 16 hidden units fit log salary better than least squares on the same columns
    # (R² 0.56; the network about 0.8 after 60 epochs: at 30 it is still learning, 0.44-0.54)
    linear = make_pipeline(pipe[0], LinearRegression()).fit(x, y)
    assert pipe.score(x, y) > linear.score(x, y) + 0.1


def test_cross_val_score_and_cross_validate_on_the_hitters_pipeline():
    x, y = hitters_frame()
    folds = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(hitters_pipeline(epochs=10), x, y, cv=folds)
    again = cross_validate(hitters_pipeline(epochs=10), x, y, cv=folds,
                           scoring=["r2", "neg_mean_absolute_error"], return_estimator=True)
    np.testing.assert_allclose(again["test_r2"], scores)      # seeded: the same fits
    for (_, test), est, r2 in zip(folds.split(x), again["estimator"], scores, strict=True):
        assert r2 == pytest.approx(r2_score(y[test], est.predict(x.iloc[test])))


def test_grid_search_tunes_routed_parameters_and_refits_the_best():
    x, y = regression_data(n=90)
    grid = GridSearchCV(NetRegressor(epochs=3, seed=0),
                        {"model__units": [4, 16], "optimizer__learning_rate": [0.001, 0.01]},
                        cv=2).fit(x, y)
    assert len(grid.cv_results_["params"]) == 4
    # each candidate's fold scores are those of the estimator set to it and fitted alone
    i = 3
    params = grid.cv_results_["params"][i]
    for fold, (train, test) in enumerate(KFold(2).split(x)):
        alone = NetRegressor(epochs=3, seed=0, **params).fit(x[train], y[train])
        assert grid.cv_results_[f"split{fold}_test_score"][i] == pytest.approx(
            alone.score(x[test], y[test]), rel=1e-6)
    refit = NetRegressor(epochs=3, seed=0, **grid.best_params_).fit(x, y)
    np.testing.assert_allclose(grid.predict(x), refit.predict(x), rtol=1e-6)


@pytest.mark.slow  # two worker processes each import torch and statdl: ~25 s of CPU
def test_grid_and_randomized_search_with_two_worker_processes():
    x, y = regression_data(n=90)
    grid = GridSearchCV(NetRegressor(epochs=3, seed=0), {"model__units": [4, 16]}, cv=2,
                        n_jobs=2).fit(x, y)
    serial = GridSearchCV(NetRegressor(epochs=3, seed=0), {"model__units": [4, 16]},
                          cv=2).fit(x, y)
    np.testing.assert_allclose(grid.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"], rtol=1e-5)

    rand = RandomizedSearchCV(NetClassifier(epochs=3, seed=0),
                              {"model__units": [4, 8, 16], "model__dropout": [0.0, 0.2]},
                              n_iter=2, cv=2, n_jobs=2, random_state=0)
    _, _, labels = class_data(n=90)
    rand.fit(x[:, :3], labels)
    assert len(rand.cv_results_["params"]) == 2
    assert set(rand.best_params_) == {"model__units", "model__dropout"}
    assert set(rand.predict(x[:, :3])) <= {"low", "mid", "top"}


@pytest.mark.slow
def test_the_overhead_benchmark_runs_and_reports_its_ratios():
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "bench" / "sklearn_overhead.py"
    out = subprocess.run([sys.executable, str(bench), "--samples", "256", "--epochs", "1",
                          "--pairs", "2", "--tiny-pairs", "2", "--skorch-pairs", "2"],
                         capture_output=True, text=True, check=True).stdout
    assert "wrapper overhead vs direct statdl fit (2 pairs): median" in out
    assert "goal at most +3%" in out and "fixed cost per fit" in out
    assert "wrapper speed vs skorch (skorch s / wrapper s, 2 pairs): median" in out


def test_sklearn_permutation_importance_finds_the_informative_columns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype("float32")
    y = 3 * x[:, 0] + 0.1 * rng.normal(size=200)        # only the first column matters
    reg = NetRegressor(model__units=16, epochs=40, seed=0, optimizer="adam",
                       optimizer__learning_rate=0.01).fit(x, y)
    result = permutation_importance(reg, x, y, n_repeats=3, random_state=0)
    assert result.importances_mean.argmax() == 0
    assert result.importances_mean[0] > 10 * np.abs(result.importances_mean[1:]).max()


def test_partial_dependence_display_draws_the_fitted_effect():
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.inspection import partial_dependence

    x, y = hitters_frame()
    pipe = hitters_pipeline(epochs=10).fit(x, y)
    display = PartialDependenceDisplay.from_estimator(pipe, x, ["Years"], grid_resolution=8)
    curve = display.lines_[0][0].get_ydata()
    assert len(curve) == 8
    # the definition: the mean prediction with Years set to each grid value
    grid = partial_dependence(pipe, x, ["Years"], grid_resolution=8)["grid_values"][0]
    expected = [pipe.predict(x.assign(Years=v)).mean() for v in grid]
    np.testing.assert_allclose(curve, expected, rtol=1e-5)


def test_calibrated_classifier_cv_wraps_the_network():
    x, codes, labels = class_data(n=200)
    cal = CalibratedClassifierCV(NetClassifier(model__units=8, epochs=20, seed=0,
                                               optimizer="adam", optimizer__learning_rate=0.01),
                                 cv=2,
                                 method="sigmoid").fit(x, labels)
    p = cal.predict_proba(x)
    assert p.shape == (200, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert cal.classes_.tolist() == ["low", "mid", "top"]
    assert accuracy_score(labels, cal.predict(x)) > 0.6
