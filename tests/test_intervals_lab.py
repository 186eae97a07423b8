"""The mnist-uncertainty lab (#16) end to end on the shipped MNIST sample: its figures land in
the run folder and its conformal sets cover 90% on average over repeated splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from statdl.labs._registry import Lab, execute, lab_parser

LAB = Lab("mnist-uncertainty", "MNIST MLP2: MC dropout, deep ensemble, conformal sets, saliency",
          "mnist_uncertainty", epochs=15, quick_epochs=2)


@pytest.mark.slow
def test_mnist_uncertainty_lab_runs_with_its_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("STATDL_OFFLINE", "1")
    args = lab_parser(LAB).parse_args(["--quick", "--runs-dir", str(tmp_path), "--no-view",
                                       "--verbose", "0"])
    res = execute(LAB, args)
    plots = {p.name for p in (Path(res["run_dir"]) / "plots").glob("*.png")}
    assert {"mc_dropout_accuracy_by_entropy.png", "ensemble_accuracy_by_entropy.png",
            "most_uncertain_digits.png", "lac_set_sizes.png", "aps_set_sizes.png",
            "saliency.png"} <= plots
    for method in ("lac", "aps"):
        assert abs(res[f"{method}_coverage_200_splits"] - 0.9) < 0.02
    assert res["lac_mean_set_size"] < res["aps_mean_set_size"]
    recorded = json.loads((Path(res["run_dir"]) / "results.json").read_text())
    assert recorded["headline"]["value"] == res["lac_coverage_200_splits"]


@pytest.mark.slow
def test_inference_section_of_a_regression_lab(tmp_path):
    """On Hitters: the section's numbers are those of the public functions, and its figures
    land in the run folder (about 10 s: five PNG figures and a run folder)."""
    import numpy as np

    import statdl as sd
    from statdl.intervals import coverage_report, predict_interval
    from statdl.labs._inference import inference_section
    from statdl.labs._run import LabRun

    x, y = sd.datasets.hitters(response="log_salary", standardize=True)
    y = (y - y.mean()).to_numpy("float32")
    idx = np.random.default_rng(0).permutation(len(y))
    fit, cal, test = idx[:130], idx[130:190], idx[190:]
    sd.set_seed(0)
    model = sd.Sequential([sd.layers.Dense(8, activation="tanh"), sd.layers.Dense(1)],
                          input_shape=(x.shape[1],))
    model.compile(optimizer=sd.optimizers.Adam(learning_rate=0.01), loss="mse")
    model.fit(x.iloc[fit], y[fit], epochs=20, verbose=0)
    with LabRun("hitters-inference", {}, __file__, tmp_path, view=False) as run:
        out = inference_section(run, model, (x.iloc[cal], y[cal]), (x.iloc[test], y[test]),
                                data=sd.datasets.hitters(), repeats=3, top=2)
        folder = run.path
    iv = predict_interval(model, x.iloc[test], level=0.9, calibration=(x.iloc[cal], y[cal]))
    assert out["conformal_coverage"] == coverage_report(iv, y[test]).coverage
    assert "League" in out["importance"] and "LeagueA" not in out["importance"]
    names = {p.stem for p in (folder / "plots").glob("*.png")}
    assert {"conformal_intervals", "permutation_importance"} <= names
    assert any(n.startswith("pd_") for n in names), names
