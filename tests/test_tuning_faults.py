"""Tuning runs under faults: bad arguments, hung scripts, killed parents, two tuners on one
runs directory, huge outputs, large runs directories and narrow terminals.

Every test uses real subprocesses and real signals, each bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from statdl.cli import main as statdl_main
from statdl.errors import ConfigError
from statdl.tuning import ls_runs, run_info, save_run_view, training_run, tuning_run
from statdl.tuning.flagset import convert_flag, flags
from statdl.tuning.runs import pid_alive, run_status

FIX = Path(__file__).parent / "fixtures" / "tuning"
FAKE = FIX / "fake_train.py"
PY = sys.executable
posix_only = pytest.mark.skipif(os.name != "posix", reason="process groups and signals")


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def _gone(pid: int) -> bool:
    return not pid_alive(pid)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("bad", [-1, 0, float("nan"), float("inf"), True, "5"])
def test_timeout_must_be_a_positive_number(tmp_path, bad):
    with pytest.raises(ConfigError, match=r"`timeout` must be a number of seconds > 0 or None"):
        tuning_run(FAKE, {"nodes1": [8]}, runs_dir=tmp_path / "r", timeout=bad)
    with pytest.raises(ConfigError, match=r"`timeout` must be a number of seconds > 0 or None"):
        training_run(FAKE, runs_dir=tmp_path / "r", timeout=bad)
    assert not (tmp_path / "r").exists()                  # rejected before any run started


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_flag_values_are_rejected_naming_the_flag(tmp_path, bad):
    for check in (True, False):
        with pytest.raises(ConfigError, match=r"value of `dropout1` must be a finite number"):
            tuning_run(FAKE, {"dropout1": [0.1, bad]}, runs_dir=tmp_path, check_flags=check)
    with pytest.raises(ConfigError, match=r"combination 1: value of `dropout1` must be a finite"):
        tuning_run(FAKE, [{"dropout1": 0.1}, {"dropout1": bad}], runs_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"`dropout1` must be a finite number"):
        training_run(FAKE, flags={"dropout1": bad}, runs_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match=r"Flag `lr` must be a finite number; got"):
        convert_flag("lr", "numeric", str(bad))
    with pytest.raises(ConfigError, match=r"Flag `lr` must be a finite number"):
        flags(lr=0.1, arguments=[f"--lr={bad}"])


# --------------------------------------------------------------------------- listing
def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = statdl_main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_ls_on_empty_missing_and_column_less_runs_dirs(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    for where in (empty, tmp_path / "missing"):
        for order in ("val_loss", "end", "status", "start"):
            assert ls_runs(where, order=order).empty
            code, out, err = _cli(capsys, "runs", "ls", "--runs-dir", where, "--order", order)
            assert (code, out.strip(), err) == (0, "no runs", "")
        assert ls_runs(where, filter="completed").empty
        assert ls_runs(where, filter="status == 'failed'").empty
    bare = tmp_path / "bare"                       # a run folder with nothing recorded in it
    (bare / "2024-01-01T00-00-00Z" / "statdl.d").mkdir(parents=True)
    assert ls_runs(bare, order="status")["status"].tolist() == ["interrupted"]
    with pytest.raises(ConfigError, match=r"`order` 'val_loss' is not a column of the runs"):
        ls_runs(bare, order="val_loss")
    code, out, err = _cli(capsys, "runs", "ls", "--runs-dir", bare, "--order", "statsu")
    assert code == 2 and "Traceback" not in err
    assert "did you mean 'status'?" in err and "columns: run_dir, " in err


def _fake_runs(root: Path, n: int) -> None:
    """``n`` finished run folders whose console output cannot be read: ``output.txt`` is a
    folder (reading it raises) and half of them also hold a 1 MB sparse ``output.txt.big``."""
    for i in range(n):
        meta = root / f"2024-01-01T00-{i // 60:02d}-{i % 60:02d}Z-{i}" / "statdl.d"
        (meta / "output.txt").mkdir(parents=True)
        if i % 2:
            with open(meta / "output.txt.big", "wb") as fh:
                fh.truncate(1 << 20)
        props = {"type": "training", "script": "train.py", "start": f"2024-01-01T00:00:{i % 60:02d}Z",
                 "end": "2024-01-01T01:00:00Z", "completed": True, "status": "completed",
                 "elapsed_s": 1.5}
        (meta / "properties.json").write_text(json.dumps(props))
        (meta / "request.json").write_text(json.dumps({"script": "/x/train.py",
                                                       "flags": {"units": i}}))
        (meta / "flags.json").write_text(json.dumps({"units": i, "lr": 0.1}))
        (meta / "metrics.json").write_text(json.dumps({"loss": [1.0, 1.0 / (i + 1)]}))


def test_ls_runs_of_1000_runs_reads_no_output_file(tmp_path, recwarn):
    _fake_runs(tmp_path, 1000)
    t0 = time.perf_counter()
    table = ls_runs(tmp_path, order="loss")
    seconds = time.perf_counter() - t0
    print(f"ls_runs of 1000 runs: {seconds:.2f} s")
    assert not [w for w in recwarn if "unreadable" in str(w.message)]
    assert len(table) == 1000 and set(table["status"]) == {"completed"}
    assert table["metric_loss"].iloc[0] == pytest.approx(1 / 1000)
    assert "output" not in table.columns


# --------------------------------------------------------------------------- the runs table
def test_runs_ls_fits_the_terminal_and_chooses_columns(tmp_path, capsys, monkeypatch):
    runs_dir = tmp_path / "runs"
    tuning_run(FAKE, {"nodes1": [8, 16], "dropout1": [0.1, 0.35]}, runs_dir=runs_dir,
               progress=False, check_flags=False)
    capsys.readouterr()
    for width in (80, 160):
        monkeypatch.setenv("COLUMNS", str(width))
        code, out, _ = _cli(capsys, "runs", "ls", "--runs-dir", runs_dir)
        lines = out.splitlines()
        assert code == 0 and max(len(line) for line in lines) <= width, out
        header = lines[1].split()
        assert header == ["run", "script", "flags", "val_loss", "status", "time"], (width, out)
        assert all(line.split()[2].startswith("nodes1=") for line in lines[3:7]), out
    assert "nodes1=16 dropout1=0.35" in out                # uncut at 160 columns
    code, out, _ = _cli(capsys, "runs", "ls", "--runs-dir", runs_dir, "--columns",
                        "flag_nodes1,eval_accuracy,elapsed_s")
    header = out.splitlines()[1].split()
    assert code == 0 and header == ["flag_nodes1", "eval_accuracy", "elapsed_s"]
    code, out, _ = _cli(capsys, "runs", "ls", "--runs-dir", runs_dir, "--csv",
                        "--columns", "run_dir,flag_nodes1,metric_val_loss", "--order", "val_loss")
    table = pd.read_csv(__import__("io").StringIO(out))
    assert list(table.columns) == ["run_dir", "flag_nodes1", "metric_val_loss"]
    assert table["metric_val_loss"].is_monotonic_increasing and len(table) == 4
    code, _, err = _cli(capsys, "runs", "ls", "--runs-dir", runs_dir, "--columns", "flag_nodes1,bogus")
    assert code == 2 and "`columns` 'bogus' is not a column of the runs" in err and "flag_nodes1" in err


# --------------------------------------------------------------------------- processes
HANG_WITH_GRANDCHILD = """
    import subprocess, sys, time
    import statdl
    F = statdl.flags(mode="hang", file=None)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    open(sys.argv[1], "w").write(str(child.pid))
    print("started", child.pid, flush=True)
    if F.mode == "hang":
        child.wait()
"""


@posix_only
def test_timeout_stops_the_whole_process_group(tmp_path):
    script = _script(tmp_path, "hang.py", HANG_WITH_GRANDCHILD)
    pid_file = tmp_path / "grandchild.pid"
    t0 = time.monotonic()
    try:
        run = training_run(script, runs_dir=tmp_path / "runs", args=[str(pid_file)],
                           echo=False, timeout=3.0)
        seconds = time.monotonic() - t0
        assert "started" in run["output"], "the script did not start within the timeout"
        grandchild = int(pid_file.read_text())
        assert run["status"] == "failed" and "took longer than 3.0 s" in run["error_message"]
        assert seconds < 15, seconds
        _wait_for(lambda: _gone(grandchild), 5, "the grandchild to be stopped")
    finally:
        if pid_file.exists():
            _kill(int(pid_file.read_text()))


@posix_only
def test_output_held_open_by_a_grandchild_does_not_block_the_grid(tmp_path):
    script = _script(tmp_path, "leave.py", HANG_WITH_GRANDCHILD)
    pid_file = tmp_path / "grandchild.pid"
    t0 = time.monotonic()
    try:
        run = training_run(script, flags={"mode": "leave"}, runs_dir=tmp_path / "runs",
                           args=[str(pid_file)], echo=False)
        assert time.monotonic() - t0 < 10
        assert run["status"] == "completed" and "started" in run["output"]
    finally:
        if pid_file.exists():
            _kill(int(pid_file.read_text()))


def test_huge_output_keeps_head_and_tail(tmp_path):
    script = _script(tmp_path, "loud.py", """
        import sys
        for i in range(60_000):
            sys.stdout.write(f"line {i:06d} " + "x" * 80 + "\\n")
        print("the end")
    """)
    run = training_run(script, runs_dir=tmp_path, echo=False)
    text = run["output"]
    total = 60_000 * 93 + len("the end\n")
    assert run["status"] == "completed" and total > 5_000_000
    assert len(text) < 2_200_000
    assert text.startswith("line 000000 ") and text.rstrip().endswith("the end")
    assert "bytes of output omitted" in text
    assert run["output_bytes"] == total and run["output_truncated"] is True
    page = save_run_view(run["run_dir"]).read_text()
    assert f"The script printed {total:,} bytes" in page


# --------------------------------------------------------------------------- two tuners
_TUNER = """
import sys, time, json
from pathlib import Path
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
import statdl
runs = statdl.tuning_run({fake!r}, {{"nodes1": [8, 16, 32, 64, 128, 256], "sleep": [0.2]}},
                         runs_dir=sys.argv[1], progress=False, check_flags=False)
print("RESULT", json.dumps(sorted(runs["status"].tolist())))
"""


@posix_only
def test_two_tuning_runs_on_one_runs_dir_run_each_combination_once(tmp_path):
    runs_dir, go = tmp_path / "runs", tmp_path / "go"
    code = _TUNER.format(fake=str(FAKE))
    tuners = [subprocess.Popen([PY, "-c", code, str(runs_dir), str(go)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    time.sleep(0.5)
    go.touch()
    outs = [t.communicate(timeout=60) for t in tuners]
    for t, (out, err) in zip(tuners, outs, strict=True):
        assert t.returncode == 0, err
        assert 'RESULT ["completed", "completed", "completed", "completed", "completed", ' \
               '"completed"]' in out
    table = ls_runs(runs_dir)
    counts = Counter(table["flag_nodes1"])
    assert counts == {n: 1 for n in (8, 16, 32, 64, 128, 256)}, counts
    assert set(table["status"]) == {"completed"}


# --------------------------------------------------------------------------- killed parents
_DRIVER = ("import statdl; statdl.tuning_run({fake!r}, {{'sleep': {sleeps!r}}}, "
           "runs_dir={runs!r}, progress=False, check_flags=False)")


def _start_driver(runs_dir: Path, sleeps: list[float]) -> subprocess.Popen:
    code = _DRIVER.format(fake=str(FAKE), sleeps=sleeps, runs=str(runs_dir))
    return subprocess.Popen([PY, "-c", code], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _sleeping_run(runs_dir: Path) -> Path:
    """Wait until a run prints 'sleeping'; return its folder."""
    found: list[Path] = []

    def sleeping() -> bool:
        for out in runs_dir.glob("*/statdl.d/output.txt.partial"):
            try:
                if "sleeping" in out.read_text():
                    found.append(out.parents[1])
                    return True
            except FileNotFoundError:
                pass
        return False

    _wait_for(sleeping, 30, "a run to start sleeping")
    return found[0]


def _child_pid(run: Path) -> int:
    lock = json.loads((run / "statdl.d" / "lock.json").read_text())
    return lock["processes"][-1]["pid"]


@posix_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_parent_records_runs_as_interrupted(tmp_path, sig):
    runs_dir = tmp_path / "runs"
    driver = _start_driver(runs_dir, [30.0])
    try:
        run = _sleeping_run(runs_dir)
        child = _child_pid(run)
        driver.send_signal(sig)
        driver.wait(timeout=20)
    finally:
        _kill(driver.pid)
    _wait_for(lambda: _gone(child), 5, "the run's process to stop")
    props = json.loads((run / "statdl.d" / "properties.json").read_text())
    assert props["status"] == "interrupted" and props["completed"] is False
    assert run_status(run) == "interrupted"
    assert run_info(run)["error_message"].startswith("interrupted: ")


@posix_only
@pytest.mark.slow
def test_killed_parent_stops_its_runs_and_resume_redoes_only_unfinished(tmp_path):
    runs_dir = tmp_path / "runs"
    driver = _start_driver(runs_dir, [0.0, 30.0])
    try:
        run = _sleeping_run(runs_dir)
        child = _child_pid(run)
        driver.send_signal(signal.SIGKILL)          # the parent alone: no chance to clean up
        driver.wait(timeout=10)
    finally:
        _kill(driver.pid)
    _wait_for(lambda: _gone(child), 5, "the orphaned run to stop (parent-death signal)")
    finished = [p for p in runs_dir.iterdir() if run_status(p) == "completed"]
    assert len(finished) == 1
    before = (finished[0] / "statdl.d" / "properties.json").read_text()
    # resume at once: the completed run is kept, the killed one is redone (cut short here)
    runs = tuning_run(FAKE, {"sleep": [0.0, 30.0]}, runs_dir=runs_dir, progress=False,
                      check_flags=False, timeout=1.0)
    assert runs.attrs["n_skipped"] == 1 and len(list(runs_dir.iterdir())) == 3
    assert (finished[0] / "statdl.d" / "properties.json").read_text() == before
    assert run_status(run) == "interrupted"
    assert "interrupted" in run_info(run)["error_message"]


@posix_only
def test_a_run_another_process_is_running_is_waited_for_not_redone_nor_counted(tmp_path):
    from statdl.tuning.runs import new_run_dir, write_lock

    runs_dir = tmp_path / "runs"
    run = new_run_dir(runs_dir)
    meta = run / "statdl.d"
    (meta / "request.json").write_text(json.dumps({"script": str(FAKE.resolve()),
                                                   "flags": {"nodes1": 8}, "args": []}))
    (meta / "properties.json").write_text(json.dumps({"status": "running", "completed": False}))
    finish = (f"import json, time; time.sleep(2); open({str(meta / 'metrics.json')!r}, 'w')"
              f".write(json.dumps({{'val_loss': [0.25]}})); open("
              f"{str(meta / 'properties.json')!r}, 'w').write(json.dumps({{'status': "
              f"'completed', 'completed': True}}))")
    owner = subprocess.Popen([PY, "-c", finish])          # "another tuner" finishing the run
    try:
        write_lock(run, [owner.pid])
        runs = tuning_run(FAKE, {"nodes1": [8, 16]}, runs_dir=runs_dir, progress=False,
                          check_flags=False)
        assert owner.poll() is not None                   # it returned after the owner ended
    finally:
        owner.wait(timeout=20)
    assert runs.attrs["n_other"] == 1 and runs.attrs["n_skipped"] == 0
    assert sorted(runs["flag_nodes1"]) == [8, 16] and len(list(runs_dir.iterdir())) == 2
    assert runs.loc[runs["flag_nodes1"] == 8, "metric_val_loss"].item() == 0.25


def test_another_hosts_run_is_gone_when_its_heartbeat_stops(tmp_path):
    """A shared runs directory on a cluster: pids of another host cannot be checked, so its
    run counts as running while its lock file is refreshed (every 15 s), and as interrupted
    once 8 heartbeats (120 s) were missed; a lock without heartbeat is assumed alive."""
    from statdl.tuning.runs import new_run_dir

    runs = []
    for heartbeat, age in ((15.0, 0), (15.0, 119), (15.0, 121), (None, 10_000)):
        run = new_run_dir(tmp_path)
        lock = run / "statdl.d" / "lock.json"
        lock.write_text(json.dumps({"host": "another-node", "heartbeat": heartbeat,
                                    "processes": [{"pid": 1, "started": None}]}))
        os.utime(lock, (time.time() - age, time.time() - age))
        runs.append(run)
    assert [run_status(r) for r in runs] == ["running", "running", "interrupted", "running"]


def test_a_run_records_its_heartbeat_and_refreshes_it(tmp_path, monkeypatch):
    from statdl.tuning import runner

    monkeypatch.setattr(runner, "HEARTBEAT_S", 0.2)
    run = tmp_path / "r"
    (run / "statdl.d").mkdir(parents=True)
    lock = run / "statdl.d" / "lock.json"
    lock.write_text(json.dumps({"host": "h", "processes": []}))
    os.utime(lock, (1.0, 1.0))
    beat = runner._Heartbeat(run)
    time.sleep(0.7)
    beat.stop()
    assert json.loads(lock.read_text())["heartbeat"] == 0.2
    assert time.time() - lock.stat().st_mtime < 5


def test_a_claim_cut_short_by_a_killed_driver_is_neither_counted_nor_in_the_way(tmp_path):
    """A driver killed as a run ends is likely to be killed while it claims the next
    combination (the folder made, its flags not yet recorded). Such a folder belongs to no
    combination: a resume skips the completed runs, runs the others once, and listings show
    the folder as interrupted."""
    from statdl.tuning.runs import new_run_dir, write_lock

    runs_dir = tmp_path / "runs"
    first = tuning_run(FAKE, {"nodes1": [8]}, runs_dir=runs_dir, progress=False,
                       check_flags=False)
    dead = subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    cut = new_run_dir(runs_dir)                      # the claim: folder and lock, no request
    write_lock(cut, [int(dead.stdout)])
    runs = tuning_run(FAKE, {"nodes1": [8, 16, 32]}, runs_dir=runs_dir, progress=False,
                      check_flags=False)
    assert runs.attrs["n_skipped"] == 1 and sorted(runs["flag_nodes1"]) == [8, 16, 32]
    assert set(runs["status"]) == {"completed"} and cut.name not in set(runs["run_dir"])
    assert first["run_dir"].iloc[0] in set(runs["run_dir"])
    listed = ls_runs(runs_dir)
    assert len(listed) == 4
    assert listed.loc[listed["run_dir"] == str(cut), "status"].item() == "interrupted"
