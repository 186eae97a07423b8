"""model_matrix, scale, train_test_split, to_categorical."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import statdl as sd
from statdl.errors import ConfigError


def test_model_matrix_r_columns_small():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.5, 0.1, 0.2, 0.3],
                       "g": ["a", "b", "a", "c"]})
    mm = sd.model_matrix("y ~ . - 1", df)
    assert list(mm.columns) == ["x", "ga", "gb", "gc"]
    np.testing.assert_array_equal(mm[["ga", "gb", "gc"]].to_numpy(),
                                  [[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]])
    mm2 = sd.model_matrix("y ~ x + g", df)
    assert list(mm2.columns) == ["(Intercept)", "x", "gb", "gc"]


def test_model_matrix_missing_column():
    df = pd.DataFrame({"y": [1.0, 2], "x": [1.0, 2]})
    with pytest.raises(ConfigError, match="'zz'"):
        sd.model_matrix("y ~ x + zz", df)


def test_scale_matches_definition_and_applies_to_new_data():
    x = np.array([[1.0, 2.0], [3.0, 5.0], [8.0, 11.0]])
    s = sd.scale(x)
    np.testing.assert_allclose(s.center, x.mean(0))
    np.testing.assert_allclose(s.scale, x.std(0, ddof=1))
    np.testing.assert_allclose(s.x, (x - x.mean(0)) / x.std(0, ddof=1))
    new = np.array([[4.0, 4.0]])
    np.testing.assert_allclose(s.apply(new), (new - x.mean(0)) / x.std(0, ddof=1))
    # R: scale(x, center = FALSE) divides by sqrt(sum(x^2) / (n - 1))
    rms = np.sqrt((x**2).sum(0) / 2)
    np.testing.assert_allclose(sd.scale(x, center=False).x, x / rms)
    df = pd.DataFrame(x, columns=["a", "b"])
    assert list(sd.scale(df).x.columns) == ["a", "b"]


def test_scale_bad_inputs():
    with pytest.raises(ConfigError, match="ragged"):
        sd.scale([[1.0, 2.0], [3.0]])
    with pytest.raises(ConfigError, match="`center`"):
        sd.scale(np.ones((3, 2)), center=[1, 2, 3])
    with pytest.warns(UserWarning, match="zero"):
        out = sd.scale(np.array([[1.0, 2.0], [1.0, 3.0]]))
    assert np.isnan(out.x[:, 0]).all()


def test_train_test_split_shapes_and_alignment():
    x = pd.DataFrame({"a": np.arange(20)})
    y = np.arange(20) * 10
    (xtr, ytr), (xte, yte) = sd.train_test_split(x, y, test_size=0.3, seed=1001)
    assert len(xte) == 6 and len(xtr) == 14
    np.testing.assert_array_equal(xtr["a"].to_numpy() * 10, ytr)
    assert set(xtr["a"]) | set(xte["a"]) == set(range(20))
    again = sd.train_test_split(x, y, test_size=0.3, seed=1001)
    np.testing.assert_array_equal(again[1][1], yte)
    a_tr, a_te = sd.train_test_split(np.arange(10), test_size=3, seed=0)
    assert len(a_te) == 3


@pytest.mark.parametrize("kwargs, match", [
    ({"test_size": 0.0}, "`test_size`"), ({"test_size": 1.5}, "`test_size`"),
    ({"test_size": 0.3, "seed": -1}, "`seed`"),
])
def test_train_test_split_bad(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        sd.train_test_split(np.arange(10), **kwargs)


def test_train_test_split_length_mismatch():
    with pytest.raises(ConfigError, match=r"^`arrays` of train_test_split must be arrays with the same "
                                          r"number of rows; got \[10, 9\] rows\.$"):
        sd.train_test_split(np.arange(10), np.arange(9), test_size=0.2)


def test_to_categorical_definition():
    out = sd.to_categorical([[1], [0], [3]])
    assert out.shape == (3, 4) and out.dtype == np.float64
    np.testing.assert_array_equal(out, np.eye(4)[[1, 0, 3]])
    assert sd.to_categorical([0, 1], num_classes=5).shape == (2, 5)
    with pytest.raises(ConfigError, match=r"in \[0, 2\]"):
        sd.to_categorical([0, 3], num_classes=3)
    with pytest.raises(ConfigError, match="whole-number"):
        sd.to_categorical([0.5, 1])
    with pytest.raises(ConfigError, match="`num_classes`"):
        sd.to_categorical([0, 1], num_classes=0)


def test_to_categorical_equals_keras3(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    y = np.array([[2], [0], [1], [2]])
    np.testing.assert_array_equal(sd.to_categorical(y), keras.utils.to_categorical(y))
    np.testing.assert_array_equal(sd.to_categorical(y, 6), keras.utils.to_categorical(y, 6))


@pytest.mark.slow
def test_model_matrix_equals_r(tmp_path, shared_data):
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed (apt-get install r-base-core)")
    csv = shared_data / "hitters" / "Hitters.csv"
    out = tmp_path / "mm.csv"
    code = (f"h <- na.omit(read.csv('{csv}', stringsAsFactors = TRUE)); "
            f"write.csv(model.matrix(Salary ~ . - 1, data = h), '{out}', row.names = FALSE); "
            f"s <- scale(model.matrix(Salary ~ . - 1, data = h)); "
            f"write.csv(s, '{tmp_path / 'scaled.csv'}', row.names = FALSE)")
    subprocess.run(["Rscript", "-e", code], check=True, capture_output=True)
    ref = pd.read_csv(out)
    x, _ = sd.datasets.hitters(response="Salary")
    assert list(x.columns) == list(ref.columns)
    np.testing.assert_allclose(x.to_numpy(), ref.to_numpy())
    scaled = pd.read_csv(tmp_path / "scaled.csv")
    np.testing.assert_allclose(sd.scale(x).x.to_numpy(), scaled.to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("kwargs, match", [
    ({"y": [0, float("inf")]}, "`y` of to_categorical must hold whole-number class labels; got non-integer "
                            "values."),
    ({"y": [0, 1], "dtype": "nonsense"}, "`dtype` of to_categorical must be a numpy dtype or its name such as "
                                         "'float32'; got 'nonsense'."),
])
def test_to_categorical_names_what_is_wrong(kwargs, match):
    with pytest.raises(ConfigError, match=match.replace("(", r"\(").replace(")", r"\)")):
        sd.to_categorical(**kwargs)


def test_to_categorical_refuses_an_id_as_a_class_index():
    """A label of 3e9 asks numpy for a 23 GiB matrix; the error should say why, not OOM."""
    with pytest.raises(ConfigError, match=r"^`y` of to_categorical must hold class indices 0\.\.k-1; "
                                          r"got labels needing a one-hot matrix of 1 x "
                                          r"3000000001 = "):
        sd.to_categorical([3_000_000_000])


def test_train_test_split_names_the_array_without_rows():
    with pytest.raises(ConfigError, match=r"`arrays\[1\]` of train_test_split must be an "
                                          r"array-like with rows .*got NoneType"):
        sd.train_test_split(np.arange(4), None)
