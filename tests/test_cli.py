"""The ``statdl`` command as a user meets it: real subprocess runs, exit codes and messages.

A user's mistake (an unknown lab, a mistyped option or command, a bad value) ends with one line
``statdl: error: ...`` and exit code 2, never a traceback; ``--traceback`` or
``STATDL_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

FAKE = Path(__file__).parent / "fixtures" / "tuning" / "fake_train.py"


def statdl(*argv: str, cwd=None, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess:
    """Run ``python -m statdl.cli ARGV`` in a fresh process; return the finished process."""
    full_env = {k: v for k, v in os.environ.items() if k != "STATDL_DEBUG"}
    full_env.update({"STATDL_OFFLINE": "1", **(env or {})})
    return subprocess.run([sys.executable, "-m", "statdl.cli", *argv], capture_output=True,
                          text=True, cwd=cwd, env=full_env, timeout=120, check=False)


def _user_error(proc: subprocess.CompletedProcess) -> str:
    """The stderr of a run that ended with a user error: exit 2, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    return proc.stderr


def test_demo_with_an_unknown_lab_fails_before_running_anything(tmp_path):
    proc = statdl("demo", "--labs", "mnst-cnn", "--runs-dir", str(tmp_path / "runs"))
    err = _user_error(proc)
    assert "statdl: error: `lab` must be the name of a lab (`statdl labs` lists them); got " \
           "'mnst-cnn'. Did you mean 'mnist-cnn'?" in err
    assert not (tmp_path / "runs").exists() and "Tour finished" not in proc.stdout


def test_demo_checks_every_name_before_the_first_lab(tmp_path):
    proc = statdl("demo", "--labs", "imdb-tokenizer,hiters-nn", "--runs-dir",
                  str(tmp_path / "runs"))
    assert "got 'hiters-nn'. Did you mean 'hitters-nn'?" in _user_error(proc)
    assert not (tmp_path / "runs").exists()


def test_unknown_lab_without_a_close_name_lists_the_labs():
    err = _user_error(statdl("lab", "zzzz"))
    assert "statdl: error: `lab` must be the name of a lab (`statdl labs` lists them: " \
           "hitters-nn, " in err and err.rstrip().endswith("nyse-conv1d); got 'zzzz'.")


def test_lab_with_a_mistyped_name_suggests_the_right_one():
    err = _user_error(statdl("lab", "mnst-cnn"))
    assert err.strip() == ("statdl: error: `lab` must be the name of a lab (`statdl labs` "
                           "lists them); got 'mnst-cnn'. Did you mean 'mnist-cnn'?")


def test_lab_with_a_mistyped_option_suggests_the_right_one():
    err = _user_error(statdl("lab", "imdb-lstm", "--quik"))
    assert "`options` must be options that lab 'imdb-lstm' takes (" in err \
        and "; got '--quik'. Did you mean '--quick'?" in err


def test_mistyped_command_suggests_the_right_one():
    err = _user_error(statdl("demoo"))
    assert "invalid choice: 'demoo'" in err and "did you mean 'demo'?" in err
    err = _user_error(statdl("runs", "lss"))
    assert "did you mean 'ls'?" in err


def test_mistyped_option_of_a_command_suggests_the_right_one(tmp_path):
    err = _user_error(statdl("demo", "--run-dir", str(tmp_path)))
    assert "unrecognized arguments: --run-dir" in err and "did you mean '--runs-dir'?" in err
    assert "statdl demo" in err                     # the usage of the command that was meant
    err = _user_error(statdl("runs", "ls", "--ordr", "val_loss", "--runs-dir", str(tmp_path)))
    assert "did you mean '--order'?" in err


def test_bad_choice_value_suggests_the_close_one():
    err = _user_error(statdl("tune", "x.py", "--backend", "rayy"))
    assert "invalid choice: 'rayy'" in err and "did you mean 'ray'?" in err


def test_a_user_error_inside_a_command_is_one_line_without_traceback(tmp_path):
    proc = statdl("lab", "hitters-nn", "--data-dir", str(tmp_path / "nope"),
                  "--runs-dir", str(tmp_path / "runs"))
    err = _user_error(proc)
    assert err.startswith("statdl: error: `--data-dir`") and err.count("\n") == 1


def test_missing_script_is_a_user_error(tmp_path):
    err = _user_error(statdl("runs", "view", "no-such-run", "--runs-dir", str(tmp_path),
                             "--no-open"))
    assert err.startswith("statdl: error: ")


@pytest.mark.parametrize("how", [("--traceback",), ("STATDL_DEBUG",)])
def test_traceback_on_request(tmp_path, how):
    argv = ["lab", "hitters-nn", "--data-dir", str(tmp_path / "nope")]
    if how == ("--traceback",):
        proc = statdl("--traceback", *argv)
    else:
        proc = statdl(*argv, env={"STATDL_DEBUG": "1"})
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr
    assert "ConfigError: `--data-dir`" in proc.stderr


def test_help_lists_the_traceback_option():
    proc = statdl("--help")
    assert proc.returncode == 0 and "--traceback" in proc.stdout and "STATDL_DEBUG" in proc.stdout


def test_a_reader_that_goes_away_is_not_an_error():
    """`statdl runs ls --csv | head -1`: the pipe closes early; no traceback, exit 0."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to the pipe now fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "statdl.cli", "labs"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_run_help_flags_prints_the_flags_and_exits_0(tmp_path):
    proc = statdl("run", str(FAKE), "--help-flags", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "Flags (set with --name=value):"
    assert re.search(r"--nodes1 +integer +\(64\)", proc.stdout)
    assert "Traceback" not in proc.stderr and not (tmp_path / "runs").exists()


def test_run_with_a_bad_flag_fails_with_exit_1_and_the_reason(tmp_path):
    proc = statdl("run", str(FAKE), "--flag", "nodez=3", "--no-echo", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.startswith("Run failed: runs/")
    assert proc.stderr.splitlines()[1] == (
        "ConfigError: The following flags were provided by the training run but not declared: "
        "nodez. Declared flags: nodes1, dropout1, optimizer, fail, sleep, epochs.")
    proc = statdl("run", str(FAKE), "--no-echo", "--nodes1", "many", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[1] == ("ConfigError: Unable to convert flag `nodes1` to "
                                           "integer: got 'many'.")
