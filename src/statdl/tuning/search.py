"""How a tuning run picks its flag combinations: a grid, random draws, or TPE (Optuna).

The search only chooses combinations; each is run, recorded and listed exactly as a grid's
runs are, so the runs directory and every view are the same whichever search made them.

* ``"grid"``: every combination of lists of values (or a ``sample`` of them).
* ``"random"``: ``n_runs`` independent draws: a list is a uniform choice among its values, a
  :func:`search_range` a uniform (or, with ``log=True``, log-uniform) value between its ends.
  When every flag is a list the draws are without replacement (a sample of the grid).
* ``"tpe"``: Optuna's Tree-structured Parzen Estimator (``pip install 'statdl[optuna]'``),
  used as a library through ``ask`` / ``tell``: each run's final validation metric is told
  to the sampler before it proposes the next combination. Runs of the same script already in
  the runs directory are told first and count towards ``n_runs``, so calling again resumes.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..validation import check_int, message
from .grid import as_combinations, expand_grid, sample_grid

__all__ = ["Range", "search_range", "check_space", "random_combinations", "TPESearch",
           "SEARCHES"]

SEARCHES = ("grid", "random", "tpe")


@dataclass(frozen=True)
class Range:
    """A flag's values between ``low`` and ``high`` (both included) for random or TPE search;
    ``log=True`` draws uniformly on the log scale (for learning rates, penalties ...)."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def draw(self, rng: random.Random) -> int | float:
        """One value: uniform, or log-uniform; integers uniform over ``low..high`` (log: the
        integer part of a log-uniform draw on ``[low, high + 1)``)."""
        if self.integer:
            if not self.log:
                return rng.randint(int(self.low), int(self.high))
            u = rng.uniform(math.log(self.low), math.log(self.high + 1))
            return min(int(math.exp(u)), int(self.high))
        if self.log:
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log, "integer": self.integer}


def _number(name: str, value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def search_range(low: float, high: float, log: bool = False) -> Range:
    """Values of a flag between ``low`` and ``high`` for ``tuning_run(search="random" | "tpe")``.

    Two ints make an integer range (e.g. units), otherwise a numeric one. ``log=True`` draws
    on the log scale, for values spanning several orders of magnitude (``low`` must be > 0).

    Examples
    --------
    >>> search_range(1e-4, 1e-1, log=True)
    Range(low=0.0001, high=0.1, log=True, integer=False)
    >>> search_range(16, 256).integer
    True
    >>> search_range(0, 1, log=True)
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `low` of search_range must be > 0 with log=True; got 0.
    """
    for name, value in (("low", low), ("high", high)):
        if not _number(name, value):
            raise ConfigError(message(name, "a finite number", value, "search_range"))
    if not low < high:
        raise ConfigError(message("high", f"above `low` ({low!r})", high, "search_range"))
    if not isinstance(log, bool):
        raise ConfigError(message("log", "True or False", log, "search_range"))
    if log and low <= 0:
        raise ConfigError(message("low", "> 0 with log=True", low, "search_range"))
    integer = isinstance(low, int) and isinstance(high, int)
    return Range(low, high, log, integer)


def check_space(flags: Any, search: str) -> dict[str, list | Range]:
    """The search space of a random or TPE search: flag -> list of values or :class:`Range`.

    Examples
    --------
    >>> check_space({"units": [64, 128], "lr": search_range(0.01, 0.1)}, "random")["units"]
    [64, 128]
    """
    if not isinstance(flags, Mapping) or not flags:
        raise ConfigError(message("flags", "a dict of flag -> list of values or "
                                  "statdl.tuning.search_range(low, high)", flags,
                                  f"search={search!r}"))
    space: dict[str, list | Range] = {}
    for name, values in flags.items():
        if isinstance(values, Range):
            space[str(name)] = values
        else:
            space[str(name)] = [c[str(name)] for c in expand_grid({name: values})]
    return space


def _has_range(flags: Any) -> bool:
    return isinstance(flags, Mapping) and any(isinstance(v, Range) for v in flags.values())


def grid_combinations(flags: Any, sample: float | None, seed: int | None) -> tuple[list, int]:
    """The grid's combinations (sampled), and the grid's size."""
    if _has_range(flags):
        name = next(k for k, v in flags.items() if isinstance(v, Range))
        raise ConfigError(message(
            f"flags[{name!r}]", "a list of values with search='grid'", flags[name],
            shown="a search_range, which a grid cannot enumerate",
            fix="Use search='random' or search='tpe' with n_runs=, or give a list of values."))
    combos = as_combinations(flags)
    return sample_grid(combos, sample, seed), len(combos)


def _key(combo: dict[str, Any]) -> str:
    return json.dumps(combo, sort_keys=True)


def random_combinations(space: dict[str, list | Range], n_runs: int,
                        seed: int | None) -> list[dict[str, Any]]:
    """``n_runs`` draws from ``space`` (seeded): without replacement when every flag is a list.

    Examples
    --------
    >>> draws = random_combinations({"a": [1, 2], "b": search_range(0.0, 1.0)}, 3, seed=1)
    >>> len(draws), all(d["a"] in (1, 2) and 0 <= d["b"] <= 1 for d in draws)
    (3, True)
    """
    if all(isinstance(v, list) for v in space.values()):
        grid = expand_grid(space)
        return sample_grid(grid, min(1.0, n_runs / len(grid)), seed)[:n_runs]
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(100 * n_runs):
        combo = {k: v.draw(rng) if isinstance(v, Range) else rng.choice(v)
                 for k, v in space.items()}
        if _key(combo) not in seen:              # rounded integers may repeat
            seen.add(_key(combo))
            out.append(combo)
        if len(out) == n_runs:
            break
    return out


def check_n_runs(n_runs: Any, search: str) -> int:
    if search == "grid":
        if n_runs is not None:
            raise ConfigError(message(
                "n_runs", "None with search='grid' (`n_runs` is for search='random' or 'tpe'; "
                "a grid runs every combination, or a `sample` of them)", n_runs))
        return 0
    return check_int(n_runs, "n_runs", f"search={search!r}", low=1,
                     fix="`n_runs` is the budget of runs.")


class TPESearch:
    """Optuna's TPE sampler, asked for one combination at a time and told each result.

    ``metric`` is the final validation metric to optimise in ``mode`` (``"min"``/``"max"``).
    Runs already made (``previous``: combination, value or ``None`` for a failed one, status,
    and optionally the run) are added to the study first when they lie in the space.
    """

    def __init__(self, space: dict[str, list | Range], n_runs: int, seed: int | None,
                 metric: str, mode: str,
                 previous: list[tuple[Any, ...]] = ()) -> None:
        try:
            import optuna
        except ImportError:
            raise ConfigError("search='tpe' needs Optuna: pip install 'statdl[optuna]' (or "
                              "pip install optuna).") from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna, self.space, self.metric = optuna, space, metric
        self.study = optuna.create_study(
            direction="maximize" if mode == "max" else "minimize",
            sampler=optuna.samplers.TPESampler(seed=seed))
        self.distributions = {k: self._distribution(v) for k, v in space.items()}
        self.n_runs = n_runs
        self.asked = 0
        self.trials: dict[str, Any] = {}           # combination key -> trial being run
        self.told_before: list[Any] = []          # the extra item of each previous run told
        for combo, value, status, *extra in previous:
            if set(combo) == set(space) and all(self._inside(k, v) for k, v in combo.items()):
                self._add(combo, value, status)
                self.asked += 1
                self.told_before.append(extra[0] if extra else None)

    def _distribution(self, values: list | Range) -> Any:
        d = self.optuna.distributions
        if isinstance(values, list):
            return d.CategoricalDistribution(values)
        if values.integer:
            return d.IntDistribution(int(values.low), int(values.high), log=values.log)
        return d.FloatDistribution(float(values.low), float(values.high), log=values.log)

    def _inside(self, name: str, value: Any) -> bool:
        values = self.space[name]
        if isinstance(values, list):
            return value in values
        return _number(name, value) and values.low <= value <= values.high

    def _state(self, value: float | None, status: str) -> Any:
        states = self.optuna.trial.TrialState
        if status == "stopped":
            return states.PRUNED
        return states.COMPLETE if value is not None and status == "completed" else states.FAIL

    def _add(self, combo: dict[str, Any], value: float | None, status: str) -> None:
        state = self._state(value, status)
        self.study.add_trial(self.optuna.trial.create_trial(
            params=combo, distributions=self.distributions, state=state,
            value=value if state == self.optuna.trial.TrialState.COMPLETE else None))

    def ask(self) -> dict[str, Any] | None:
        """The next combination to run, or ``None`` when the budget is used."""
        if self.asked >= self.n_runs:
            return None
        trial = self.study.ask(self.distributions)
        self.asked += 1
        combo = dict(trial.params)
        self.trials[_key(combo)] = trial
        return combo

    def tell(self, combo: dict[str, Any], value: float | None, status: str) -> None:
        """Give the sampler a run's final ``metric`` (``None``: failed or no metric)."""
        trial = self.trials.pop(_key(combo), None)
        if trial is None:
            return
        state = self._state(value, status)
        self.study.tell(trial, value if state == self.optuna.trial.TrialState.COMPLETE
                        else None, state=state)
