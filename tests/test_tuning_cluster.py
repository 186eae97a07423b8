"""Tuning runs on a real Ray cluster started the normal way (slow; POSIX; needs Ray).

One head (no CPUs: it only coordinates) and two worker nodes, each its own ``ray start``
process with its own CPU count and temp dir, on this machine, with token authentication
(``RAY_AUTH_MODE=token``, one token file for every node and the drivers). The drivers run
as separate processes, as a user's would. Every node sees the runs directory (one machine):
docs/tuning_cluster.md says what a real cluster needs.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from statdl.run_folders import run_status
from statdl.run_folders.files import read_json
from statdl.tuning import ls_runs, tuning_run
from statdl.tuning.local_cluster import LocalCluster, wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.name != "posix", reason="process groups, /proc")]
FIX = Path(__file__).parent / "fixtures" / "tuning"
RAY = Path(sys.executable).with_name("ray")
CURVE = FIX / "slow_curve_train.py"
# the command as a user types it (the console script), else its module
STATDL = ([str(Path(sys.executable).with_name("statdl"))]
          if Path(sys.executable).with_name("statdl").exists()
          else [sys.executable, "-m", "statdl.cli"])


@pytest.fixture
def cluster():
    pytest.importorskip("ray")
    if not RAY.exists():
        pytest.skip("the `ray` command is not installed next to this Python")
    c = LocalCluster()
    try:
        yield c
    finally:
        c.stop()


def _tune_code(runs_dir: Path, grid: dict, address: str | None, **kw) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items())
    backend = f"backend='ray', address={address!r}, " if address else ""
    return (f"from statdl.tuning import tuning_run\n"
            f"runs = tuning_run({str(CURVE)!r}, {grid!r}, runs_dir={str(runs_dir)!r}, "
            f"{backend}progress=False, {args})\n"
            f"print('N_RUNS', len(runs), 'SKIPPED', runs.attrs['n_skipped'])\n")


def _finish(proc: subprocess.Popen, log: Path, seconds: float = 300) -> str:
    try:
        proc.wait(timeout=seconds)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = log.read_text()
    assert proc.returncode == 0, text[-4000:]
    return text


def _by_combination(runs_dir: Path) -> dict[float | None, list[str]]:
    """Statuses of the run folders by combination; under ``None`` the folders without their
    ``request.json``: claims cut short (a driver killed between making a run's folder and
    recording its flags, which it does right after a run ends)."""
    out: dict[float | None, list[str]] = {}
    for run in sorted(p for p in runs_dir.iterdir() if not p.name.startswith(".")):
        request = read_json(run / "statdl.d" / "request.json")
        quality = None if request is None else request["flags"]["quality"]
        out.setdefault(quality, []).append(run_status(run))
    return out


def test_a_grid_runs_over_the_cluster_from_python_and_from_the_command_line(cluster, tmp_path):
    log = tmp_path / "driver.txt"
    grid = {"quality": [0.5, 0.4, 0.6, 0.3], "pause": [0.05]}
    text = _finish(cluster.driver(_tune_code(tmp_path / "py", grid, cluster.address,
                                             n_jobs=-1, num_threads=1), log), log)
    assert "N_RUNS 4 SKIPPED 0" in text
    runs = ls_runs(tmp_path / "py")
    assert set(runs["status"]) == {"completed"} and set(runs["context"]) == {"ray"}
    props = [read_json(Path(r) / "statdl.d" / "properties.json") for r in runs["run_dir"]]
    assert {p["num_threads"] for p in props} == {1}
    assert all(len(p["ray_node"]) == 56 for p in props)   # the node each run ran on

    cli = subprocess.run(
        [*STATDL, "tune", str(CURVE), "--flag", "quality=0.5,0.4",
         "--flag", "pause=0.05", "--backend", "ray", "--address", cluster.address,
         "--threads", "1", "--jobs", "2", "--no-progress", "--runs-dir",
         str(tmp_path / "cli")], env=cluster.env, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-3000:]
    runs = ls_runs(tmp_path / "cli")
    assert len(runs) == 2 and set(runs["status"]) == {"completed"}
    assert set(runs["context"]) == {"ray"}


def test_a_driver_without_the_clusters_token_is_told_the_fix(cluster, tmp_path):
    env = {k: v for k, v in cluster.env.items() if not k.startswith("RAY_AUTH")}
    other = tmp_path / "other-token"
    other.write_text(secrets.token_hex(32))
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(other))
    code = _tune_code(tmp_path / "runs", {"quality": [0.5]}, cluster.address)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "RAY_AUTH_TOKEN_PATH" in proc.stderr and "refused this process's token" in proc.stderr


def test_a_worker_node_killed_mid_grid_loses_its_runs_and_they_are_redone_elsewhere(
        cluster, tmp_path):
    runs_dir = tmp_path / "runs"
    qualities = [0.5, 0.4, 0.6, 0.3, 0.7, 0.45]
    grid = {"quality": qualities, "pause": [0.5]}
    sched = {"scheduler": "asha", "max_epochs": 9, "grace_epochs": 1, "reduction": 3,
             "n_jobs": 2}
    log = tmp_path / "driver.txt"
    driver = cluster.driver(_tune_code(runs_dir, grid, cluster.address, **sched), log)

    def a_running_ray_run():
        for run in (p for p in runs_dir.glob("20*") if p.is_dir()):
            lock = read_json(run / "statdl.d" / "lock.json")
            props = read_json(run / "statdl.d" / "properties.json") or {}
            metrics = read_json(run / "statdl.d" / "metrics.json") or {}
            if lock and props.get("context") == "ray" and metrics.get("val_loss"):
                return run, lock["processes"][0]["pid"]         # the Ray worker's pid
        return None

    victim_run, worker_pid = wait_for(a_running_ray_run, 120, "a run training on a node")
    raylet = int(Path(f"/proc/{worker_pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    group = cluster.group_of_node(raylet)
    assert group in cluster.worker_groups
    cluster.kill_node(group)
    text = _finish(driver, log)
    assert "N_RUNS 6 SKIPPED 0" in text, text[-3000:]

    # the lost run is recorded as interrupted with Ray's reason, not failed, not completed
    assert run_status(victim_run) == "interrupted"
    error = read_json(victim_run / "statdl.d" / "error.json")["message"]
    assert "Ray worker or node died" in error and "redone on another node" in error
    # every combination ended exactly once (completed or stopped by ASHA); the lost runs
    # are the only extra folders, and none of them counts at a rung
    by_combo = _by_combination(runs_dir)
    assert sorted(by_combo) == sorted(qualities)
    for statuses in by_combo.values():
        ended = [s for s in statuses if s in ("completed", "stopped")]
        assert len(ended) == 1 and set(statuses) - {"completed", "stopped"} <= {"interrupted"}
    state = next((runs_dir / ".statdl-schedulers").glob("*.json"))
    counted = {name for table in read_json(state)["rungs"].values() for name in table}
    interrupted = {p.name for p in runs_dir.glob("20*") if run_status(p) == "interrupted"}
    assert victim_run.name in interrupted and not counted & interrupted
    stopped_before = sorted(run_status(p) for p in runs_dir.glob("20*"))

    # a resume on a fresh cluster redoes nothing of this grid, runs only a new combination
    cluster.stop()
    fresh = LocalCluster()
    try:
        grid2 = {"quality": [*qualities, 0.35], "pause": [0.5]}
        log2 = tmp_path / "driver2.txt"
        text = _finish(fresh.driver(_tune_code(runs_dir, grid2, fresh.address, **sched), log2),
                       log2)
    finally:
        fresh.stop()
    assert "N_RUNS 7 SKIPPED 6" in text, text[-3000:]
    after = sorted(run_status(p) for p in runs_dir.glob("20*"))
    assert len(after) == len(stopped_before) + 1


def _describe(runs_dir: Path) -> str:
    """Each run folder's status, flags, error and times (the message of a failed check)."""
    lines = []
    for run in sorted(p for p in runs_dir.glob("20*") if p.is_dir()):
        meta = run / "statdl.d"
        props = read_json(meta / "properties.json") or {}
        error = (read_json(meta / "error.json") or {}).get("message", "")
        lock = read_json(meta / "lock.json")
        flags = (read_json(meta / "request.json") or {}).get("flags")
        lines.append(f"{run.name} {run_status(run)} flags={flags} start={props.get('start')} "
                     f"end={props.get('end')} context={props.get('context')} "
                     f"lock={lock and [p['pid'] for p in lock['processes']]} "
                     f"error={error[:160]!r}")
    return "\n".join(lines)


def test_a_killed_driver_is_finished_by_a_local_resume(cluster, tmp_path):
    runs_dir = tmp_path / "runs"
    qualities = [0.5, 0.4, 0.6, 0.3, 0.7, 0.45]
    grid = {"quality": qualities, "pause": [0.4]}
    log = tmp_path / "driver.txt"
    driver = cluster.driver(_tune_code(runs_dir, grid, cluster.address, n_jobs=2), log)
    try:
        wait_for(lambda: sum(run_status(p) == "completed" for p in runs_dir.glob("20*")) >= 2
                  and any(run_status(p) == "running" for p in runs_dir.glob("20*")),
                  180, "two runs done and one going")
    finally:
        os.killpg(driver.pid, signal.SIGKILL)                # no chance to clean up
        driver.wait()
    # Ray ends a dead driver's tasks; their runs' processes follow (parent-death signal).
    # The kill comes as a run ends, which is when the driver claims the next combination: it
    # may leave a folder without its request.json (no flags: no combination's run), which
    # the resume neither counts nor redoes (and _by_combination lists apart)
    wait_for(lambda: all(run_status(p) != "running" for p in runs_dir.glob("20*")), 60,
              "the killed driver's runs to stop")
    completed = {p.name for p in runs_dir.glob("20*") if run_status(p) == "completed"}
    before = _describe(runs_dir)
    runs = tuning_run(CURVE, grid, runs_dir=runs_dir, progress=False, n_jobs=2)
    why = f"before the resume:\n{before}\nafter:\n{_describe(runs_dir)}"
    assert runs.attrs["n_skipped"] == len(completed), why
    assert len(runs) == len(qualities) and set(runs["status"]) == {"completed"}, why
    assert completed <= {Path(r).name for r in runs["run_dir"]}, why
    by_combo = _by_combination(runs_dir)
    assert set(by_combo.pop(None, ["interrupted"])) == {"interrupted"}, why
    assert sorted(by_combo) == sorted(qualities), why
    assert all(s.count("completed") == 1 for s in by_combo.values()), why


def test_the_same_seed_gives_the_same_results_locally_and_on_the_cluster(cluster, tmp_path):
    script = FIX / "sequential_train.py"
    grid = {"units": [4, 8], "lr": [0.01]}
    local = tuning_run(script, grid, runs_dir=tmp_path / "local", progress=False, n_jobs=2,
                       num_threads=1)
    code = (f"from statdl.tuning import tuning_run\n"
            f"tuning_run({str(script)!r}, {grid!r}, runs_dir={str(tmp_path / 'ray')!r}, "
            f"backend='ray', address={cluster.address!r}, n_jobs=2, num_threads=1, "
            f"progress=False)\n")
    log = tmp_path / "driver.txt"
    _finish(cluster.driver(code, log), log)
    on_ray = ls_runs(tmp_path / "ray")
    assert set(on_ray["context"]) == {"ray"} and set(local["context"]) == {"local"}
    for runs in (local, on_ray):
        assert set(runs["threads"]) == {1} and set(runs["thread_mode"]) == {"fixed"}

    def curves(runs):
        return {int(r.flag_units): json.loads((Path(r.run_dir) / "statdl.d" /
                                               "metrics.json").read_text())
                for r in runs.itertuples()}

    assert curves(local) == curves(on_ray)               # bit for bit, every epoch
