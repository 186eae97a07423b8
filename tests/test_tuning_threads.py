"""Threads of training runs: a tuning run caps each run at its share of the cores (without
fixing the count), and every run records the thread count and wait policy it trained with."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from statdl.tuning import ls_runs, training_run, tuning_run
from statdl.tuning.runner import child_env
from statdl.tuning.table import render_table

FIX = Path(__file__).parent / "fixtures" / "tuning"
THREAD_KEYS = {"threads", "thread_mode", "thread_cores", "thread_wait", "thread_source"}


def _clean_thread_env(monkeypatch):
    for key in ("STATDL_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY",
                "GOMP_SPINCOUNT"):
        monkeypatch.delenv(key, raising=False)


def test_a_share_caps_the_openmp_threads_but_fixes_nothing(monkeypatch):
    _clean_thread_env(monkeypatch)
    env = child_env(None, None, None, max_threads=3)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"
    assert "STATDL_NUM_THREADS" not in env


def test_a_smaller_user_cap_is_kept(monkeypatch):
    _clean_thread_env(monkeypatch)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert child_env(None, None, None, max_threads=4)["OMP_NUM_THREADS"] == "2"
    assert child_env(None, None, None, max_threads=1)["OMP_NUM_THREADS"] == "1"


def test_num_threads_fixes_the_count(monkeypatch):
    _clean_thread_env(monkeypatch)
    env = child_env(None, None, 2, max_threads=1)
    assert env["STATDL_NUM_THREADS"] == env["OMP_NUM_THREADS"] == "2"


def test_a_fixed_run_records_its_count_and_wait_policy(tmp_path, monkeypatch):
    _clean_thread_env(monkeypatch)
    run = training_run(FIX / "sequential_train.py", {"epochs": 1}, runs_dir=tmp_path,
                       echo=False, num_threads=1)
    assert run["status"] == "completed"
    assert THREAD_KEYS <= set(run.index)
    assert run["threads"] == 1 and run["thread_mode"] == "fixed"
    assert run["thread_source"] == "STATDL_NUM_THREADS"
    assert run["thread_wait"] and "set by the user" not in run["thread_wait"]


def test_a_users_wait_policy_is_recorded(tmp_path, monkeypatch):
    _clean_thread_env(monkeypatch)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    run = training_run(FIX / "sequential_train.py", {"epochs": 1}, runs_dir=tmp_path,
                       echo=False, num_threads=1)
    assert run["thread_wait"] == "OMP_WAIT_POLICY=PASSIVE (set by the user)"


def test_parallel_runs_follow_the_load_within_their_share(tmp_path, monkeypatch):
    _clean_thread_env(monkeypatch)
    runs = tuning_run(FIX / "sequential_train.py", {"epochs": [1], "units": [4, 8]},
                      runs_dir=tmp_path, n_jobs=2, progress=False, check_flags=False)
    assert set(runs["status"]) == {"completed"}
    share = max(1, (os.cpu_count() or 1) // 2)
    assert set(runs["thread_mode"]) == {"auto"}
    assert all(1 <= c <= share for c in runs["thread_cores"])
    assert all(1 <= t <= c for t, c in zip(runs["threads"], runs["thread_cores"]))
    props = ls_runs(tmp_path)
    assert "threads" in props.columns
    table = render_table(runs, width=160)
    assert table.splitlines()[1].split()[-1] == "threads"


def test_runs_without_torch_record_no_threads(tmp_path, monkeypatch):
    _clean_thread_env(monkeypatch)
    run = training_run(FIX / "fake_train.py", runs_dir=tmp_path, echo=False)
    assert run["status"] == "completed"
    assert not THREAD_KEYS & set(run.index)
    assert "threads" not in render_table(pd.DataFrame([run]), width=160)


def test_what_the_script_reported_itself_is_kept(tmp_path, monkeypatch):
    _clean_thread_env(monkeypatch)
    script = tmp_path / "own.py"
    script.write_text("import torch\nimport statdl\nstatdl.report(threads=99)\n")
    run = training_run(script, runs_dir=tmp_path / "runs", echo=False, num_threads=1)
    assert run["threads"] == 99 and run["thread_mode"] == "fixed"
