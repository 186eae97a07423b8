"""Grids of flag combinations: tfruns's ``expand.grid`` order and seeded sampling."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from ..run_folders.files import flag_value
from ..validation import check_int, check_number, message

__all__ = ["expand_grid", "sample_grid", "as_combinations"]


def _values(name: str, values: Any) -> list:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | set | frozenset):
        if hasattr(values, "tolist"):
            values = values.tolist()
        else:
            values = [values]
    values = list(values)
    if not values:
        raise ConfigError(message(f"flags[{name!r}]", "at least one value", values, verb="give",
                                  shown="no values"))
    return [flag_value(name, v) for v in values]


def expand_grid(flags: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the flag values, the first flag varying fastest (R's expand.grid).

    Examples
    --------
    >>> expand_grid({"nodes": [64, 128], "dropout": [0.2, 0.4]})  # doctest: +NORMALIZE_WHITESPACE
    [{'nodes': 64, 'dropout': 0.2}, {'nodes': 128, 'dropout': 0.2},
     {'nodes': 64, 'dropout': 0.4}, {'nodes': 128, 'dropout': 0.4}]
    """
    if not isinstance(flags, Mapping):
        raise ConfigError(message("flags", "a dict of flag -> list of values", flags))
    if not flags:
        raise ConfigError(message("flags", "at least one flag with values", flags, verb="give",
                                  shown="{} (`flags` is empty: the grid has no combinations)"))
    names = [str(n) for n in flags]
    columns = [_values(n, flags[n]) for n in names]
    # itertools.product varies the last factor fastest; reverse twice for expand.grid's order
    return [dict(zip(names, reversed(combo), strict=True))
            for combo in itertools.product(*reversed(columns))]


def as_combinations(flags: Any) -> list[dict[str, Any]]:
    """A grid dict, a DataFrame of combinations, or a list of dicts -> list of dicts.

    Examples
    --------
    >>> as_combinations([{"a": 1}, {"a": 2}])
    [{'a': 1}, {'a': 2}]
    """
    if isinstance(flags, Mapping):
        return expand_grid(flags)
    if hasattr(flags, "to_dict") and hasattr(flags, "columns"):      # a DataFrame
        combos = flags.to_dict(orient="records")
    elif isinstance(flags, Sequence) and not isinstance(flags, str | bytes):
        combos = list(flags)
    else:
        raise ConfigError(message("flags", "a dict of flag -> values, a DataFrame of "
                                  "combinations or a list of dicts", flags,
                                  shown=type(flags).__name__))
    if not combos:
        raise ConfigError(message("flags", "at least one combination", flags, verb="hold",
                                  shown="no combinations: the grid is empty"))
    out = []
    for i, combo in enumerate(combos):
        if not isinstance(combo, Mapping):
            raise ConfigError(message(f"flags[{i}]", f"a dict (combination {i})", combo))
        out.append({str(k): flag_value(str(k), v, f"`flags` combination {i}: ")
                    for k, v in combo.items()})
    return out


def sample_grid(combos: list[dict[str, Any]], sample: float | None,
                seed: int | None = None) -> list[dict[str, Any]]:
    """Draw ``ceiling(sample * len(combos))`` combinations at random, as tfruns does.

    The subset and its order are random, drawn from ``random.Random(seed)``, so the same seed
    gives the same runs.

    Examples
    --------
    >>> grid = expand_grid({"a": list(range(10)), "b": [0, 1]})
    >>> len(sample_grid(grid, 0.05, seed=1)), sample_grid(grid, 0.1, 1) == sample_grid(grid, 0.1, 1)
    (1, True)
    """
    if sample is None:
        return list(combos)
    check_number(sample, "sample", low=0, high=1, low_open=True, what="a fraction")
    check_int(seed, "seed", allow_none=True)
    size = math.ceil(sample * len(combos))
    index = random.Random(seed).sample(range(len(combos)), size)
    return [combos[i] for i in index]
