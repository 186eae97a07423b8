"""Warm runs: a tuning run's runs are forked from a process that imported torch and statdl
once (statdl.tuning.warm), and each is still isolated as a fresh process is: its own output,
process group, environment, random state and thread count; a crash ends that run alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from statdl.run_folders.files import read_json
from statdl.tuning import ls_runs, tuning_run
from statdl.tuning.local_cluster import wait_for
from statdl.tuning.warm import WarmPool, warm_runs_enabled

pytestmark = pytest.mark.skipif(os.name != "posix" or not warm_runs_enabled(),
                                reason="warm runs need fork and Unix sockets")
FIX = Path(__file__).parent / "fixtures" / "tuning"

PROBE = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import torch
    import statdl

    F = statdl.flags(tag=0, crash=0, code=0)
    print(f"this is run {F.tag}")
    if F.crash:
        os.kill(os.getpid(), signal.SIGSEGV)
    if F.code:
        sys.exit(F.code)
    statdl.report(metrics={"val_loss": [1.0 / (1 + F.tag)]}, pid=os.getpid(),
                  pgid=os.getpgid(0), parent=os.getppid(), np_draw=float(np.random.rand()),
                  torch_draw=float(torch.rand(1)), torch_threads=torch.get_num_threads(),
                  cwd=os.getcwd(), run_dir_env=os.environ.get("STATDL_RUN_DIR"),
                  argv=sys.argv[0])
""")


def _probe(tmp_path: Path) -> Path:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    return script


def _props(run_dir: str) -> dict:
    return read_json(Path(run_dir) / "statdl.d" / "properties.json")


def test_warm_runs_are_forked_and_each_is_isolated(tmp_path, monkeypatch):
    script = _probe(tmp_path)
    monkeypatch.chdir(tmp_path)
    runs = tuning_run(script, {"tag": [1, 2, 3, 4]}, runs_dir=tmp_path / "runs", n_jobs=2,
                      num_threads=1, progress=False)
    assert set(runs["status"]) == {"completed"}
    assert all(_props(r)["warm_start"] is True for r in runs["run_dir"])
    for run in runs.itertuples():
        output = (Path(run.run_dir) / "statdl.d" / "output.txt").read_text()
        assert f"this is run {run.flag_tag}" in output
        assert all(f"this is run {t}" not in output for t in {1, 2, 3, 4} - {run.flag_tag})
        assert run.pgid == run.pid                    # a process group of its own
        assert run.run_dir_env == str(Path(run.run_dir).resolve())
        assert run.cwd == str(tmp_path) and run.argv == str(script)
        assert run.torch_threads == 1 and run.threads == 1 and run.thread_mode == "fixed"
    assert len(set(runs["pid"])) == 4
    assert len(set(runs["parent"])) == 1              # one zygote forked them all
    # unseeded draws differ from run to run, as in fresh processes (not the zygote's state)
    assert len(set(runs["np_draw"])) == 4 and len(set(runs["torch_draw"])) == 4
    zygote = int(runs["parent"].iloc[0])
    with pytest.raises(ProcessLookupError):           # the zygote ended with the grid
        os.kill(zygote, 0)


def test_a_crash_ends_its_run_alone_and_exit_codes_are_kept(tmp_path):
    script = _probe(tmp_path)
    combos = [{"tag": 1, "crash": 1}, {"tag": 2, "code": 3}, {"tag": 3}]
    tuning_run(script, combos, runs_dir=tmp_path / "runs", progress=False, num_threads=1)
    runs = {int(r.flag_tag): r for r in ls_runs(tmp_path / "runs").itertuples()}
    assert runs[1].status == "failed" and "killed by signal 11" in runs[1].error_message
    assert runs[2].status == "failed" and _props(runs[2].run_dir)["returncode"] == 3
    assert runs[3].status == "completed"             # the zygote went on after the crash
    assert all(_props(r.run_dir)["warm_start"] for r in runs.values())


def test_a_run_is_killed_with_its_group_and_the_pool_survives(tmp_path):
    script = tmp_path / "sleepy.py"
    script.write_text("import os, subprocess, time\n"
                      "p = subprocess.Popen(['sleep', '60'])\n"
                      "print(p.pid, flush=True)\ntime.sleep(60)\n")
    pool = WarmPool()
    try:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = pool.launch([str(script)], env)
        assert proc is not None
        grandchild = int(proc.stdout.readline())
        os.killpg(proc.pid, signal.SIGKILL)          # what a timeout does
        assert proc.wait(timeout=20) == -signal.SIGKILL
        wait_for(lambda: not _alive(grandchild), 10, "the run's own child to be killed")
        again = pool.launch([str(FIX / "fake_train.py")], env)
        assert again is not None and again.wait(timeout=60) == 0
        assert "done" in again.stdout.read().decode()
    finally:
        pool.close()


def _alive(pid: int) -> bool:
    """Alive and not a zombie (a killed grandchild stays a zombie until reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_warm_runs_off_start_fresh_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("STATDL_WARM_RUNS", "0")
    script = _probe(tmp_path)
    runs = tuning_run(script, {"tag": [1]}, runs_dir=tmp_path / "runs", progress=False,
                      num_threads=1)
    assert _props(runs["run_dir"].iloc[0])["warm_start"] is False
    assert runs["parent"].iloc[0] == os.getpid()      # started by this process itself


@pytest.mark.slow
def test_warm_and_fresh_runs_train_the_same_curves_with_two_threads(tmp_path, monkeypatch):
    # the script loads torch after its flags(): its first run is a fresh process, which shows
    # that it loads torch, and the runs after it are warm
    grid = {"units": [4, 64, 16], "epochs": [3]}
    curves = {}
    for warm in ("1", "0"):
        monkeypatch.setenv("STATDL_WARM_RUNS", warm)
        runs = tuning_run(FIX / "sequential_train.py", grid, runs_dir=tmp_path / warm,
                          n_jobs=1, num_threads=2, progress=False, timeout=300)
        assert set(runs["status"]) == {"completed"} and set(runs["threads"]) == {2}
        started = [_props(r)["warm_start"] for r in sorted(runs["run_dir"])]
        assert started == ([False, True, True] if warm == "1" else [False] * 3)
        curves[warm] = {int(r.flag_units): json.loads(
            (Path(r.run_dir) / "statdl.d" / "metrics.json").read_text())
            for r in runs.itertuples()}
    assert curves["1"] == curves["0"]                # bit for bit, every epoch


def test_a_killed_driver_takes_its_warm_process_and_runs_with_it(tmp_path):
    script = tmp_path / "sleepy.py"
    script.write_text("import os, time\nimport torch\nimport statdl\n"
                      "F = statdl.flags(tag=1)\nprint('pid', os.getpid(), os.getppid(), "
                      "flush=True)\ntime.sleep(120)\n")
    code = (f"import statdl; statdl.tuning_run({str(script)!r}, {{'tag': [1]}}, "
            f"runs_dir={str(tmp_path / 'runs')!r}, progress=False, num_threads=1)")
    driver = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def started():
            for out in (tmp_path / "runs").glob("*/statdl.d/output.txt.partial"):
                words = out.read_text().split()
                if len(words) >= 3 and words[0] == "pid":
                    return int(words[1]), int(words[2])
            return None

        run, zygote = wait_for(started, 120, "the warm run to start")
        assert zygote != driver.pid                      # forked by the warm process
        os.kill(driver.pid, signal.SIGKILL)              # no chance to clean up
        driver.wait(timeout=10)
        wait_for(lambda: not _alive(zygote) and not _alive(run), 10,
                 "the warm process and its run to stop with the driver")
    finally:
        if driver.poll() is None:
            driver.kill()
