"""Cross-check of ``statdl.evaluation.roc_auc`` (DeLong) against R's pROC, run for real."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from statdl.evaluation import roc_auc

pytestmark = pytest.mark.slow


def test_delong_interval_matches_proc(tmp_path: Path) -> None:
    exe = shutil.which("Rscript")
    if exe is None:
        pytest.skip("Rscript is not installed")
    if subprocess.run([exe, "-e", "library(pROC)"], capture_output=True).returncode != 0:
        pytest.skip("R package pROC is missing")
    rng = np.random.default_rng(99)
    cases = []
    for i, (m, n) in enumerate([(30, 40), (200, 150), (12, 8)]):
        y = np.r_[np.ones(m), np.zeros(n)].astype(int)
        prob = np.clip(0.25 * y + 0.75 * rng.random(m + n), 0, 1).round(2 if i == 2 else 6)
        cases.append({"name": f"case{i}", "y": y.tolist(), "prob": prob.tolist()})
    (tmp_path / "in.json").write_text(json.dumps(cases))
    run = subprocess.run([exe, str(Path(__file__).parent / "r" / "proc_delong.R"),
                          str(tmp_path / "in.json"), str(tmp_path / "out.json")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    r_out = json.loads((tmp_path / "out.json").read_text())
    for case in cases:
        lower, auc, upper = map(float, r_out[case["name"]])
        ours = roc_auc(case["y"], case["prob"])
        assert ours.auc == pytest.approx(auc, abs=1e-9)
        assert ours.lower == pytest.approx(lower, abs=1e-9)
        assert ours.upper == pytest.approx(upper, abs=1e-9)
