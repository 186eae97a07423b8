"""Real training runs of small scripts in subprocesses: recording, tuning, resume, listing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import statdl
from statdl.errors import ConfigError
from statdl.tuning import (
    best_run,
    clean_runs,
    declared_flags,
    latest_run,
    ls_runs,
    purge_runs,
    run_info,
    training_run,
    tuning_run,
)
from statdl.tuning.runs import new_run_dir, run_status

FIX = Path(__file__).parent / "fixtures" / "tuning"
FAKE = FIX / "fake_train.py"


def test_training_run_records_everything(tmp_path, capsys):
    run = training_run(FAKE, flags={"nodes1": 128}, runs_dir=tmp_path / "runs")
    folder = Path(run["run_dir"])
    meta = folder / "statdl.d"
    assert folder.parent == tmp_path / "runs"
    assert run["status"] == "completed" and bool(run["completed"])
    assert json.loads((meta / "flags.json").read_text())["nodes1"] == 128
    assert run["flag_nodes1"] == 128 and run["flag_optimizer"] == "rmsprop"
    metrics = json.loads((meta / "metrics.json").read_text())
    assert metrics["val_loss"] == pytest.approx([1 / (e + 1) + 0.2 + 0.5 for e in range(3)])
    assert run["metric_val_loss"] == pytest.approx(1 / 3 + 0.2 + 0.5)
    assert run["eval_accuracy"] == pytest.approx(1 - run["eval_loss"] / 10)
    assert run["epochs"] == 3 and run["epochs_completed"] == 3 and run["batch_size"] == 32
    assert "training with nodes1=128" in (meta / "output.txt").read_text()
    assert "training with nodes1=128" in capsys.readouterr().out          # tee'd
    assert (meta / "source" / "fake_train.py").read_text() == FAKE.read_text()
    props = json.loads((meta / "properties.json").read_text())
    assert props["start"] < props["end"] and props["completed"] is True
    assert not (meta / "lock.json").exists()


def test_failed_run_records_error_and_traceback(tmp_path):
    run = training_run(FAKE, flags={"fail": True}, runs_dir=tmp_path, echo=False)
    assert run["status"] == "failed" and not run["completed"]
    assert run["error_message"] == "ValueError: boom with nodes1=64"
    assert "Traceback" in run["error_traceback"] and "fake_train.py" in run["error_traceback"]
    assert "about to fail" in run["output"]


def test_flags_yml_beside_script_and_run_flags_win(tmp_path):
    run = training_run(FIX / "with_yml" / "train.py", flags={"dropout1": 0.25},
                       runs_dir=tmp_path, echo=False)
    assert (run["flag_nodes1"], run["flag_optimizer"], run["flag_dropout1"]) == (128, "adam", 0.25)
    assert (Path(run["run_dir"]) / "statdl.d" / "source" / "flags.yml").exists()


def test_bad_flag_value_is_recorded_as_failure(tmp_path):
    run = training_run(FAKE, flags={"nodes1": "lots"}, runs_dir=tmp_path, echo=False)
    assert run["status"] == "failed"
    assert "Unable to convert flag `nodes1` to integer" in run["error_message"]


def test_plots_are_saved(tmp_path):
    run = training_run(FIX / "plot_train.py", runs_dir=tmp_path, echo=False)
    plots = sorted(p.name for p in (Path(run["run_dir"]) / "plots").glob("*.png"))
    assert run["status"] == "completed"
    assert "squares.png" in plots and any(p.startswith("figure") for p in plots)


def test_report_is_noop_outside_a_run(monkeypatch):
    monkeypatch.delenv("STATDL_RUN_DIR", raising=False)
    assert statdl.report(metrics={"loss": [1.0]}) is None
    assert statdl.tuning.run_dir() is None


def test_run_dirs_never_collide(tmp_path):
    dirs = {new_run_dir(tmp_path) for _ in range(5)}
    assert len(dirs) == 5
    names = sorted(d.name for d in dirs)
    assert names[0].endswith("Z") and any(n.endswith("Z-1") for n in names)


def test_declared_flags(tmp_path):
    declared = declared_flags(FAKE)
    assert declared["nodes1"] == {"type": "integer", "default": 64, "description": ""}
    script = tmp_path / "noflags.py"
    script.write_text("print('no flags here')\n")
    assert declared_flags(script) == {}
    broken = tmp_path / "broken.py"
    broken.write_text("import nonexistent_module_xyz\n")
    with pytest.raises(ConfigError, match="failed before declaring its flags"):
        declared_flags(broken)


def test_tuning_run_grid_failure_resume_and_listing(tmp_path):
    runs_dir = tmp_path / "runs"
    grid = {"nodes1": [32, 64], "fail": [False, True]}
    first = tuning_run(FAKE, grid, runs_dir=runs_dir, progress=False)
    assert len(first) == 4 and first.attrs["n_failed"] == 2
    assert set(first["status"]) == {"completed", "failed"}
    assert first.attrs["n_compared"] == 4 and first.attrs["n_combinations"] == 4
    # resume: completed combinations are not run again; failed ones are retried
    second = tuning_run(FAKE, grid, runs_dir=runs_dir, progress=False)
    assert second.attrs["n_skipped"] == 2
    assert len(list(runs_dir.iterdir())) == 6
    table = ls_runs(runs_dir)
    assert len(table) == 6 and table.attrs["n_compared"] == 6
    assert list(table["start"]) == sorted(table["start"], reverse=True)   # newest first
    for col in ("run_dir", "metric_val_loss", "eval_loss", "flag_nodes1", "epochs",
                "epochs_completed", "start", "end", "completed"):
        assert col in table.columns
    ordered = ls_runs(runs_dir, order="val_loss", filter="completed")
    assert ordered["metric_val_loss"].is_monotonic_increasing and len(ordered) == 2
    best = best_run(runs_dir)
    assert best["flag_nodes1"] == 64 and best["n_compared"] == 2
    assert "optimistic" in best["selection_note"]
    assert best_run(runs_dir, "eval_accuracy", "max")["run_dir"] == best["run_dir"]
    assert latest_run(runs_dir)["run_dir"] == table["run_dir"].iloc[0]
    assert run_info(Path(best["run_dir"]).name, runs_dir)["flag_nodes1"] == 64


def test_explicit_combinations_and_sampling(tmp_path):
    combos = pd.DataFrame({"nodes1": [16, 32, 64], "dropout1": [0.1, 0.2, 0.3]})
    runs = tuning_run(FAKE, combos, runs_dir=tmp_path, progress=False)
    assert sorted(runs["flag_nodes1"]) == [16, 32, 64]
    again = tuning_run(FAKE, {"nodes1": [8, 16, 32, 64, 128]}, sample=0.4, seed=3,
                       runs_dir=tmp_path / "s", progress=False)
    assert len(again) == 2 and again.attrs["n_combinations"] == 5


def test_tuning_bad_input(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="`runs_dir` must be a folder path; got .*, a file"):
        tuning_run(FAKE, {"nodes1": [1]}, runs_dir=afile)
    with pytest.raises(ConfigError, match="`flags` is empty"):
        tuning_run(FAKE, {}, runs_dir=tmp_path)
    with pytest.raises(ConfigError, match="`sample` must be a fraction"):
        tuning_run(FAKE, {"nodes1": [1]}, sample=0, runs_dir=tmp_path)
    with pytest.raises(ConfigError, match="^`flags` of tuning_run must name flags that fake_train.py "
                                          "declares .*; got nodes2, which fake_train.py does not "
                                          "declare\\.$"):
        tuning_run(FAKE, {"nodes2": [1, 2]}, runs_dir=tmp_path)
    with pytest.raises(ConfigError, match="Unable to convert flag `nodes1` to integer"):
        tuning_run(FAKE, {"nodes1": ["many"]}, runs_dir=tmp_path)
    with pytest.raises(ConfigError, match="`n_jobs`"):
        tuning_run(FAKE, {"nodes1": [1]}, n_jobs=0, runs_dir=tmp_path)
    with pytest.raises(ConfigError, match="`backend`"):
        tuning_run(FAKE, {"nodes1": [1]}, backend="spark", runs_dir=tmp_path)
    with pytest.raises(ConfigError, match="`script`"):
        tuning_run(tmp_path / "missing.py", {"nodes1": [1]}, runs_dir=tmp_path)
    assert not any(p.name[0].isdigit() for p in tmp_path.iterdir())    # no run was started


def test_unreadable_run_folder_is_skipped_with_warning(tmp_path):
    training_run(FAKE, runs_dir=tmp_path, echo=False)
    bad = new_run_dir(tmp_path)
    (bad / "statdl.d" / "properties.json").write_text("{not json")
    with pytest.warns(UserWarning, match="skipping unreadable run folder"):
        table = ls_runs(tmp_path)
    assert len(table) == 1


def test_interrupted_run_is_detected_and_redone(tmp_path):
    runs_dir = tmp_path / "runs"
    code = (f"import statdl; statdl.tuning_run({str(FAKE)!r}, {{'sleep': [30.0]}}, "
            f"runs_dir={str(runs_dir)!r}, progress=False, check_flags=False)")
    driver = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            outs = list(runs_dir.glob("*/statdl.d/output.txt.partial"))
            if outs and "sleeping" in outs[0].read_text():
                break
            time.sleep(0.05)
        else:
            pytest.fail("the run never started")
    finally:
        os.killpg(driver.pid, signal.SIGKILL)        # runner and child die without recording
        driver.wait()
    (folder,) = list(runs_dir.iterdir())
    deadline = time.time() + 5
    while run_status(folder) == "running" and time.time() < deadline:
        time.sleep(0.05)
    assert run_status(folder) == "interrupted"
    assert ls_runs(runs_dir)["status"].tolist() == ["interrupted"]
    # the same call again redoes the combination in a new folder (a timeout keeps it short)
    runs = tuning_run(FAKE, {"sleep": [30.0]}, runs_dir=runs_dir, progress=False,
                      timeout=0.5)
    assert len(list(runs_dir.iterdir())) == 2      # redone in a new folder
    assert runs.attrs["n_skipped"] == 0
    assert "interrupted" in run_info(folder)["error_message"]


def test_clean_and_purge(tmp_path):
    training_run(FAKE, runs_dir=tmp_path, echo=False)
    training_run(FAKE, flags={"fail": True}, runs_dir=tmp_path, echo=False)
    failed = ls_runs(tmp_path, filter="status == 'failed'")
    moved = clean_runs(failed, tmp_path)
    assert len(moved) == 1 and moved[0].parent.name == ".archive"
    assert len(ls_runs(tmp_path)) == 1
    assert purge_runs(tmp_path) == 1 and not (tmp_path / ".archive").exists()


@pytest.mark.slow
def test_cli_run_tune_and_runs(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "statdl.cli", *map(str, args)],
                              capture_output=True, text=True, cwd=tmp_path, timeout=60)

    r = cli("run", FAKE, "--help-flags")
    assert r.returncode == 0 and "--nodes1" in r.stdout and "integer" in r.stdout
    r = cli("run", FAKE, "--flag", "nodes1=16", "--no-echo")
    assert r.returncode == 0 and "Run completed: runs/" in r.stdout
    r = cli("tune", FAKE, "--flag", "nodes1=8,16", "--flag", "dropout1=0.1,0.2", "--sample",
            "0.5", "--seed", "1", "--jobs", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "4 total combinations of flags (sampled to 2 combinations)" in r.stdout
    r = cli("runs", "ls", "--csv")
    table = pd.read_csv(__import__("io").StringIO(r.stdout))
    assert len(table) == 3 and "flag_nodes1" in table.columns
    r = cli("tune", FAKE, "--flag", "nodes2=1")
    assert r.returncode == 2 and "does not declare" in r.stderr
    r = cli("runs", "view", "--no-open")
    assert r.returncode == 0 and Path(tmp_path, r.stdout.strip()).is_file()
    r = cli("runs", "best")
    assert "best of 3 runs" in r.stdout
