"""bench/reproduce.py: the busy-machine columns of docs/results.md and their state."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import reproduce  # noqa: E402

QUIET = {"statdl": {"value": 0.40, "lower": 0.3, "upper": 0.5, "seconds": 0.45},
         "keras": {"value": 0.45, "seconds": 1.6}}


def _row_line(text: str, key: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith(f"| {key} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def _header(text: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith("| lab |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_quiet_table_has_no_busy_columns(tmp_path):
    out = tmp_path / "r.md"
    reproduce.write_table(out, {"hitters-nn": QUIET}, {"machine": "m", "updated": "u"})
    text = out.read_text()
    assert _header(text) == ["lab", "course", "statdl (95% CI)", "Keras 3", "statdl s",
                             "Keras 3 s", "notes"]
    assert "busy" not in text
    cells = _row_line(text, "hitters-nn")
    assert cells[4:6] == ["0.5", "1.6"]     # one decimal below 10 s


def test_busy_columns_next_to_the_quiet_ones(tmp_path):
    out = tmp_path / "r.md"
    state = {"hitters-nn": QUIET, "imdb-embed@20": QUIET,
             "_busy": {"1": {"updated": "t", "rows": {
                 "hitters-nn": {"statdl": {"value": 0.41, "seconds": 3.0},
                                "keras": {"value": 0.44, "seconds": 2.0}},
                 "imdb-embed@20": {"statdl": {"value": 0.76, "seconds": 12.4},
                                   "keras": {"value": 0.76, "seconds": 31.0}}}}}}
    reproduce.write_table(out, state, {"machine": "m", "updated": "u"})
    text = out.read_text()
    header = _header(text)
    assert header[6:9] == ["statdl s, 1 busy", "Keras 3 s, 1 busy", "statdl/Keras, 1 busy"]
    assert len(header) == 10
    # ratios by definition: 3.0 / 2.0 and 12.4 / 31.0
    assert _row_line(text, "hitters-nn")[6:9] == ["3.0", "2.0", "1.50 (**slower**)"]
    assert _row_line(text, "imdb-embed@20")[6:9] == ["12", "31", "0.40"]
    # every row, measured or not, has as many cells as the header
    for row in reproduce.ROWS:
        assert len(_row_line(text, row.key)) == len(header), row.key
    assert _row_line(text, "mnist-cnn")[6:9] == ["-", "-", "-"]
    assert "Columns marked \"busy\"" in text
    assert reproduce._read_state(out) == state          # the state block round-trips


def test_busy_rows_live_under_their_own_key():
    state = {"hitters-nn": QUIET}
    assert reproduce.rows_measured(state, 0) is state
    busy = reproduce.rows_measured(state, 1)
    busy["hitters-nn"] = {"statdl": {"seconds": 1.0}, "keras": {}}
    assert state["hitters-nn"] is QUIET
    assert state["_busy"]["1"]["rows"]["hitters-nn"]["statdl"]["seconds"] == 1.0


@pytest.mark.parametrize("argv, message", [
    (["--background", "-1"], "--background must be an int >= 0; got -1"),
    (["--background", "1", "--spread", "hitters-nn"], "does not apply to --spread"),
])
def test_bad_background_is_refused(argv, message, tmp_path):
    with pytest.raises(SystemExit, match=message):
        reproduce.main([*argv, "--out", str(tmp_path / "r.md"), "--no-keras"])


@pytest.mark.slow
def test_a_busy_run_keeps_the_quiet_rows(tmp_path):
    """Real hitters-nn lab (200 epochs, 3-40 s) against one busy process, statdl side only."""
    out = tmp_path / "r.md"
    reproduce.write_table(out, {"hitters-nn": QUIET}, {"machine": "m", "updated": "u"})
    assert reproduce.main(["--labs", "hitters-nn", "--no-keras", "--background", "1",
                           "--out", str(out), "--runs-dir", str(tmp_path / "runs")]) == 0
    state = reproduce._read_state(out)
    assert state["hitters-nn"] == QUIET
    busy = state["_busy"]["1"]["rows"]["hitters-nn"]
    assert busy["keras"] == {}
    assert busy["statdl"]["seconds"] > 0 and 0 < busy["statdl"]["value"] < 2
    assert _row_line(out.read_text(), "hitters-nn")[7:9] == ["-", "-"]


def test_inference_labs_get_their_numbers_and_figures(tmp_path):
    """hitters-cv's details (as the lab returns them) become tables below the main one, and
    the figures named there are copied next to the results file and linked."""
    run_dir = tmp_path / "run"
    (run_dir / "plots").mkdir(parents=True)
    (run_dir / "plots" / "resamples_dot.png").write_bytes(b"\x89PNG fake")
    (run_dir / "plots" / "captions.json").write_text('{"resamples_dot": "mean RMSE"}')
    (run_dir / "statdl.d").mkdir()
    (run_dir / "statdl.d" / "evaluation.json").write_text(
        '{"conformal_coverage_lower": 0.78, "conformal_coverage_upper": 0.94}')
    table = {"mean": 0.62, "se": 0.02, "se_corrected": 0.03, "lower": 0.56, "upper": 0.68,
             "n": 30}
    res = {"resampling": "Cross-Validated (10 fold, repeated 3 times)",
           "cv": {"network": {"RMSE": table, "Rsquared": {"mean": 0.55}},
                  "linear": {"RMSE": {**table, "mean": 0.66}, "Rsquared": {"mean": 0.48}}},
           "differences": [{"metric": "RMSE", "model_1": "network", "model_2": "linear",
                            "estimate": -0.04, "lower_corrected": -0.1,
                            "upper_corrected": 0.02, "p_corrected": 0.2, "p_value": 0.01},
                           {"metric": "Rsquared", "model_1": "network", "model_2": "linear",
                            "estimate": 0.07, "lower_corrected": 0.0, "upper_corrected": 0.1,
                            "p_corrected": 0.05, "p_value": 0.01}],
           "cv_seconds_network": 81.0,
           "inference": {"conformal_level": 0.9, "conformal_coverage": 0.87,
                         "conformal_mean_width": 2.1, "top_variables": ["CAtBat", "Years"]}}
    details = reproduce.DETAILS["hitters-cv"](res, reproduce._evaluation(str(run_dir)))
    side = {"value": 0.62, "lower": 0.56, "upper": 0.68, "run_dir": str(run_dir),
            "details": details}
    out = tmp_path / "docs" / "r.md"
    reproduce.publish_figures(reproduce.BY_KEY["hitters-cv"], side, out)
    assert (tmp_path / "docs" / "results" / "hitters-cv" / "resamples_dot.png").read_bytes() \
        == b"\x89PNG fake"
    reproduce.write_table(out, {"hitters-cv": {"statdl": side, "keras": {}}},
                          {"machine": "m", "updated": "u"})
    text = out.read_text()
    assert _row_line(text, "hitters-cv")[2:4] == ["0.6200 (0.5600, 0.6800)", "-"]
    assert "| network | 0.6200 | 0.0200 | 0.0300 | (0.5600, 0.6800) | 0.5500 |" in text
    assert "| network - linear | -0.0400 | (-0.1000, +0.0200) | 0.200 | 0.010 |" in text
    assert "Rsquared" not in text.split("## Statistical inference labs")[1]  # RMSE rows only
    assert "coverage 0.8700 (0.7800, 0.9400)" in text
    assert "![hitters-cv: mean RMSE](results/hitters-cv/resamples_dot.png)" in text
