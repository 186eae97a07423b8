"""The one run-folder writer (statdl.run_folders.RunWriter), as labs and tuning runs use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from statdl.errors import ConfigError
from statdl.run_folders import RunWriter, read_run, report, run_status
from statdl.run_folders.files import ENV_RUN_DIR


def _json(path):
    return json.loads(path.read_text())


def test_an_in_process_run_records_everything_and_restores_the_process(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.delenv(ENV_RUN_DIR, raising=False)
    source = tmp_path / "lab.py"
    source.write_text("print('the lab')\n")
    run = RunWriter(tmp_path / "runs")
    run.start("lab", "lab demo", source, request={"flags": {"epochs": 2}}, sources=[source],
              lab="demo")
    run.record_flags({"epochs": 2})
    stdout = sys.stdout
    with run.active(), run.tee_stdout():
        assert os.environ[ENV_RUN_DIR] == str(run.path.resolve())
        print("\x1b[1mEpoch 1/2\x1b[0m 10%\rEpoch 1/2 100% loss 0.5")
        print("Epoch 1/2 done")
        print("Epoch 2/2 loss 0.25")
        report(metrics={"loss": [0.5, 0.25]}, evaluation={"mse": 0.3})
    assert sys.stdout is stdout and ENV_RUN_DIR not in os.environ
    run.record_results({"answer": 42})
    fig = plt.figure()
    assert run.figure(fig, "curve", " the loss per epoch ").name == "curve.png"
    with pytest.raises(ConfigError, match=r"`caption` of RunWriter.figure must say what figure "
                                          r"'bare' shows; got ''\."):
        run.figure(plt.figure(), "bare", "")
    assert run.finish(returncode=0) == "completed"

    meta = run.path / "statdl.d"
    assert (meta / "output.txt").read_text() == "Epoch 1/2 done\nEpoch 2/2 loss 0.25\n"
    assert _json(meta / "flags.json") == {"epochs": 2}
    assert _json(meta / "request.json") == {"flags": {"epochs": 2}}
    assert (meta / "source" / "lab.py").read_text() == "print('the lab')\n"
    assert _json(run.path / "results.json") == {"answer": 42}
    assert _json(run.path / "plots" / "captions.json") == {"curve.png": "the loss per epoch"}
    props = _json(meta / "properties.json")
    assert (props["type"], props["script"], props["lab"], props["status"], props["returncode"]) \
        == ("lab", "lab demo", "demo", "completed", 0)
    assert not (meta / "lock.json").exists()
    row = read_run(run.path)
    assert (row["flag_epochs"], row["metric_loss"], row["eval_mse"]) == (2, 0.25, 0.3)
    assert run_status(run.path) == "completed"


def test_an_exception_makes_a_failed_run(tmp_path):
    run = RunWriter(tmp_path)
    run.start("lab", "lab demo", tmp_path / "missing.py", request={},
              sources=[tmp_path / "missing.py"])
    try:
        raise RuntimeError("the lab broke")
    except RuntimeError as exc:
        run.record_exception(exc)
    assert run.finish(returncode=1) == "failed"
    error = run.error()
    assert error["message"] == "RuntimeError: the lab broke" and error["type"] == "RuntimeError"
    assert 'raise RuntimeError("the lab broke")' in error["traceback"]
    assert read_run(run.path)["error_message"] == "RuntimeError: the lab broke"
    assert not (run.path / "statdl.d" / "source").exists()     # no source file to snapshot


def test_an_interrupted_run_says_why(tmp_path):
    run = RunWriter(tmp_path)
    run.start("training", "train.py", tmp_path / "train.py", request={})
    assert run_status(run.path) == "running"                  # locked by this live process
    assert run.finish(returncode=None, interrupted="Ctrl-C") == "interrupted"
    assert run.error()["message"] == "interrupted: Ctrl-C"
    assert run_status(run.path) == "interrupted"


def test_a_child_process_output_is_captured_into_the_claimed_folder(tmp_path):
    folder = tmp_path / "claimed"
    (folder / "statdl.d").mkdir(parents=True)
    run = RunWriter(folder=folder)
    run.start("training", "child", sys.executable, request={})
    proc = subprocess.Popen([sys.executable, "-c", "print('from the child'); print('bye')"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    capture = run.capture(proc.stdout, None)
    run.lock([os.getpid(), proc.pid])
    returncode = proc.wait(timeout=60)
    run.note(**capture.finish())
    assert run.finish(returncode) == "completed" and run.path == folder
    text = (folder / "statdl.d" / "output.txt").read_text()
    assert text == "from the child\nbye\n"
    props = _json(folder / "statdl.d" / "properties.json")
    assert props["output_bytes"] == len(text) and props["output_truncated"] is False
