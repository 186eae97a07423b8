"""Fast tier of the labs: listing, argument parsing, clear errors, two quick labs end to end."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import torch

from statdl import threads
from statdl.cli import main
from statdl.errors import ConfigError
from statdl.labs import LABS, get_lab, run_lab
from statdl.labs._registry import parse_lab_args
from statdl.labs._rsample import r_sample
from statdl.labs.hitters import lasso, least_squares
from statdl.tuning import ls_runs


def test_labs_lists_every_lab(capsys):
    assert main(["labs"]) == 0
    out = capsys.readouterr().out
    for name in LABS:
        assert name in out
    assert len(LABS) >= 22


def test_lab_modules_import():
    import importlib

    for lab in LABS.values():
        module = importlib.import_module(f"statdl.labs.{lab.module}")
        assert callable(getattr(module, lab.function)), lab.name


def test_unknown_option_names_the_valid_ones():
    with pytest.raises(ConfigError, match=r"^`options` must be options that lab 'mnist-cnn' takes "
                                          r"\(.*--epochs.*\); got '--bogus'\."):
        parse_lab_args(get_lab("mnist-cnn"), ["--bogus"])
    with pytest.raises(ConfigError, match="--padding"):
        parse_lab_args(get_lab("mnist-cnn"), ["--padding", "full"])
    with pytest.raises(ConfigError, match="--maxlen"):
        parse_lab_args(get_lab("mnist-cnn"), ["--maxlen", "20"])     # not an option of the CNN


def test_options_parse():
    args = parse_lab_args(get_lab("imdb-lstm"), ["--maxlen", "100", "--dropout", "0.2",
                                                 "--quick", "--epochs", "3"])
    assert (args.maxlen, args.dropout, args.quick, args.epochs) == (100, 0.2, True, 3)
    with pytest.raises(ConfigError, match="--dropout"):
        parse_lab_args(get_lab("imdb-lstm"), ["--dropout", "1.5"])
    with pytest.raises(ConfigError, match="--epochs"):
        parse_lab_args(get_lab("imdb-lstm"), ["--epochs", "many"])


def test_unknown_lab_and_option_through_the_cli(capsys):
    assert main(["lab", "mnist-cnnn"]) == 2
    err = capsys.readouterr().err
    assert "got 'mnist-cnnn'. Did you mean 'mnist-cnn'?" in err
    assert main(["lab", "hitters-nn", "--epoch", "3"]) == 2
    assert "options that lab 'hitters-nn' takes" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"^`options` of run_lab must be options that lab 'hitters-nn' "
                                          r"takes \(.*\); got 'colour'\.$"):
        run_lab("hitters-nn", colour="red")


def test_lab_help(capsys):
    assert main(["lab", "imdb-lstm", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--recurrent-dropout" in out and "--quick" in out


def test_missing_data_says_which_file_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("STATDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("STATDL_OFFLINE", "1")
    monkeypatch.delenv("STATDL_DATA", raising=False)
    empty = tmp_path / "data"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz.*Put it in"):
        run_lab("mnist-logit", data_dir=str(empty), epochs=1, runs_dir=str(tmp_path / "runs"),
                no_view=True, verbose=0)
    with pytest.raises(ConfigError, match="--data-dir"):
        run_lab("mnist-logit", data_dir=str(tmp_path / "nope"), runs_dir=str(tmp_path))


def test_failed_lab_is_a_failed_run(tmp_path, monkeypatch):
    monkeypatch.setenv("STATDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("STATDL_OFFLINE", "1")
    monkeypatch.delenv("STATDL_DATA", raising=False)
    with pytest.raises(FileNotFoundError):
        run_lab("mnist-logit", epochs=1, runs_dir=str(tmp_path / "runs"), no_view=True)
    runs = ls_runs(tmp_path / "runs")
    assert list(runs["status"]) == ["failed"]


def test_imdb_tokenizer_prints_the_course_output(tmp_path, capsys):
    res = run_lab("imdb-tokenizer", runs_dir=str(tmp_path))
    assert res["sequences"] == [[1, 2, 3, 4, 1, 5], [1, 6, 7, 8, 9]]
    assert res["unique_tokens"] == 9
    assert list(res["word_index"]) == ["the", "cat", "sat", "on", "mat", "dog", "ate", "my",
                                       "homework"]
    out = capsys.readouterr().out
    assert "[[1]]\n[1] 1 2 3 4 1 5" in out and "Found 9 unique tokens." in out


def test_hitters_quick_writes_a_run_folder(tmp_path):
    res = run_lab("hitters-nn", quick=True, epochs=5, runs_dir=str(tmp_path), verbose=0)
    run = tmp_path / res["run_dir"].split("/")[-1]
    assert (run / "view.html").stat().st_size > 1000
    assert {p.name for p in (run / "plots").glob("*.png")} >= {"history.png",
                                                                "predicted_vs_observed.png"}
    results = json.loads((run / "results.json").read_text())
    assert results["headline"]["name"] == "MSE" and results["lasso"]["lambda"] > 0
    assert results["headline"]["lower"] < results["headline"]["value"] < \
        results["headline"]["upper"]
    row = ls_runs(tmp_path).iloc[0]
    assert row["status"] == "completed" and row["flag_epochs"] == 5
    assert "Total params: 1,409" in row["model"]
    assert "Regression report" in (run / "statdl.d" / "output.txt").read_text()
    # the threads its fits used and how idle threads waited (issue #13), as tuning runs record
    reported = json.loads((run / "statdl.d" / "properties_reported.json").read_text())
    # (the count follows the load, so a later look may differ: only its range is fixed)
    assert 1 <= reported["threads"] <= reported["thread_cores"] == \
        threads.thread_settings()["cores"]
    assert reported["thread_mode"] in ("auto", "fixed") and "thread_wait" in reported


def test_course_split_is_r_sample():
    # R 4: set.seed(1001); sample(1:263, round(263 * 0.3))
    idx = r_sample(263, 79, 1001)
    assert idx[:6] == [87, 203, 204, 156, 68, 157] and idx[-3:] == [66, 211, 42]
    assert len(set(idx)) == 79


def test_lasso_limits():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 4))
    y = x @ np.array([1.0, -2.0, 0.0, 0.5]) + 3 + rng.normal(scale=0.1, size=100)
    b0, b = lasso(x, y, 1e-9)
    l0, lb = least_squares(x, y)
    assert np.allclose(b, lb, atol=1e-4) and abs(b0 - l0) < 1e-4
    assert np.all(lasso(x, y, 100.0)[1] == 0)


# ----------------------------------------------------------------------------- IMDB options
def _keras_lstm_params(embed_dim: int, units: int = 32, vocab: int = 10000) -> int:
    """Keras's count: Embedding vocab*d; LSTM 4*(units*(d + units) + units); Dense units + 1."""
    return vocab * embed_dim + 4 * (units * (embed_dim + units) + units) + units + 1


def _fake_imdb(n_train: int = 48, n_test: int = 24):
    """A stand-in for ``imdb_data``: random word ids and labels, the real shapes and dtypes."""
    def load(args, maxlen, **_):
        rng = np.random.default_rng(0)
        return (rng.integers(1, 10000, (n_train, maxlen)), rng.integers(0, 2, n_train),
                rng.integers(1, 10000, (n_test, maxlen)), rng.integers(0, 2, n_test))
    return load


def test_imdb_textbook_options_parse_and_default_to_the_course():
    lab = get_lab("imdb-lstm")
    args = parse_lab_args(lab, [])
    assert (args.embed_dim, args.validation) == (8, "split")
    args = parse_lab_args(lab, ["--maxlen", "500", "--embed-dim", "32", "--validation", "test"])
    assert (args.maxlen, args.embed_dim, args.validation) == (500, 32, "test")
    for name in ("imdb-embed", "imdb-rnn", "imdb-rnn3", "imdb-gru", "imdb-bilstm"):
        assert parse_lab_args(get_lab(name), ["--embed-dim", "16"]).embed_dim == 16


@pytest.mark.parametrize("argv, match", [
    (["--embed-dim", "0"], r"`--embed-dim` must be an int >= 1.*got 0"),
    (["--embed-dim", "-3"], r"`--embed-dim` must be an int >= 1"),
    (["--embed-dim", "4.5"], r"--embed-dim.*invalid int value"),
    (["--validation", "holdout"], r"--validation.*invalid choice: 'holdout'.*split.*test"),
])
def test_imdb_textbook_options_bad_values(argv, match):
    with pytest.raises(ConfigError, match=match):
        parse_lab_args(get_lab("imdb-lstm"), argv)


def test_imdb_textbook_options_bad_values_from_python():
    with pytest.raises(ConfigError, match="`--embed-dim` must be an int >= 1"):
        run_lab("imdb-lstm", embed_dim=0)
    with pytest.raises(ConfigError, match="`--embed-dim` must be an int >= 1"):
        run_lab("imdb-lstm", embed_dim="32")
    with pytest.raises(ConfigError, match=r"`--validation` must be 'split'.*or 'test'"):
        run_lab("imdb-lstm", validation="val")
    with pytest.raises(ConfigError, match="--embed-dim"):      # not an option of the CNN
        parse_lab_args(get_lab("mnist-cnn"), ["--embed-dim", "32"])


def test_imdb_help_shows_the_textbook_options(capsys):
    assert main(["lab", "imdb-lstm", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--embed-dim N" in out and "textbook" in out
    assert "--validation {split,test}" in out and "validation_split = 0.2" in out


@pytest.mark.parametrize("argv, embed_dim, test_as_validation", [
    ([], 8, False),
    (["--embed-dim", "32", "--validation", "test"], 32, True),
])
def test_imdb_options_reach_the_model_and_fit(tmp_path, monkeypatch, argv, embed_dim,
                                              test_as_validation):
    import statdl as sd
    from statdl.labs import _registry, imdb_rnn

    monkeypatch.setattr(imdb_rnn, "imdb_data", _fake_imdb())
    calls = []
    fit = sd.Sequential.fit

    def spy(self, *a, **kw):
        calls.append(kw)
        return fit(self, *a, **kw)

    monkeypatch.setattr(sd.Sequential, "fit", spy)
    lab = get_lab("imdb-lstm")
    args = parse_lab_args(lab, ["--maxlen", "12", "--epochs", "1", "--verbose", "0",
                                "--no-view", "--runs-dir", str(tmp_path), *argv])
    res = _registry.execute(lab, args)
    (kw,) = calls
    if test_as_validation:
        assert "validation_split" not in kw
        x_val, y_val = kw["validation_data"]
        assert x_val.shape == (24, 12) and len(y_val) == 24     # the (fake) test reviews
    else:
        assert kw["validation_split"] == 0.2 and kw.get("validation_data") is None
    row = ls_runs(tmp_path).iloc[0]
    assert f"Total params: {_keras_lstm_params(embed_dim):,}" in row["model"]
    assert row["flag_embed_dim"] == embed_dim
    assert row["flag_validation"] == ("test" if test_as_validation else "split")
    assert res["headline"]["course"] is None        # no published figure at maxlen 12


def test_imdb_published_figure_follows_the_settings():
    from statdl.labs.imdb_rnn import reference

    def ref(*argv):
        args = parse_lab_args(get_lab("imdb-lstm"), list(argv))
        args.model = "lstm"
        return reference(args)

    assert ref("--maxlen", "500") == ("Course", None, None)       # the course gives none
    assert ref("--maxlen", "500", "--embed-dim", "32", "--validation", "test") == \
        ("Textbook (ISLR2)", 0.87, 0.86)
    assert ref("--maxlen", "500", "--embed-dim", "32") == ("Course", None, None)
    assert ref("--maxlen", "100") == ("Course", 0.82, 0.82)
    assert ref("--maxlen", "500", "--embed-dim", "32", "--validation", "test",
               "--dropout", "0.2") == ("Course", None, None)


# ----------------------------------------------------------------------------- missing data hints
@pytest.mark.parametrize("name, quick_helps", [("mnist-logit", True), ("imdb-embed", False)])
def test_missing_data_hint_offers_quick_only_where_a_sample_ships(tmp_path, monkeypatch, capsys,
                                                                  name, quick_helps):
    monkeypatch.setenv("STATDL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("STATDL_OFFLINE", "1")
    monkeypatch.delenv("STATDL_DATA", raising=False)
    with pytest.raises(FileNotFoundError):
        run_lab(name, epochs=1, runs_dir=str(tmp_path / "runs"), no_view=True, verbose=0)
    out = " ".join(capsys.readouterr().out.split())
    assert "not found locally" in out
    assert ("use --quick for the sample shipped with statdl" in out) == quick_helps
    if not quick_helps:          # IMDB ships no sample: --quick trains on a subset of the files
        assert "--quick" not in out.replace("--quick also needs them", "")
        assert "--quick also needs them" in out


def test_labs_and_tuning_are_attributes_after_import_statdl():
    import subprocess
    import sys

    code = ("import statdl; print(statdl.labs.get_lab('mnist-cnn').epochs, "
            "callable(statdl.tuning.evaluate_best), callable(statdl.evaluation.roc_auc))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["15", "True", "True"]


# ----------------------------------------------------------------------------- the HTML report
class _Report(__import__("html.parser").parser.HTMLParser):
    """The parts of a run report the tests look at: header, sections, figures and captions."""

    def __init__(self, text: str):
        super().__init__()
        self.h1, self.sections, self.images, self.captions = "", {}, [], []
        self._where: list[str] = []
        self._section = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self._where.append(tag)
        if tag == "img":
            self.images.append((self._section, dict(attrs)))

    def handle_endtag(self, tag):
        while self._where and self._where.pop() != tag:
            pass

    def handle_data(self, data):
        if "h1" in self._where:
            self.h1 += data
        elif "h2" in self._where:
            self._section = data.strip()
            self.sections[self._section] = ""
        elif "figcaption" in self._where:
            self.captions.append(data.strip())
        elif self._section:
            self.sections[self._section] += data + " "


def _lab_report(tmp_path, capsys, name, **options):
    res = run_lab(name, quick=True, runs_dir=str(tmp_path), verbose=0, **options)
    console = capsys.readouterr().out
    run = tmp_path / res["run_dir"].rsplit("/", 1)[-1]
    return console, _Report((run / "view.html").read_text(encoding="utf-8")), run


def _close(shown: str, printed: str) -> bool:
    """``shown`` (the report) equals ``printed`` (the console) to the printed digits."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return abs(float(shown) - float(printed)) <= 0.5 * 10 ** -decimals + 5e-5


def _intervals(text: str) -> list[tuple[str, str]]:
    import re

    return re.findall(r"\((-?[0-9.]+), (-?[0-9.]+)\)", text)


@pytest.mark.parametrize("name, options, header", [
    ("hitters-nn", {"epochs": 3}, r"MSE +\S+ +\((-?[0-9.]+), (-?[0-9.]+)\)"),
    ("mnist-logit", {"epochs": 1}, r"95% CI : \(([0-9.]+), ([0-9.]+)\)"),
])
def test_lab_report_shows_the_printed_intervals_and_captioned_figures(tmp_path, capsys, name,
                                                                      options, header):
    import re

    console, page, run = _lab_report(tmp_path, capsys, name, **options)
    assert name in page.h1                                         # the lab's name in the header
    # every interval the console printed for the test set is in the evaluation section
    printed = re.findall(header, console)
    if name == "hitters-nn":                # the regression report: MSE, RMSE, MAE, R-squared
        table = console[console.index("Regression report"):console.index("Intervals:")]
        printed = _intervals(table)
        assert len(printed) == 4
    assert printed
    shown = _intervals(page.sections["Evaluation"])
    for lower, upper in printed:
        assert any(_close(a, lower) and _close(b, upper) for a, b in shown), \
            (lower, upper, page.sections["Evaluation"])
    # every figure once, captioned by what it shows (not its file name), no second set of curves
    figures = [attrs for section, attrs in page.images if section == "Plots"]
    files = sorted(p.name for p in (run / "plots").glob("*.png"))
    assert len(figures) == len(files) == len(page.captions) >= 2
    assert len({a["src"] for a in figures}) == len(figures)
    for caption in page.captions:
        assert len(caption.split()) >= 3 and ".png" not in caption
        assert caption not in {f[:-4] for f in files} | {f[:-4].replace("_", " ") for f in files}
    curves = [a for section, a in page.images if section != "Plots"]
    assert curves == [], "the training curves are drawn twice (Metric curves and history.png)"


def _process_state() -> dict:
    from statdl import threads

    return {"env": dict(os.environ), "stdout": sys.stdout, "stderr": sys.stderr,
            "torch_threads": torch.get_num_threads(), "policy": threads.thread_settings(),
            "numpy_rng": np.random.get_state()[1].tolist(), "torch_rng": torch.get_rng_state()}


@pytest.mark.parametrize("lab_fails", [False, True])
def test_a_lab_leaves_the_process_as_it_found_it(tmp_path, monkeypatch, lab_fails):
    """run_lab in a notebook or a test: env, stdout, threads and RNGs are the caller's after."""
    import statdl as sd
    from statdl.labs import hitters

    if lab_fails:
        real = hitters.run

        def failing(args, run):       # the real lab, then more process changes and an error
            real(args, run)
            os.environ["STATDL_LAB_LEFTOVER"] = "1"
            torch.set_num_threads(1)
            sys.stdout = sys.stderr
            raise RuntimeError("the lab failed")

        monkeypatch.setattr(hitters, "run", failing)
    own = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        sd.set_threads(3)            # the caller's policy: a fixed count (the lab asks for 1)
        np.random.seed(7)
        torch.manual_seed(7)
        before = _process_state()
        if lab_fails:
            with pytest.raises(RuntimeError, match="the lab failed"):
                run_lab("hitters-nn", quick=True, epochs=2, runs_dir=str(tmp_path), verbose=0,
                        no_view=True)
        else:
            run_lab("hitters-nn", quick=True, epochs=2, runs_dir=str(tmp_path), verbose=0,
                    no_view=True)
        after = _process_state()
    finally:
        sd.set_threads("auto")
        torch.set_num_threads(own)
    assert after["env"] == before["env"] and "STATDL_RUN_DIR" not in after["env"]
    assert after["stdout"] is before["stdout"] and after["stderr"] is before["stderr"]
    assert after["torch_threads"] == 2
    assert after["policy"]["mode"] == "fixed" and after["policy"]["threads"] == 3
    assert after["numpy_rng"] == before["numpy_rng"]
    assert torch.equal(after["torch_rng"], before["torch_rng"])
    assert list(ls_runs(tmp_path)["status"]) == ["failed" if lab_fails else "completed"]
