"""docs/from_r.md and docs/timeseries.md run as written, like tests/test_docs_snippets.py.

Same runner and conventions (blocks in order, one namespace, a fresh process in a temporary
folder, ``# file: NAME.py`` blocks saved, not run); ``$STATDL_DATA`` points at
``../shared/data`` so that the time-series page reads ISLP's NYSE.csv (skipped without it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_docs_snippets import _RUNNER, python_blocks

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def run(doc: str, workdir: Path, data: Path | None) -> subprocess.CompletedProcess:
    blocks = [b for b in python_blocks(doc) if not b["not_run"]]
    spec = workdir / "blocks.json"
    spec.write_text(json.dumps(blocks), encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg", "STATDL_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "STATDL_CACHE": str(workdir / "cache")}
    env.pop("STATDL_DATA", None)
    if data is not None:
        env["STATDL_DATA"] = str(data)
    return subprocess.run([sys.executable, "-c", _RUNNER, str(spec)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=900, check=False)


def check(doc: str, proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"{doc}:\n{proc.stderr[-6000:]}"
    n = sum(not b["not_run"] for b in python_blocks(doc))
    assert proc.stdout.rstrip().endswith(f"OK: {n} blocks")


def test_pages_have_blocks_and_none_is_skipped():
    for doc in ("docs/from_r.md", "docs/timeseries.md"):
        blocks = python_blocks(doc)
        assert len(blocks) >= 3 and not any(b["not_run"] for b in blocks), doc


@pytest.mark.skipif(not (SHARED_DATA / "islp" / "NYSE.csv").is_file(),
                    reason=f"ISLP's NYSE.csv is not in {SHARED_DATA / 'islp'}")
def test_timeseries_page_runs_as_written(tmp_path):
    check("docs/timeseries.md", run("docs/timeseries.md", tmp_path, SHARED_DATA))


# a tuning grid in child processes and a dozen small models: a minute on 2 busy cores
@pytest.mark.slow
def test_from_r_page_runs_as_written(tmp_path):
    proc = run("docs/from_r.md", tmp_path, None)
    check("docs/from_r.md", proc)
    assert "[ 87 203 204 156  68]" in proc.stdout and "[9 4 7] [1 2 5]" in proc.stdout
