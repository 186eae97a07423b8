"""Memory: peak of ``predict`` on 1M rows, and what a process keeps after ``fit``.

1. ``predict``: peak RSS growth of ``model.predict`` on 1,000,000 x 20 float64 rows (160 MB),
   given as a numpy array and as a pandas DataFrame, against the size of the data and against
   a plain PyTorch loop under ``torch.no_grad()`` that converts one batch of 1024 rows at a time
   and concatenates the batch outputs at the end (the peer), and the same loop writing each
   batch into a preallocated output (``torch-prealloc``). The model is 20-64-64-1 (relu),
   untrained; its output is 4 MB. One torch thread: the peak does not depend on it, and a busy
   2-core machine makes several threads wait for each other (the loop then takes minutes).
2. ``fit``: RSS kept after a fit that itself frees a lot (a 20-2048-1 network at batch 16,384
   on 65,536 rows: each step frees several 134 MB activations), then after the program
   allocates and frees 800 MB, relative to the process before the fit. Three malloc settings:
   ``scoped`` (statdl today: glibc's thresholds raised while ``fit`` trains, restored when it
   returns, trimmed once no fit has run for ``TRIM_DELAY`` seconds: "idle"), ``permanent`` (statdl before: the same thresholds set once for
   the life of the process, emulated here with ``mallopt`` and ``STATDL_MALLOC_TUNING=0``)
   and ``off`` (``STATDL_MALLOC_TUNING=0``: glibc's own behaviour).

Each measurement runs in its own process, so that one's memory does not hide another's; peaks
are read from ``VmHWM`` after resetting it (``/proc/self/clear_refs``), so Linux only.
Usage::

    python bench/memory.py                  # both parts
    python bench/memory.py --part fit --rounds 3
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time

import numpy as np

ROWS, COLS, BATCH = 1_000_000, 20, 1024
FIT_ROWS, FIT_BATCH, FIT_WIDTH = 65_536, 16_384, 2048
USER_BLOCK = 800_000_000
MB = 1e6


def rss() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


# ---------------------------------------------------------------- part 1: predict
def predict_child(who: str, form: str) -> dict:
    import torch

    torch.set_num_threads(1)
    x = np.random.default_rng(0).standard_normal((ROWS, COLS))
    data = x if form == "numpy" else _frame(x)
    del x
    run = _statdl_predictor() if who == "statdl" else _torch_predictor(form, who)
    run(data[:2 * BATCH] if form == "numpy" else data.iloc[:2 * BATCH])  # warm-up
    base = rss()
    reset_peak()
    t0 = time.perf_counter()
    out = run(data)
    seconds = time.perf_counter() - t0
    if out.shape != (ROWS, 1):
        raise RuntimeError(f"predict gave shape {out.shape}, expected {(ROWS, 1)}")
    return {"peak_mb": (peak() - base) / MB, "seconds": seconds}


def _frame(x):
    import pandas as pd

    return pd.DataFrame(x, columns=[f"x{i}" for i in range(COLS)])


def _statdl_predictor():
    import statdl as sd
    from statdl import layers as L

    sd.set_seed(0)
    model = sd.Sequential([L.Dense(64, activation="relu"), L.Dense(64, activation="relu"),
                           L.Dense(1)], input_shape=(COLS,))
    return model.predict


def _torch_predictor(form: str, who: str):
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(COLS, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                        nn.Linear(64, 1)).eval()

    def batch(data, start):
        if form == "numpy":
            return data[start:start + BATCH].astype(np.float32)
        return data.iloc[start:start + BATCH].to_numpy(np.float32)

    def run(data):
        outs, result = [], np.empty((len(data), 1), np.float32)
        with torch.no_grad():
            for start in range(0, len(data), BATCH):
                out = net(torch.from_numpy(batch(data, start)))
                if who == "torch-prealloc":
                    result[start:start + BATCH] = out.numpy()
                else:
                    outs.append(out)
        return result if who == "torch-prealloc" else torch.cat(outs).numpy()

    return run


def predict_part(rounds: int) -> None:
    data_mb = ROWS * COLS * 8 / MB
    print(f"predict on {ROWS:,} x {COLS} float64 rows ({data_mb:.0f} MB); peak RSS growth "
          f"(best of {rounds})")
    for form in ("numpy", "DataFrame"):
        best = {who: _best(rounds, "predict", who, form)
                for who in ("statdl", "torch", "torch-prealloc")}
        line = [f"  {form:<9}"]
        for who, b in best.items():
            line.append(f"{who} {b['peak_mb']:4.0f} MB ({b['peak_mb'] / data_mb:.2f} x data, "
                        f"{b['seconds']:.1f} s)")
        ratio = best["statdl"]["peak_mb"] / max(best["torch"]["peak_mb"], 1.0)
        print("  ".join(line) + f"  statdl / torch {ratio:.2f}")


# ---------------------------------------------------------------- part 2: after fit
def fit_child(setting: str) -> dict:
    if setting == "permanent":  # statdl before: thresholds raised once, never restored
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
    import statdl as sd
    from statdl import layers as L

    sd.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((FIT_ROWS, COLS)).astype(np.float32)
    y = rng.standard_normal(FIT_ROWS).astype(np.float32)
    model = sd.Sequential([L.Dense(FIT_WIDTH, activation="relu"), L.Dense(1)],
                          input_shape=(COLS,))
    model.compile("adam", "mse")
    base = rss()
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=FIT_BATCH, epochs=2, verbose=0)
    seconds = time.perf_counter() - t0
    after_fit = rss()
    from statdl.training.allocator import TRIM_DELAY

    time.sleep(TRIM_DELAY + 1.0)  # statdl trims once no fit has run for TRIM_DELAY seconds
    after_idle = rss()
    block = np.ones(USER_BLOCK // 8)
    del block
    after_user = rss()
    return {"after_fit_mb": (after_fit - base) / MB, "after_idle_mb": (after_idle - base) / MB,
            "after_user_mb": (after_user - base) / MB, "fit_s": seconds}


def fit_part(rounds: int) -> None:
    print(f"RSS kept after fit ({FIT_ROWS:,} x {COLS} rows, 20-{FIT_WIDTH}-1, batch "
          f"{FIT_BATCH}, 2 epochs), then after the program frees {USER_BLOCK / MB:.0f} MB; "
          f"relative to before the fit (best of {rounds})")
    best = {}
    for setting in ("scoped", "permanent", "off"):
        best[setting] = _best(rounds, "fit", setting, key="after_user_mb")
        b = best[setting]
        print(f"  {setting:<9}  after fit {b['after_fit_mb']:6.0f} MB   idle "
              f"{b['after_idle_mb']:6.0f} MB   after the "
              f"{USER_BLOCK / MB:.0f} MB block {b['after_user_mb']:6.0f} MB   fit "
              f"{b['fit_s']:.2f} s")
    old, new = best["permanent"]["after_user_mb"], best["scoped"]["after_user_mb"]
    print(f"  kept at the end: permanent / scoped = {old / max(new, 1.0):.1f}")


# ---------------------------------------------------------------- driver
def _best(rounds: int, part: str, *args: str, key: str = "peak_mb") -> dict:
    results = [_run_child(part, *args) for _ in range(rounds)]
    return min(results, key=lambda r: r[key])


def _run_child(part: str, *args: str) -> dict:
    env = dict(os.environ)
    if part == "fit" and args[0] != "scoped":
        env["STATDL_MALLOC_TUNING"] = "0"
    proc = subprocess.run([sys.executable, __file__, "--child", part, *args], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{part} {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("predict", "fit", "all"), default="all")
    parser.add_argument("--rounds", type=int, default=1, help="processes per measurement; "
                        "the best (smallest) is reported")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        part, *rest = args.child
        result = predict_child(*rest) if part == "predict" else fit_child(*rest)
        print(json.dumps(result))
        return
    if args.part in ("predict", "all"):
        predict_part(args.rounds)
    if args.part in ("fit", "all"):
        fit_part(args.rounds)


if __name__ == "__main__":
    main()
