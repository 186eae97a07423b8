"""Training throughput: statdl vs a plain PyTorch loop vs Keras 3 (JAX and torch backends).

One epoch at batch 128 of four of the course's models on data of the course's shapes:

* ``mlp``    MNIST-shaped: 784-512-256-10 with dropout 0.4/0.3, RMSprop, categorical cross-entropy
* ``cnn``    MNIST images (28, 28, 1): the course's CNN (485,066 parameters)
* ``lstm``   IMDB-shaped: Embedding(10000, 8) + LSTM(32) + Dense(1, sigmoid), length 500
* ``conv1d`` IMDB-shaped: Embedding(10000, 32) + Conv1D(32, 7, relu) + GlobalMaxPooling1D +
  Dense(1, sigmoid), length 500 (327,233 parameters; the ``imdb-conv1d`` lab's network)

Each (model, framework) pair runs in its own process after a warm-up, so that the peak
resident memory printed is that job's own. Keras runs only where ``keras`` (and ``jax``) are
installed. A shared 2-core machine is noisy (other tenants, other jobs): ``--rounds N`` runs
the frameworks N times in turn (statdl, torch, Keras, then torch, Keras, statdl, ...: each round
starts one framework later) so that each sees the same conditions, and reports each framework's
best epoch over all rounds.

The framework ``statdl-functional`` (never counted as a peer) declares the same networks with
``statdl.Input`` and ``statdl.Model``; its graph is a chain, so it trains through the same
module and passes as the ``Sequential`` (the Dense step for the MLP, the LSTM's own pass),
and the last table prints its speed relative to ``statdl`` (goal: within 3%): the median over
the rounds of the two forms' ratio in the same round, with its range. Separate processes of
the same network differ by up to 10-15% on a shared machine (measured: the CNN's Sequential
form alone gave epochs of 1,330 to 1,736 samples/s in five processes with one busy process),
more than the 3% to be shown, so ``--paired-forms`` adds to each round one process that
trains both forms in turn, epoch by epoch (``statdl-paired``), and the table gives the median
of those same-process ratios too::

    python bench/train_speed.py --frameworks statdl,statdl-functional --rounds 3 --paired-forms

``fit`` raises glibc's malloc thresholds while it trains so that freed training buffers are
reused (``statdl.training.allocator``); a plain loop does not. The extra framework ``torch-malloc``
(not in the default list, never counted as a peer) is the plain loop with the same setting,
to show how much of statdl's lead comes from it.

A user's machine is rarely quiet: ``--background N`` runs each framework's process while N busy
processes of the benchmark's own (pure Python loops, one core each, stopped after the run and
in any case after 30 minutes; see ``bench/_background.py``) compete for the cores. Usage::

    python bench/train_speed.py                 # all models, all frameworks available
    python bench/train_speed.py --models mlp --repeats 3 --rounds 3
    python bench/train_speed.py --models conv1d --frameworks statdl,torch,keras-jax,keras-torch
    python bench/train_speed.py --models lstm --frameworks statdl,torch,torch-malloc --rounds 3
    python bench/train_speed.py --background 1 --rounds 3   # with one competing process
    python bench/train_speed.py --device cuda --precision bf16 --frameworks statdl,keras-jax

``--device cuda`` trains every framework on the GPU (``bench/gpu_check.py`` runs it for each
precision); the default ``--device cpu`` hides GPUs from the child processes. ``--precision``
(``32``, ``bf16``, ``16``) is ``fit(precision=...)`` for statdl, ``torch.autocast`` (with a
``GradScaler`` for ``16``) for the plain loop and the ``mixed_bfloat16`` / ``mixed_float16``
dtype policy for Keras.
"""

# Measured 2026-12-01 10:42-10:55 UTC (2 cores; --models mlp,cnn,lstm --frameworks
# statdl,torch,keras-jax --rounds 2, then the same with --background 1; samples/s, each
# framework's best epoch; ratio: statdl / fastest peer):
#
# | model | machine | statdl | plain torch | Keras-JAX | ratio |
# |-------|---------|--------|-------------|-----------|-------|
# | mlp   | quiet   | 51,925 |      17,898 |    47,326 |  1.10 |
# | mlp   | busy    | 31,865 |       6,421 |    31,856 |  1.00 |
# | cnn   | quiet   |  5,907 |       3,540 |     1,542 |  1.67 |
# | cnn   | busy    |  3,588 |       1,580 |     1,063 |  2.27 |
# | lstm  | quiet   |  3,683 |       1,912 |     1,388 |  1.93 |
# | lstm  | busy    |  2,213 |         596 |     1,101 |  2.01 |
#
# Busy, round by round, the MLP: statdl 31,865 and 31,228 against Keras-JAX 31,856 and 30,709.
# After the Dense step's oneDNN products (dense_onednn_product; the step at batch 128 2,707 ->
# 2,609 us, median of 20 interleaved blocks), 2026-12-01 13:08-13:12 on a noisy host (load
# ~1.7 with nothing of ours running): MLP quiet, three rounds, statdl 41,685 / 49,940 / 47,658
# against Keras-JAX 43,290 / 49,467 / 48,803 (best 1.01); busy, two rounds, best 30,360
# against 28,226 (1.08). Both sides run the MLP's products at about 85 G multiply-adds/s, the
# rate of MKL's own large products on these 2 cores, so the MLP stays level rather than ahead.
# When issue #13 was filed (busy, another machine of the kind): the LSTM 17-48 samples/s
# against Keras-JAX's 1,035-1,066, the CNN 363-620 against 755-781.

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
from _background import busy_background, check_count

SAMPLES = {"mlp": 48_000, "cnn": 6_016, "lstm": 2_560, "conv1d": 6_400}
BATCH = 128


def make_data(model: str, n: int):
    rng = np.random.default_rng(0)
    if model == "mlp":
        x = rng.random((n, 784), dtype=np.float32)
        y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    elif model == "cnn":
        x = rng.random((n, 28, 28, 1), dtype=np.float32)
        y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    else:  # lstm, conv1d: reviews of 500 word ids
        x = rng.integers(1, 10_000, (n, 500)).astype(np.int64)
        y = rng.integers(0, 2, (n, 1)).astype(np.float32)
    return x, y


def time_fits(net, x, y, repeats: int, **fit_args) -> list[float]:
    """Seconds of one-epoch ``fit`` calls after a short warm-up (statdl and Keras alike; both
    read the epoch's loss back at its end, so a GPU's queued work is inside the time)."""
    net.fit(x[: 4 * BATCH], y[: 4 * BATCH], batch_size=BATCH, epochs=1, verbose=0, **fit_args)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        net.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, **fit_args)
        times.append(time.perf_counter() - t0)
    return times


# ---------------------------------------------------------------- statdl
def statdl_net(model: str, functional: bool = False, device: str = "cpu"):
    """The model in statdl, seeded and compiled (RMSprop, the course's loss, accuracy): a
    ``Sequential``, or with ``functional=True`` the same layers called on ``statdl.Input`` and
    wrapped in ``statdl.Model``."""
    import statdl as sd
    from statdl import layers as L

    sd.set_seed(0)
    if model == "mlp":
        shape, loss = (784,), "categorical_crossentropy"
        stack = [L.Dense(512, activation="relu"), L.Dropout(0.4),
                 L.Dense(256, activation="relu"), L.Dropout(0.3),
                 L.Dense(10, activation="softmax")]
    elif model == "cnn":
        shape, loss, stack = (28, 28, 1), "categorical_crossentropy", _statdl_cnn(L)
    elif model == "conv1d":
        shape, loss = (500,), "binary_crossentropy"
        stack = [L.Embedding(10_000, 32), L.Conv1D(32, 7, activation="relu"),
                 L.GlobalMaxPooling1D(), L.Dense(1, activation="sigmoid")]
    else:
        shape, loss = (500,), "binary_crossentropy"
        stack = [L.Embedding(10_000, 8), L.LSTM(32), L.Dense(1, activation="sigmoid")]
    if functional:  # the same layers called on statdl.Input: a chain graph
        inp = out = sd.Input(shape)
        for layer in stack:
            out = layer(out)
        net = sd.Model(inp, out)
    else:
        net = sd.Sequential(stack, input_shape=shape)
    net.compile("rmsprop", loss, ["accuracy"], device=device)
    return net


def run_statdl(model: str, x, y, repeats: int, device: str = "cpu",
               precision: str = "32", functional: bool = False) -> list[float]:
    net = statdl_net(model, functional, device)
    return time_fits(net, x, y, repeats, precision=precision)


def run_statdl_functional(model: str, x, y, repeats: int, device: str = "cpu",
                          precision: str = "32") -> list[float]:
    return run_statdl(model, x, y, repeats, device, precision, functional=True)


def run_statdl_paired(model: str, x, y, repeats: int, device: str = "cpu",
                      precision: str = "32") -> list[tuple[float, float]]:
    """Seconds of one-epoch fits of the ``Sequential`` and the functional form, trained in
    turn in this one process (``repeats`` pairs, each pair starting with the other form), so
    that both see the same process and the same moment."""
    nets = [statdl_net(model, functional, device) for functional in (False, True)]
    # a whole epoch each first: in pairs after a short warm-up the form that ran first was
    # slower (functional/Sequential 1.13 in pairs led by the Sequential, 1.02 in pairs led by
    # the functional form; medians of six, MLP and CNN)
    for net in nets:
        net.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, precision=precision)
    pairs = []
    for i in range(repeats):
        seconds = [0.0, 0.0]
        for form in ((0, 1) if i % 2 == 0 else (1, 0)):
            t0 = time.perf_counter()
            nets[form].fit(x, y, batch_size=BATCH, epochs=1, verbose=0, precision=precision)
            seconds[form] = time.perf_counter() - t0
        pairs.append((seconds[0], seconds[1]))
    return pairs


def _statdl_cnn(L):
    return [L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
            L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
            L.Conv2D(64, (3, 3), activation="relu"), L.Flatten(),
            L.Dense(512, activation="relu"), L.Dropout(0.4),
            L.Dense(256, activation="relu"), L.Dropout(0.2), L.Dense(10, activation="softmax")]


# ---------------------------------------------------------------- plain torch
def torch_net(model: str):
    """The model as a plain torch module (images in torch's (n, c, h, w) layout), seeded."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    if model == "mlp":
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.4),
                             nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, 10))
    if model == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(), nn.Linear(576, 512),
                             nn.ReLU(), nn.Dropout(0.4), nn.Linear(512, 256), nn.ReLU(),
                             nn.Dropout(0.2), nn.Linear(256, 10))
    if model == "conv1d":
        class Conv(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(10_000, 32)
                self.conv = nn.Conv1d(32, 32, 7)
                self.out = nn.Linear(32, 1)

            def forward(self, ids):  # (n, 500, 32) -> (n, 32, 500) for conv1d, max over time
                return self.out(self.conv(self.emb(ids).transpose(1, 2)).relu().amax(dim=2))

        return Conv()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10_000, 8)
            self.lstm = nn.LSTM(8, 32, batch_first=True)
            self.out = nn.Linear(32, 1)

        def forward(self, ids):
            _, (h, _) = self.lstm(self.emb(ids))
            return self.out(h[-1])

    return Net()


def run_torch(model: str, x, y, repeats: int, device: str = "cpu",
              precision: str = "32") -> list[float]:
    import torch
    from torch.nn import functional as F

    net = torch_net(model)
    if model == "mlp":
        xt, yt = torch.from_numpy(x), torch.from_numpy(y.argmax(1))
        loss_fn = F.cross_entropy
    elif model == "cnn":
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
        yt = torch.from_numpy(y.argmax(1))
        loss_fn = F.cross_entropy
    else:  # lstm, conv1d
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        loss_fn = F.binary_cross_entropy_with_logits
    net, xt, yt = net.to(device), xt.to(device), yt.to(device)
    opt = torch.optim.RMSprop(net.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
    n = xt.shape[0]
    dtype = {"32": None, "bf16": torch.bfloat16, "16": torch.float16}[precision]
    scaler = torch.amp.GradScaler(device, enabled=dtype == torch.float16)

    def epoch(limit: int) -> None:
        net.train()
        perm = torch.randperm(limit, device=device)
        for i in range(0, limit, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            if dtype is None:
                loss = loss_fn(net(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                continue
            with torch.autocast(device, dtype=dtype):
                out = net(xt[idx])
            scaler.scale(loss_fn(out.float(), yt[idx])).backward()
            scaler.step(opt)
            scaler.update()
        if device == "cuda":
            torch.cuda.synchronize()

    epoch(4 * BATCH)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        epoch(n)
        times.append(time.perf_counter() - t0)
    return times


# ---------------------------------------------------------------- Keras 3
def keras_net(model: str):
    """The model in Keras 3, seeded and compiled (RMSprop, the course's loss, accuracy)."""
    import keras
    from keras import layers as K

    keras.utils.set_random_seed(0)
    if model == "mlp":
        net = keras.Sequential([keras.Input((784,)), K.Dense(512, activation="relu"),
                                K.Dropout(0.4), K.Dense(256, activation="relu"), K.Dropout(0.3),
                                K.Dense(10, activation="softmax")])
    elif model == "cnn":
        net = keras.Sequential([keras.Input((28, 28, 1)),
                                K.Conv2D(32, (3, 3), activation="relu"), K.MaxPooling2D((2, 2)),
                                K.Conv2D(64, (3, 3), activation="relu"), K.MaxPooling2D((2, 2)),
                                K.Conv2D(64, (3, 3), activation="relu"), K.Flatten(),
                                K.Dense(512, activation="relu"), K.Dropout(0.4),
                                K.Dense(256, activation="relu"), K.Dropout(0.2),
                                K.Dense(10, activation="softmax")])
    elif model == "conv1d":
        net = keras.Sequential([keras.Input((500,)), K.Embedding(10_000, 32),
                                K.Conv1D(32, 7, activation="relu"), K.GlobalMaxPooling1D(),
                                K.Dense(1, activation="sigmoid")])
    else:
        net = keras.Sequential([keras.Input((500,)), K.Embedding(10_000, 8), K.LSTM(32),
                                K.Dense(1, activation="sigmoid")])
    loss = "binary_crossentropy" if model in ("lstm", "conv1d") else "categorical_crossentropy"
    net.compile(optimizer="rmsprop", loss=loss, metrics=["accuracy"])
    return net


def run_keras(model: str, x, y, repeats: int, device: str = "cpu",
              precision: str = "32") -> list[float]:
    import keras

    if device == "cuda" and keras.backend.backend() == "jax":
        import jax

        if jax.default_backend() != "gpu":
            raise RuntimeError(f"--device cuda but jax runs on {jax.default_backend()}: "
                               "install jax with CUDA (pip install 'jax[cuda12]')")
    if precision != "32":
        keras.config.set_dtype_policy({"bf16": "mixed_bfloat16", "16": "mixed_float16"}[precision])
    net = keras_net(model)
    return time_fits(net, x, y, repeats)


def child(model: str, framework: str, n: int, repeats: int, device: str = "cpu",
          precision: str = "32") -> None:
    x, y = make_data(model, n)
    if framework == "statdl-paired":
        pairs = run_statdl_paired(model, x, y, repeats, device, precision)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"best_s": min(p[1] for p in pairs), "n": n, "peak_mb": peak_mb,
                          "ratios": [seq / fun for seq, fun in pairs]}))
        return
    runner = {"statdl": run_statdl, "statdl-functional": run_statdl_functional,
              "torch": run_torch, "torch-malloc": run_torch,
              "keras-jax": run_keras, "keras-torch": run_keras}[framework]
    if framework == "torch-malloc":
        from statdl.training.allocator import keep_freed_memory

        with keep_freed_memory():
            times = runner(model, x, y, repeats, device, precision)
    else:
        times = runner(model, x, y, repeats, device, precision)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"best_s": min(times), "n": n, "peak_mb": peak_mb}))


def _run_child(model: str, fw: str, repeats: int, device: str = "cpu",
               precision: str = "32", extra: dict | None = None) -> tuple[float, float] | None:
    """(samples/s of the best epoch, peak RSS in MB) of one framework's process; what else
    the process reported (``statdl-paired``'s ratios) goes into ``extra``."""
    n = SAMPLES[model]
    if fw == "keras-torch" and model == "lstm":
        n = 4 * BATCH  # about 30x slower than the others: keep the run short
    env = dict(os.environ)
    if fw.startswith("keras"):
        env["KERAS_BACKEND"] = fw.split("-")[1]
    if device == "cpu":  # no framework may pick a GPU by itself
        env.update(CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, __file__, "--child", model, fw, str(n), "--repeats", str(repeats),
         "--device", device, "--precision", precision],
        env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"{model}/{fw} failed:\n{proc.stderr[-2000:]}")
        return None
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if extra is not None:
        extra.update(out)
    return out["n"] / out["best_s"], out["peak_mb"]


def keras_available(backend: str) -> bool:
    env = dict(os.environ, KERAS_BACKEND=backend)
    probe = subprocess.run([sys.executable, "-c", "import keras"], env=env,
                           capture_output=True, timeout=300)
    return probe.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(SAMPLES))
    parser.add_argument("--frameworks",
                        default="statdl,statdl-functional,torch,keras-jax,keras-torch")
    parser.add_argument("--repeats", type=int, default=2, help="timed epochs per process")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the frameworks this many times in turn; report each one's best")
    parser.add_argument("--background", type=int, default=0,
                        help="busy processes competing for the cores while each framework runs")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="where every framework trains (default cpu)")
    parser.add_argument("--precision", default="32", choices=["32", "bf16", "16"],
                        help="float32, or mixed bfloat16 / float16 for every framework")
    parser.add_argument("--paired-forms", action="store_true",
                        help="each round, also train statdl's two forms in turn in one process")
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "FRAMEWORK", "N"))
    args = parser.parse_args()
    for name in ("repeats", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be an int >= 1; got {getattr(args, name)}")
    try:
        check_count(args.background)
    except ValueError as err:
        parser.error(str(err))
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]), args.repeats, args.device,
              args.precision)
        return
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.2f}, {args.background} busy background processes")
    if args.device != "cpu" or args.precision != "32":
        print(f"device {args.device}, precision {args.precision}")
    frameworks = args.frameworks.split(",")
    for fw in [f for f in frameworks if f.startswith("keras")]:
        if not keras_available(fw.split("-")[1]):
            print(f"{fw}: keras or its backend is not installed; skipped")
            frameworks.remove(fw)
    if args.paired_forms and "statdl-paired" not in frameworks:
        frameworks.append("statdl-paired")
    rows = []
    for model in args.models.split(","):
        rows.append(_measure_model(model, frameworks, args))
    print("\nmodel  statdl samples/s  best peer          samples/s  statdl/best-peer"
          "  statdl/torch-malloc  functional/statdl (range)  paired (range)")
    for row in rows:
        if row is not None:
            print(row)


def _measure_model(model: str, frameworks: list[str], args) -> str | None:
    """Run every framework ``args.rounds`` times in turn on ``model``; the closing table's row."""
    results: dict[str, tuple[float, float]] = {}
    per_round: dict[str, dict[int, float]] = {}
    paired: list[float] = []
    for round_ in range(args.rounds):
        # each round starts one framework later, so no framework always runs first
        start = round_ % len(frameworks)
        for fw in frameworks[start:] + frameworks[:start]:
            extra: dict = {}
            with busy_background(args.background):
                measured = _run_child(model, fw, args.repeats, args.device, args.precision,
                                      extra)
            if measured is None:
                continue
            speed, peak = measured
            note = ""
            if fw == "statdl-paired":  # the functional form's speed; the ratios go aside
                paired.extend(extra["ratios"])
                note = "  functional/Sequential " + " ".join(
                    f"{r:.3f}" for r in extra["ratios"])
            print(f"{model:6s} {fw:17s} {speed:9.0f} samples/s  peak RSS {peak:6.0f} MB"
                  + (f"  (round {round_ + 1})" if args.rounds > 1 else "") + note, flush=True)
            per_round.setdefault(fw, {})[round_] = speed
            if fw not in results or speed > results[fw][0]:
                results[fw] = (speed, max(peak, results.get(fw, (0, 0))[1]))
    if "statdl" not in results:
        return None
    seq, fun = per_round.get("statdl", {}), per_round.get("statdl-functional", {})
    forms = [fun[r] / seq[r] for r in seq if r in fun]
    return _summary_row(model, {k: v[0] for k, v in results.items()}, forms, paired)


def _summary_row(model: str, speeds: dict[str, float], forms: list[float] | None = None,
                 paired: list[float] | None = None) -> str:
    """One line of the closing table: statdl's best epoch against its fastest peer's, against
    the plain loop with statdl's malloc setting, and the functional form against the
    Sequential: the median (and range) of their ratios in the same round (``forms``), and of
    the ratios measured within one process (``paired``, from ``--paired-forms``); "-" where a
    framework did not run.

    >>> _summary_row("mlp", {"statdl": 200.0, "torch": 100.0, "statdl-functional": 198.0},
    ...              [0.99, 0.97, 1.02], [1.0, 0.98])
    'mlp                 200  torch                    100              2.00                    -        0.990 (0.970-1.020)  0.990 (0.980-1.000)'
    """
    ours = speeds["statdl"]
    peers = {k: v for k, v in speeds.items()
             if k not in ("statdl", "torch-malloc", "statdl-functional", "statdl-paired")}
    name, best = max(peers.items(), key=lambda kv: kv[1]) if peers else ("-", None)
    malloc = speeds.get("torch-malloc")

    def cell(value: float | None, width: int, spec: str) -> str:
        return f"{'-' if value is None else format(value, spec):>{width}s}"

    def spread(ratios: list[float] | None, width: int) -> str:
        if not ratios:
            return f"{'-':>{width}s}"
        text = f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
        return f"{text:>{width}s}"

    return (f"{model:6s} {ours:16.0f}  {name:17s} {cell(best, 10, '.0f')}  "
            f"{cell(best and ours / best, 16, '.2f')}  "
            f"{cell(malloc and ours / malloc, 19, '.2f')}  "
            f"{spread(forms, 25)}  {spread(paired, 19)}")


if __name__ == "__main__":
    main()
