"""Slow tier: every lab with ``--quick`` end to end (run folder with results, figures, HTML).

IMDB labs need the IMDB reviews and ``transfer`` needs Fashion-MNIST; they skip when absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from statdl.labs import LABS, run_lab

SHARED_DATA = Path(os.environ.get("STATDL_SHARED", Path(__file__).resolve().parents[2] / "shared")
                   ) / "data"

pytestmark = pytest.mark.slow


def _data_or_skip(name: str) -> str | None:
    if name.startswith("imdb-") and name != "imdb-tokenizer":
        if not (SHARED_DATA / "aclImdb_labeled.tar.gz").exists():
            pytest.skip(f"IMDB reviews are not in {SHARED_DATA}")
        return str(SHARED_DATA)
    if name.startswith("nyse-"):
        if not (SHARED_DATA / "islp" / "NYSE.csv").exists():
            pytest.skip(f"ISLP's NYSE.csv is not in {SHARED_DATA / 'islp'}")
        return str(SHARED_DATA)
    if name == "transfer":
        from statdl.datasets._files import find_local
        from statdl.datasets.mnist import FASHION_MNIST_FILES

        if any(find_local(s) is None for s in FASHION_MNIST_FILES):
            pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    return None


@pytest.mark.parametrize("name", sorted(LABS))
def test_quick_lab_end_to_end(name, tmp_path):
    data_dir = _data_or_skip(name)
    res = run_lab(name, quick=True, runs_dir=str(tmp_path), data_dir=data_dir, verbose=0)
    run = tmp_path / res["run_dir"].rsplit("/", 1)[-1]
    results = json.loads((run / "results.json").read_text())
    assert results["lab"] == name and "headline" in results
    assert (run / "view.html").stat().st_size > 1000
    props = json.loads((run / "statdl.d" / "properties.json").read_text())
    assert props["status"] == "completed"
    if name != "imdb-tokenizer":
        figures = sorted(p.name for p in (run / "plots").glob("*.png"))
        assert figures, "no figures"
        captions = json.loads((run / "plots" / "captions.json").read_text())
        assert sorted(captions) == figures and all(len(c.split()) >= 3
                                                   for c in captions.values())
        page = (run / "view.html").read_text()
        assert f"<h1>Lab {name}: run" in page and page.count("<figcaption>") == len(figures)
        assert (run / "statdl.d" / "model.txt").exists() or name in ("mnist-tune", "nyse-ar")
