"""``statdl.resamples`` summary and diff against R's caret, run for real on the same per-resample
metrics (fold assignment uses R's generator, so the folds themselves are not compared).

Needs ``Rscript`` with caret and jsonlite; skipped otherwise. One R process runs every case.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from statdl.resampling import CVResult, make_folds, resamples

R_SCRIPT = Path(__file__).parent / "r" / "caret_resamples.R"


def _rscript() -> str:
    exe = shutil.which("Rscript")
    if exe is None:
        pytest.skip("Rscript is not installed (apt-get install r-base-core r-cran-caret)")
    return exe


def _result(name: str, values: dict[str, np.ndarray], folds) -> CVResult:
    n = len(folds)
    table = pd.DataFrame({"Resample": list(folds.ids), **values, "epochs": [10] * n,
                          "seconds": [0.1] * n, "threads": [1] * n,
                          "n_fit": [folds.n - len(t) for t in folds.test],
                          "n_validation": [0] * n, "n_test": [len(t) for t in folds.test]})
    return CVResult(table, list(values), folds, model_name=name)


@pytest.fixture(scope="module")
def case():
    """Three models, two metrics, 10-fold CV repeated twice; one NA in model b's Rsquared."""
    rng = np.random.default_rng(20261130)
    folds = make_folds(263, folds=10, repeats=2, seed=3)
    base = rng.normal(0.62, 0.08, size=20)
    models = {}
    for name, shift in (("nn", 0.0), ("lm", 0.03), ("lasso", 0.025)):
        rmse = base + shift + rng.normal(0, 0.02, size=20)
        r2 = np.clip(0.55 - shift + rng.normal(0, 0.05, size=20), 0, 1)
        if name == "lm":
            r2[4] = np.nan
        models[name] = _result(name, {"RMSE": rmse, "Rsquared": r2}, folds)
    return resamples(models), _rscript()


def _run_r(res, exe: str, tmp: Path) -> dict:
    values = {c: [None if np.isnan(v) else float(v) for v in res.values[c]]
              for c in res.values.columns if c != "Resample"}
    inp = {"resample": list(res.values["Resample"]), "models": res.models,
           "metrics": res.metrics, "values": values}
    (tmp / "in.json").write_text(json.dumps(inp), encoding="utf-8")
    proc = subprocess.run([exe, str(R_SCRIPT), str(tmp / "in.json"), str(tmp / "out.json")],
                          capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        if "there is no package called" in proc.stderr:
            pytest.skip(f"R packages caret/jsonlite are missing: {proc.stderr.strip()[-200:]}")
        raise AssertionError(proc.stderr[-2000:])
    return json.loads((tmp / "out.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def caret(case, tmp_path_factory):
    res, exe = case
    return res, _run_r(res, exe, tmp_path_factory.mktemp("caret"))


def test_summary_table_equals_caret(caret):
    res, out = caret
    ours = res.summary()
    for metric, stat in out["statistics"].items():
        table = ours[metric]
        assert stat["rows"] == list(table.index)
        assert stat["cols"] == list(table.columns)
        expected = np.array(stat["values"], dtype=float).reshape(len(stat["rows"]), -1)
        np.testing.assert_allclose(table.to_numpy(dtype=float), expected, rtol=1e-13, atol=0)


def test_summary_prints_as_caret(caret):
    res, out = caret
    r_lines = out["summary_text"]
    start = r_lines.index(next(line for line in r_lines if line.startswith("Models:")))
    ours = repr(res.summary()).splitlines()
    assert len(ours) > 10 and ours == r_lines[start:start + len(ours)]


def test_diff_equals_caret_t_tests(caret):
    res, out = caret
    d = res.diff()
    assert d.conf_level == pytest.approx(out["conf_level"], rel=1e-15)
    assert len(d.table) == len(out["tests"]) == 6
    for test, (_, row) in zip(out["tests"], d.table.iterrows()):
        assert test["metric"] == row["metric"]
        assert test["pair"] == f"{row['model_1']}.diff.{row['model_2']}"
        assert row["estimate"] == pytest.approx(test["estimate"], rel=1e-12)
        assert row["lower"] == pytest.approx(test["lower"], rel=1e-10)
        assert row["upper"] == pytest.approx(test["upper"], rel=1e-10)
        # caret's summary() multiplies the p-values by the 3 comparisons (Bonferroni)
        assert row["p_value"] == pytest.approx(min(1.0, 3 * test["p_value"]), rel=1e-10)


def test_diff_prints_as_caret(caret):
    res, out = caret
    r_lines = out["diff_text"]
    start = r_lines.index(next(line for line in r_lines if line.startswith("p-value")))
    caret_part = r_lines[start:]
    assert len(caret_part) > 10
    ours = repr(res.diff()).splitlines()[:len(caret_part)]
    assert ours == caret_part
