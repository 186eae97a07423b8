"""The labs as notebooks (#17): every registered lab writes a valid notebook; the written-out
ones call statdl's public API only; the slow test executes each in a real Jupyter kernel at
quick settings and checks that its figures are those of the lab's own run."""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from statdl.labs import LABS
from statdl.labs.notebooks import (
    CHECKS,
    NOTEBOOKS,
    not_expressed,
    write_notebook,
    write_notebooks,
)

nbformat = pytest.importorskip("nbformat")


def test_statdl_lab_notebook_and_statdl_notebooks_write_valid_notebooks(tmp_path):
    from statdl.cli import main

    assert main(["notebooks", str(tmp_path / "all")]) == 0
    written = sorted(p.stem for p in (tmp_path / "all").glob("*.ipynb"))
    assert written == sorted(LABS)
    for name in written:
        nb = nbformat.read(tmp_path / "all" / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and tagged[0].source.startswith("# Parameters")
        assert "epochs = " in tagged[0].source or name == "imdb-tokenizer"
        assert nb.cells[0].source.startswith(f"# Lab `{name}`")
        code = "\n".join(c.source for c in nb.cells
                         if c.cell_type == "code" and not c.source.startswith("%%writefile"))
        ast.parse(code)  # every code cell is Python (a cell magic saves a script file)
        if name in NOTEBOOKS:  # written out: the public API, never the lab's module
            assert "statdl.labs" not in code
    assert main(["lab", "mnist-cnn", "--notebook", str(tmp_path / "cnn.ipynb")]) == 0
    nb = nbformat.read(tmp_path / "cnn.ipynb", as_version=4)
    assert any("L.Conv2D(32, (3, 3)" in c.source for c in nb.cells)


def test_a_bad_notebook_path_is_a_clear_error(tmp_path):
    from statdl.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^`path` of write_notebook must be a \.ipynb file or "
                                          r"an existing folder; got '.*notes\.txt'\.$"):
        write_notebook("hitters-nn", tmp_path / "notes.txt")
    with pytest.raises(TypeError, match=r"`path` of write_notebook must be a path \(str or "
                                        r"os\.PathLike\); got int\."):
        write_notebook("hitters-nn", 3)
    with pytest.raises(ConfigError, match=r"`directory` of write_notebooks must be a path; got "
                                          r"an empty path\."):
        write_notebooks("")


PROC = Path("/proc")


@pytest.mark.parametrize("argv, words", [
    # Path("") is the current folder: an empty value once wrote ./hitters-nn.ipynb unasked
    (["lab", "hitters-nn", "--notebook="], "`--notebook` of statdl lab must be a path; got an "
                                           "empty path. Give one, e.g. lab.ipynb."),
    (["lab", "hitters-nn", "--notebook", " "], "`--notebook` of statdl lab must be a path; got "
                                               "an empty path."),
    (["lab", "hitters-nn", "--notebook", "{tmp}/a.txt"], "`--notebook` of statdl lab must be a "
                                                         ".ipynb file or an existing folder; got "
                                                         "'{tmp}/a.txt'."),
    (["lab", "hitters-nn", "--notebook", "{tmp}/file/sub/x.ipynb"],
     "`--notebook` of statdl lab must be a path inside folders; got '{tmp}/file/sub/x.ipynb', "
     "inside the file '{tmp}/file'."),
    (["notebooks", ""], "`DIR` of statdl notebooks must be a path; got an empty path."),
    (["notebooks", "{tmp}/file"], "`DIR` of statdl notebooks must be a folder; got "
                                  "'{tmp}/file', a file."),
    (["notebooks", "{tmp}/file/sub"], "`DIR` of statdl notebooks must be a path inside "
                                      "folders; got '{tmp}/file/sub', inside the file "
                                      "'{tmp}/file'."),
])
def test_bad_notebook_paths_on_the_command_line_name_the_option(argv, words, tmp_path,
                                                                monkeypatch, capsys):
    from statdl.cli import main

    (tmp_path / "file").write_text("not a folder")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("statdl: error: " + words.replace("{tmp}", str(tmp_path))), err
    assert "Traceback" not in err and "Errno" not in err
    assert list(work.iterdir()) == []            # nothing written where the command ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "work"]


@pytest.mark.skipif(not (PROC / "self").is_dir(), reason="needs Linux's /proc (no new files)")
@pytest.mark.parametrize("argv, option", [
    (["lab", "hitters-nn", "--notebook", "/proc/x.ipynb"], "`--notebook` of statdl lab"),
    (["notebooks", "/proc/statdl-notebooks"], "`DIR` of statdl notebooks"),
])
def test_a_folder_that_refuses_files_is_named_without_a_raw_errno(argv, option, capsys):
    from statdl.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"statdl: error: {option} must be a path where a notebook can be "
                          f"written; got '{argv[-1]}' (/proc")
    assert err.endswith("Choose a folder you can write to.") and "Errno" not in err


def test_without_nbformat_writing_a_notebook_names_the_extra(tmp_path):
    code = ("import sys\n"
            "sys.modules['nbformat'] = None  # as if statdl[jupyter] were not installed\n"
            "from statdl.cli import main\n"
            "raise SystemExit(main(['lab', 'hitters-nn', '--notebook', 'x.ipynb']))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path)
    assert run.returncode == 2 and list(tmp_path.iterdir()) == []
    assert "pip install 'statdl[jupyter]'" in run.stderr and "Traceback" not in run.stderr


def test_every_written_out_notebook_says_which_figures_it_shares_with_its_lab():
    assert set(CHECKS) == set(NOTEBOOKS)
    assert set(not_expressed()) == set(LABS) - set(NOTEBOOKS)


def test_import_statdl_imports_no_jupyter_package():
    code = ("import sys, statdl, statdl.labs, statdl.display; "
            "print(sorted(m for m in ('nbformat', 'nbclient', 'ipykernel', 'IPython') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


WITHOUT_EXTRAS = """
import sys
from importlib.machinery import PathFinder

# as after `pip install statdl` alone: no extra and no test-only peer is found on sys.path
# (import raises ModuleNotFoundError, importlib.util.find_spec answers None)
ABSENT = {"sklearn", "skorch", "nbformat", "nbclient", "ipykernel", "IPython", "jupyter_client",
          "ISLP", "optuna", "ray", "keras", "jax", "mapie"}


class WithoutExtras(PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] in ABSENT:
            return None
        return PathFinder.find_spec(name, path, target)


sys.meta_path[:] = [WithoutExtras if f is PathFinder else f for f in sys.meta_path]
assert not ABSENT & set(sys.modules)
import numpy as np
import statdl as sd
from statdl import layers as L
from statdl.datasets import DataFileError
from statdl.labs import run_lab
from statdl.labs.notebooks import write_notebook

rng = np.random.default_rng(0)
x = rng.normal(size=(80, 3)).astype("float32")
y = x @ np.array([1.0, -2.0, 0.5], dtype="float32")
model = sd.Sequential([L.Dense(4, activation="relu"), L.Dense(1)], input_shape=(3,))
model.compile(loss="mse", optimizer="adam")
history = model.fit(x, y, epochs=2, verbose=0)
assert len(history.history["loss"]) == 2 and model.predict(x).shape == (80, 1)
assert "<table" in model._repr_html_() and "<img" in history._repr_html_()
results = run_lab("hitters-nn", quick=True, verbose=0, no_view=True, runs_dir=sys.argv[1])
assert np.isfinite(results["headline"]["value"])
try:
    sd.datasets.islp("Weekly")
except DataFileError as exc:
    assert "pip install statdl[islp]" in str(exc), exc
else:
    raise AssertionError("islp read Weekly without ISLP or its file")
for extra, call in [("sklearn", lambda: __import__("statdl.sklearn")),
                    ("jupyter", lambda: write_notebook("hitters-nn", "x.ipynb"))]:
    try:
        call()
    except (ImportError, sd.errors.ConfigError) as exc:
        assert f"statdl[{extra}]" in str(exc), exc
    else:
        raise AssertionError(extra + " worked without its extra")
print("ok")
"""


def test_without_any_optional_extra_statdl_trains_runs_a_lab_and_names_each_extra(tmp_path):
    env = {**os.environ, "STATDL_DATA": str(tmp_path / "data"),
           "STATDL_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS, str(tmp_path / "runs")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("ok")
    assert not (tmp_path / "x.ipynb").exists()


# ------------------------------------------------------------------ execution (slow)
def _lookup(results, path):
    for key in path:
        results = results[key]
    return results


def _last_value(nb) -> dict:
    cell = [c for c in nb.cells if c.cell_type == "code"][-1]
    (result,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    return ast.literal_eval(result.data["text/plain"])


def _outputs(nb) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def _needs_data(name: str) -> bool:
    """Labs whose data is neither shipped nor in the cache or $STATDL_DATA here."""
    if name.startswith("imdb-") and name != "imdb-tokenizer":
        from statdl.datasets._files import find_local
        from statdl.datasets.imdb import IMDB_FILES

        return all(find_local(s) is None for s in IMDB_FILES)
    if name.startswith("nyse-"):
        import statdl as sd
        from statdl.errors import StatdlError

        try:
            sd.datasets.islp("NYSE")  # the ISLP package, or NYSE.csv in a data folder
        except StatdlError:
            return True
    if name == "transfer":
        from statdl.datasets._files import find_local
        from statdl.datasets.mnist import FASHION_MNIST_FILES

        return any(find_local(s) is None for s in FASHION_MNIST_FILES)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_the_notebook_runs_in_a_kernel_and_prints_the_labs_figures(name, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from statdl.labs import run_lab

    if _needs_data(name):
        pytest.skip(f"{name}: its data is not on this machine (STATDL_DATA or the cache)")
    # one thread in the kernel and in the runs tuning_run starts (they inherit the variable):
    # with the load-following count, mnist-tune's val_loss differed by 1.5e-6 between two runs
    monkeypatch.setenv("STATDL_NUM_THREADS", "1")
    path = write_notebook(name, tmp_path / f"{name}.ipynb")
    nb = nbformat.read(path, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    # the injected cell papermill would add: one thread, so that sums add up in one order
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell('threads = 1\ndevice = "cpu"'))
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = _last_value(nb)
    lab = LABS[name]
    results = run_lab(name, quick=True, threads=1, device="cpu", verbose=0, no_view=True,
                      runs_dir=str(tmp_path / "runs"))
    for key, where in CHECKS[name].items():
        expected = _lookup(results, where)
        if isinstance(expected, float):
            assert shown[key] == pytest.approx(expected, rel=1e-6, abs=1e-9), key
        else:
            assert shown[key] == expected, key
    code = "".join(c.source for c in nb.cells if c.cell_type == "code")
    if lab.quick_epochs and ("verbose=verbose" in code or '"verbose": verbose' in code):
        # fit's progress bar drew in the notebook, and each epoch's line stays
        assert f"Epoch {lab.quick_epochs}/{lab.quick_epochs}" in _outputs(nb)


# ------------------------------------------------------------------ a live kernel (slow)
KERNEL_CODE = """
import time
import numpy as np
import statdl as sd
from statdl import layers as L


class Slow(sd.callbacks.Callback):  # 10 steps of 60 ms: an epoch long enough to redraw
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.06)


rng = np.random.default_rng(0)
x = rng.normal(size=(100, 3)).astype("float32")
y = x @ np.array([1.0, -2.0, 0.5], dtype="float32")
model = sd.Sequential([L.Dense(1)], input_shape=(3,))
model.compile(loss="mse", optimizer="sgd")
history = model.fit(x, y, epochs=2, batch_size=10, verbose=1, callbacks=[Slow()])
sd.plots.plot_history(history)
print("done")
"""


@pytest.mark.slow
def test_in_a_kernel_fit_redraws_one_bar_per_epoch_and_plots_show_inline():
    """What a notebook's front end receives from a real kernel: each epoch one display that
    is updated in place (display_id), left as the epoch's line, and the figure of a plotting
    function as an inline PNG without a call to show()."""
    manager = pytest.importorskip("jupyter_client.manager")
    pytest.importorskip("ipykernel")
    km, kc = manager.start_new_kernel(kernel_name="python3",
                                      env={**os.environ, "STATDL_NUM_THREADS": "1"})
    try:
        msg_id = kc.execute(KERNEL_CODE)
        messages = []
        while True:
            msg = kc.get_iopub_msg(timeout=300)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        reply = kc.get_shell_msg(timeout=60)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok", reply["content"]
    shown = [m for m in messages if m["msg_type"] == "display_data"
             and "display_id" in m["content"].get("transient", {})]
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    assert [m["content"]["data"]["text/plain"] for m in shown] == ["Epoch 1/2 0/10",
                                                                    "Epoch 2/2 0/10"]
    ids = [m["content"]["transient"]["display_id"] for m in shown]
    assert len(set(ids)) == 2
    for epoch, display_id in enumerate(ids, start=1):
        mine = [m["content"] for m in updates if m["content"]["transient"]["display_id"]
                == display_id]
        assert len(mine) >= 2        # redrawn during the epoch, then its final line
        assert re.fullmatch(rf"Epoch {epoch}/2 - \d+\.\ds \d+ms/step - loss: \d+\.\d{{4}}",
                            mine[-1]["data"]["text/plain"])
        assert "<progress value='10' max='10'" in mine[-1]["data"]["text/html"]
    pngs = [m for m in messages if m["msg_type"] == "display_data"
            and "image/png" in m["content"]["data"]]
    assert len(pngs) == 1            # plot_history showed its figure once, by itself
    assert base64.b64decode(pngs[0]["content"]["data"]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    text = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert text.strip() == "done"    # no per-epoch lines printed beside the bars
