"""Cross-check of ``statdl.confusion_matrix`` against R's caret, run for real.

Needs ``Rscript`` with the caret and jsonlite packages
(``apt-get install r-base-core r-cran-caret r-cran-jsonlite``); skipped otherwise.
Every overall and by-class statistic must agree to 1e-9.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import statdl as sd
from statdl.evaluation.confusion import BY_CLASS_NAMES, OVERALL_NAMES

pytestmark = pytest.mark.slow

R_SCRIPT = Path(__file__).parent / "r" / "caret_confusion.R"
TOL = 1e-9


def _rscript_with_caret() -> str:
    exe = shutil.which("Rscript")
    if exe is None:
        pytest.skip("Rscript is not installed (apt-get install r-base-core r-cran-caret)")
    probe = subprocess.run([exe, "-e", "library(caret); library(jsonlite)"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"R packages caret/jsonlite are missing: {probe.stderr.strip()[-200:]}")
    return exe


def _cases() -> list[dict]:
    rng = np.random.default_rng(20240611)
    cases = []

    def add(name, table, labels=None, **extra):
        table = np.asarray(table, dtype=int)
        labels = labels or [f"c{i}" for i in range(table.shape[0])]
        cases.append({"name": name, "labels": labels, "table": table.tolist(), **extra})

    add("two_class", [[10, 2], [3, 15]], ["a", "b"])
    add("two_class_random", rng.integers(0, 60, (2, 2)) + 1, ["no", "yes"])
    add("two_class_positive_second", [[40, 7], [12, 41]], ["neg", "pos"], positive="pos")
    add("two_class_prevalence", [[40, 7], [12, 41]], ["a", "b"], prevalence=0.1)
    add("two_class_large_n", [[4811, 173], [201, 4815]], ["0", "1"])
    add("two_class_equal_discordant", [[20, 5], [5, 30]], ["a", "b"])
    add("perfect", [[100, 0], [0, 100]], ["a", "b"])
    add("all_wrong", [[0, 5], [4, 0]], ["a", "b"])
    add("single_reference_class", [[6, 0], [3, 0]], ["a", "b"])
    add("single_predicted_class", [[6, 4], [0, 0]], ["a", "b"])
    add("one_cell", [[7, 0], [0, 0]], ["a", "b"])
    diag = np.diag(rng.integers(80, 120, 10))
    noise = rng.integers(0, 4, (10, 10)) * (rng.random((10, 10)) < 0.4)
    add("ten_class_sparse", diag + noise, [str(i) for i in range(10)])
    add("ten_class_dense", np.diag(rng.integers(50, 90, 10)) + rng.integers(1, 6, (10, 10)),
        [str(i) for i in range(10)])
    add("three_class_bowker", [[30, 4, 2], [6, 25, 3], [1, 8, 21]], ["x", "y", "z"])
    add("three_class_prevalence", [[30, 4, 2], [6, 25, 3], [1, 8, 21]], ["x", "y", "z"],
        prevalence={"x": 0.5, "y": 0.3, "z": 0.2})
    add("empty_class", [[12, 0, 3], [0, 0, 0], [2, 0, 9]], ["a", "b", "c"])
    add("perfect_multiclass", np.diag([5, 6, 7, 8]), ["w", "x", "y", "z"])
    return cases


def _expand(case: dict) -> tuple[list, list]:
    pred, ref = [], []
    labels = case["labels"]
    for i, row in enumerate(case["table"]):
        for j, count in enumerate(row):
            pred += [labels[i]] * count
            ref += [labels[j]] * count
    return pred, ref


def _num(v) -> float:
    return math.nan if v == "NaN" else float(v)


MAX_DIFF = [0.0]


def _close(ours: float, theirs: float) -> bool:
    if math.isnan(theirs) or math.isnan(ours):
        return math.isnan(theirs) and math.isnan(ours)
    MAX_DIFF[0] = max(MAX_DIFF[0], abs(ours - theirs))
    return abs(ours - theirs) <= TOL


def test_confusion_matrix_matches_caret(tmp_path: Path) -> None:
    exe = _rscript_with_caret()
    cases = _cases()
    cases_file, out_file = tmp_path / "cases.json", tmp_path / "out.json"
    cases_file.write_text(json.dumps(cases))
    run = subprocess.run([exe, str(R_SCRIPT), str(cases_file), str(out_file)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    r_out = json.loads(out_file.read_text())

    compared, mismatches = 0, []
    for case in cases:
        pred, ref = _expand(case)
        cm = sd.confusion_matrix(pred, ref, positive=case.get("positive"),
                                 levels=case["labels"], prevalence=case.get("prevalence"))
        theirs = r_out[case["name"]]
        assert cm.table.to_numpy().ravel().tolist() == theirs["table"], case["name"]
        for stat in OVERALL_NAMES:
            compared += 1
            if not _close(float(cm.overall[stat]), _num(theirs["overall"][stat])):
                mismatches.append((case["name"], stat, cm.overall[stat],
                                   theirs["overall"][stat]))
        if len(case["labels"]) == 2:
            assert str(cm.positive) == theirs["positive"]
            rows = {None: (cm.by_class, theirs["byClass"])}
        else:
            rows = {lev: (cm.by_class.loc[lev], theirs["byClass"][lev]) for lev in cm.levels}
        for lev, (ours, r_row) in rows.items():
            for stat in BY_CLASS_NAMES:
                compared += 1
                if not _close(float(ours[stat]), _num(r_row[stat])):
                    mismatches.append((case["name"], lev, stat, ours[stat], r_row[stat]))
    print(f"compared {compared} statistics over {len(cases)} tables with caret; "
          f"largest difference {MAX_DIFF[0]:.3g}")
    assert not mismatches, mismatches
    assert compared == sum(7 + 11 * (1 if len(c["labels"]) == 2 else len(c["labels"]))
                           for c in cases)
