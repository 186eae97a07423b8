"""statdl.validation: the argument checks and their one message template, and the entry points
whose own checkers now go through it."""

from __future__ import annotations

import re
from pathlib import Path

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


# ------------------------------------------------------------------ no separate checkers left
#: every part of the package (each top-level module and sub-package): all of its argument
#: errors come from statdl.validation
CONVERGED = sorted(p.name for p in Path(v.__file__).parent.iterdir()
                   if (p.suffix == ".py" or (p / "__init__.py").exists()))
#: raises whose text is not about one argument's value, with the reason
NOT_ARGUMENT_ERRORS = {
    ("text/tokenizer.py", "_from_json"): "a file or string that is not a Tokenizer JSON: the "
                                         "text says which part of the JSON is wrong",
    ("text/tokenizer.py", "_json_table"): "the same, for one table inside the JSON",
    ("tuning/search.py", "__init__"): "a missing optional package (Optuna): the text gives the "
                                      "install command",
    ("tuning/flagset.py", "read_flags_file"): "a line of a flags.yml file: the text names the "
                                              "file and the line",
    ("tuning/selection.py", "evaluate_best"): "a run folder without its saved model: the text "
                                              "says how the training script saves it",
    ("layers/base.py", "add_weight"): "add_weight called before Layer.__init__: the order of "
                                      "calls in a subclass",
    ("layers/base.py", "add_loss"): "add_loss called outside a Keras-style call(): where it is "
                                    "called from",
    ("layers/base.py", "_is_keras_style"): "a layer class whose definition is inconsistent "
                                           "(computing methods without call, or both)",
    ("layers/custom.py", "_output_shapes"): "the user's call() raised on a zero batch: their "
                                            "error, passed on with the fix",
    ("layers/symbolic.py", "__bool__"): "a symbolic tensor has no truth value",
    ("layers/symbolic.py", "__add__"): "Python operators on symbolic tensors: use layers.Add()",
    ("models/functional.py", "visit"): "a cycle in the graph",
    ("models/functional.py", "_require_graph"): "a subclassed model has no symbolic tensors",
    ("models/functional.py", "_find"): "layer_output needs a graph model: the model's kind",
    ("models/functional.py", "_propagate"): "a layer's own shape error, re-raised with the layer "
                                            "and the model",
    ("models/functional.py", "_input_specs"): "the model has no graph (its state)",
    ("models/functional.py", "save"): "a subclassed model cannot be written to a model file",
    ("models/sequential.py", "_shapes"): "no layers yet, or a layer's shape error re-raised "
                                         "with its position",
    ("models/steps.py", "fit_with_train_step"): "the model has no trainable weights",
    ("models/trainer.py", "_output_shape_of"): "an output of unknown shape: a property of the "
                                               "model",
    ("saving.py", "_npy"): "a weight's dtype has no NumPy equivalent",
    ("saving.py", "_from_spec"): "the contents of a model file being loaded (corrupt or "
                                 "hostile), named as fields of model.json",
    ("autoencoders/builders.py", "kl_reporter"): "needs a variational autoencoder: how the "
                                                 "model was built",
    ("autoencoders/builders.py", "sample"): "the same",
    ("labs/_registry.py", "error"): "argparse's own usage message, passed on with the --help hint",
    ("labs/notebooks.py", "_nbformat"): "a missing optional package (nbformat): the text gives "
                                        "the install command",
    ("tuning/executors.py", "__init__"): "a missing optional package (Ray): the text gives the "
                                         "install command",
    ("tuning/executors.py", "_ray_init"): "the Ray cluster refused this process's token: the "
                                          "environment, quoted in docs/tuning_cluster.md",
    ("tuning/runner.py", "declare"): "the training script crashed before declaring its flags: "
                                     "its exit code and last lines",
    ("utils.py", "require_memory"): "not enough free memory: the text gives the sizes",
}
#: statdl.validation's builders, and the modules' helpers that call them
_BUILDERS = {"message", "choice_error", "label", "_message", "_no_run_has", "_complex_message"}


def _adhoc_raises(path):
    """(function, line) of each ``raise ConfigError/ShapeError/TypeError(text)`` whose text is
    not built by a statdl.validation function."""
    import ast

    tree = ast.parse(path.read_text())
    out = []

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) \
                else func
            if isinstance(child, ast.Raise) and isinstance(child.exc, ast.Call) \
                    and getattr(child.exc.func, "id", None) in ("ConfigError", "ShapeError",
                                                                "TypeError") \
                    and child.exc.args:
                calls = [n.func for n in ast.walk(child.exc.args[0]) if isinstance(n, ast.Call)]
                names = {getattr(f, "id", getattr(f, "attr", None)) for f in calls}
                if not names & _BUILDERS:
                    out.append((func, child.lineno))
            visit(child, name)

    visit(tree, None)
    return out


@pytest.mark.parametrize("part", CONVERGED)
def test_argument_errors_are_built_by_the_template(part):
    src = Path(v.__file__).parent
    paths = [src / part] if part.endswith(".py") else sorted((src / part).rglob("*.py"))
    adhoc = [(str(p.relative_to(src)), func, line) for p in paths
             for func, line in _adhoc_raises(p)
             if (str(p.relative_to(src)), func) not in NOT_ARGUMENT_ERRORS]
    assert adhoc == [], f"errors not built by statdl.validation: {adhoc}"


def test_the_guard_sees_an_adhoc_message(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("def f(x):\n    raise ConfigError(f'`x` must be > 0; got {x}.')\n"
                   "def g(x):\n    raise ConfigError(message('x', '> 0', x, 'g'))\n")
    assert _adhoc_raises(bad) == [("f", 2)]


@pytest.mark.parametrize("call, text", [
    (lambda: sd.text.pad_sequences([[1, 1.5]]),
     "`sequences[0][1]` must be a value `dtype` int32 can hold (whole numbers only); got 1.5. "
     "Round the values first or pass dtype='float32'."),
    (lambda: sd.intervals.Ensemble(lambda: None, n=1),
     "`n` of Ensemble must be an int >= 2; got 1."),
    (lambda: sd.resampling.make_folds(5, folds=6),
     "`folds` of make_folds must be at most the number of rows, 5; got 6."),
    (lambda: sd.explain.permutation_importance(lambda v: v[:, 0], np.zeros((4, 2)), np.zeros(4),
                                               repeats=0),
     "`repeats` of permutation_importance must be an int >= 1; got 0."),
    (lambda: __import__("statdl.run_folders").run_folders.best_run(".", mode="mx"),
     "`mode` of best_run must be one of 'max', 'min'; got 'mx'. Did you mean 'max'?"),
])
def test_converged_entry_points_speak_the_template(call, text):
    with pytest.raises(ConfigError) as err:
        call()
    assert str(err.value) == text
    assert TEMPLATE.match(str(err.value))
