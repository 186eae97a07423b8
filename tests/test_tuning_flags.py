"""Flags: types, precedence (defaults < flags.yml < command line < run), errors; grids."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from statdl.errors import ConfigError, StatdlError
from statdl.tuning import flagset
from statdl.tuning.flagset import (
    FlagsHelpRequested,
    convert_flag,
    flag_integer,
    flag_numeric,
    flags,
    parse_flags,
    parse_scalar,
    read_flags_file,
)
from statdl.tuning.grid import as_combinations, expand_grid, sample_grid

FAKE = Path(__file__).parent / "fixtures" / "tuning" / "fake_train.py"


def test_types_from_defaults_and_access():
    F = flags(nodes1=256, dropout1=0.4, optimizer="rmsprop", batchnorm=False, arguments=[])
    assert F.nodes1 == 256 and F["dropout1"] == 0.4 and F.optimizer == "rmsprop"
    assert {n: f.type for n, f in F.declared.items()} == {
        "nodes1": "integer", "dropout1": "numeric", "optimizer": "string", "batchnorm": "boolean"}
    assert dict(F) == {"nodes1": 256, "dropout1": 0.4, "optimizer": "rmsprop", "batchnorm": False}
    with pytest.raises(AttributeError, match="nodes9"):
        _ = F.nodes9
    with pytest.raises(AttributeError):
        F.nodes1 = 3


def test_precedence_file_then_command_line_then_run(tmp_path, monkeypatch):
    yml = tmp_path / "flags.yml"
    yml.write_text("nodes1: 128  # comment\noptimizer: 'adam'\ndropout1: 0.3\n")
    monkeypatch.setenv("STATDL_FLAGS", json.dumps({"dropout1": 0.1}))
    F = flags(nodes1=256, dropout1=0.4, optimizer="rmsprop", lr=0.01, file=yml,
              arguments=["--nodes1", "64", "--lr=0.5", "positional"])
    assert (F.nodes1, F.optimizer, F.dropout1, F.lr) == (64, "adam", 0.1, 0.5)
    assert F.sources == {"nodes1": "command line", "dropout1": "run", "optimizer": "file",
                         "lr": "command line"}


def test_conversion_errors_name_flag_and_type():
    with pytest.raises(ConfigError, match="`nodes1` to integer: got 'abc'"):
        flags(nodes1=256, arguments=["--nodes1=abc"])
    with pytest.raises(ConfigError, match="`nodes1` to integer: got 1.5"):
        convert_flag("nodes1", "integer", 1.5)
    with pytest.raises(ConfigError, match="`flag_b` to boolean"):
        convert_flag("flag_b", "boolean", "maybe")
    with pytest.raises(ConfigError, match="length > 1"):
        convert_flag("units", "integer", [1, 2])
    assert convert_flag("units", "integer", 128.0) == 128
    assert convert_flag("on", "boolean", "yes") is True
    assert convert_flag("opt", "string", 0.5) == "0.5"


def test_undeclared_and_duplicate_flags(monkeypatch):
    with pytest.raises(ConfigError, match="provided on the command line but not declared: nodes2"):
        flags(nodes1=1, arguments=["--nodes2=3"])
    monkeypatch.setenv("STATDL_FLAGS", '{"zzz": 1}')
    with pytest.raises(ConfigError, match="by the training run but not declared: zzz"):
        flags(nodes1=1, arguments=[])
    monkeypatch.delenv("STATDL_FLAGS")
    with pytest.raises(ConfigError, match="declared more than once"):
        flags(flag_integer("a", 1), a=2)
    with pytest.raises(ConfigError, match="`default` of flag `a` must be of type int, float, bool or str"):
        flags(a=None)


def test_help_lists_flags_without_exiting_the_process(capsys):
    with pytest.raises(FlagsHelpRequested) as caught:     # a StatdlError, never SystemExit
        flags(flag_numeric("dropout1", 0.4, "dropout after layer 1"), nodes1=8,
              arguments=["--help-flags"])
    assert isinstance(caught.value, StatdlError)
    assert caught.value.help.splitlines() == [
        "Flags (set with --name=value):",
        "  --dropout1  numeric  dropout after layer 1 (0.4)",
        "  --nodes1    integer  (8)"]
    assert capsys.readouterr().out == ""                  # the command line prints it


def test_parse_flags_uses_only_what_it_is_given(tmp_path, monkeypatch):
    # a process that runs a script, with arguments and run values that flags() would read
    script = tmp_path / "train.py"
    monkeypatch.setitem(sys.modules, "__main__", SimpleNamespace(__file__=str(script),
                                                                 __spec__=None))
    monkeypatch.setattr(flagset.sys, "argv", [str(script), "--nodes1=3"])
    monkeypatch.setenv("STATDL_FLAGS", json.dumps({"lr": 0.5}))
    assert dict(flags(nodes1=1, lr=0.1)) == {"nodes1": 3, "lr": 0.5}     # tfruns: script context
    parsed = parse_flags(nodes1=1, lr=0.1)
    assert dict(parsed) == {"nodes1": 1, "lr": 0.1} and not parsed.help_requested
    parsed = parse_flags(nodes1=1, lr=0.1, arguments=["--help-flags", "--lr", "0.2"],
                         passed={"nodes1": 7})
    assert dict(parsed) == {"nodes1": 7, "lr": 0.2} and parsed.help_requested
    assert parsed.sources == {"nodes1": "run", "lr": "command line"}


def test_a_bad_flag_from_library_code_is_a_clear_error_not_an_exit():
    with pytest.raises(ConfigError, match=r"^Unable to convert flag `nodes1` to integer: "
                                          r"got 'many'\.$"):
        flags(nodes1=1, arguments=["--nodes1=many"])
    with pytest.raises(ConfigError, match="provided on the command line but not declared: "
                                          "nodez. Declared flags: nodes1."):
        parse_flags(nodes1=1, arguments=["--nodez", "3"])


def test_declaration_goes_to_the_installed_handler_only():
    seen = []
    flagset.on_declare(seen.append)
    try:
        assert flags(flag_integer("units", 8, "hidden units"), arguments=[]).units == 8
    finally:
        flagset.on_declare(None)
    assert seen == [{"units": {"type": "integer", "default": 8, "description": "hidden units"}}]
    flags(units=4, arguments=[])
    assert len(seen) == 1
    with pytest.raises(TypeError, match="`handler` of on_declare must be callable or None"):
        flagset.on_declare("print")


def test_a_script_run_by_python_gets_its_help_as_an_error(tmp_path):
    """``python train.py --help-flags`` (no statdl command line): the help, then exit 1."""
    proc = subprocess.run([sys.executable, str(FAKE), "--help-flags"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert "FlagsHelpRequested: Flags (set with --name=value):" in proc.stderr
    assert re.search(r"--nodes1 +integer +\(64\)", proc.stderr)
    assert "training with" not in proc.stdout


def test_flags_yml_profiles(tmp_path, monkeypatch):
    p = tmp_path / "flags.yml"
    p.write_text("default:\n  nodes1: 64\n  lr: 0.1\nbig:\n  nodes1: 512\n")
    assert read_flags_file(p) == {"nodes1": "64", "lr": "0.1"}
    monkeypatch.setenv("STATDL_CONFIG", "big")
    assert read_flags_file(p) == {"nodes1": "512", "lr": "0.1"}
    p.write_text("this line has no colon\n")
    with pytest.raises(ConfigError, match="line 1"):
        read_flags_file(p)


def test_explicit_missing_file_warns(tmp_path):
    with pytest.warns(UserWarning, match="not found"):
        F = flags(a=1, file=tmp_path / "nope.yml", arguments=[])
    assert F.a == 1


def test_command_line_only_for_scripts(monkeypatch):
    # under pytest __main__ is not a .py script, so sys.argv is not read as flags
    monkeypatch.setattr(flagset.sys, "argv", ["pytest", "--nodes1=3"])
    assert flags(nodes1=1).nodes1 == 1


def test_parse_scalar():
    assert parse_scalar("1e-3") == 0.001 and parse_scalar("-2") == -2
    assert parse_scalar("no") is False and parse_scalar('"007"') == "007"
    assert parse_scalar("rmsprop") == "rmsprop"


def test_expand_grid_order_and_size():
    grid = expand_grid({"a": [1, 2, 3], "b": ["x", "y"], "c": [True]})
    assert len(grid) == 6
    # R's expand.grid: the first factor varies fastest
    assert [(g["a"], g["b"]) for g in grid] == [(1, "x"), (2, "x"), (3, "x"),
                                                (1, "y"), (2, "y"), (3, "y")]


def test_sample_is_ceiling_and_seeded():
    grid = expand_grid({"n1": [64, 128, 256], "n2": [64, 128, 256], "d1": [.2, .3, .4],
                        "d2": [.2, .3, .4], "lr": [.1, .05], "opt": ["rmsprop", "adam"]})
    assert len(grid) == 324
    picked = sample_grid(grid, 0.05, seed=1)
    assert len(picked) == 17                      # ceiling(0.05 * 324), as in the course
    assert picked == sample_grid(grid, 0.05, seed=1)
    assert picked != sample_grid(grid, 0.05, seed=2)
    assert len({json.dumps(p, sort_keys=True) for p in picked}) == 17
    assert len(sample_grid(grid, 1.0, seed=3)) == 324


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, "0.5", True])
def test_sample_outside_unit_interval(bad):
    with pytest.raises(ConfigError, match="`sample` must be a fraction in \\(0, 1\\]"):
        sample_grid([{"a": 1}], bad)


def test_empty_grids():
    with pytest.raises(ConfigError, match="`flags` is empty"):
        expand_grid({})
    with pytest.raises(ConfigError, match=r"`flags\['a'\]` must give at least one value; got no values"):
        expand_grid({"a": []})
    with pytest.raises(ConfigError, match="no combinations"):
        as_combinations([])


def test_dataframe_of_combinations():
    import pandas as pd

    combos = as_combinations(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert combos == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert all(type(c["a"]) is int for c in combos)
