"""Number formatting that follows R's ``format``/``print`` (``formatReal``) and ``format.pval``.

Used to print confusion matrices the way caret's ``print.confusionMatrix`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["format_real", "format_pval", "r_number", "print_matrix"]

_EPS = float(np.finfo(float).eps)


def _sig(x: float, digits: int) -> tuple[int, int]:
    """(power of ten, significant digits needed) of ``x`` shown with ``digits`` digits."""
    if x == 0:
        return 0, 1
    mantissa, exponent = f"{abs(x):.{digits - 1}e}".split("e")
    digits_str = mantissa.replace(".", "").rstrip("0")
    return int(exponent), max(1, len(digits_str))


def format_real(values: Sequence[float], digits: int = 4, na: str = "NA") -> list[str]:
    """Format numbers with one common layout, as R's ``format(x, digits=)`` does.

    Fixed notation is used unless scientific is narrower; NaN prints as ``na``.

    Examples
    --------
    >>> format_real([0.001939, 1.0])
    ['0.001939', '1.000000']
    >>> format_real([1e-12])
    ['1e-12']
    """
    vals = [float(v) for v in values]
    finite = [v for v in vals if math.isfinite(v)]
    if not finite:
        return [na if math.isnan(v) else ("Inf" if v > 0 else "-Inf") for v in vals]
    neg = any(v < 0 for v in finite)
    left = rgt = mxsig = 0
    min_e = max_e = None
    for v in finite:
        kp, nsig = _sig(v, digits)
        left = max(left, kp + 1 if kp >= 0 else 1)
        rgt = max(rgt, nsig - kp - 1)
        mxsig = max(mxsig, nsig)
        min_e = kp if min_e is None else min(min_e, kp)
        max_e = kp if max_e is None else max(max_e, kp)
    rgt = max(0, rgt)
    width_fixed = neg + left + (rgt + 1 if rgt > 0 else 0)
    exp_width = 5 if max(abs(min_e), abs(max_e)) >= 100 else 4
    mant = mxsig - 1
    width_sci = neg + (mant + 1 if mant > 0 else 0) + 1 + exp_width
    out = []
    for v in vals:
        if not math.isfinite(v):
            out.append(na if math.isnan(v) else ("Inf" if v > 0 else "-Inf"))
        elif width_fixed <= width_sci:
            out.append(f"{v:.{rgt}f}")
        else:
            out.append(f"{v:.{mant}e}")
    width = max(len(s) for s in out)
    return [s.rjust(width) for s in out]


def format_pval(values: Sequence[float], digits: int = 4) -> list[str]:
    """R's ``format.pval``: values below machine epsilon print as ``< 2.2e-16``.

    Examples
    --------
    >>> format_pval([1e-20, 0.001939])
    ['< 2.2e-16', '0.001939']
    >>> format_pval([1e-20, 0.5])      # R shortens the bound next to short values
    ['<2e-16', '0.5']
    """
    vals = [float(v) for v in values]
    out = ["NA"] * len(vals)
    ok = [i for i, v in enumerate(vals) if not math.isnan(v)]
    small = [i for i in ok if vals[i] < _EPS]
    rest = [i for i in ok if vals[i] >= _EPS]
    fixp = [i for i in rest if vals[i] == 0 or math.floor(math.log10(vals[i])) >= -3]
    sci = [i for i in rest if i not in fixp]
    for group in (fixp, sci):
        if group:
            for i, s in zip(group, format_real([vals[i] for i in group], digits)):
                out[i] = s.strip()
    if small:
        d = max(1, digits - 2)
        if rest:
            nc = max(len(out[i]) for i in rest)
            if d > 1 and d + 6 > nc:
                d = max(1, nc - 7)
            sep = "" if d == 1 and nc <= 6 else " "
        else:
            sep = "" if d == 1 else " "
        for i in small:
            out[i] = "<" + sep + f"{_EPS:.{d - 1}e}"
    return out


def r_number(x: float, digits: int = 4) -> str:
    """``paste(round(x, digits))`` in R: rounded, shortest text, no trailing zeros."""
    if math.isnan(x):
        return "NaN"
    return f"{round(float(x), digits):.15g}"


def print_matrix(cells: list[list[str]], row_names: list[str], col_names: list[str],
                 *, left: bool = False) -> list[str]:
    """Lay out a character matrix as R's ``print(quote = FALSE)`` does."""
    rw = max([len(r) for r in row_names] + [0])
    widths = [max([len(c)] + [len(row[j]) for row in cells]) for j, c in enumerate(col_names)]
    just = (lambda s, w: s.ljust(w)) if left else (lambda s, w: s.rjust(w))
    lines = [" " * rw + "".join(" " + just(c, w) for c, w in zip(col_names, widths))]
    for name, row in zip(row_names, cells):
        lines.append(name.ljust(rw) + "".join(" " + just(s, w) for s, w in zip(row, widths)))
    return lines
