"""glibc malloc tuning: freed training buffers stay in the process for the next step."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="malloc tuning applies to glibc on Linux only")

_PROBE = """
import os, torch
from statdl.training.allocator import keep_freed_memory
applied = keep_freed_memory()
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
before = rss()
block = torch.ones(25_000_000)  # 100 MB, above glibc's own mmap threshold (at most 32 MiB)
del block
print(applied, rss() - before > 50_000_000)
"""


def _probe(**env) -> str:
    run = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         env={**os.environ, **env}, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout.split()


@glibc_only
def test_freed_blocks_stay_in_the_process_once_tuned():
    assert _probe() == ["True", "True"]


@glibc_only
def test_the_environment_variable_leaves_malloc_alone():
    assert _probe(STATDL_MALLOC_TUNING="0") == ["False", "False"]


def test_fit_applies_the_tuning_once_and_reports_it():
    import statdl as sd
    from statdl import layers as L
    from statdl.training import allocator

    model = sd.Sequential([L.Dense(1)], input_shape=(2,))
    model.compile("sgd", "mse")
    model.fit([[0.0, 1.0]], [1.0], epochs=1, verbose=0)
    assert allocator._applied is not None  # decided at the first fit
    assert allocator.keep_freed_memory() is allocator._applied
