"""A scheduler over the Ray backend: the runs decide from the shared runs directory, so a
sequential grid on Ray stops exactly the runs the local backend stops (slow: starts Ray)."""

from __future__ import annotations

from pathlib import Path

import pytest

from statdl.tuning import tuning_run

FIX = Path(__file__).parent / "fixtures" / "tuning"
pytestmark = pytest.mark.slow


def test_asha_on_ray_stops_the_runs_the_local_backend_stops(tmp_path):
    ray = pytest.importorskip("ray")
    grid = {"quality": [0.5, 0.4, 0.6, 0.3, 0.7]}
    common = {"progress": False, "scheduler": "asha", "max_epochs": 9, "grace_epochs": 1,
              "reduction": 3}
    try:
        on_ray = tuning_run(FIX / "curve_train.py", grid, runs_dir=tmp_path / "ray",
                            backend="ray", **common)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    local = tuning_run(FIX / "curve_train.py", grid, runs_dir=tmp_path / "local", **common)
    assert set(on_ray["context"]) == {"ray"}
    # the answer worked out by hand in test_tuning_sched (0.6 and 0.7 stop at epoch 1)
    expected = {0.5: "completed", 0.4: "completed", 0.6: "stopped", 0.3: "completed",
                0.7: "stopped"}
    for runs in (on_ray, local):
        assert runs.set_index("flag_quality")["status"].to_dict() == expected
