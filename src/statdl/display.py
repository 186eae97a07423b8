"""Rich display in Jupyter: HTML tables for results, figures inline, the kernel check.

Result objects (model summaries, confusion-matrix statistics, regression reports, comparisons,
``History``, ``ls_runs`` tables, the HTML reports of runs) define ``_repr_html_`` with the helpers here; the HTML holds the same formatted
numbers as their plain text, and every user string (names, labels) is escaped. Nothing here
imports IPython unless IPython is already imported (that is, unless we run inside it), and
matplotlib only when a figure is drawn.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

__all__ = ["in_kernel", "kernel_stdout", "escape", "html_table", "figure_html",
           "show_figure", "figures_shown_inline", "summary_html", "runs_table_html",
           "page_html", "wrap", "STYLE", "LONG_RUN_COLUMNS"]

#: a small stylesheet: tables as pandas's, numbers right-aligned
STYLE = ("<style>.statdl-repr table{border-collapse:collapse;margin:0.3em 0}"
         ".statdl-repr th,.statdl-repr td{padding:0.15em 0.6em;text-align:right}"
         ".statdl-repr th{font-weight:bold}.statdl-repr caption{text-align:left;"
         "font-weight:bold}</style>")

_inline = {"on": True}


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (IPython with a kernel attached).

    Examples
    --------
    >>> in_kernel()  # a doctest runs outside Jupyter
    False
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    get = getattr(ipython, "get_ipython", None)
    shell = get() if get is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def kernel_stdout() -> bool:
    """Whether ``sys.stdout`` is the kernel's own stream (not a file, a tee or a capture): only
    then do display handles reach the notebook in step with printed text."""
    return in_kernel() and type(sys.stdout).__module__.startswith("ipykernel")


def escape(value: Any) -> str:
    """``str(value)`` with ``& < > "`` and ``'`` escaped for HTML.

    Examples
    --------
    >>> escape("<b>a & b</b>")
    '&lt;b&gt;a &amp; b&lt;/b&gt;'
    """
    return html.escape(str(value), quote=True)


def html_table(rows: Iterable[Sequence[Any]], header: Sequence[Any] | None = None,
               index_header: Any = None, caption: Any = None) -> str:
    """An HTML table of already formatted cells; the first cell of each row is its label.

    Every cell is escaped, so the text shown is exactly the text given.

    Examples
    --------
    >>> html_table([["MSE", "0.35"]], header=["estimate"])
    '<table><thead><tr><th></th><th>estimate</th></tr></thead><tbody><tr><th>MSE</th><td>0.35</td></tr></tbody></table>'
    """
    parts = ["<table>"]
    if caption is not None:
        parts.append(f"<caption>{escape(caption)}</caption>")
    if header is not None:
        first = "" if index_header is None else escape(index_header)
        parts.append("<thead><tr><th>" + first + "</th>"
                     + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead>")
    parts.append("<tbody>")
    for row in rows:
        label, *cells = row
        parts.append(f"<tr><th>{escape(label)}</th>"
                     + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def wrap(*blocks: str) -> str:
    """The blocks inside one ``<div class="statdl-repr">`` with the stylesheet."""
    return f'{STYLE}<div class="statdl-repr">' + "".join(blocks) + "</div>"


def figure_html(fig: Any, alt: str = "figure", dpi: int = 80) -> str:
    """``fig`` (a matplotlib Figure) as an ``<img>`` holding an embedded PNG.

    The figure is drawn on its own Agg canvas: pyplot's backend is not touched.
    """
    data = base64.b64encode(_png(fig, dpi)).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}"/>'


@contextlib.contextmanager
def figures_shown_inline(on: bool) -> Iterator[None]:
    """Within the block, plotting functions do (``on=True``) or do not show their figures
    inline in a notebook (a result's ``_repr_html_`` draws its figure without showing it)."""
    old = _inline["on"]
    _inline["on"] = bool(on)
    try:
        yield
    finally:
        _inline["on"] = old


def show_figure(fig: Any) -> bool:
    """Show ``fig`` inline when running in a Jupyter kernel; return whether it was shown.

    A figure is shown once: the plotting functions call this, and a figure returned as a
    cell's value then prints as nothing more (its text form is registered as empty).
    """
    if not (_inline["on"] and in_kernel()) or getattr(fig, "_statdl_shown", False):
        return False
    from IPython.display import Image, display

    display(Image(data=_png(fig, 100), format="png"))
    fig._statdl_shown = True
    _register_figure_text()
    return True


def _png(fig: Any, dpi: int) -> bytes:
    """``fig`` drawn as PNG bytes on an Agg canvas of its own (the figure's canvas, and so any
    window showing it, is left alone)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    canvas = fig.canvas
    try:
        FigureCanvasAgg(fig).print_figure(buffer, format="png", dpi=dpi)
    finally:
        fig.set_canvas(canvas)
    return buffer.getvalue()


def _register_figure_text() -> None:
    """A figure already shown prints as nothing when it is also a cell's value."""
    from IPython import get_ipython
    from matplotlib.figure import Figure

    shell = get_ipython()
    plain = shell.display_formatter.formatters["text/plain"]
    if _has(plain, Figure) and plain.lookup_by_type(Figure) is _figure_text:
        return
    _figure_text.previous = plain.for_type(Figure, _figure_text)  # type: ignore[attr-defined]


def _has(formatter: Any, cls: type) -> bool:
    try:
        formatter.lookup_by_type(cls)
        return True
    except KeyError:
        return False


def _figure_text(fig: Any, printer: Any, cycle: bool) -> None:
    if getattr(fig, "_statdl_shown", False):
        printer.text("")
        return
    previous = getattr(_figure_text, "previous", None)
    if previous is not None:
        previous(fig, printer, cycle)
    else:
        printer.text(repr(fig))


def summary_html(name: str, rows: Sequence[Sequence[Any]], trainable: int,
                 non_trainable: int) -> str:
    """A model summary as HTML: the rows of ``summary()`` (label, output shape, params and, for
    graphs, the "Connected to" text) and the parameter counts, formatted as printed.

    Examples
    --------
    >>> "Total params: 3" in summary_html("m", [("dense (Dense)", "(None, 1)", 3)], 3, 0)
    True
    """
    graph = bool(rows) and len(rows[0]) == 4
    header = ["Output Shape", "Param #"] + (["Connected to"] if graph else [])
    table = html_table([[row[0], row[1], str(row[2]), *row[3:]] for row in rows],
                       header=header, index_header="Layer (type)", caption=f'Model: "{name}"')
    counts = (f"<p>Total params: {trainable + non_trainable:,}<br/>"
              f"Trainable params: {trainable:,}<br/>Non-trainable params: {non_trainable:,}</p>")
    return wrap(table, counts)


#: columns of an ``ls_runs`` table too long for a notebook's table (``run_info(run)`` has them)
LONG_RUN_COLUMNS = ("model", "output", "error_traceback", "source", "metrics")


def runs_table_html(frame: Any) -> str:
    """An ``ls_runs`` table as a notebook shows it: pandas's own HTML table (its display
    options apply) without the long text columns (``LONG_RUN_COLUMNS``), each ``run_dir``
    shortened to the folder's name, under a line that says where the runs are and how many
    were compared.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"run_dir": ["runs/2026-01-01T00-00-00Z"],
    ...                       "metric_loss": [0.25], "model": ["a long summary"]})
    >>> html = runs_table_html(frame)
    >>> "2026-01-01T00-00-00Z" in html, "0.25" in html, "a long summary" in html
    (True, True, False)
    """
    import pandas as pd  # the frame is pandas's: already imported

    hidden = [c for c in LONG_RUN_COLUMNS if c in frame.columns]
    shown = pd.DataFrame(frame).drop(columns=hidden)
    if "run_dir" in shown.columns:
        shown["run_dir"] = [os.path.basename(os.path.normpath(p)) for p in shown["run_dir"]]
    where = frame.attrs.get("runs_dir")
    line = f"{len(frame)} run{'s' if len(frame) != 1 else ''}" + (
        f" in {where}" if where else "")
    if hidden:
        line += f"; not shown: {', '.join(hidden)} (run_info(run) has them)"
    return wrap(f"<p>{escape(line)}</p>", shown._repr_html_() or "")


def page_html(path: Any, height: int = 600) -> str | None:
    """A written HTML page (a run's report) shown inside a notebook: the page in an
    ``<iframe>`` of its own (its stylesheet stays inside it), and the file's path. ``None``
    when ``path`` is not a file, so that the plain text shows instead.

    Examples
    --------
    >>> page_html("/no/such/page.html") is None
    True
    """
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        page = f.read()
    frame = (f'<iframe srcdoc="{escape(page)}" style="width:100%;height:{int(height)}px;'
             'border:1px solid #ccc"></iframe>')
    return wrap(frame, f"<p>written to <code>{escape(path)}</code></p>")
