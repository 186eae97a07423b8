"""docs/resampling.md runs as written (the runner of test_docs_snippets.py: a fresh process,
one torch thread, a temporary working folder). About 10 s: 10 small Hitters fits."""

from __future__ import annotations

from test_docs_snippets import python_blocks, run_doc

DOC = "docs/resampling.md"


def test_resampling_guide_runs_as_written(tmp_path):
    blocks = python_blocks(DOC)
    assert len(blocks) >= 4 and not any(b["not_run"] for b in blocks)
    proc = run_doc(DOC, tmp_path)
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert proc.stdout.rstrip().endswith(f"OK: {len(blocks)} blocks")
    assert "Cross-Validated (5 fold, repeated 2 times)" in proc.stdout
    assert (tmp_path / "resamples_dot.png").stat().st_size > 0
