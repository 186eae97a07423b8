"""Time series as supervised learning: lagged design matrices, RNN windows, chronological splits.

The textbook's NYSE lab (ISLR2/ISLP Chapter 10) predicts a day's value from the previous
``lags`` days: :func:`lag_matrix` builds that design (R's ``lagm`` and ``arframe``),
:func:`windows` the same data as ``(samples, timesteps, features)`` arrays, oldest day first,
as Keras's (and statdl's) recurrent and Conv1D layers read them, and :func:`chronological_split`
keeps the past for training and the future for testing. See ``docs/timeseries.md``.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [10.0, 20, 30, 40]})
>>> x, y = lag_matrix(df, lags=2, response="b")
>>> x.columns.tolist(), y.tolist()
(['L1.a', 'L1.b', 'L2.a', 'L2.b'], [30.0, 40.0])
>>> windows(df, lags=2).shape
(2, 2, 2)
"""

from __future__ import annotations

from .lags import chronological_split, lag_matrix, lagm, windows

__all__ = ["chronological_split", "lag_matrix", "lagm", "windows"]
