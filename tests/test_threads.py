"""statdl.threads: the thread count of each fit follows the cores other processes leave free.

The rules are checked against their definition (a core is taken once others use half of it,
free again under 0.3), and the whole governor against real competing processes pinned to the
same two CPUs, so the test holds on a machine of any size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import threads
from statdl.errors import ConfigError

TWO_CPUS = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2 \
    and os.path.exists("/proc/stat")


@pytest.mark.parametrize("current, others, expected", [
    (2, 0.0, 2), (2, 0.49, 2), (2, 0.51, 1),     # taken once others use half a core
    (1, 0.31, 1), (1, 0.29, 2),                  # free again only under 0.3 of it
    (2, 1.2, 1), (2, 1.6, 1), (2, 5.0, 1),       # never below one thread
    (1, 0.0, 2),
])
def test_choose_threads_follows_its_definition_on_two_cores(current, others, expected):
    assert threads.choose_threads(current, 2, others) == expected


def test_choose_threads_on_eight_cores_counts_each_taken_core():
    assert threads.choose_threads(8, 8, 2.6) == 5   # 3 cores taken (2.6 >= 2.5)
    assert threads.choose_threads(5, 8, 2.6) == 5   # stays: 2.6 is above 2.3
    assert threads.choose_threads(5, 8, 1.2) == 7   # 1.2: one core taken, 0.2 of another
    assert threads.choose_threads(5, 8, 1.35) == 6  # 0.35 of the second core: still taken


def test_others_load_subtracts_our_own_time_and_counts_our_waiting():
    before = threads.LoadSample(wall=10.0, busy=100.0, own=50.0, waiting=1.0)
    # 2 s: the CPUs were busy 3.0 s, 2.0 s of it ours: others held 0.5 of a core
    after = threads.LoadSample(wall=12.0, busy=103.0, own=52.0, waiting=1.2)
    assert threads.others_load(before, after) == pytest.approx(0.5)
    # our threads waited 1.6 s for a CPU: someone held 0.8 of a core
    waited = threads.LoadSample(wall=12.0, busy=103.0, own=52.0, waiting=2.6)
    assert threads.others_load(before, waited) == pytest.approx(0.8)


def test_available_cores_is_capped_by_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.available_cores() == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert 1 <= threads.available_cores() <= len(os.sched_getaffinity(0))


@pytest.mark.parametrize("bad", [0, -1, 1.5, "two", True])
def test_set_threads_rejects_what_is_not_a_count(bad):
    with pytest.raises(ConfigError, match=r"`n` must be 'auto' or an int >= 1; got"):
        sd.set_threads(bad)


def _tiny_model():
    model = sd.Sequential([sd.layers.Dense(4, activation="relu"), sd.layers.Dense(1)],
                          input_shape=(3,))
    model.compile(loss="mse")
    return model


def test_a_fixed_count_is_used_and_the_program_gets_its_own_back():
    x, y = np.random.default_rng(0).random((64, 3)), np.zeros(64)
    before = torch.get_num_threads()
    seen = []

    class Record(sd.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(torch.get_num_threads())

    sd.set_threads(1)
    try:
        history = _tiny_model().fit(x, y, epochs=2, verbose=0, callbacks=[Record()])
        assert sd.threads.thread_settings()["mode"] == "fixed"
    finally:
        sd.set_threads("auto")
    assert seen == [1, 1] and history.params["threads"] == 1
    assert torch.get_num_threads() == before


def test_torch_set_num_threads_between_fits_is_kept(monkeypatch):
    x, y = np.random.default_rng(0).random((64, 3)), np.zeros(64)
    model = _tiny_model()
    model.fit(x, y, verbose=0)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert model.fit(x, y, verbose=0).params["threads"] == 1
        assert threads.thread_settings()["source"] == "torch.set_num_threads"
    finally:
        torch.set_num_threads(before)
        sd.set_threads("auto")  # also forgets the count given to torch
    assert threads.thread_settings()["mode"] == "auto"


def _run(code: str, env: dict | None = None) -> dict:
    full_env = {**os.environ, **(env or {})}
    for key in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY", threads.ENV_THREADS):
        if key not in (env or {}):
            full_env.pop(key, None)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_waiting_policy_is_recorded_and_left_to_the_user():
    probe = """
        import json, os
        import statdl
        print(json.dumps({"spin": os.environ.get("GOMP_SPINCOUNT"),
                          "wait": statdl.threads.thread_settings()["wait"]}))
    """
    fresh = _run(probe)
    assert fresh["spin"] is None and fresh["wait"].startswith("OpenMP default")
    user = _run(probe, env={"OMP_WAIT_POLICY": "PASSIVE"})
    assert user["wait"] == "OMP_WAIT_POLICY=PASSIVE (set by the user)"


def test_a_count_given_to_torch_before_the_first_fit_is_kept():
    code = """
        import json, numpy as np, statdl as sd, torch
        torch.set_num_threads(1)
        m = sd.Sequential([sd.layers.Dense(1)], input_shape=(2,)); m.compile(loss="mse")
        h = m.fit(np.zeros((8, 2)), np.zeros(8), verbose=0)
        print(json.dumps({"threads": h.params["threads"],
                          "source": sd.threads.thread_settings()["source"]}))
    """
    assert _run(code) == {"threads": 1, "source": "torch.set_num_threads"}


def test_environment_variable_fixes_the_count_and_a_bad_value_is_named():
    code = """
        import json, numpy as np, statdl as sd
        m = sd.Sequential([sd.layers.Dense(1)], input_shape=(2,)); m.compile(loss="mse")
        h = m.fit(np.zeros((8, 2)), np.zeros(8), verbose=0)
        print(json.dumps({"threads": h.params["threads"],
                          "mode": sd.threads.thread_settings()["mode"]}))
    """
    assert _run(code, {threads.ENV_THREADS: "1"}) == {"threads": 1, "mode": "fixed"}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                         env={**os.environ, threads.ENV_THREADS: "lots"},
                         capture_output=True, text=True, timeout=120)
    assert "`STATDL_NUM_THREADS` must be 'auto' or an int >= 1; got 'lots'" in out.stderr


# A fit on two CPUs shared with a busy process pinned to the same two CPUs. Each epoch records
# torch's thread count; the competitor stops after `busy_for` seconds.
_CONTENDED_FIT = """
    import json, os, subprocess, sys, time
    import numpy as np
    cpus = sorted(os.sched_getaffinity(0))[:2]
    os.sched_setaffinity(0, cpus)
    import statdl as sd, torch
    spin = subprocess.Popen([sys.executable, "-c",
                             "import os, time\\nos.sched_setaffinity(0, %r)\\n"
                             "end = time.time() + %f\\nwhile time.time() < end: pass" % (cpus, {busy_for})])
    x = np.random.default_rng(0).random((4096, 64)).astype("float32")
    y = x @ np.ones((64, 1), dtype="float32")
    model = sd.Sequential([sd.layers.Dense(256, activation="relu"),
                           sd.layers.Dense(256, activation="relu"), sd.layers.Dense(1)],
                          input_shape=(64,))
    model.compile(loss="mse")
    seen = []
    class Record(sd.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append([round(time.time() - start, 2), torch.get_num_threads()])
    time.sleep(0.5)   # the competitor runs before the fit starts
    start = time.time()
    while time.time() - start < {train_for}:
        model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[Record()])
    spin.kill()
    print(json.dumps(seen))
"""


@pytest.mark.skipif(not TWO_CPUS, reason="needs two CPUs, sched_setaffinity and /proc/stat")
def test_a_busy_process_on_the_same_cores_leaves_the_fit_one_thread():
    seen = _run(_CONTENDED_FIT.format(busy_for=30, train_for=3))
    # the fit looks at the load at its start, after 0.25 s and then once a second; a look
    # whose window barely covers the competitor may keep two threads until the next one,
    # so from 1.3 s on every epoch must run on one thread
    late = [n for t, n in seen if t >= 1.3]
    assert late and all(n == 1 for n in late), seen


@pytest.mark.slow
@pytest.mark.skipif(not TWO_CPUS, reason="needs two CPUs, sched_setaffinity and /proc/stat")
def test_the_fit_takes_the_second_core_back_when_the_other_process_ends():
    import time

    before = threads.take_sample()
    time.sleep(1.0)
    load = threads.others_load(before, threads.take_sample())
    if load > threads.FREED:  # then staying on one core is the right answer
        pytest.skip(f"other processes already use {load:.2f} of a core here")
    seen = _run(_CONTENDED_FIT.format(busy_for=4, train_for=8))  # busy until t = 3.5 s
    early = [n for t, n in seen if 1.0 < t < 3.0]
    late = [n for t, n in seen if t > 6]
    assert early and set(early) == {1}, seen
    assert late and set(late) == {2}, seen
