"""A small table-of-estimates result shared by the evaluation reports."""

from __future__ import annotations

import pandas as pd

__all__ = ["EstimateTable"]


class EstimateTable:
    """Estimates with confidence limits, shown as a short aligned table.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per quantity; columns ``estimate``, ``lower``, ``upper``.
    """

    title = ""

    def __init__(self, table: pd.DataFrame, level: float, method: str, n: int):
        self.table = table
        self.level = level
        self.method = method
        self.n = n

    def __getitem__(self, name: str) -> float:
        return float(self.table.loc[name, "estimate"])

    def to_frame(self) -> pd.DataFrame:
        """The estimates and limits as a DataFrame (a copy)."""
        return self.table.copy()

    def _cells(self) -> list[tuple[str, str, str]]:
        """(name, estimate, interval) as printed."""
        return [(str(name), f"{row['estimate']:.4g}", f"({row['lower']:.4g}, {row['upper']:.4g})")
                for name, row in self.table.iterrows()]

    def _lines(self) -> list[str]:
        pct = f"{100 * self.level:g}%"
        width = max(len(str(i)) for i in self.table.index)
        lines = [f"{'':<{width}}  {'estimate':>10}  {pct + ' interval':>22}"]
        for name, estimate, ci in self._cells():
            lines.append(f"{name:<{width}}  {estimate:>10}  {ci:>22}")
        return lines

    def __str__(self) -> str:
        return "\n".join([f"{self.title} (n = {self.n})", *self._lines(),
                          f"Intervals: {self.method}."])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        """The table for Jupyter: the same numbers as the printout."""
        from ..display import escape, html_table, wrap

        pct = f"{100 * self.level:g}%"
        return wrap(html_table(self._cells(), header=["estimate", f"{pct} interval"],
                               caption=f"{self.title} (n = {self.n})"),
                    f"<p>Intervals: {escape(self.method)}.</p>")
