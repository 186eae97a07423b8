"""The NYSE labs (``nyse-ar``, ``nyse-rnn``, ``nyse-conv1d``) on the real data.

References: the linear AR models' test R-squared come from the ISLR2 lab's own R code run in R
(``lm`` is deterministic): quoted from R 4.2.2, and checked against Rscript in the slow tier;
the networks are held to the books' figures within their bootstrap intervals (slow tier). The
data is ISLP's NYSE.csv in ``../shared/data/islp``; without it these tests skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from statdl.labs import run_lab
from statdl.labs._registry import LABS

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NYSE_CSV = DATA / "islp" / "NYSE.csv"
RSCRIPT = shutil.which("Rscript")
pytestmark = pytest.mark.skipif(not NYSE_CSV.is_file(), reason=f"NYSE.csv is not in {DATA}")

# 1 - mean((arpred - y)^2) / V0 of the ISLR2 lab, printed by R 4.2.2 (digits = 10)
R_LINEAR, R_LINEAR_DAY = 0.4132229937, 0.4598616487

R_CODE = f"""
NYSE <- read.csv("{NYSE_CSV}")
xdata <- scale(data.matrix(NYSE[, c("DJ_return", "log_volume", "log_volatility")]))
istrain <- NYSE[, "train"]
lagm <- function(x, k = 1) {{ n <- nrow(x); pad <- matrix(NA, k, ncol(x))
                               rbind(pad, x[1:(n - k), ]) }}
arframe <- data.frame(log_volume = xdata[, "log_volume"], L1 = lagm(xdata, 1),
  L2 = lagm(xdata, 2), L3 = lagm(xdata, 3), L4 = lagm(xdata, 4), L5 = lagm(xdata, 5))
arframe <- arframe[-(1:5), ]
istrain <- istrain[-(1:5)]
arfit <- lm(log_volume ~ ., data = arframe[istrain, ])
arpred <- predict(arfit, arframe[!istrain, ])
V0 <- var(arframe[!istrain, "log_volume"])
arframed <- data.frame(day = NYSE[-(1:5), "day_of_week"], arframe)
arfitd <- lm(log_volume ~ ., data = arframed[istrain, ])
arpredd <- predict(arfitd, arframed[!istrain, ])
cat(sprintf("%.15g", 1 - mean((arpred - arframe[!istrain, "log_volume"])^2) / V0),
    sprintf("%.15g", 1 - mean((arpredd - arframe[!istrain, "log_volume"])^2) / V0))
"""


def lab(name: str, tmp_path: Path, monkeypatch, **options) -> dict:
    monkeypatch.setenv("STATDL_CACHE", str(tmp_path / "cache"))
    return run_lab(name, data_dir=str(DATA), runs_dir=str(tmp_path / "runs"), verbose=0,
                   **options)


@pytest.fixture(scope="module")
def r_figures() -> tuple[float, float]:
    return R_LINEAR, R_LINEAR_DAY


@pytest.mark.slow
@pytest.mark.skipif(RSCRIPT is None, reason="Rscript is not installed")
def test_the_quoted_r_figures_are_what_r_computes():
    out = subprocess.run([RSCRIPT, "-e", R_CODE], capture_output=True, text=True, check=True,
                         timeout=120).stdout.split()
    assert float(out[0]) == pytest.approx(R_LINEAR, abs=1e-10)
    assert float(out[1]) == pytest.approx(R_LINEAR_DAY, abs=1e-10)


def test_the_labs_are_registered():
    assert {"nyse-ar", "nyse-rnn", "nyse-conv1d"} <= set(LABS)
    assert LABS["nyse-rnn"].epochs == 200 and LABS["nyse-conv1d"].epochs == 100


def test_nyse_ar_equals_the_books_r_code(tmp_path, monkeypatch, r_figures):
    res = lab("nyse-ar", tmp_path, monkeypatch, no_view=True)
    assert res["linear"]["r2"] == pytest.approx(r_figures[0], abs=1e-9)
    assert res["linear_day"]["r2"] == pytest.approx(r_figures[1], abs=1e-9)
    # ISLP's score(): the same fit, SST with denominator n (1,770 test days)
    n = 1770
    assert res["linear"]["r2_islp"] == pytest.approx(1 - (1 - r_figures[0]) * n / (n - 1),
                                                     abs=1e-9)
    head = res["headline"]
    assert head["name"] == "R2" and head["lower"] < head["value"] < head["upper"]
    assert head["upper"] - head["lower"] < 0.2
    assert (Path(res["run_dir"]) / "plots" / "test_period.png").is_file()
    saved = json.loads((Path(res["run_dir"]) / "results.json").read_text())
    assert saved["linear_day"]["r2"] == pytest.approx(r_figures[1], abs=1e-9)


@pytest.mark.slow
def test_nyse_rnn_reaches_the_books_r2(tmp_path, monkeypatch):
    res = lab("nyse-rnn", tmp_path, monkeypatch)
    rnn = res["rnn"]
    assert rnn["lower"] <= 0.416 <= rnn["upper"]            # ISLR2's figure in our interval
    assert rnn["r2"] > 0.38
    run = Path(res["run_dir"])
    assert (run / "view.html").is_file() and (run / "plots" / "test_period.png").is_file()


@pytest.mark.slow
def test_nyse_conv1d_and_the_nonlinear_ar_model(tmp_path, monkeypatch):
    res = lab("nyse-conv1d", tmp_path, monkeypatch)
    dense, conv = res["dense"], res["conv1d"]
    assert dense["lower"] <= 0.4660 <= dense["upper"]       # ISLP's figure in our interval
    assert conv["r2"] > 0.38 and np.isfinite(conv["lower"])


@pytest.mark.slow
def test_quick_networks_run_end_to_end(tmp_path, monkeypatch):
    for name in ("nyse-rnn", "nyse-conv1d"):
        res = lab(name, tmp_path, monkeypatch, quick=True)
        assert res["epochs"] == 3 and np.isfinite(res["headline"]["value"])
