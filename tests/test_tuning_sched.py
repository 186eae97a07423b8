"""Schedulers that stop poor runs early (ASHA, Hyperband, the median rule).

The decisions are checked on synthetic learning curves whose answers are worked out by hand
from the definitions (Li et al. 2018 for ASHA/Hyperband, Golovin et al. 2017 for the median
rule); then through real tuning runs of a tiny script.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from statdl.errors import ConfigError
from statdl.tuning import ls_runs, save_run_view, save_tuning_report, tuning_run
from statdl.tuning.schedulers import (
    SchedulerSpec,
    bracket_of,
    decide,
    hyperband_brackets,
    make_scheduler,
    quantile,
    rungs,
)

FIX = Path(__file__).parent / "fixtures" / "tuning"
CURVE = FIX / "curve_train.py"


def simulate(spec: SchedulerSpec, curves: dict[str, list[float]], brackets=None):
    """Runs one after the other (as n_jobs=1): each trains until a decision stops it.

    Returns run -> epochs trained."""
    state: dict = {}
    trained = {}
    for i, (run, curve) in enumerate(curves.items()):
        run_spec = spec if brackets is None else SchedulerSpec(
            **{**spec.to_dict(), "bracket": brackets[i]})
        for epoch in range(1, spec.max_epochs + 1):
            if decide(run_spec, state, run, epoch, curve[epoch - 1]) is not None:
                break
        trained[run] = epoch
    return trained


# ------------------------------------------------------------------ definitions


def test_rungs_and_hyperband_brackets_follow_the_papers():
    # Li et al. (2018, JMLR), Table 1: R = 81, eta = 3 -> s_max = 4, brackets of
    # n = 81, 34, 15, 8, 5 configurations starting at r = 1, 3, 9, 27, 81 epochs
    assert hyperband_brackets(1, 81, 3) == [(4, 81), (3, 34), (2, 15), (1, 8), (0, 5)]
    assert rungs(1, 81, 3, 0) == [1, 3, 9, 27]      # early-stopping rate r: first rung eta**r
    assert rungs(1, 81, 3, 2) == [9, 27]
    assert rungs(1, 81, 3, 4) == []                 # Hyperband's bracket s = 0: never stops
    assert rungs(2, 20, 2) == [2, 4, 8, 16]
    # runs are dealt to brackets in the proportions 9 : 5 : 3
    deal = [bracket_of(i, 1, 9, 3) for i in range(17 * 3)]
    assert [deal.count(s) for s in (2, 1, 0)] == [27, 15, 9]


def test_quantile_is_numpy_percentile():
    rng = random.Random(0)
    for n in (1, 2, 3, 7, 10):
        values = [rng.gauss(0, 1) for _ in range(n)]
        for q in (0.0, 1 / 3, 0.5, 2 / 3, 1.0):
            assert quantile(values, q) == pytest.approx(np.percentile(values, 100 * q))


# ------------------------------------------------------------------ ASHA


# val_loss at epochs 1..8; with reduction 2 and grace 1 the rungs are at epochs 1, 2, 4.
CURVES = {
    "a": [1.0, 0.8, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6],
    "b": [0.9, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7],
    "c": [0.95, 0.9, 0.6, 0.5, 0.5, 0.5, 0.5, 0.5],
    "d": [1.2, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
}


def test_asha_stops_each_run_at_the_rung_worked_out_by_hand():
    spec = make_scheduler("asha", "val_loss", "min", max_epochs=8, grace_epochs=1, reduction=2)
    # rung 1: a first (goes on); b 0.9 vs median[1.0] goes on; c 0.95 vs median[1.0, 0.9]
    #   = 0.95: not worse, goes on; d 1.2 vs median[1.0, 0.9, 0.95] = 0.95: stops.
    # rung 2: a goes on; b 0.7 vs [0.8] goes on; c 0.9 vs median[0.8, 0.7] = 0.75: stops.
    # rung 4: a goes on; b 0.7 vs [0.6]: stops.  a trains all 8 epochs.
    assert simulate(spec, CURVES) == {"a": 8, "b": 4, "c": 2, "d": 1}


def test_asha_with_a_metric_to_maximise_makes_the_mirror_decisions():
    spec = make_scheduler("asha", "val_accuracy", "max", max_epochs=8, grace_epochs=1,
                          reduction=2)
    mirrored = {r: [1 - v for v in c] for r, c in CURVES.items()}
    assert simulate(spec, mirrored) == {"a": 8, "b": 4, "c": 2, "d": 1}


def test_asha_reduction_three_keeps_the_best_third():
    spec = make_scheduler("asha", "val_loss", "min", max_epochs=9, grace_epochs=1, reduction=3)
    curves = {f"q{q}": [q / t for t in range(1, 10)] for q in (0.5, 0.4, 0.6, 0.3, 0.7)}
    # rung 1 (cut: 1/3 quantile of the earlier values): 0.6 vs [0.4, 0.5] -> 0.4333 stops;
    # 0.3 vs [0.4, 0.5, 0.6] -> 0.4667 goes on; 0.7 vs [0.3 .. 0.6] -> 0.4 stops.
    # rung 3: 0.4/3 vs [0.5/3] and 0.3/3 vs [0.5/3, 0.4/3] go on.
    assert simulate(spec, curves) == {"q0.5": 9, "q0.4": 9, "q0.6": 1, "q0.3": 9, "q0.7": 1}


def test_asha_stops_a_diverged_run_and_ignores_it_at_the_rung():
    spec = make_scheduler("asha", "val_loss", "min", max_epochs=9, grace_epochs=1, reduction=3)
    state: dict = {}
    assert decide(spec, state, "a", 1, 0.5) is None
    assert "val_loss" in decide(spec, state, "b", 1, float("nan"))
    assert state["rungs"]["0/1"] == {"a": 0.5, "b": None}
    assert decide(spec, state, "c", 1, 0.45) is None   # the cut uses the finite 0.5 only


def test_hyperband_rungs_count_down_from_max_epochs_as_in_li_et_al():
    # R = 27, eta = 5 (27 is no power of 5): s_max = 2, n_s = ceil(3 / (s + 1) * 5**s);
    # bracket s starts at r = 27 * 5**-s and judges at r * 5**i below R: 1.08 and 5.4 epochs
    # (rounded: 1 and 5) in bracket 2, 5.4 in bracket 1, never in bracket 0 (ASHA's own
    # rungs from grace would be 1, 5 and 25)
    assert hyperband_brackets(1, 27, 5) == [(2, 25), (1, 8), (0, 3)]
    assert rungs(1, 27, 5) == [1, 5, 25]
    spec = make_scheduler("hyperband", "val_loss", "min", max_epochs=27, grace_epochs=1,
                          reduction=5)
    curves = {r: [v] * 27 for r, v in (("a", 0.5), ("b", 0.9), ("c", 0.4), ("d", 0.9),
                                        ("e", 0.6), ("f", 0.9))}
    # a, b in bracket 2: b stops at its first rung (epoch 1); c, d in bracket 1: d stops at
    # epoch 5; e, f in bracket 0: f trains in full although worse than e (no rung at 25)
    assert simulate(spec, curves, [2, 2, 1, 1, 0, 0]) == {
        "a": 27, "b": 1, "c": 27, "d": 5, "e": 27, "f": 27}


def test_hyperband_brackets_judge_runs_at_their_own_rungs():
    spec = make_scheduler("hyperband", "val_loss", "min", max_epochs=9, grace_epochs=1,
                          reduction=3)
    curves = {r: [v] * 9 for r, v in (("a", 0.5), ("b", 0.9), ("c", 0.9), ("d", 0.9))}
    # s_max = 2. a: bracket 2 (rungs 1, 3); b: bracket 1 (rung 3); c: bracket 0 (no rung);
    # d: bracket 2.
    # b is alone at its rung 3 and c is never judged: both train 9 epochs although worse
    # than a; d meets a at rung 1 (cut 0.5) and stops there.
    brackets = [bracket_of(i, 1, 9, 3) for i in range(4)]
    assert brackets == [2, 1, 0, 2]
    assert simulate(spec, curves, brackets) == {"a": 9, "b": 9, "c": 9, "d": 1}


# ------------------------------------------------------------------ median rule


def test_median_rule_worked_out_by_hand():
    spec = SchedulerSpec("median", "val_loss", "min", max_epochs=4, grace_epochs=2, min_runs=3)
    curves = {
        "a": [1, 1, 1, 1],
        "b": [2, 2, 2, 2],      # worse than a, but fewer than 3 others: never judged
        "c": [3, 3, 3, 3],      # 2 others at epoch 2: not judged either
        # epoch 2: averages a 1, b 2, c 3 -> median 2; best so far 1.5 < 2: goes on
        "d": [2.5, 1.5, 0.5, 0.5],
        # epoch 2: averages 1, 2, 3, (2.5 + 1.5) / 2 = 2 -> median 2; best 2.1 > 2: stops
        "e": [2.2, 2.1, 0.1, 0.1],
        # epoch 1 is within the grace epochs; epoch 2: averages 1, 2, 3, 2, 2.15 (e) ->
        # median 2, best 2.0 is not strictly worse: goes on; epoch 3: e never reached it:
        # averages 1, 2, 3, 1.5 (d: 4.5 / 3) -> median 1.75 < best 2.0: stops
        "f": [9.0, 2.0, 2.0, 2.0],
    }
    assert simulate(spec, curves) == {"a": 4, "b": 4, "c": 4, "d": 4, "e": 2, "f": 3}


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "asha", "metric": "loss"}, "`metric` of a scheduler must be a validation metric"),
    ({"kind": "asha", "max_epochs": None}, "`max_epochs` of a scheduler must be an int >= 2 with "
     "scheduler='asha' (the epochs each run trains when it is not stopped, e.g. "
     "max_epochs=9); got None."),
    ({"kind": "asha", "grace_epochs": 9}, "`grace_epochs` must be below `max_epochs` (9)"),
    ({"kind": "asha", "reduction": 1}, "`reduction` of tuning_run must be an int >= 2; got 1"),
    ({"kind": "sha"}, "`scheduler` must be one of 'asha', 'hyperband', 'median' or None"),
])
def test_scheduler_arguments_are_checked(kwargs, message):
    args = {"kind": "asha", "metric": "val_loss", "mode": "min", "max_epochs": 9,
            "grace_epochs": 1, "reduction": 3, **kwargs}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_scheduler(**args)


# ------------------------------------------------------------------ real tuning runs


QUALITIES = [0.5, 0.4, 0.6, 0.3, 0.7]


def test_tuning_run_with_asha_records_stopped_runs(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    runs = tuning_run(CURVE, {"quality": QUALITIES}, runs_dir=runs_dir, progress=False,
                      scheduler="asha", max_epochs=9, grace_epochs=1, reduction=3)
    by_quality = runs.set_index("flag_quality")
    # the same answer as test_asha_reduction_three_keeps_the_best_third
    assert by_quality["status"].to_dict() == {0.5: "completed", 0.4: "completed",
                                              0.6: "stopped", 0.3: "completed", 0.7: "stopped"}
    stopped = by_quality.loc[[0.6, 0.7]]
    assert list(stopped["epochs_completed"]) == [1, 1] and list(stopped["stopped_epoch"]) == [1, 1]
    assert list(stopped["metric_val_loss"]) == [0.6, 0.7]            # their last metrics
    assert not stopped["completed"].any() and "error_message" not in runs.columns
    assert all(r.startswith("stopped early by the asha scheduler") for r in
               stopped["stopped_reason"])
    assert runs.attrs["n_failed"] == 0 and runs.attrs["n_stopped"] == 2
    out = capsys.readouterr().out
    assert "among 3 completed runs (0 failed, 2 stopped early by the scheduler)" in out

    # a second call redoes nothing: stopped runs were judged, not lost
    again = tuning_run(CURVE, {"quality": QUALITIES}, runs_dir=runs_dir, progress=False,
                       scheduler="asha", max_epochs=9, grace_epochs=1, reduction=3)
    assert again.attrs["n_skipped"] == 5 and len(ls_runs(runs_dir)) == 5

    # the views say so
    page = save_run_view(stopped["run_dir"].iloc[0]).read_text()
    assert "status-stopped" in page and "stopped early" in page
    report = save_tuning_report(runs_dir).read_text()
    assert "3 completed runs were compared (0 failed or unfinished, 2 stopped early" in report
    state = json.loads(next((runs_dir / ".statdl-schedulers").glob("asha-*.json")).read_text())
    assert sorted(state["rungs"]) == ["0/1", "0/3"] and len(state["rungs"]["0/1"]) == 5


@pytest.mark.slow
def test_tuning_run_with_asha_in_parallel_never_stops_the_best(tmp_path):
    runs = tuning_run(CURVE, {"quality": QUALITIES}, runs_dir=tmp_path / "runs",
                      progress=False, n_jobs=2, scheduler="asha", max_epochs=9,
                      grace_epochs=1, reduction=3)
    by_quality = runs.set_index("flag_quality")
    assert set(by_quality["status"]) <= {"completed", "stopped"}
    # the best run is never outside the best third; the worst, last, meets >= 3 earlier values
    assert by_quality.loc[0.3, "status"] == "completed"
    assert by_quality.loc[0.7, "status"] == "stopped"
    stopped = by_quality[by_quality["status"] == "stopped"]
    assert (stopped["epochs_completed"] == stopped["stopped_epoch"]).all()
    assert set(stopped["stopped_epoch"]) <= {1, 3}


@pytest.mark.slow
def test_hyperband_and_median_through_tuning_run(tmp_path):
    runs = tuning_run(CURVE, {"quality": [0.5, 0.9, 0.8, 0.7]}, runs_dir=tmp_path / "hb",
                      progress=False, scheduler="hyperband", max_epochs=9, grace_epochs=1)
    # brackets 2, 1, 0, 2 by grid position: 0.9 is alone at its rung 3, 0.8 never judged,
    # 0.7 meets 0.5 at rung 1 (cut 0.5) and stops
    assert list(runs.sort_values("start")["epochs_completed"]) == [9, 9, 9, 1]
    runs = tuning_run(CURVE, {"quality": [1, 2, 3, 4]}, runs_dir=tmp_path / "median",
                      progress=False, scheduler="median", max_epochs=9, grace_epochs=2)
    # q / t: the third run meets only 2 others; at epoch 2 the fourth run's best 4/2 = 2 is
    # worse than the median 1.5 of the others' running averages 0.75 * (1, 2, 3)
    assert list(runs.sort_values("start")["status"]) == ["completed"] * 3 + ["stopped"]


def test_scheduler_errors_name_the_argument(tmp_path):
    with pytest.raises(ConfigError, match="`metric` of a scheduler must be a validation"):
        tuning_run(CURVE, {"quality": [1]}, runs_dir=tmp_path, scheduler="asha",
                   metric="loss", max_epochs=9, check_flags=False)
    with pytest.raises(ConfigError, match="`mode` must be 'min', 'max' or None"):
        tuning_run(CURVE, {"quality": [1]}, runs_dir=tmp_path, scheduler="asha",
                   mode="lowest", max_epochs=9, check_flags=False)


@pytest.mark.slow
def test_asha_stops_real_statdl_fits(tmp_path):
    runs = tuning_run(FIX / "mlp_train.py", {"lr": [0.5, 1e-5, 0.2, 1e-6], "epochs": [4]},
                      runs_dir=tmp_path / "runs", progress=False, scheduler="asha",
                      max_epochs=4, grace_epochs=1, reduction=2)
    by_lr = runs.set_index("flag_lr")
    # rung 1 (cut: the median of the earlier runs): lr 1e-5 and 1e-6 barely move from the
    # initial weights, far behind lr 0.5 and 0.2 -> stopped after their first epoch
    assert by_lr.loc[0.5, "status"] == "completed" and by_lr.loc[0.5, "epochs_completed"] == 4
    for lr in (1e-5, 1e-6):
        assert by_lr.loc[lr, "status"] == "stopped"
        metrics = json.loads((Path(by_lr.loc[lr, "run_dir"]) / "statdl.d" /
                              "metrics.json").read_text())
        assert len(metrics["val_loss"]) == 1          # fit itself stopped after epoch 1
