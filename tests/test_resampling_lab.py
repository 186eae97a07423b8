"""Lab ``hitters-cv`` (slow: about 40 s with --quick on 2 busy cores): its resampling part
against an independent least-squares loop on the same folds, its figures in the run folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

import statdl as sd
from statdl.labs._registry import Lab, execute, parse_lab_args
from statdl.resampling import make_folds

pytestmark = pytest.mark.slow

LAB = Lab("hitters-cv", "Hitters network by repeated 10-fold CV vs linear regression and the "
          "lasso; conformal intervals, importance", "hitters_cv", epochs=200, quick_epochs=100,
          threads=1)


def test_hitters_cv_lab(tmp_path):
    args = parse_lab_args(LAB, ["--quick", "--runs-dir", str(tmp_path), "--verbose", "0",
                                "--no-view"])
    results = execute(LAB, args)
    run_dir = next(tmp_path.iterdir())
    for name in ("resamples_dot", "resamples_box", "conformal_intervals",
                 "permutation_importance"):
        assert (run_dir / "plots" / f"{name}.png").stat().st_size > 0
    saved = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert saved["resampling"] == "Cross-Validated (10 fold)"
    # least squares on the lab's folds, computed here with numpy
    x, y = sd.datasets.hitters(response="log_salary", standardize=True)
    x, y = np.asarray(x, dtype="float32").astype(float), np.asarray(y, dtype="float32")
    rmse = []
    for _, train, test in make_folds(len(y), folds=10, seed=args.seed):
        design = np.column_stack([np.ones(len(train)), x[train]])
        coef = np.linalg.lstsq(design, y[train].astype(float), rcond=None)[0]
        pred = np.column_stack([np.ones(len(test)), x[test]]) @ coef
        rmse.append(np.sqrt(np.mean((y[test] - pred) ** 2)))
    assert results["cv"]["linear"]["RMSE"]["mean"] == pytest.approx(np.mean(rmse), rel=1e-9)
    pairs = {(d["model_1"], d["model_2"], d["metric"]) for d in results["differences"]}
    assert ("network", "linear", "RMSE") in pairs and ("linear", "lasso", "RMSE") in pairs
    net = results["cv"]["network"]["RMSE"]
    assert net["lower"] < net["mean"] < net["upper"]
    assert 0.4 < net["mean"] < 1.0                     # log(Salary) RMSE of a working network
