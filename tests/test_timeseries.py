"""``statdl.timeseries`` against its definitions and against the ISLR2 lab's own construction.

The lab builds ``arframe`` with ``lagm`` and ``xrnn`` with ``array(..., c(n, 3, 5))[, , 5:1]``
and ``aperm(c(1, 3, 2))``: those steps are replayed here with numpy in R's column-major order,
and, where R and the NYSE data are present, run in R itself on the real data.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from statdl.errors import ConfigError, ShapeError
from statdl.timeseries import chronological_split, lag_matrix, lagm, windows

NYSE_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "islp" / "NYSE.csv"
RSCRIPT = shutil.which("Rscript")
COLS = ["DJ_return", "log_volume", "log_volatility"]


def series(n: int = 12, p: int = 3, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n, p)), columns=[f"c{i}" for i in range(p)],
                        index=pd.date_range("2020-01-01", periods=n))


def test_lagm_is_the_labs_definition():
    x = np.arange(12.0).reshape(6, 2)
    for k in range(0, 4):
        out = lagm(x, k)
        assert np.isnan(out[:k]).all()
        np.testing.assert_array_equal(out[k:], x[:6 - k])
    df = series(6, 2)
    pd.testing.assert_frame_equal(lagm(df, 2), df.shift(2))


def test_lag_matrix_row_t_holds_the_values_k_days_before():
    df = series(12, 3)
    x, y = lag_matrix(df, lags=4, response="c1")
    assert x.shape == (8, 12) and len(y) == 8
    assert list(x.columns[:4]) == ["L1.c0", "L1.c1", "L1.c2", "L2.c0"]
    values = df.to_numpy()
    for j in range(8):
        t = j + 4
        for k in range(1, 5):
            for i, col in enumerate(df.columns):
                assert x.iloc[j][f"L{k}.{col}"] == values[t - k, i]
        assert y.iloc[j] == values[t, 1]
    assert x.index.equals(df.index[4:]) and y.index.equals(df.index[4:])


def r_array_construction(x_lagged: np.ndarray, p: int, lags: int) -> np.ndarray:
    """The lab's ``xrnn``: ``array(x, c(n, p, lags))`` (column-major), ``[, , lags:1]``,
    ``aperm(c(1, 3, 2))``."""
    n = len(x_lagged)
    arr = np.reshape(x_lagged, (n, p, lags), order="F")
    arr = arr[:, :, ::-1]
    return np.transpose(arr, (0, 2, 1))


def test_windows_equal_the_labs_array_aperm_construction():
    df = series(30, 3)
    x = lag_matrix(df, lags=5)
    book = r_array_construction(x.to_numpy(), p=3, lags=5)
    np.testing.assert_array_equal(windows(df, lags=5, dtype=np.float64), book)


def test_windows_run_oldest_first_and_align_with_lag_matrix_rows():
    df = series(10, 2)
    w = windows(df, lags=3, dtype=np.float64)
    values = df.to_numpy()
    assert w.shape == (7, 3, 2) and w.dtype == np.float64
    for j in range(7):
        t = j + 3
        np.testing.assert_array_equal(w[j], values[t - 3:t])   # steps t-3, t-2, t-1
    assert windows(df, lags=3).dtype == np.float32


def test_chronological_split_forms():
    a, b = np.arange(10), np.arange(10) * 10
    assert chronological_split(a, train=7)[0].tolist() == list(range(7))
    (a_tr, b_tr), (a_te, b_te) = chronological_split(a, b, train=0.8)
    assert a_tr.tolist() == list(range(8)) and b_te.tolist() == [80, 90]
    mask = np.array([True] * 6 + [False] * 4)
    tr, te = chronological_split(pd.Series(a), train=mask)
    assert tr.tolist() == list(range(6)) and te.index.tolist() == [6, 7, 8, 9]
    w = np.zeros((10, 5, 3))
    tr, te = chronological_split(w, train=mask)
    assert tr.shape == (6, 5, 3) and te.shape == (4, 5, 3)


@pytest.mark.parametrize("train, error, words", [
    (np.array([True, False, True, False]), ConfigError,
     r"`train` of chronological_split must be True for an initial stretch of rows and False "
     r"after it \(a chronological split\); got row 1 False but a later row True\."),
    (np.array([True, False]), ShapeError,
     r"`train` of chronological_split must be a mask with one entry per row \(4\); got 2 "
     r"entries\. After lag_matrix or windows with `lags` rows dropped, pass mask\[lags:\]\."),
    (0, ConfigError, r"`train` of chronological_split must give 1 to 3 training rows \(of 4\); "
                     r"got 0\."),
    (-1, ConfigError, r"must give 1 to 3 training rows \(of 4\); got -1\."),
    (0.1, ConfigError, r"must give 1 to 3 training rows \(of 4\); got 0\.1 \(0 rows\)\."),
    (np.ones(4, bool), ConfigError, r"must give 1 to 3 training rows \(of 4\); got a mask "
                                    r"with 4 True\."),
    (1.5, ConfigError, r"`train` of chronological_split must be an int \(rows\), a fraction in "
                       r"\(0, 1\) or a 1-d boolean mask; got 1\.5\.$"),
    (3.0, ConfigError, r"got 3\.0\. A count of rows is an int \(3, not 3\.0\)\."),
    (float("nan"), ConfigError, r"a fraction in \(0, 1\) or a 1-d boolean mask; got nan\."),
    (True, ConfigError, r"a fraction in \(0, 1\) or a 1-d boolean mask; got True\."),
    (None, ConfigError, r"a fraction in \(0, 1\) or a 1-d boolean mask; got None\."),
    ("first", ConfigError, r"a fraction in \(0, 1\) or a 1-d boolean mask; got 'first'\."),
    (np.array([1, 1, 0, 0]), ConfigError, r"1-d boolean mask; got ndarray of dtype int64 and "
                                          r"shape \(4,\)\."),
    (np.ones((2, 2), bool), ConfigError, r"1-d boolean mask; got ndarray of dtype bool and "
                                         r"shape \(2, 2\)\."),
])
def test_chronological_split_refuses_what_is_not_chronological(train, error, words):
    with pytest.raises(error, match=words):
        chronological_split(np.arange(4), train=train)


def test_chronological_split_takes_numpy_scalars_and_lists_as_python_ones():
    a = np.arange(10)
    assert chronological_split(a, train=np.int64(7))[0].tolist() == list(range(7))
    assert chronological_split(a, train=np.float32(0.5))[0].tolist() == list(range(5))
    assert chronological_split(a, train=[True] * 3 + [False] * 7)[1].tolist() == list(
        range(3, 10))


def test_chronological_split_needs_arrays_with_rows():
    with pytest.raises(ConfigError, match=r"^`arrays` of chronological_split must be one or "
                                          r"more arrays \(rows are time points\); got none\."):
        chronological_split(train=2)
    for bad, shown in [(3, "int"), ("abcd", "str"), ({"a": 1, "b": 2}, "dict"),
                       (np.array(5), "ndarray")]:
        with pytest.raises(ConfigError, match=rf"^`arrays\[1\]` of chronological_split must be "
                                              rf"an array, DataFrame, Series or list with one "
                                              rf"row per time point; got {shown}\.$"):
            chronological_split(np.arange(4), bad, train=2)
    with pytest.raises(ShapeError, match=r"`arrays` of chronological_split must be arrays with "
                                         r"the same number of rows; got \[12, 3\] rows\."):
        chronological_split(series(12, 2), np.arange(3), train=2)


@pytest.mark.parametrize("call, error, words", [
    # lagm(x, k)
    (lambda df: lagm("abc", 1), ConfigError,
     r"^`x` of lagm must hold numbers \(rows are time points\); got 'abc'\.$"),
    (lambda df: lagm([["a", "b"], ["c", "d"]], 1), ConfigError,
     r"^`x` of lagm must hold numbers \(rows are time points\); got list of shape \(2, 2\)"),
    (lambda df: lagm(np.zeros((2, 2, 2)), 1), ShapeError,
     r"^`x` of lagm must be 1-d or 2-d \(rows are time points\); got shape \(2, 2, 2\)\.$"),
    (lambda df: lagm(df, -1), ConfigError, r"^`k` of lagm must be an int >= 0; got -1\.$"),
    (lambda df: lagm(df, "1"), ConfigError, r"^`k` of lagm must be an int >= 0; got '1'\.$"),
    (lambda df: lagm(df, 1.0), ConfigError, r"^`k` of lagm must be an int >= 0; got 1\.0\.$"),
    # lag_matrix(data, lags, columns, response)
    (lambda df: lag_matrix(None), ShapeError, r"^`data` of lag_matrix must be a DataFrame or a "
                                              r"2-d array \(rows are time points\); got None"),
    (lambda df: lag_matrix(np.zeros((3, 2, 2))), ShapeError, r"^`data` of lag_matrix must be a "
                                                             r"DataFrame or a 2-d array"),
    (lambda df: lag_matrix(df.assign(c0="a", c1="b")), ConfigError,
     r"^`data` of lag_matrix must have numeric columns; got none\. Name the columns to lag\."),
    (lambda df: lag_matrix(df, lags=0), ConfigError,
     r"^`lags` of lag_matrix must be an int >= 1; got 0\.$"),
    (lambda df: lag_matrix(df, lags=True), ConfigError,
     r"^`lags` of lag_matrix must be an int >= 1; got True\.$"),
    (lambda df: lag_matrix(df, lags=2.0), ConfigError,
     r"^`lags` of lag_matrix must be an int >= 1; got 2\.0\.$"),
    (lambda df: lag_matrix(df, lags=12), ConfigError,
     r"^`lags` of lag_matrix must be below the number of time points \(12\); got 12\.$"),
    (lambda df: lag_matrix(df, columns=["zz"]), ConfigError,
     r"^`columns` of lag_matrix must be columns of `data` \(c0, c1\); got \['zz'\]\.$"),
    (lambda df: lag_matrix(df, columns=3), ConfigError,
     r"^`columns` of lag_matrix must be a column name or a non-empty list of them \(in "
     r"order\); got 3\.$"),
    (lambda df: lag_matrix(df, columns=[]), ConfigError,
     r"^`columns` of lag_matrix must be a column name or a non-empty list"),
    (lambda df: lag_matrix(df, columns=["c0", "c0"]), ConfigError,
     r"^`columns` of lag_matrix must be distinct columns; got \['c0', 'c0'\]\. c0 given "
     r"twice\.$"),
    (lambda df: lag_matrix(df, response="zz"), ConfigError,
     r"^`response` of lag_matrix must be a column of `data` \(c0, c1\); got 'zz'\.$"),
    (lambda df: lag_matrix(df, response=["c0"]), ConfigError,
     r"^`response` of lag_matrix must be a column of `data` \(c0, c1\); got \['c0'\]\.$"),
    # windows(data, lags, columns, dtype)
    (lambda df: windows(df.assign(day="mon"), columns=["day"]), ConfigError,
     r"^`columns` of windows must be numeric columns; got \['day'\]\. Make dummies"),
    (lambda df: windows(df, columns={"c0", "c1"}), ConfigError,
     r"^`columns` of windows must be a column name or a non-empty list of them \(in order\)"),
    (lambda df: windows(np.zeros((2, 2, 2))), ShapeError, "2-d array"),
    (lambda df: windows(df, lags=12), ConfigError,
     r"^`lags` of windows must be below the number of time points \(12\); got 12\.$"),
    (lambda df: windows(df, dtype="foo"), ConfigError,
     r"^`dtype` of windows must be a floating numpy dtype \(np\.float32 or np\.float64\); "
     r"got 'foo'\.$"),
    (lambda df: windows(df, dtype=np.int64), ConfigError,
     r"^`dtype` of windows must be a floating numpy dtype"),
])
def test_bad_arguments_are_named(call, error, words):
    with pytest.raises(error, match=words):
        call(series(12, 2))


def test_windows_keep_the_float_dtype_asked_for():
    df = series(8, 2)
    assert windows(df, lags=2, dtype="float64").dtype == np.float64
    assert windows(df, lags=2, dtype=np.float16).dtype == np.float16


@pytest.mark.slow
@pytest.mark.skipif(RSCRIPT is None or not NYSE_CSV.is_file(),
                    reason="needs Rscript and ../shared/data/islp/NYSE.csv")
def test_nyse_design_and_rnn_array_equal_the_labs_r_code(tmp_path):
    out = tmp_path / "r"
    code = f"""
    NYSE <- read.csv("{NYSE_CSV}")
    xdata <- scale(data.matrix(NYSE[, c("DJ_return", "log_volume", "log_volatility")]))
    lagm <- function(x, k = 1) {{ n <- nrow(x); pad <- matrix(NA, k, ncol(x))
                                   rbind(pad, x[1:(n - k), ]) }}
    arframe <- data.frame(log_volume = xdata[, "log_volume"], L1 = lagm(xdata, 1),
      L2 = lagm(xdata, 2), L3 = lagm(xdata, 3), L4 = lagm(xdata, 4), L5 = lagm(xdata, 5))
    arframe <- arframe[-(1:5), ]
    n <- nrow(arframe)
    xrnn <- data.matrix(arframe[, -1])
    xrnn <- array(xrnn, c(n, 3, 5))
    xrnn <- xrnn[,, 5:1]
    xrnn <- aperm(xrnn, c(1, 3, 2))
    write.csv(arframe, "{out}_arframe.csv", row.names = FALSE)
    writeBin(as.vector(xrnn), "{out}_xrnn.bin", size = 8)
    cat(dim(xrnn), "\\n")
    """
    dims = subprocess.run([RSCRIPT, "-e", code], capture_output=True, text=True, check=True,
                          timeout=120).stdout.split()
    assert [int(d) for d in dims] == [6046, 5, 3]
    nyse = pd.read_csv(NYSE_CSV)
    z = nyse[COLS]
    z = (z - z.mean()) / z.std(ddof=1)                 # R's scale(): sample sd
    x, y = lag_matrix(z, lags=5, response="log_volume")
    arframe = pd.read_csv(f"{out}_arframe.csv")
    np.testing.assert_allclose(y.to_numpy(), arframe["log_volume"].to_numpy(), rtol=0,
                               atol=1e-12)
    np.testing.assert_allclose(x.to_numpy(), arframe.iloc[:, 1:].to_numpy(), rtol=0, atol=1e-12)
    assert list(x.columns) == list(arframe.columns[1:])      # R's names: L1.DJ_return ...
    xrnn = np.fromfile(f"{out}_xrnn.bin", dtype="<f8").reshape((6046, 5, 3), order="F")
    np.testing.assert_allclose(windows(z, lags=5, dtype=np.float64), xrnn, rtol=0, atol=1e-12)
