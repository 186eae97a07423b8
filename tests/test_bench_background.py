"""bench/_background.py: the busy processes the benchmarks run against."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import _background  # noqa: E402
from _background import busy_background, check_count  # noqa: E402


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _cpu_ticks(pid: int) -> int:
    """User + system clock ticks the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _wait_gone(pid: int, limit: float = 30.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_doctests():
    assert doctest.testmod(_background).failed == 0


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_processes_burn_cpu_during_the_block_and_are_gone_after():
    with busy_background(2, settle=0) as procs:
        assert len(procs) == 2 and all(p.poll() is None for p in procs)
        end = time.monotonic() + 20
        while time.monotonic() < end and min(_cpu_ticks(p.pid) for p in procs) == 0:
            time.sleep(0.1)
        assert all(_cpu_ticks(p.pid) > 0 for p in procs)
    assert all(p.returncode is not None for p in procs)
    assert not any(_alive(p.pid) for p in procs)


def test_stopped_when_the_block_raises():
    with pytest.raises(RuntimeError, match="boom"), busy_background(1, settle=0) as procs:
        raise RuntimeError("boom")
    assert procs[0].returncode is not None


def test_zero_processes_is_a_quiet_block():
    with busy_background(0) as procs:
        assert procs == []


def test_a_process_stops_by_itself_after_max_seconds():
    with busy_background(1, max_seconds=0.3, settle=0) as procs:
        assert procs[0].wait(timeout=30) == 0      # ended on its own, not killed


def test_processes_stop_when_the_benchmark_dies():
    # The parent starts a busy process, prints its pid and dies without cleaning up.
    code = ("import os, sys; sys.path.insert(0, sys.argv[1]); "
            "from _background import busy_background\n"
            "cm = busy_background(1, settle=0); procs = cm.__enter__()\n"
            "print(procs[0].pid, flush=True); os._exit(0)")
    out = subprocess.run([sys.executable, "-c", code, str(BENCH)], capture_output=True,
                         text=True, check=True, timeout=60)
    pid = int(out.stdout.split()[0])
    assert _wait_gone(pid), f"busy process {pid} outlived its benchmark"


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_check_count_names_the_option(bad):
    with pytest.raises(ValueError, match=r"--background must be an int >= 0; got"):
        check_count(bad)
