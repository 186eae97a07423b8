"""Slow tier of tuning: a real model end to end, parallel runs, Ray, and HTML in Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import statdl
from statdl.tuning import (
    best_run,
    evaluate_best,
    ls_runs,
    save_run_comparison,
    save_run_view,
    save_tuning_report,
    tuning_run,
)

pytestmark = pytest.mark.slow
FIX = Path(__file__).parent / "fixtures" / "tuning"


def test_real_model_grid_and_honest_evaluation(tmp_path):
    runs_dir = tmp_path / "runs"
    runs = tuning_run(FIX / "sequential_train.py", {"units": [4, 16], "lr": [0.01]},
                      runs_dir=runs_dir, progress=False)
    assert len(runs) == 2 and set(runs["status"]) == {"completed"}
    assert set(runs["optimizer"]) == {"RMSprop"} and set(runs["loss_function"]) == {"mse"}
    assert set(runs["epochs_completed"]) == {5} and set(runs["batch_size"]) == {32}
    assert "Total params" in runs["model"].iloc[0]
    best = best_run(runs_dir)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0])).astype("float32")
    result = evaluate_best(runs_dir, x, y)
    assert result["run_dir"] == best["run_dir"] and result["n_compared"] == 2
    model = statdl.load_model(Path(best["run_dir"]) / "model.statdl")
    assert result["evaluation"]["loss"] == pytest.approx(model.evaluate(x, y, return_dict=True)["loss"], rel=1e-5)
    with pytest.warns(UserWarning, match="already evaluated on test data"):
        assert evaluate_best(runs_dir, x, y) == result
    assert "test_loss" in ls_runs(runs_dir).columns


def test_parallel_runs_split_the_cores(tmp_path):
    runs = tuning_run(FIX / "torch_train.py", [{"epochs": 1, "seed": 1}, {"epochs": 1, "seed": 2}],
                      runs_dir=tmp_path, n_jobs=2, progress=False)
    assert set(runs["status"]) == {"completed"}
    expected = max(1, (__import__("os").cpu_count() or 1) // 2)
    assert set(runs["torch_threads"]) == {expected}


def test_ray_backend_small_grid(tmp_path):
    ray = pytest.importorskip("ray")
    try:
        runs = tuning_run(FIX / "fake_train.py", {"nodes1": [16, 32, 64]}, runs_dir=tmp_path,
                          n_jobs=2, backend="ray", progress=False)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    assert len(runs) == 3 and set(runs["status"]) == {"completed"}
    assert set(runs["context"]) == {"ray"}
    assert sorted(runs["flag_nodes1"]) == [16, 32, 64]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


def _load(browser: str, page: Path, shot: Path) -> tuple[str, str]:
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
              "--v=0", "--window-size=1280,2400"]
    shot_run = subprocess.run([*common, f"--screenshot={shot}", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=120)
    dom = subprocess.run([*common, "--dump-dom", page.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120)
    return dom.stdout, shot_run.stderr + dom.stderr


def test_html_reports_render_in_headless_chromium(tmp_path):
    browser = _chromium()
    runs_dir = tmp_path / "runs"
    tuning_run(FIX / "fake_train.py", {"nodes1": [32, 128]}, runs_dir=runs_dir, progress=False)
    statdl.training_run(FIX / "plot_train.py", runs_dir=runs_dir, echo=False)
    best = best_run(runs_dir)
    pages = {
        "view": save_run_view(best["run_dir"]),
        "compare": save_run_comparison(*ls_runs(runs_dir, filter="flag_nodes1 == flag_nodes1")
                                       ["run_dir"][:2]),
        "report": save_tuning_report(runs_dir),
    }
    artefacts = tmp_path / "screenshots"
    artefacts.mkdir()
    for name, page in pages.items():
        shot = artefacts / f"{name}.png"
        dom, log = _load(browser, page, shot)
        assert shot.exists() and shot.stat().st_size > 10_000, log
        errors = [line for line in log.splitlines()
                  if "CONSOLE" in line or "Uncaught" in line or "net::ERR" in line]
        assert not errors, errors
        assert "val_loss" in dom
        if name == "view":
            assert f"{best['metric_val_loss']:.4f}" in dom and "data:image/png;base64" in dom
            assert "best of 2 runs" in dom
        if name == "compare":
            assert "nodes1" in dom and "changed" in dom
        if name == "report":
            assert "evaluate_best" in dom and "optimistic" in dom
    print(f"screenshots in {artefacts}")
