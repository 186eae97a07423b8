"""The data sets of the textbook's Python companion, ISLP, with ISLP's types.

``islp(name)`` returns what ``ISLP.load_data(name)`` returns. The ``ISLP`` package
(``pip install statdl[islp]``) is used when it is installed; otherwise the CSV files of ISLP's
``data`` folder are read from a folder of your own (``path=``, ``$STATDL_DATA/islp/``,
``$STATDL_DATA/`` or ``<cache>/islp/``) and given the types ISLP gives them: factors as pandas
categoricals (NYSE's ``day_of_week`` in weekday order), NYSE indexed by its ``date`` strings
with a boolean ``train`` column, Auto indexed by ``name``, Khan and NCI60 as dicts.

ISLP depends on torch and lightning: install torch first (pinned), then ``statdl[islp]``, or
copy ISLP's ``data`` folder once and point ``STATDL_DATA`` at its parent.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..validation import message
from ._files import DataFileError, cache_dir

__all__ = ["islp", "ISLP_DATASETS"]

# ISLP.load_data's types (ISLP 0.4-0.6, ISLP/__init__.py): factors, ordered factors, index.
_UNORDERED = {
    "Hitters": ["League", "Division", "NewLeague"], "Caravan": ["Purchase"],
    "Carseats": ["ShelveLoc", "Urban", "US"], "College": ["Private"], "Publication": ["mech"],
    "BrainCancer": ["sex", "diagnosis", "loc", "stereo"],
    "Wage": ["maritl", "race", "region", "jobclass", "health", "health_ins"],
    "Default": ["default", "student"], "Credit": ["Gender", "Student", "Married", "Ethnicity"],
    "OJ": ["Purchase", "Store7"], "Smarket": ["Direction"], "Weekly": ["Direction"],
}
_ORDERED = {"Wage": ["education"]}
_INDEX = {"Auto": "name"}
_WEEKDAYS = ["mon", "tues", "wed", "thur", "fri"]
_MONTHS = ["Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov",
           "Dec"]
ISLP_DATASETS = tuple(sorted({*_UNORDERED, *_ORDERED, *_INDEX, "Bikeshare", "Boston", "Fund",
                              "Khan", "NCI60", "NYSE", "Portfolio", "USArrests"}))


def islp(name: str, path: str | os.PathLike | None = None) -> Any:
    """An ISLP data set, typed as ``ISLP.load_data(name)`` types it.

    Parameters
    ----------
    name : str
        As ISLP spells it: ``"NYSE"``, ``"Default"``, ``"Carseats"``, ``"Boston"``,
        ``"Smarket"``, ``"Weekly"``, ``"Khan"`` ... (``ISLP_DATASETS`` lists them).
    path : str or path, optional
        A folder holding ISLP's CSV files (e.g. ``NYSE.csv``), read instead of the ISLP
        package.

    Returns
    -------
    DataFrame, or a dict for ``"Khan"`` (``xtrain``, ``xtest``, ``ytrain``, ``ytest``) and
    ``"NCI60"`` (``data``, ``labels``).

    Raises
    ------
    DataFileError
        When neither the ISLP package nor the file is there; the message names the extra
        (``pip install statdl[islp]``) and the folders looked in.

    Examples
    --------
    >>> nyse = islp("NYSE")                      # doctest: +SKIP
    >>> nyse.shape, int(nyse["train"].sum())     # doctest: +SKIP
    ((6051, 5), 4281)
    """
    if not isinstance(name, str) or name not in ISLP_DATASETS:
        hint = None
        if isinstance(name, str):
            same = [d for d in ISLP_DATASETS if d.lower() == name.lower()]
            close = same or difflib.get_close_matches(name, ISLP_DATASETS, n=1)
            hint = f"Did you mean {close[0]!r}?" if close else None
        raise ConfigError(message("name", f"one of ISLP's data sets ({', '.join(ISLP_DATASETS)})",
                                  name, "islp", fix=hint))
    if path is not None and (not isinstance(path, str | os.PathLike)
                             or not os.fspath(path).strip()):
        raise ConfigError(message("path", "a folder (str or os.PathLike) or None", path, "islp",
                                  shown=repr(path) if isinstance(path, str)
                                  else type(path).__name__))
    if path is None and importlib.util.find_spec("ISLP") is not None:
        from ISLP import load_data

        return load_data(name)
    folder = _folder(name, path)
    return _read(name, folder)


def _files(name: str) -> list[str]:
    if name == "Khan":
        return [f"Khan_{part}.csv" for part in ("xtest", "xtrain", "ytest", "ytrain")]
    if name == "NCI60":
        return ["NCI60data.npy", "NCI60labs.csv"]
    return [f"{name}.csv"]


def _candidates(path: str | os.PathLike | None) -> list[Path]:
    if path is not None:
        return [Path(path).expanduser()]
    out = []
    data = os.environ.get("STATDL_DATA")
    if data:
        d = Path(data).expanduser()
        out += [d / "islp", d]
    out.append(cache_dir() / "islp")
    return out


def _folder(name: str, path: str | os.PathLike | None) -> Path:
    files = _files(name)
    places = _candidates(path)
    for folder in places:
        if all((folder / f).is_file() for f in files):
            return folder
    looked = ", ".join(str(p) for p in places)
    if path is not None:
        folder = places[0]
        missing = [f for f in files if not (folder / f).is_file()]
        shown = (f"{os.fspath(path)!r}, a file" if folder.is_file() else
                 f"{os.fspath(path)!r}, which does not exist" if not folder.exists() else
                 f"{os.fspath(path)!r}, without {', '.join(missing)}")
        raise DataFileError(message("path", f"a folder holding {', '.join(files)} (ISLP's "
                                    f"data files for {name})", path, "islp", shown=shown))
    raise DataFileError(
        f"ISLP's {name} data needs the ISLP package or its file{'s' if len(files) > 1 else ''} "
        f"{', '.join(files)}: install the extra (pip install statdl[islp]; ISLP pulls torch "
        f"and lightning, so install a pinned torch first), or copy ISLP's data folder to "
        f"$STATDL_DATA/islp/ (looked in {looked})."
    )


def _read(name: str, folder: Path) -> Any:
    if name == "Khan":
        return _khan(folder)
    if name == "NCI60":
        return {"data": np.load(folder / "NCI60data.npy"),
                "labels": pd.read_csv(folder / "NCI60labs.csv")}
    df = pd.read_csv(folder / f"{name}.csv")
    if name == "NYSE":
        df["day_of_week"] = pd.Categorical(df["day_of_week"], categories=_WEEKDAYS)
        return df.set_index("date")
    if name == "Bikeshare":
        df["weathersit"] = pd.Categorical(df["weathersit"])
        df["mnth"] = pd.Categorical(df["mnth"], categories=_MONTHS)
        df["hr"] = pd.Categorical(df["hr"], categories=range(24))
        return df
    for col in _UNORDERED.get(name, []):
        df[col] = pd.Categorical(df[col])
    for col in _ORDERED.get(name, []):
        df[col] = pd.Categorical(df[col], ordered=True)
    if name in _INDEX:
        df = df.set_index(_INDEX[name])
    return df


def _khan(folder: Path) -> dict[str, Any]:
    def genes(part: str) -> pd.DataFrame:
        x = pd.read_csv(folder / f"Khan_{part}.csv")
        # ISLP renames V1..V(p-1) to G0001..; the range stops one short, as ISLP's does
        return x.rename(columns={f"V{d}": f"G{d:04d}" for d in range(1, len(x.columns))})

    def labels(part: str) -> pd.Series:
        return pd.read_csv(folder / f"Khan_{part}.csv").rename(columns={"x": "Y"})["Y"]

    return {"xtest": genes("xtest"), "xtrain": genes("xtrain"), "ytest": labels("ytest"),
            "ytrain": labels("ytrain")}
