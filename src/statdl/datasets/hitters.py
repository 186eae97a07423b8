"""ISLR2's Hitters table (Major League Baseball, 1986-87), shipped inside statdl."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from ..validation import choice_error, message
from ._files import DataFileError, md5sum

__all__ = ["hitters"]

_RESPONSES = ("Salary", "log_salary")
_MD5 = "0a30c0f8b4bf70d60af3dcd770cda1de"  # ISLR2's Hitters as shipped in statdl/data


def _read_table() -> pd.DataFrame:
    """The shipped CSV, checked against its MD5 (a damaged install is named, not parsed)."""
    ref = resources.files("statdl") / "data" / "Hitters.csv"
    with resources.as_file(ref) as p:
        digest = md5sum(p) if p.is_file() else "(file missing)"
        if digest != _MD5:
            raise DataFileError(
                f"statdl's own copy of Hitters.csv ({p}) is damaged: MD5 {digest}, expected "
                f"{_MD5}. Reinstall statdl (pip install --force-reinstall statdl)."
            )
        return pd.read_csv(p)


def hitters(response: str | None = None, drop_na: bool = True, standardize: bool = False):
    """The Hitters data of ISLR2 (322 players; 263 once rows without Salary are dropped).

    Parameters
    ----------
    response : {None, "Salary", "log_salary"}
        ``None`` returns the table; otherwise ``(x, y)`` where ``x`` is
        ``model_matrix("Salary ~ . - 1", data)`` (20 columns: both League dummies, one each for
        Division and NewLeague, as R's ``model.matrix``) and ``y`` is Salary or its log.
    drop_na : bool
        Drop rows with a missing value, as R's ``na.omit`` (only Salary has them). Must be
        True when ``response`` is given.
    standardize : bool
        Apply :func:`statdl.scale` (column means, sample sd) to ``x``, as the course does.

    Examples
    --------
    >>> hitters().shape
    (263, 20)
    >>> x, y = hitters(response="log_salary")
    >>> x.shape, round(float(y.iloc[0]), 4)
    ((263, 20), 6.1633)
    """
    df = _read_table()
    for col in ("League", "Division", "NewLeague"):
        df[col] = pd.Categorical(df[col])
    if response is None:
        return df.dropna().reset_index(drop=True) if drop_na else df
    if response not in _RESPONSES:
        raise choice_error("response", response, _RESPONSES)
    if not drop_na:
        from ..errors import ConfigError

        raise ConfigError(message("drop_na", "True when `response` is given (Salary has NAs)",
                                  drop_na, "hitters"))
    from ..preprocessing import model_matrix, scale

    df = df.dropna().reset_index(drop=True)
    x = model_matrix("Salary ~ . - 1", df)
    y = df["Salary"].astype(float)
    if response == "log_salary":
        y = np.log(y).rename("log_salary")
    if standardize:
        x = scale(x).x
    return x, y
