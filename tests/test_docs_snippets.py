"""Every ```python block of README.md, docs/guide.md, docs/labs.md and docs/functional.md runs as
written, in order.

Each document's blocks run one after the other in one namespace, in a fresh Python process
whose working folder is a temporary one (run folders and saved files land there), on the data
shipped with statdl. Two conventions of the documents:

- a block whose first line is ``# file: NAME.py`` is a file the reader saves: it is written to
  ``NAME.py`` in the working folder (a later block runs it), not executed in the namespace;
- a block preceded by ``<!-- not-run: REASON -->`` is not run; ``NOT_RUN`` lists every such
  block, so that none is added unnoticed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/guide.md", "docs/labs.md", "docs/functional.md", "docs/inference.md",
        "docs/notebooks.md", "docs/tuning_scale.md", "docs/tuning_cluster.md")

# (document, reason) of every block marked <!-- not-run: ... -->; keep this list short.
NOT_RUN: list[tuple[str, str]] = []

_BLOCK = re.compile(r"(?:<!--\s*not-run:\s*(?P<reason>.*?)\s*-->\s*\n)?"
                    r"^```python[ \t]*\n(?P<code>.*?)^```[ \t]*$", re.S | re.M)
_FILE = re.compile(r"#\s*file:\s*(\S+)")

_RUNNER = r"""
import json, sys, traceback
blocks = json.load(open(sys.argv[1], encoding="utf-8"))
namespace = {"__name__": "__main__"}
for block in blocks:
    if block["file"]:
        with open(block["file"], "w", encoding="utf-8") as fh:
            fh.write(block["code"])
        continue
    try:
        exec(compile(block["code"], f"{block['doc']}:{block['line']}", "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"FAILED: the block at {block['doc']} line {block['line']}", file=sys.stderr)
        sys.exit(1)
print(f"OK: {len(blocks)} blocks")
"""


def python_blocks(doc: str) -> list[dict]:
    """The ```python blocks of ``doc`` in order: code, line, file name (or None), not-run."""
    text = (REPO / doc).read_text(encoding="utf-8")
    out = []
    for m in _BLOCK.finditer(text):
        code = m.group("code")
        first = code.lstrip().splitlines()[0] if code.strip() else ""
        file = _FILE.fullmatch(first.strip())
        out.append({"doc": doc, "line": text.count("\n", 0, m.start("code")) + 1,
                    "code": code, "file": file.group(1) if file else None,
                    "not_run": m.group("reason")})
    return out


def run_doc(doc: str, workdir: Path) -> subprocess.CompletedProcess:
    """Run the runnable blocks of ``doc`` in one fresh process with ``workdir`` as its folder."""
    blocks = [b for b in python_blocks(doc) if not b["not_run"]]
    spec = workdir / "blocks.json"
    spec.write_text(json.dumps(blocks), encoding="utf-8")
    # at most one torch thread (OMP_NUM_THREADS caps statdl's thread governor): the documents'
    # models are small, and the test tier runs beside other work on 2 cores
    env = {**os.environ, "MPLBACKEND": "Agg", "STATDL_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "STATDL_CACHE": str(workdir / "cache")}
    env.pop("STATDL_DATA", None)             # the documents run on the data shipped with statdl
    return subprocess.run([sys.executable, "-c", _RUNNER, str(spec)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=900, check=False)


def test_blocks_are_found():
    for doc in DOCS:
        assert python_blocks(doc), f"no ```python block found in {doc}"
    assert len(python_blocks("docs/guide.md")) >= 6


# documents whose blocks run in a test file of their own (they need its fixtures or peers)
RUN_ELSEWHERE = {
    "docs/from_r.md": "test_docs_from_r.py",
    "docs/timeseries.md": "test_docs_from_r.py",
    "docs/resampling.md": "test_resampling_docs.py",
    "docs/sklearn.md": "test_sklearn_docs.py",
}


def test_every_document_with_python_blocks_is_run_by_a_test():
    """A new page under docs/ must not escape the rule that every Python block runs."""
    pages = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]
    with_blocks = {doc for doc in pages if python_blocks(doc)}
    unrun = with_blocks - set(DOCS) - set(RUN_ELSEWHERE)
    assert not unrun, f"pages with ```python blocks that no test runs: {sorted(unrun)}"
    for doc, test_file in RUN_ELSEWHERE.items():
        assert doc in (REPO / "tests" / test_file).read_text(encoding="utf-8"), (doc, test_file)


def test_not_run_blocks_are_listed_here():
    marked = [(b["doc"], b["not_run"]) for doc in DOCS for b in python_blocks(doc)
              if b["not_run"]]
    assert marked == NOT_RUN


# The guide trains a dozen small models and runs a tuning grid in child processes: a minute
# or more on 2 cores, so it belongs to the slow tier; README and labs.md run in seconds.
@pytest.mark.parametrize("doc", [
    "README.md",
    pytest.param("docs/guide.md", marks=pytest.mark.slow),
    "docs/labs.md",
    "docs/functional.md",             # about 20 s: a few small graph models, one epoch or two
    "docs/inference.md",              # about 11 s: Hitters, a quantile toy, a 5-member ensemble
    "docs/notebooks.md",              # a few seconds: writes a notebook, one confusion matrix
    "docs/tuning_scale.md",           # about 20 runs of a pure-Python script (no torch)
    "docs/tuning_cluster.md",         # one `# file:` block, written, not run
])
def test_document_runs_as_written(doc, tmp_path):
    proc = run_doc(doc, tmp_path)
    assert proc.returncode == 0, f"{doc}:\n{proc.stderr[-6000:]}"
    assert proc.stdout.rstrip().endswith(f"OK: {sum(not b['not_run'] for b in python_blocks(doc))}"
                                         " blocks")
