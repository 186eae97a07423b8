"""Self-contained HTML reports: one run, two runs side by side, and a whole tuning grid.

Pages are pure functions of the run folders (nothing is retrained): metric curves are drawn
with matplotlib and embedded as base64 PNG; there is no JavaScript and nothing is fetched.
"""

from __future__ import annotations

import base64
import difflib
import html
import io
import os
import webbrowser
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from ..errors import ConfigError
from ..run_folders.files import CAPTIONS_FILE, META, VIEW_FILE, read_json, utc_now, write_text
from ..run_folders.folders import as_run_dir
from ..run_folders.listing import best_run, higher_is_better, ls_runs, read_run
from ..validation import message

__all__ = ["save_run_view", "view_run", "save_run_comparison", "compare_runs",
           "save_tuning_report", "open_in_browser", "Report"]


class Report(type(Path())):  # PosixPath or WindowsPath: a path like any other
    """The path of a written HTML report, as the page functions return it. In a notebook it
    displays as the page itself (in an ``<iframe>``, with the file's path); printed, it is
    the path.

    Examples
    --------
    >>> str(Report("runs/run-1/view.html"))
    'runs/run-1/view.html'
    """

    def _repr_html_(self) -> str | None:
        from ..display import page_html

        return page_html(self)


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value != value:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.4g}"
    return _esc(value)


def _page(title: str, subtitle: str, body: str) -> str:
    from .._version import __version__

    text = resources.files("statdl").joinpath("reports/page.html").read_text(encoding="utf-8")
    return Template(text).safe_substitute(title=_esc(title), subtitle=_esc(subtitle),
                                          body=body, version=__version__)


def _table(rows: list[tuple[str, Any]], header: tuple[str, str] | None = None) -> str:
    if not rows:
        return "<p><em>none</em></p>"
    head = f"<tr><th>{_esc(header[0])}</th><th>{_esc(header[1])}</th></tr>" if header else ""
    body = "".join(
        f"<tr><th>{_esc(k)}</th><td class=\"{'num' if isinstance(v, int | float) else ''}\">"
        f"{_fmt(v)}</td></tr>" for k, v in rows)
    return f"<table>{head}{body}</table>"


def _evaluation_table(rows: list[tuple[str, Any]]) -> str:
    """Evaluation values, with ``<name>_lower``/``<name>_upper`` shown as the interval of
    ``<name>``."""
    values = dict(rows)
    body = []
    for k, v in rows:
        if k.endswith(("_lower", "_upper")) and k[:-6] in values:
            continue
        lo, hi = values.get(f"{k}_lower"), values.get(f"{k}_upper")
        interval = f"({_fmt(lo)}, {_fmt(hi)})" if lo is not None and hi is not None else ""
        body.append(f"<tr><th>{_esc(k)}</th><td class=\"num\">{_fmt(v)}</td>"
                    f"<td class=\"num\">{interval}</td></tr>")
    if not body:
        return "<p><em>none</em></p>"
    return ("<table><tr><th>metric</th><th>value</th><th>interval</th></tr>"
            + "".join(body) + "</table>")


def _figures(run: Path) -> list[tuple[Path, str]]:
    """The run's figures ``plots/*.png`` with their captions (``plots/captions.json``)."""
    folder = run / "plots"
    if not folder.is_dir():
        return []
    captions = read_json(folder / CAPTIONS_FILE, {}) or {}
    return [(p, captions.get(p.name) or p.stem.replace("_", " "))
            for p in sorted(folder.glob("*.png"))]


def _section(title: str, content: str, ident: str = "") -> str:
    attr = f' id="{ident}"' if ident else ""
    return f"<section{attr}><h2>{_esc(title)}</h2>{content}</section>"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="plot" alt="metric curves" src="data:image/png;base64,{data}">'


def _pairs(names: list[str]) -> list[tuple[str, list[str]]]:
    """Group ``loss``/``val_loss`` together, one panel per base metric."""
    bases: dict[str, list[str]] = {}
    for n in names:
        base = n[4:] if n.startswith("val_") else n
        bases.setdefault(base, []).append(n)
    return list(bases.items())


def metric_curves(runs: dict[str, dict[str, list]]) -> str:
    """Plot per-epoch metrics of one or more runs (label -> metrics); return an ``<img>``."""
    from matplotlib.figure import Figure

    names: list[str] = []
    for metrics in runs.values():
        names += [n for n in metrics if n not in names]
    panels = _pairs(names)
    if not panels:
        return "<p><em>no per-epoch metrics recorded</em></p>"
    fig = Figure(figsize=(6.0, 2.6 * len(panels)))
    styles = ["-", "--", ":", "-."]
    for row, (base, members) in enumerate(panels):
        ax = fig.add_subplot(len(panels), 1, row + 1)
        for j, (label, metrics) in enumerate(runs.items()):
            for name in members:
                values = metrics.get(name)
                if not values:
                    continue
                xs = [i + 1 for i, v in enumerate(values) if v is not None]
                ys = [v for v in values if v is not None]
                colour = "C1" if name.startswith("val_") else "C0"
                lab = name if len(runs) == 1 else f"{name} ({label})"
                ax.plot(xs, ys, styles[j % 4], color=colour, marker="o", markersize=3,
                        label=lab)
        ax.set_ylabel(base)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _files(run: Path) -> list[str]:
    out = []
    for p in sorted(run.rglob("*")):
        rel = p.relative_to(run)
        if p.is_file() and rel.parts[0] != META and p.name != VIEW_FILE:
            out.append(str(rel))
    return out


def _run_sections(run: Path, info: dict[str, Any], selection: str = "") -> list[str]:
    meta = run / META
    flags = {k[5:]: v for k, v in info.items() if k.startswith("flag_")}
    final = [(k[7:], v) for k, v in info.items() if k.startswith("metric_")]
    evaluation = [(k[5:], v) for k, v in info.items() if k.startswith("eval_")]
    test = [(k[5:], v) for k, v in info.items() if k.startswith("test_")]
    status = info.get("status", "")
    summary = [("run", run.name), ("script", info.get("script")),
               ("status", status), ("started (UTC)", info.get("start")),
               ("ended (UTC)", info.get("end")), ("elapsed (s)", info.get("elapsed_s")),
               ("context", info.get("context")),
               ("epochs completed", f"{info.get('epochs_completed', 0)}"
                                    f" / {info.get('epochs', '?')}")]
    if info.get("stopped_reason"):       # a scheduler's decision, not a failure
        summary.append(("stopped early", info["stopped_reason"]))
    training = [(k, info[k]) for k in ("samples", "validation_samples", "batch_size", "epochs",
                                       "optimizer", "learning_rate", "loss_function", "params")
                if k in info]
    parts = [_section("Summary", _table(summary).replace(
        f"<td class=\"\">{_esc(status)}</td>",
        f'<td class="status-{_esc(status)}">{_esc(status)}</td>'), "summary")]
    if selection:
        parts.append(_section("Selection", f'<p class="note">{_esc(selection)}</p>'))
    if info.get("error_message"):
        parts.append(_section("Error", f"<pre>{_esc(info['error_message'])}\n\n"
                                       f"{_esc(info.get('error_traceback') or '')}</pre>", "error"))
    parts.append(_section("Flags", _table(list(flags.items()), ("flag", "value")), "flags"))
    parts.append(_section("Final metrics", _table(final, ("metric", "last value")), "metrics"))
    parts.append(_section("Evaluation", _evaluation_table(evaluation), "evaluation"))
    if test:
        parts.append(_section("Held-out test evaluation", _table(test, ("metric", "value"))))
    figures = _figures(run)
    if not any("history" in p.stem for p, _ in figures):    # else a figure shows the curves
        parts.append(_section("Metric curves", metric_curves(
            {run.name: read_json(meta / "metrics.json", {}) or {}}), "curves"))
    if training:
        parts.append(_section("Training", _table(training)))
    if info.get("model"):
        parts.append(_section("Model", f"<pre>{_esc(info['model'])}</pre>", "model"))
    if figures:
        imgs = "".join(
            f'<figure><img class="plot" alt="{_esc(caption)}" '
            f'src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>" for p, caption in figures)
        parts.append(_section("Plots", imgs, "plots"))
    note = ""
    if info.get("output_truncated"):
        note = (f"<p><em>The script printed {int(info['output_bytes']):,} bytes; only the first "
                "and the last MiB are kept (see the note where the rest was left out).</em></p>")
    parts.append(_section("Output", f"{note}<pre>{_esc(info.get('output', ''))}</pre>",
                          "output"))
    sources = sorted((meta / "source").glob("*")) if (meta / "source").is_dir() else []
    code = "".join(f"<h3>{_esc(p.name)}</h3><pre>{_esc(p.read_text(errors='replace'))}</pre>"
                   for p in sources)
    parts.append(_section("Source", code or "<p><em>no source snapshot</em></p>", "source"))
    parts.append(_section("Files", "<pre>" + _esc("\n".join(_files(run)) or "(none)")
                          + "</pre>"))
    return parts


def _selection_note(run: Path) -> str:
    """How the run ranks among its siblings (the number compared makes its score optimistic)."""
    runs = ls_runs(run.parent)
    script = read_run(run).get("script")

    def same_script(frame):  # only runs of the same script were competing with this one
        return frame["script"] == script if "script" in frame.columns else frame.index >= 0

    runs = runs[same_script(runs)]
    done = runs[runs["completed"]] if "completed" in runs.columns else runs.iloc[0:0]
    if len(done) < 2 or "metric_val_loss" not in done.columns \
            or done["metric_val_loss"].isna().all():
        return ""
    best = best_run(run.parent, "val_loss", "min", filter=same_script)
    if Path(best["run_dir"]).resolve() != run.resolve():
        return (f"{len(done)} completed runs in {run.parent}; the best by val_loss is "
                f"{Path(best['run_dir']).name}.")
    return best["selection_note"]


def save_run_view(run: Any = None, runs_dir: str | os.PathLike = "runs",
                  path: str | os.PathLike | None = None) -> Report:
    """Write the HTML report of a run (default: the latest) and return its path.

    The page holds the summary, flags, final metrics, evaluation, metric curves, model
    summary, plots, console output, error and source. It goes to ``<run>/view.html`` unless
    ``path`` is given.

    Examples
    --------
    >>> save_run_view("/no/such/run")
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `run` must be a run folder (with statdl.d inside); got '/no/such/run'.
    """
    if run is None:
        from ..run_folders.listing import latest_run

        latest = latest_run(runs_dir)
        if latest is None:
            raise ConfigError(message("runs_dir", "a folder holding runs to view",
                                      str(runs_dir),
                                      shown=f"{str(runs_dir)!r}, which holds no runs"))
        run = latest["run_dir"]
    folder = as_run_dir(run, runs_dir)
    info = read_run(folder)
    body = "\n".join(_run_sections(folder, info, _selection_note(folder)))
    lab = (read_json(folder / META / "properties.json", {}) or {}).get("lab")
    title = f"Lab {lab}: run {folder.name}" if lab else f"Run {folder.name}"
    page = _page(title, f"{info.get('script', '')} - {info.get('status', '')}"
                 f" - report written {utc_now()[:19]} UTC", body)
    target = Report(path if path is not None else folder / VIEW_FILE)
    write_text(target, page)
    return target


def _headless() -> bool:
    return os.name == "posix" and not (os.environ.get("DISPLAY")
                                       or os.environ.get("WAYLAND_DISPLAY")
                                       or os.uname().sysname == "Darwin")


def open_in_browser(path: Path) -> bool:
    """Open ``path`` in a web browser when one can show it; return whether it was opened."""
    if _headless():
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return webbrowser.open(path.resolve().as_uri())


def view_run(run: Any = None, runs_dir: str | os.PathLike = "runs",
             open_browser: bool | None = None) -> Report:
    """Write a run's HTML report and open it in a browser when one is available.

    ``open_browser=None`` (the default) opens it unless this is a Jupyter notebook, where the
    returned :class:`Report` displays the page inline when it is a cell's value.

    Examples
    --------
    >>> import tempfile
    >>> view_run(runs_dir=tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `runs_dir` must be a folder holding runs to view; got ..., which holds no runs.
    """
    target = save_run_view(run, runs_dir)
    _maybe_open(target, open_browser)
    return target


def _maybe_open(target: Path, open_browser: bool | None) -> None:
    from ..display import in_kernel

    if open_browser is None:
        open_browser = not in_kernel()
    if open_browser:
        open_in_browser(target)


def _flag_diff_table(a: dict[str, Any], b: dict[str, Any], na: str, nb: str) -> str:
    names = list(dict.fromkeys([*a, *b]))
    rows = []
    for k in names:
        va, vb = a.get(k, "—"), b.get(k, "—")
        cls = ' class="changed"' if va != vb else ""
        rows.append(f"<tr{cls}><th>{_esc(k)}</th><td>{_fmt(va)}</td><td>{_fmt(vb)}</td></tr>")
    return (f"<table><tr><th>flag</th><th>{_esc(na)}</th><th>{_esc(nb)}</th></tr>"
            + "".join(rows) + "</table>")


def _source_diff(a: Path, b: Path, na: str, nb: str) -> str:
    def load(run: Path) -> dict[str, list[str]]:
        src = run / META / "source"
        return {p.name: p.read_text(errors="replace").splitlines()
                for p in sorted(src.glob("*"))} if src.is_dir() else {}

    sa, sb = load(a), load(b)
    out = []
    for name in dict.fromkeys([*sa, *sb]):
        la, lb = sa.get(name, []), sb.get(name, [])
        if la == lb:
            out.append(f"<p>{_esc(name)}: identical</p>")
            continue
        table = difflib.HtmlDiff(wrapcolumn=70).make_table(
            la, lb, f"{na}/{name}", f"{nb}/{name}", context=True, numlines=3)
        out.append(table)
    return "".join(out) or "<p><em>no source snapshots</em></p>"


def save_run_comparison(run_a: Any = None, run_b: Any = None,
                        runs_dir: str | os.PathLike = "runs",
                        path: str | os.PathLike | None = None) -> Report:
    """Write an HTML page comparing two runs (default: the two latest), older on the left.

    It shows the flag differences, both runs' metric curves overlaid, final metrics and
    evaluation side by side, and a diff of the scripts' sources. It goes to
    ``<newer run>/compare-<older run>.html`` unless ``path`` is given.

    Examples
    --------
    >>> import tempfile
    >>> save_run_comparison(runs_dir=tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `runs_dir` must be a folder holding two runs or more; got ..., which holds 0.
    """
    if run_a is None or run_b is None:
        latest = ls_runs(runs_dir, latest_n=2)
        if len(latest) < 2:
            raise ConfigError(message("runs_dir", "a folder holding two runs or more",
                                      str(runs_dir),
                                      shown=f"{str(runs_dir)!r}, which holds {len(latest)}"))
        run_b, run_a = latest["run_dir"].iloc[0], latest["run_dir"].iloc[1]
    a, b = as_run_dir(run_a, runs_dir), as_run_dir(run_b, runs_dir)
    ia, ib = read_run(a), read_run(b)
    if str(ia.get("start", "")) > str(ib.get("start", "")):
        a, b, ia, ib = b, a, ib, ia
    na, nb = a.name, b.name
    fa = {k[5:]: v for k, v in ia.items() if k.startswith("flag_")}
    fb = {k[5:]: v for k, v in ib.items() if k.startswith("flag_")}
    metrics_rows = sorted({k for k in [*ia, *ib] if k.startswith(("metric_", "eval_", "test_"))})
    table = "".join(f"<tr><th>{_esc(k)}</th><td class=\"num\">{_fmt(ia.get(k))}</td>"
                    f"<td class=\"num\">{_fmt(ib.get(k))}</td></tr>" for k in metrics_rows)
    body = [
        _section("Runs", _table([("left (older)", f"{na} - {ia.get('status')}"),
                                 ("right (newer)", f"{nb} - {ib.get('status')}")])),
        _section("Flags", _flag_diff_table(fa, fb, na, nb), "flags"),
        _section("Metrics and evaluation",
                 f"<table><tr><th></th><th>{_esc(na)}</th><th>{_esc(nb)}</th></tr>{table}"
                 "</table>", "metrics"),
        _section("Metric curves", metric_curves({
            na: read_json(a / META / "metrics.json", {}) or {},
            nb: read_json(b / META / "metrics.json", {}) or {}}), "curves"),
        _section("Source diff", _source_diff(a, b, na, nb), "source"),
        _section("Output", f'<div class="cols"><div><h3>{_esc(na)}</h3><pre>'
                           f'{_esc(ia.get("output", ""))}</pre></div><div><h3>{_esc(nb)}</h3>'
                           f'<pre>{_esc(ib.get("output", ""))}</pre></div></div>'),
    ]
    page = _page(f"Compare {na} and {nb}", f"written {utc_now()[:19]} UTC", "\n".join(body))
    target = Report(path if path is not None else b / f"compare-{na}.html")
    write_text(target, page)
    return target


def compare_runs(run_a: Any = None, run_b: Any = None, runs_dir: str | os.PathLike = "runs",
                 open_browser: bool | None = None) -> Report:
    """Write the comparison page of two runs and open it when a browser is available (by
    default not in a notebook, where the returned :class:`Report` displays inline)."""
    target = save_run_comparison(run_a, run_b, runs_dir)
    _maybe_open(target, open_browser)
    return target


def save_tuning_report(runs_dir: str | os.PathLike = "runs", metric: str = "val_loss",
                       mode: str | None = None,
                       path: str | os.PathLike | None = None) -> Report:
    """Write an HTML summary of all runs in ``runs_dir``: ranking, best run and how to judge it.

    The page says how many runs were compared and why the best one's validation score is
    optimistic, and shows the one-time held-out evaluation to do next. It goes to
    ``<runs_dir>/tuning-report.html`` unless ``path`` is given.

    Examples
    --------
    >>> import tempfile
    >>> save_tuning_report(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `metric` of best_run must be a metric of a completed run in ...; got 'val_loss'.
    """
    runs = ls_runs(runs_dir)
    if mode is None:
        mode = "max" if higher_is_better(metric) else "min"
    best = best_run(runs_dir, metric, mode)
    col = best["selection_metric"]
    ranked = ls_runs(runs_dir, order=col, decreasing=(mode == "max"))
    flags = [c for c in ranked.columns if c.startswith("flag_")]
    shown = ["run_dir", col] + [c for c in ranked.columns if c.startswith(("metric_", "eval_"))
                                and c != col] + flags + ["status"]
    head = "".join(f"<th>{_esc(c.replace('metric_', '').replace('flag_', ''))}</th>"
                   for c in shown)
    rows = []
    for _, r in ranked.iterrows():
        cls = ' class="best"' if r["run_dir"] == best["run_dir"] else ""
        cells = "".join(f"<td class=\"num\">{_fmt(int(r[c]) if c.startswith('flag_') and r[c] == r[c] and float(r[c]).is_integer() else r[c])}</td>" if isinstance(r[c], float)
                        else f"<td>{_esc(Path(r[c]).name if c == 'run_dir' else r[c])}</td>"
                        for c in shown)
        rows.append(f"<tr{cls}>{cells}</tr>")
    status = list(runs["status"]) if "status" in runs.columns else []
    n_stopped = status.count("stopped")
    n_failed = len(status) - n_stopped - status.count("completed")
    stopped = (f", {n_stopped} stopped early by the scheduler on their validation metric"
               if n_stopped else "")
    advice = (
        f"<p class=\"note\">{_esc(best['selection_note'])}</p>"
        f"<p>{best['n_compared']} completed runs were compared ({n_failed} failed or "
        f"unfinished{stopped}). The more runs are compared, the more the winner's validation score "
        "overstates how it will do on new data. Score the chosen model <b>once</b> on data "
        "that played no part in training or selection:</p>"
        f"<pre>import statdl\nstatdl.tuning.evaluate_best({str(runs_dir)!r}, x_test, y_test, "
        f"metric={metric!r}, mode={mode!r})</pre>")
    body = [
        _section("Selection", advice, "selection"),
        _section(f"Runs ranked by {col}", f"<table><tr>{head}</tr>{''.join(rows)}</table>",
                 "ranking"),
    ]
    best_folder = Path(best["run_dir"])
    body.append(_section(f"Best run {best_folder.name}", metric_curves(
        {best_folder.name: read_json(best_folder / META / "metrics.json", {}) or {}})))
    page = _page(f"Tuning report: {runs_dir}", f"{len(runs)} runs - written "
                 f"{utc_now()[:19]} UTC", "\n".join(body))
    target = Report(path if path is not None else Path(runs_dir) / "tuning-report.html")
    write_text(target, page)
    return target
