"""statdl.validation: the argument checks and their one message template, and the entry points
whose own checkers now go through it."""

from __future__ import annotations

import re

import numpy as np
import pytest

import statdl as sd
from statdl import validation as v
from statdl.errors import ConfigError, ShapeError

#: "`arg` of Owner must be EXPECTED; got GOT." with an optional fix after it
TEMPLATE = re.compile(r"^`[\w\[\]\-.]+`( of [\w.]+)? must be .+; got .+\.( .+)?$")


@pytest.mark.parametrize("bad", [0, -3, True, 1.0, "2", None, np.float64(3)])
def test_check_int_refuses_what_is_not_an_int_in_range(bad):
    with pytest.raises(ConfigError) as err:
        v.check_int(bad, "units", "Dense", low=1)
    assert str(err.value) == f"`units` of Dense must be an int >= 1; got {bad!r}."


def test_check_int_bounds_none_and_extra_values():
    assert v.check_int(np.int64(5), "n", low=1, high=5) == 5 and type(
        v.check_int(np.int64(5), "n", low=1)) is int
    with pytest.raises(ConfigError, match=r"^`n` must be an int in \[1, 5\]; got 6\.$"):
        v.check_int(6, "n", low=1, high=5)
    assert v.check_int(None, "batch_size", low=1, allow_none=True) is None
    with pytest.raises(ConfigError, match=r"`batch_size` must be an int >= 1 or None; got 0\."):
        v.check_int(0, "batch_size", low=1, allow_none=True)
    assert v.check_int(-1, "n_jobs", low=1, also=(-1,)) == -1
    with pytest.raises(ConfigError, match=r"an int >= 1 \(or -1: one per core\); got -2\."):
        v.check_int(-2, "n_jobs", low=1, also=(-1,), also_text="or -1: one per core")


@pytest.mark.parametrize("value, ok", [(0.0, False), (1e-12, True), (1, True), (np.float32(2), True),
                                       (float("inf"), False), (float("nan"), False),
                                       (True, False), ("1", False)])
def test_check_number_with_an_open_lower_bound(value, ok):
    if ok:
        assert v.check_number(value, "learning_rate", "Adam", low=0, low_open=True) == float(value)
    else:
        with pytest.raises(ConfigError, match=r"^`learning_rate` of Adam must be a number > 0; "):
            v.check_number(value, "learning_rate", "Adam", low=0, low_open=True)


@pytest.mark.parametrize("low_open, high_open, text, inside, outside", [
    (False, True, "[0, 1)", [0, 0.999], [1, -0.1]),
    (True, True, "(0, 1)", [0.5], [0, 1]),
    (True, False, "(0, 1]", [1], [0]),
    (False, False, "[0, 1]", [0, 1], [1.01]),
])
def test_intervals_are_written_as_they_are_checked(low_open, high_open, text, inside, outside):
    for x in inside:
        assert v.check_in_range(x, "q", 0, 1, low_open=low_open, high_open=high_open) == x
    for x in outside:
        with pytest.raises(ConfigError, match=re.escape(f"`q` must be a number in {text}; got")):
            v.check_in_range(x, "q", 0, 1, low_open=low_open, high_open=high_open)


def test_rate_level_probability_and_positive():
    assert v.check_rate(0) == 0.0
    with pytest.raises(ConfigError, match=r"`rate` of Dropout must be a number in \[0, 1\); got 1"):
        v.check_rate(1, owner="Dropout")
    for bad in (0, 1, float("nan"), True):
        with pytest.raises(ConfigError, match="strictly between 0 and 1"):
            v.check_level(bad)
    assert v.check_level(np.float32(0.5)) == 0.5
    with pytest.raises(ConfigError, match=r"must be a probability in \[0, 1\]; got 1.5"):
        v.check_probability(1.5, "prevalence")
    assert v.check_positive(2, "passes", integer=True) == 2
    with pytest.raises(ConfigError, match=r"`timeout` must be a number > 0; got 0"):
        v.check_positive(0, "timeout")


def test_check_choice_names_the_choices_and_the_closest():
    with pytest.raises(ConfigError) as err:
        v.check_choice("rleu", "activation", ["relu", "tanh", "sigmoid"], "Dense")
    assert str(err.value) == ("`activation` of Dense must be one of 'relu', 'sigmoid', 'tanh'; "
                              "got 'rleu'. Did you mean 'relu'?")
    with pytest.raises(ConfigError, match=r"must be one of 1, 2; got True\.$"):
        v.check_choice(True, "axis", [1, 2])  # True == 1, but it is not the int 1
    assert v.check_choice(None, "mode", ["min"], allow_none=True) is None


def test_check_callable_is_a_type_error():
    with pytest.raises(TypeError, match=r"^`fn` of Lambda must be callable; got int\.$"):
        v.check_callable(3, "fn", "Lambda")


def test_check_array_shape():
    x = np.zeros((4, 3))
    assert v.check_array_shape(x, "x", shape=(None, 3)) is x
    assert v.check_array_shape(x, "x", ndim=(1, 2)).shape == (4, 3)
    with pytest.raises(ShapeError, match=r"`x` must be an array of shape \(any, 2\); got "
                                         r"shape \(4, 3\)\."):
        v.check_array_shape(x, "x", shape=(None, 2))
    with pytest.raises(ShapeError, match=r"`y` of fit must be a 1-d array; got shape \(4, 3\)"):
        v.check_array_shape(x, "y", "fit", ndim=1)


def test_message_template_and_fix():
    assert v.message("x", "a 2-d array", None) == "`x` must be a 2-d array; got None."
    assert v.message("patience", "an int >= 0", -1, "EarlyStopping", "Use 0.") == (
        "`patience` of EarlyStopping must be an int >= 0; got -1. Use 0.")


@pytest.mark.parametrize("call", [
    lambda: sd.layers.Dense(0),
    lambda: sd.layers.Dropout(1.5),
    lambda: sd.layers.SimpleRNN(4, recurrent_dropout=1.0),
    lambda: sd.layers.Conv2D(4, 3, padding="smae"),
    lambda: sd.optimizers.RMSprop(learning_rate=0),
    lambda: sd.optimizers.Adam(beta_1=1.0),
    lambda: sd.evaluation.regression_report([1.0, 2.0], [1.0, 2.0], level=1.5),
    lambda: sd.set_threads(0),
])
def test_entry_points_speak_the_template(call):
    with pytest.raises(ConfigError) as err:
        call()
    assert TEMPLATE.match(str(err.value)), str(err.value)
