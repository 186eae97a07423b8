"""The course's tuning example end to end on real MNIST (slow tier).

Its training script (``mnistnn.R`` as ``statdl/labs/mnist_tune_script.py``), its grid of
3 x 3 x 3 x 3 x 2 x 2 = 324 combinations, ``sample = 0.05`` (17 runs, as the course says), then
the best run by validation loss. Epochs are cut to 2 per run to keep the tier bearable; every
other setting is the course's.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import statdl as sd

pytestmark = pytest.mark.slow

SCRIPT = Path(sd.__file__).parent / "labs" / "mnist_tune_script.py"
GRID = ["nodes1=64,128,256", "nodes2=64,128,256", "dropout1=0.2,0.3,0.4",
        "dropout2=0.2,0.3,0.4", "optimizer=rmsprop,adam", "lr_annealing=0.1,0.05", "epochs=2"]


def test_statdl_tune_runs_the_course_grid_on_real_mnist(tmp_path, shared_data):
    runs_dir = tmp_path / "mnist_tuning"
    command = [sys.executable, "-m", "statdl.cli", "tune", str(SCRIPT), "--sample", "0.05",
               "--seed", "1", "--runs-dir", str(runs_dir), "--jobs", "2", "--no-progress"]
    for flag in GRID:
        command += ["--flag", flag]
    env = {**os.environ, "STATDL_DATA": str(shared_data), "STATDL_OFFLINE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    runs = sd.ls_runs(runs_dir)
    assert len(runs) == math.ceil(0.05 * 324) == 17          # tfruns rounds the sample up
    assert runs["completed"].all()
    best = sd.best_run(runs_dir, metric="val_loss", mode="min")
    assert best["metric_val_loss"] == pytest.approx(runs["metric_val_loss"].min())
    assert best["n_compared"] == 17
    assert best["metric_val_accuracy"] > 0.9                  # 2 epochs already reach this
    assert (Path(best["run_dir"]) / "model.statdl").is_file()
