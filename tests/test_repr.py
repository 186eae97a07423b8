"""Rich display (#17): every result's ``_repr_html_`` is well-formed HTML, shows the numbers its
plain text shows, and escapes user strings; the plain ``repr`` stays informative."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import statdl as sd
from statdl import layers as L
from statdl.training.history import History

VOID = {"br", "img", "meta", "hr", "input", "link"}


class _Checker(HTMLParser):
    """Checks that tags nest and close; collects the text and the tags."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "style":
            return
        self.text.append(data)


def parse(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert not checker.errors, checker.errors
    assert not checker.stack, f"unclosed tags: {checker.stack}"
    return checker


NUMBER = re.compile(r"[-+]?\d[\d,]*\.?\d*(?:e[-+]?\d+)?")


def numbers(text: str) -> set[str]:
    return {m.strip(",") for m in NUMBER.findall(text)}


def assert_same_numbers(obj):
    checker = parse(obj._repr_html_())
    shown = " ".join(checker.text)
    missing = numbers(str(obj)) - numbers(shown)
    assert not missing, f"numbers of the printout missing from the HTML: {sorted(missing)}"
    return checker, shown


def test_regression_report_html_has_the_printed_estimates_and_intervals():
    y = np.linspace(0, 3, 40)
    pred = y + np.sin(np.arange(40))
    report = sd.regression_report(y, pred, seed=3)
    checker, shown = assert_same_numbers(report)
    assert "table" in checker.tags
    # the MSE shown is the definition's value, to the printed 4 significant digits
    assert f"{np.mean((y - pred) ** 2):.4g}" in shown


@pytest.mark.parametrize("k", [2, 3])
def test_confusion_matrix_html_has_caret_numbers_and_escapes_labels(k):
    rng = np.random.default_rng(0)
    labels = np.array(["<b>cat</b>", "dog & co", "eel"][:k])
    truth = rng.choice(labels, 200)
    pred = np.where(rng.random(200) < 0.7, truth, rng.choice(labels, 200))
    cm = sd.confusion_matrix(pred, truth)
    html = cm._repr_html_()
    assert "<b>cat</b>" not in html and "&lt;b&gt;cat&lt;/b&gt;" in html
    assert "dog &amp; co" in html
    checker, shown = assert_same_numbers(cm)
    assert "<b>cat</b>" in shown  # the label itself, as text
    # counts by definition
    assert str(int(np.sum((pred == labels[0]) & (truth == labels[0])))) in shown
    assert f"{np.mean(pred == truth):.4g}".rstrip("0") in shown  # R prints 0.805


def test_comparisons_html():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    a = np.where(rng.random(300) < 0.8, y, 1 - y)
    b = np.where(rng.random(300) < 0.7, y, 1 - y)
    cmp = sd.compare_classifiers(a, b, y, names=("<net>", "logit"))
    checker, shown = assert_same_numbers(cmp)
    assert "&lt;net&gt;" in cmp._repr_html_()
    assert f"{np.mean(a == y):.4f}" in shown
    yr = rng.normal(size=100)
    reg = sd.compare_regressors(yr, yr + rng.normal(size=100), yr + 2 * rng.normal(size=100))
    assert_same_numbers(reg)


def test_history_html_has_curves_and_final_values():
    h = History()
    for i, (loss, val) in enumerate([(1.0, 1.3), (0.5, 0.9), (0.25, 0.95)]):
        h.append(i, {"loss": loss, "val_loss": val, "accuracy": 0.5 + i / 10})
    text = repr(h)
    assert text == "History(3 epochs; final loss=0.25, val_loss=0.95, accuracy=0.7)"
    checker, shown = assert_same_numbers(h)
    assert "img" in checker.tags
    assert "data:image/png;base64," in h._repr_html_()
    assert "0.9 (epoch 2)" in shown  # best val_loss is the minimum, at epoch 2
    assert "0.7 (epoch 3)" in shown  # best accuracy is the maximum
    assert History()._repr_html_().count("no epochs") == 1


def test_model_summary_html_matches_summary_and_escapes_names():
    model = sd.Sequential([L.Dense(4, activation="relu", name="a<b>"), L.Dense(1)],
                          input_shape=(3,), name="m&m")
    html = model._repr_html_()
    checker = parse(html)
    shown = " ".join(checker.text)
    text = model.summary(print_fn=None)
    assert numbers(text) <= numbers(shown)
    assert "a&lt;b&gt;" in html and "m&amp;m" in html
    assert "Total params: 21" in shown  # 3*4+4 + 4*1+1
    assert sd.Sequential([L.Dense(3)])._repr_html_() is None  # no shapes yet: plain repr


def test_history_plot_in_a_script_without_a_window_says_where_the_file_went(capsys):
    h = History()
    h.append(0, {"loss": 1.0})
    h.append(1, {"loss": 0.5})
    fig = h.plot()
    out = capsys.readouterr().out
    path = re.search(r"saved to (\S+\.png)", out).group(1)
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert fig.axes[0].get_ylabel() == "loss"



WINDOW_SCRIPT = """
import matplotlib.pyplot as plt
from matplotlib._pylab_helpers import Gcf
from statdl.training.history import History

plt.ion()   # show() returns at once in interactive mode and leaves the window open
h = History()
h.append(0, {"loss": 1.0})
h.append(1, {"loss": 0.5})
fig = h.plot()
print([(type(m.window).__name__, bool(m.window.winfo_exists()), m.canvas.figure is fig)
       for m in Gcf.get_all_fig_managers()])
"""


def test_history_plot_in_a_script_with_a_display_opens_a_window(tmp_path):
    """A real X display (Xvfb) and Tk: the figure appears in a window of pyplot's backend."""
    import shutil
    import subprocess
    import sys
    import time

    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb): no display to open a window on")
    pytest.importorskip("tkinter", reason="Python was built without Tk")
    display = f":{90 + os.getpid() % 900}"
    server = subprocess.Popen([xvfb, display, "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        env = dict(os.environ, DISPLAY=display, MPLBACKEND="TkAgg")
        run = subprocess.run([sys.executable, "-c", WINDOW_SCRIPT], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[('Tk', True, True)]"
    assert "saved to" not in run.stdout   # a window, not the file fallback


FIT_SCRIPT = """
import numpy as np, statdl as sd
from statdl import layers as L
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 3)).astype("float32")
y = x @ np.array([1.0, -2.0, 0.5], dtype="float32")
model = sd.Sequential([L.Dense(1)], input_shape=(3,))
model.compile(loss="mse", optimizer="sgd")
model.fit(x, y, epochs=3, batch_size=16, verbose=VERBOSE)
"""


@pytest.mark.parametrize("verbose", [1, 2])
def test_fit_progress_in_a_log_file_is_one_line_per_epoch(verbose, tmp_path):
    import subprocess
    import sys

    log = tmp_path / "fit.log"
    with open(log, "w") as fh:   # stdout a file, as under nohup or a batch scheduler
        subprocess.run([sys.executable, "-c", FIT_SCRIPT.replace("VERBOSE", str(verbose))],
                       stdout=fh, stderr=subprocess.PIPE, check=True, cwd=tmp_path)
    lines = log.read_text().splitlines()
    assert len(lines) == 3, lines
    for k, line in enumerate(lines, start=1):
        assert re.fullmatch(rf"Epoch {k}/3 - \d+\.\ds \d+ms/step - loss: \d+\.\d{{4}}", line), line
    assert "\r" not in log.read_text() and "\x1b" not in log.read_text()


def test_the_renamed_progress_modules_keep_their_old_import_paths():
    # #15: training/progress.py -> epoch_progress.py, tuning/progress.py -> grid_progress.py
    from statdl.training.epoch_progress import EpochProgress
    from statdl.training.progress import EpochProgress as OldEpochProgress
    from statdl.tuning.grid_progress import GridProgress
    from statdl.tuning.progress import GridProgress as OldGridProgress

    assert OldEpochProgress is EpochProgress and OldGridProgress is GridProgress


def _two_runs(root, name="<net> & co"):
    """Two finished run folders with flags, per-epoch metrics and a model summary."""
    from statdl.run_folders import RunWriter
    from statdl.training.history import History

    folders = []
    for units, losses in ((8, [0.9, 0.5]), (16, [0.8, 0.375])):
        run = RunWriter(root)
        run.start("lab", name, __file__, request={"flags": {"units": units}})
        run.record_flags({"units": units})
        h = History()
        for i, loss in enumerate(losses):
            h.append(i, {"loss": loss, "val_loss": loss + 0.125})
        run.record(h, model=sd.Sequential([L.Dense(units), L.Dense(1)], input_shape=(3,)))
        run.finish(returncode=0)
        folders.append(run.path)
    return folders


def test_ls_runs_table_html_shows_runs_flags_and_metrics_but_not_the_long_columns(tmp_path):
    from statdl.run_folders.listing import RunsTable

    folders = _two_runs(tmp_path)
    table = sd.ls_runs(tmp_path)
    assert isinstance(table, RunsTable) and len(table) == 2
    assert "model" in table.columns            # the summary is in the frame ...
    html = table._repr_html_()
    checker = parse(html)
    shown = " ".join(checker.text)
    assert "Total params" not in shown         # ... but not in the notebook's table
    assert "not shown: model" in shown and f"2 runs in {tmp_path}" in shown
    for folder in folders:
        assert folder.name in shown and str(folder.parent) + "/" + folder.name not in shown
    # each run's last val_loss and its flag, as recorded
    assert "0.5" in shown and "0.625" in shown and "0.375" in shown and "16" in shown
    assert "&lt;net&gt; &amp; co" in html and "<net>" not in html   # the script name, escaped
    # what is derived from the table is a plain DataFrame, displayed by pandas as usual
    best = table.sort_values("metric_val_loss").head(1)
    assert type(best) is pd.DataFrame
    assert type(table[["run_dir", "metric_loss"]]) is pd.DataFrame
    assert table.attrs["n_compared"] == 2
    empty = sd.ls_runs(tmp_path / "none")
    assert "0 runs" in " ".join(parse(empty._repr_html_()).text)


def test_run_reports_display_inline_as_their_page_and_print_as_their_path(tmp_path):
    from statdl.reports import Report, compare_runs, save_tuning_report, view_run

    older, newer = _two_runs(tmp_path)
    report = view_run(newer, tmp_path, open_browser=False)
    assert isinstance(report, Report) and str(report) == str(newer / "view.html")
    page = report.read_text(encoding="utf-8")
    html = report._repr_html_()
    checker = parse(html)
    assert "iframe" in checker.tags
    srcdoc = re.search(r'srcdoc="([^"]*)"', html).group(1)
    import html as html_module

    assert html_module.unescape(srcdoc) == page     # the page itself, whole, inside the frame
    assert str(report) in " ".join(checker.text)
    for made in (compare_runs(older, newer, tmp_path, open_browser=False),
                 save_tuning_report(tmp_path)):
        assert isinstance(made, Report) and made.is_file()
        assert html_module.unescape(re.search(r'srcdoc="([^"]*)"',
                                              made._repr_html_()).group(1)) == made.read_text()
    assert Report(tmp_path / "gone.html")._repr_html_() is None   # plain text then
    assert repr(report).startswith("Report(")
