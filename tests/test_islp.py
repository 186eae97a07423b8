"""``statdl.datasets.islp``: ISLP's data sets with ISLP's types, from the package or a folder.

The data folder is ``../shared/data/islp`` beside the repository (ISLP 0.6.0's CSV files); the
tests that read it skip with the reason when it is absent. The facts checked are the data sets'
documented ones (ISLP's and ISLR2's help pages: 6,051 NYSE days, the first 4,281 for training;
506 Boston tracts ...), not statdl's output.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from statdl.datasets import ISLP_DATASETS, DataFileError, islp
from statdl.errors import ConfigError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not (SHARED / "islp" / "NYSE.csv").is_file(),
                                reason=f"ISLP's CSV files are not in {SHARED / 'islp'}")


@pytest.fixture
def data_env(monkeypatch, tmp_path):
    """STATDL_DATA at the shared folder (its islp/ subfolder), an empty cache, no ISLP."""
    monkeypatch.setenv("STATDL_DATA", str(SHARED))
    monkeypatch.setenv("STATDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("importlib.util.find_spec",
                        lambda name, *a: None if name == "ISLP" else _find_spec(name, *a))


_find_spec = __import__("importlib.util").util.find_spec


@needs_data
def test_nyse_as_islp_gives_it(data_env):
    nyse = islp("NYSE")
    assert nyse.shape == (6051, 5)
    assert nyse.index.name == "date"
    assert nyse.index[0] == "1962-12-03" and nyse.index[-1] == "1986-12-31"
    assert list(nyse.columns) == ["day_of_week", "DJ_return", "log_volume", "log_volatility",
                                  "train"]
    assert isinstance(nyse["day_of_week"].dtype, pd.CategoricalDtype)
    assert list(nyse["day_of_week"].cat.categories) == ["mon", "tues", "wed", "thur", "fri"]
    assert nyse["train"].dtype == bool
    assert int(nyse["train"].sum()) == 4281 and nyse["train"].iloc[:4281].all()


@needs_data
@pytest.mark.parametrize("name, shape, factors", [
    ("Default", (10000, 4), {"default": ["No", "Yes"], "student": ["No", "Yes"]}),
    ("Carseats", (400, 11), {"ShelveLoc": ["Bad", "Good", "Medium"], "Urban": ["No", "Yes"],
                             "US": ["No", "Yes"]}),
    ("Boston", (506, 13), {}),
    ("Smarket", (1250, 9), {"Direction": ["Down", "Up"]}),
    ("Weekly", (1089, 9), {"Direction": ["Down", "Up"]}),
])
def test_factors_are_categoricals_as_in_islp(data_env, name, shape, factors):
    df = islp(name)
    assert df.shape == shape
    cats = {c: list(df[c].cat.categories) for c in df.columns
            if isinstance(df[c].dtype, pd.CategoricalDtype)}
    assert cats == factors


@needs_data
def test_explicit_path_reads_that_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("STATDL_DATA", raising=False)
    df = islp("Smarket", path=SHARED / "islp")
    assert df.shape == (1250, 9)
    with pytest.raises(DataFileError, match=r"^`path` of islp must be a folder holding "
                                            r"Khan_xtest\.csv, Khan_xtrain\.csv, "
                                            r"Khan_ytest\.csv, Khan_ytrain\.csv \(ISLP's data "
                                            r"files for Khan\); got '.*islp', without "
                                            r"Khan_xtest\.csv, .*Khan_ytrain\.csv\.$"):
        islp("Khan", path=SHARED / "islp")
    with pytest.raises(DataFileError, match=r"got '.*NYSE\.csv', a file\.$"):
        islp("NYSE", path=SHARED / "islp" / "NYSE.csv")


def test_missing_data_names_the_extra_and_the_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("STATDL_DATA", str(tmp_path))
    monkeypatch.setenv("STATDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("importlib.util.find_spec",
                        lambda name, *a: None if name == "ISLP" else _find_spec(name, *a))
    with pytest.raises(DataFileError) as err:
        islp("Weekly")
    text = str(err.value)
    assert "pip install statdl[islp]" in text and "Weekly.csv" in text
    assert str(tmp_path / "islp") in text


def test_the_islp_package_is_used_when_installed(monkeypatch):
    calls = []
    fake = types.ModuleType("ISLP")
    fake.load_data = lambda name: calls.append(name) or pd.DataFrame({"x": [1]})
    monkeypatch.setitem(sys.modules, "ISLP", fake)
    monkeypatch.setattr("importlib.util.find_spec",
                        lambda name, *a: object() if name == "ISLP" else _find_spec(name, *a))
    assert islp("Default").shape == (1, 1) and calls == ["Default"]


@pytest.mark.parametrize("name, words", [
    ("Nyse", r"; got 'Nyse'\. Did you mean 'NYSE'\?$"),
    ("Carseat", r"; got 'Carseat'\. Did you mean 'Carseats'\?$"),
    ("zzz", r"; got 'zzz'\.$"),
    (3, r"; got 3\.$"),
    (None, r"; got None\.$"),
    (["NYSE"], r"; got \['NYSE'\]\.$"),
])
def test_unknown_names_suggest_the_closest(name, words):
    with pytest.raises(ConfigError, match=r"^`name` of islp must be one of ISLP's data sets "
                                          r"\(Auto, Bikeshare, .*, Weekly\)" + words):
        islp(name)


@pytest.mark.parametrize("path, shown", [(3, "int"), (b"/data", "bytes"), ("", "''"),
                                         (" ", "' '")])
def test_a_path_that_is_not_a_folder_name_is_refused(path, shown):
    with pytest.raises(ConfigError, match=rf"^`path` of islp must be a folder \(str or "
                                          rf"os\.PathLike\) or None; got {shown}\.$"):
        islp("NYSE", path=path)


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(DataFileError, match=rf"^`path` of islp must be a folder holding NYSE\.csv "
                                            rf"\(ISLP's data files for NYSE\); got "
                                            rf"'{tmp_path}/absent', which does not exist\.$"):
        islp("NYSE", path=tmp_path / "absent")


def test_the_issue_list_is_covered():
    assert {"NYSE", "Default", "Carseats", "Boston", "Smarket", "Weekly", "Khan"} <= set(
        ISLP_DATASETS)
