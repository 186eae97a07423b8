"""``statdl.r_sample`` / ``RRandom`` against R itself: the same numbers, draw for draw.

The references come from ``Rscript`` run in this test (R >= 3.6, default generator and
``sample.kind = "Rejection"``); without R the comparisons skip with the reason, and the few
values quoted from R's console below still run.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from statdl.errors import ConfigError
from statdl.rsample import RRandom, r_sample

RSCRIPT = shutil.which("Rscript")
# R checks belong to the slow tier (pyproject's markers); the console quotes below stay fast
needs_r = pytest.mark.skipif(RSCRIPT is None, reason="Rscript is not installed (R's own "
                             "numbers are the reference)")

# (label, R expression after set.seed(seed), Python call) -- the calls of the course and of
# the ISLR2 labs, plus the edges of R's algorithm (bits > 16, the hashed path, fractions).
CASES = [
    ("course-hitters", 1001, "sample(1:263, round(263*0.3))",
     lambda s: r_sample(263, round(263 * 0.3), seed=s)),
    ("course-n/3", 1001, "sample(263, 263/3)", lambda s: r_sample(263, 263 / 3, seed=s)),
    ("islr2-ch10-hitters", 13, "sample(1:263, trunc(263/3))",
     lambda s: r_sample(263, 263 // 3, seed=s)),
    ("islr2-auto-half", 1, "sample(392, 196)", lambda s: r_sample(392, 196, seed=s)),
    ("islr2-bootstrap", 7, "sample(100, 100, replace = TRUE)",
     lambda s: r_sample(100, 100, replace=True, seed=s)),
    ("islr2-logical", 1, "as.integer(sample(c(TRUE, FALSE), 263, replace = TRUE))",
     lambda s: r_sample([True, False], 263, replace=True, seed=s).astype(int)),
    ("permutation", 2, "sample(10)", lambda s: r_sample(10, seed=s)),
    ("vector", 3, "sample(c(5, 10, 15, 20), 3)", lambda s: r_sample([5, 10, 15, 20], 3, seed=s)),
    ("mnist-size", 1001, "sample(60000, 6000)", lambda s: r_sample(60000, 6000, seed=s)),
    ("bits>16", 5, "sample(70000 + 3, 50)", lambda s: r_sample(70003, 50, seed=s)),
    ("hashed", 9, "sample(2e7, 20)", lambda s: r_sample(20_000_000, 20, seed=s)),
    ("negative-seed", -5, "sample(50, 10)", lambda s: r_sample(50, 10, seed=s)),
    ("big-seed", 2**31 - 1, "sample(50, 10)", lambda s: r_sample(50, 10, seed=s)),
    ("smallest-seed", -(2**31 - 1), "sample(10, 3)", lambda s: r_sample(10, 3, seed=s)),
    ("numpy-args", 4, "sample(30, 5, replace = TRUE)",
     lambda s: r_sample(np.int64(30), np.float64(5.0), replace=np.bool_(True), seed=np.int32(s))),
    ("zero-seed", 0, "sample(7)", lambda s: r_sample(7, seed=s)),
    ("size-1", 11, "sample(1000, 1)", lambda s: r_sample(1000, 1, seed=s)),
]


@pytest.fixture(scope="module")
def r_values() -> dict[str, list[float]]:
    """Every case's numbers from one Rscript process (one line per case)."""
    lines = [f'set.seed({seed}); cat("{label}", {expr}, "\\n")' for label, seed, expr, _ in CASES]
    lines.append('set.seed(1001); cat("runif", sprintf("%.17g", runif(5)), "\\n")')
    lines.append('set.seed(1); a <- sample(10, 3); b <- sample(10, 3); cat("stream", a, b, "\\n")')
    lines.append('cat("version", R.version$major, R.version$minor, "\\n")')
    out = subprocess.run([RSCRIPT, "-e", "\n".join(lines)], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    table = {}
    for line in out.splitlines():
        label, *values = line.split()
        table[label] = values
    major, minor = int(table["version"][0]), float(table["version"][1])
    assert (major, minor) >= (3, 6), "R < 3.6 samples by rounding; these tests need R >= 3.6"
    return table


@pytest.mark.slow
@needs_r
@pytest.mark.parametrize("label, seed, expr, call", CASES, ids=[c[0] for c in CASES])
def test_r_sample_matches_r(r_values, label, seed, expr, call):
    expected = [int(float(v)) for v in r_values[label]]
    assert call(seed).tolist() == expected


@pytest.mark.slow
@needs_r
def test_uniforms_match_r_to_the_last_bit(r_values):
    rng = RRandom(1001)
    assert [rng.unif_rand() for _ in range(5)] == [float(v) for v in r_values["runif"]]


@pytest.mark.slow
@needs_r
def test_successive_calls_continue_one_stream_as_after_one_set_seed(r_values):
    rng = RRandom(1)
    got = rng.sample(10, 3).tolist() + rng.sample(10, 3).tolist()
    assert got == [int(v) for v in r_values["stream"]]


def test_the_course_split_quoted_from_r_console():
    # R 4.2: set.seed(1001); sample(1:263, 79) starts 87 203 204 156 68
    ind = r_sample(263, 79, seed=1001)
    assert ind[:5].tolist() == [87, 203, 204, 156, 68]
    assert len(set(ind.tolist())) == 79 and ind.min() >= 1 and ind.max() <= 263


def test_old_private_name_still_works():
    from statdl.labs._rsample import RRandom as OldRRandom
    from statdl.labs._rsample import r_sample as old

    assert old(263, 79, 1001) == r_sample(263, 79, seed=1001).tolist()
    assert OldRRandom is RRandom


def test_without_replacement_every_value_once():
    perm = r_sample(500, seed=3)
    assert sorted(perm.tolist()) == list(range(1, 501))


# Each refused input, with what R itself does with it (checked in the slow test below): R
# refuses them too, or (x = 0, 2.5, Inf) reads a scalar that is not a count as a vector to draw
# from, a trap statdl names instead of copying.
REFUSED = [
    ("set.seed(2^31)", {"x": 10, "size": 3, "seed": 2**31},
     r"^`seed` of r_sample must be an int from -2147483647 to 2147483647 \(R's set\.seed takes "
     r"R's integers\); got 2147483648\.$"),
    ("set.seed(-2^31)", {"x": 10, "size": 3, "seed": -2**31}, r"got -2147483648\.$"),
    ("set.seed(1); sample(10, 3, replace = 'no')", {"x": 10, "size": 3, "replace": "no"},
     r"^`replace` of r_sample must be True or False; got 'no'\.$"),
    ("set.seed(1); sample(10, 3, replace = NA)", {"x": 10, "size": 3, "replace": None},
     r"^`replace` of r_sample must be True or False; got None\.$"),
    ("set.seed(1); sample(10, NA)", {"x": 10, "size": float("nan")},
     r"^`size` of r_sample must be a number >= 0 \(a fraction is truncated, as R does\); got "
     r"nan\.$"),
    ("set.seed(1); sample(10, -1)", {"x": 10, "size": -1}, r"`size` of r_sample .*; got -1\.$"),
    ("set.seed(1); sample(5, 6)", {"x": 5, "size": 6},
     r"^`size` of r_sample must be at most the population \(5\) when `replace` is False; got 6\."
     r" Pass replace=True"),
    ("set.seed(1); sample(c(), 1)", {"x": [], "size": 1},
     r"^`x` of r_sample must be an int n >= 1 \(R's sample\(n, \.\.\.\)\) or a non-empty 1-d "
     r"sequence of values; got list of shape \(0,\)\.$"),
]
REFUSED_PYTHON_ONLY = [
    ({"x": np.zeros((2, 2)), "size": 1}, r"non-empty 1-d sequence of values; got ndarray of shape "
                                         r"\(2, 2\)\.$"),
    ({"x": float("inf"), "size": 1}, r"^`x` of r_sample must be an int n >= 1 .*; got inf\.$"),
    ({"x": 0}, r"^`x` of r_sample must be an int n >= 1 .*; got 0\.$"),
    ({"x": 2.5}, r"^`x` of r_sample must be an int n >= 1 .*; got 2\.5\.$"),
    ({"x": "abc", "size": 1}, r"^`x` of r_sample .*; got 'abc'\.$"),
    ({"x": {1, 2}, "size": 1}, r"^`x` of r_sample .*; got \{1, 2\}\.$"),
    ({"x": 10, "size": "3"}, r"^`size` of r_sample must be a number >= 0 .*; got '3'\.$"),
    ({"x": 10, "size": True}, r"^`size` of r_sample .*; got True\.$"),
    ({"x": 10, "size": float("inf")}, r"^`size` of r_sample .*; got inf\.$"),
    ({"x": 10, "seed": 1.5}, r"^`seed` of r_sample must be an int .*; got 1\.5\.$"),
    ({"x": 10, "seed": "1001"}, r"^`seed` of r_sample must be an int .*; got '1001'\.$"),
    ({"x": 10, "seed": True}, r"^`seed` of r_sample must be an int .*; got True\.$"),
]


@pytest.mark.parametrize("r_call, kwargs, words", REFUSED, ids=[r[0] for r in REFUSED])
def test_bad_arguments_are_named(r_call, kwargs, words):
    with pytest.raises(ConfigError, match=words):
        r_sample(**{"seed": 1, **kwargs})


@pytest.mark.parametrize("kwargs, words", REFUSED_PYTHON_ONLY)
def test_bad_arguments_r_reads_otherwise_are_named_too(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        r_sample(**{"seed": 1, **kwargs})


@pytest.mark.slow
@needs_r
def test_r_refuses_what_r_sample_refuses():
    lines = [f'r <- try({{{call}}}, silent = TRUE); cat(inherits(r, "try-error"), "\\n")'
             for call, _, _ in REFUSED]
    out = subprocess.run([RSCRIPT, "-e", "\n".join(lines)], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    assert out == ["TRUE"] * len(REFUSED)


def test_the_methods_name_themselves():
    rng = RRandom(1)
    with pytest.raises(ConfigError, match=r"^`n` of RRandom\.sample_int must be an int >= 0; "
                                          r"got 10\.0\.$"):
        rng.sample_int(10.0, 3)
    with pytest.raises(ConfigError, match=r"^`dn` of RRandom\.unif_index must be an int >= 0; "
                                          r"got 2\.5\.$"):
        rng.unif_index(2.5)
    with pytest.raises(ConfigError, match=r"^`replace` of RRandom\.sample must be True or "
                                          r"False; got 1\.$"):
        rng.sample(10, 3, replace=1)


def test_seed_must_be_an_int():
    with pytest.raises(ConfigError, match=r"^`seed` of RRandom must be an int from -2147483647 "
                                          r"to 2147483647 \(R's set\.seed takes R's integers\); "
                                          r"got 1\.5\.$"):
        RRandom(1.5)
