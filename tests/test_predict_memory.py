"""Memory of predict and fit on float64 data (issue #12): predict converts a batch at a time,
fit holds at most one float32 copy of x. Each case runs in a fresh process and reads its peak
resident memory (VmHWM, reset just before the call) from /proc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROWS, COLS = 500_000, 20
FLOAT32_COPY_MB = ROWS * COLS * 4 / 2**20  # what one float32 copy of x costs (38 MB)

SCRIPT = """
import json, sys
import numpy as np, pandas as pd
import statdl as sd
from statdl import layers as L

def status():
    return {line.split(":")[0]: int(line.split()[1]) / 1024 for line in open("/proc/self/status")
            if line.startswith(("VmHWM", "VmRSS"))}

what, kind, rows, cols = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
x = np.random.default_rng(0).normal(size=(rows, cols))
if kind == "frame":
    x = pd.DataFrame(x, columns=[f"c{i}" for i in range(cols)])
y = np.zeros(rows)
model = sd.Sequential([L.Dense(16, activation="relu"), L.Dense(1)], input_shape=(cols,))
model.compile(loss="mse")
model.fit(np.zeros((64, cols)), np.zeros(64), verbose=0)  # warm up every code path
model.predict(np.zeros((4096, cols)))
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak to the current resident size
before = status()
if what == "predict":
    model.predict(x)
else:
    model.fit(x, y, epochs=1, batch_size=4096, verbose=0)
print(json.dumps(status()["VmHWM"] - before["VmRSS"]))
"""


def _peak_growth_mb(what: str, kind: str) -> float:
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak resident size")
    done = subprocess.run([sys.executable, "-c", SCRIPT, what, kind, str(ROWS), str(COLS)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "clear_refs" in done.stderr:
        pytest.skip("cannot reset the peak resident size here")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["array", "frame"])
def test_predict_on_float64_converts_batch_by_batch(kind):
    # the outputs (ROWS float32 values, 2 MB) and one batch are all predict needs to hold
    assert _peak_growth_mb("predict", kind) < 0.5 * FLOAT32_COPY_MB


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["array", "frame"])
def test_fit_holds_at_most_one_float32_copy_of_x(kind):
    assert _peak_growth_mb("fit", kind) < 1.5 * FLOAT32_COPY_MB


LSTM_SCRIPT = """
import json, sys
import numpy as np
import statdl as sd
from statdl import layers as L

def status():
    return {line.split(":")[0]: int(line.split()[1]) / 1024 for line in open("/proc/self/status")
            if line.startswith(("VmHWM", "VmRSS"))}

x = np.random.default_rng(0).integers(0, 10_000, size=(2048, 500))
model = sd.Sequential([L.Embedding(10_000, 8), getattr(L, sys.argv[1])(32),
                       L.Dense(1, activation="sigmoid")], input_shape=(500,))
model.predict(x[:64])  # warm up every code path
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status()
model.predict(x)
print(json.dumps(status()["VmHWM"] - before["VmRSS"]))
"""


@pytest.mark.parametrize("layer", ["LSTM", "GRU"])
def test_recurrent_predict_does_not_hold_the_gates_of_every_step(layer):
    # A batch of 1,024 reviews of 500 words: the gates of all steps at once (torch.lstm's and
    # torch.gru's input projection) are 1024 * 500 * 128 floats for the LSTM, 250 MB, and
    # 1024 * 500 * 96 for the GRU, 188 MB; the embedded batch is 16 MB.
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak resident size")
    # the bound is the inference kernels' purpose: measured with them on, whatever
    # STATDL_FAST_PATHS says for the rest of the suite
    env = {k: v for k, v in os.environ.items() if k != "STATDL_FAST_PATHS"}
    done = subprocess.run([sys.executable, "-c", LSTM_SCRIPT, layer], capture_output=True,
                          text=True, timeout=300, env=env)
    if done.returncode != 0 and "clear_refs" in done.stderr:
        pytest.skip("cannot reset the peak resident size here")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) < 80
