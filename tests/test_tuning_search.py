"""Random and TPE search: draws from the declared distributions, Optuna's ask/tell, errors."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
from scipy import stats

from statdl.errors import ConfigError
from statdl.tuning import declared_flags, flag_numeric, ls_runs, search_range, tuning_run
from statdl.tuning.search import Range, random_combinations

FIX = Path(__file__).parent / "fixtures" / "tuning"
RANGES = FIX / "range_train.py"
CURVE = FIX / "curve_train.py"


# ------------------------------------------------------------------ the distributions


def draws(r: Range, n: int = 4000, seed: int = 0) -> list:
    rng = random.Random(seed)
    return [r.draw(rng) for _ in range(n)]


def test_log_range_is_uniform_on_the_log_scale():
    values = draws(search_range(1e-4, 1e-1, log=True))
    assert all(1e-4 <= v <= 1e-1 for v in values)
    # log10 of a log-uniform draw is uniform on [-4, -1]: Kolmogorov-Smirnov against it
    logs = [math.log10(v) for v in values]
    assert stats.kstest(logs, stats.uniform(loc=-4, scale=3).cdf).pvalue > 0.01
    # and a plain uniform is not (most of its mass lies above 1e-2)
    plain = [math.log10(v) for v in draws(search_range(1e-4, 1e-1))]
    assert stats.kstest(plain, stats.uniform(loc=-4, scale=3).cdf).pvalue < 1e-6


def test_integer_ranges_follow_their_definitions():
    values = draws(search_range(1, 7))
    counts = [values.count(k) for k in range(1, 8)]
    assert sum(counts) == 4000                        # only 1..7, both ends included
    assert stats.chisquare(counts).pvalue > 0.01       # uniform
    # log: P(k) = log((k + 1) / k) / log(8 / 1), e.g. P(1) = 1/3, P(7) = log(8/7)/log(8)
    values = draws(search_range(1, 7, log=True))
    counts = [values.count(k) for k in range(1, 8)]
    expected = [4000 * math.log((k + 1) / k) / math.log(8) for k in range(1, 8)]
    assert stats.chisquare(counts, expected).pvalue > 0.01


def test_random_draws_are_seeded_and_grids_are_sampled_without_replacement():
    space = {"a": [1, 2, 3], "b": ["x", "y"]}
    picks = random_combinations(space, 4, seed=5)
    assert len({tuple(p.values()) for p in picks}) == 4          # no repeats
    assert picks == random_combinations(space, 4, seed=5)
    assert len(random_combinations(space, 50, seed=5)) == 6      # the whole grid at most
    mixed = {"a": [1, 2], "lr": search_range(0.001, 0.1, log=True)}
    assert random_combinations(mixed, 3, 1) == random_combinations(mixed, 3, 1)
    assert random_combinations(mixed, 3, 1) != random_combinations(mixed, 3, 2)


# ------------------------------------------------------------------ through tuning_run


def test_random_search_over_declared_ranges(tmp_path):
    declared = declared_flags(RANGES)
    assert declared["lr"]["range"] == [1e-4, 1e-1] and declared["lr"]["log"] is True
    assert "range" not in declared["optimizer"]
    runs = tuning_run(RANGES, runs_dir=tmp_path / "runs", search="random", n_runs=5, seed=2,
                      progress=False)
    assert len(runs) == 5 and set(runs["status"]) == {"completed"}
    assert runs["flag_lr"].between(1e-4, 1e-1).all()
    assert runs["flag_units"].between(8, 64).all()
    assert all(float(u).is_integer() for u in runs["flag_units"])
    assert set(runs["flag_optimizer"]) == {"adam"}                  # no range: its default
    again = tuning_run(RANGES, runs_dir=tmp_path / "runs", search="random", n_runs=5, seed=2,
                       progress=False)
    assert again.attrs["n_skipped"] == 5 and len(ls_runs(tmp_path / "runs")) == 5


def test_tpe_search_asks_and_tells_optuna(tmp_path):
    import optuna

    space = {"lr": search_range(1e-4, 1e-1, log=True), "units": search_range(8, 64),
             "optimizer": ["adam", "rmsprop"]}
    runs = tuning_run(RANGES, space, runs_dir=tmp_path / "runs", search="tpe", n_runs=12,
                      seed=3, progress=False)
    assert len(runs) == 12 and set(runs["status"]) == {"completed"}
    runs = runs.sort_values("start")
    # an independent study, told each run's final val_loss, proposes the same flags in turn
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=3))
    dists = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
             "units": optuna.distributions.IntDistribution(8, 64),
             "optimizer": optuna.distributions.CategoricalDistribution(["adam", "rmsprop"])}
    for _, run in runs.iterrows():
        trial = study.ask(dists)
        assert trial.params["lr"] == pytest.approx(run["flag_lr"], rel=1e-12)
        assert (trial.params["units"], trial.params["optimizer"]) == (run["flag_units"],
                                                                       run["flag_optimizer"])
        study.tell(trial, run["metric_val_loss"])
    # a second call with a larger budget tells the 12 runs first and adds 3
    more = tuning_run(RANGES, space, runs_dir=tmp_path / "runs", search="tpe", n_runs=15,
                      seed=3, progress=False)
    assert more.attrs["n_skipped"] == 12 and len(ls_runs(tmp_path / "runs")) == 15


def test_import_statdl_does_not_import_optuna():
    code = ("import sys, statdl, statdl.tuning; statdl.tuning.search_range(1, 2); "
            "import statdl.tuning.grid_runs; print('optuna' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("kwargs, message", [
    ({"search": "bayes"}, "`search` must be one of 'grid', 'random', 'tpe'; got 'bayes'"),
    ({"search": "random"}, "`n_runs` of search='random' must be an int >= 1; got None"),
    ({"n_runs": 5}, "`n_runs` is for search='random' or 'tpe'"),
    ({"search": "random", "n_runs": 3, "sample": 0.5}, "`sample` of tuning_run must be None unless search='grid'; got 0.5. "
     "With search='random' the budget is `n_runs`."),
    ({"flags": {"lr": search_range(0.001, 0.1)}},
     "must be a list of values with search='grid'; got a search_range, which a grid cannot "
     "enumerate"),
    ({"flags": {"units": search_range(8.0, 64.0)}, "search": "random", "n_runs": 2},
     "`flags` of tuning_run must give int ends for the integer flag `units`; got the range "
     "8.0..64.0. E.g. search_range(8, 64)."),
    ({"flags": {"optimizer": search_range(1, 2)}, "search": "random", "n_runs": 2},
     "`flags` of tuning_run must be a list of values for the string flag `optimizer` (ranges "
     "are for integer and numeric flags); got a search_range."),
    ({"flags": {"nodes": [1, 2]}, "search": "tpe", "n_runs": 2},
     "`flags` of tuning_run must name flags that range_train.py declares (lr, units, "
     "optimizer); got nodes, which range_train.py does not declare."),
])
def test_search_errors_name_the_argument(tmp_path, kwargs, message):
    args = {"flags": {"lr": [0.01]}, "runs_dir": tmp_path, "progress": False, **kwargs}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tuning_run(RANGES, **args)


def test_range_arguments_are_checked():
    with pytest.raises(ConfigError, match="`low` of search_range must be > 0 with log=True"):
        search_range(0, 1, log=True)
    with pytest.raises(ConfigError, match=r"`high` of search_range must be above `low` \(2\)"):
        search_range(2, 1)
    with pytest.raises(ConfigError, match="`range` of flag `lr`: `low` of search_range"):
        flag_numeric("lr", 0.1, range=(0.0, 1.0), log=True)
    with pytest.raises(ConfigError, match="`log` of flag `lr` must be False without a `range`"):
        flag_numeric("lr", 0.1, log=True)
    with pytest.raises(ConfigError, match="declares no flag with a `range`"):
        tuning_run(CURVE, search="random", n_runs=2, progress=False)


def test_tune_command_searches_declared_ranges_and_schedules(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "statdl.cli", "tune", *map(str, args),
                               "--no-progress"], capture_output=True, text=True,
                              cwd=tmp_path, timeout=120)

    r = cli(RANGES, "--search", "random", "--runs", "2", "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert "random search: 2 runs over lr, units" in r.stdout
    r = cli(CURVE, "--flag", "quality=0.5,0.9", "--scheduler", "asha", "--max-epochs", "9",
            "--runs-dir", "asha")
    assert r.returncode == 0, r.stderr
    statuses = ls_runs(tmp_path / "asha").set_index("flag_quality")["status"].to_dict()
    assert statuses == {0.5: "completed", 0.9: "stopped"}     # 0.9 vs the cut 0.5 at rung 1
