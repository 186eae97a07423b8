"""docs/sklearn.md runs as written (the runner of test_docs_snippets.py: a fresh process, one
torch thread, a temporary working folder): a Hitters pipeline cross-validated and grid-searched,
and a digits classifier with string labels."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn", minversion="1.6")

from test_docs_snippets import python_blocks, run_doc  # noqa: E402

DOC = "docs/sklearn.md"


def test_sklearn_guide_runs_as_written(tmp_path):
    blocks = python_blocks(DOC)
    assert len(blocks) == 2 and not any(b["not_run"] for b in blocks)
    proc = run_doc(DOC, tmp_path)
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert proc.stdout.rstrip().endswith(f"OK: {len(blocks)} blocks")
    assert "over 5 folds" in proc.stdout
    assert "['eight' 'five' 'four']" in proc.stdout
