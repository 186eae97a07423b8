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
