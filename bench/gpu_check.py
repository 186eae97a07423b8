"""GPU check: the fast test tier on CUDA, and training speed on the GPU against Keras-JAX.

On a machine where torch sees a CUDA GPU this script

1. prints the device (name, memory, compute capability, bfloat16 support, TF32 settings, the
   torch/CUDA/cuDNN versions, and jax's devices when jax is installed);
2. runs the fast test tier (``pytest -m "not slow"``) with ``STATDL_DEVICE=cuda``, so that every
   model compiled with the default ``device="auto"`` trains and predicts on the GPU;
3. runs ``bench/train_speed.py``'s mlp, cnn and lstm models on the GPU for statdl at each
   precision (``32``, ``bf16``, ``16``) and for Keras 3 on JAX at the same precisions (when
   jax sees a GPU), frameworks taken in turn;
4. writes a Markdown report (``--out``, default ``gpu_check_report.md``) with the test summary,
   the speeds and the ratios statdl / Keras-JAX.

Without CUDA it says so and exits with status 2; ``--dry-run`` lists the steps without running
them (on any machine). Usage::

    python bench/gpu_check.py                       # everything, report in gpu_check_report.md
    python bench/gpu_check.py --dry-run
    python bench/gpu_check.py --skip-tests --models mlp --precisions 32,bf16
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from statdl.utils import atomic_write

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
MODELS = ("mlp", "cnn", "lstm")
PRECISIONS = ("32", "bf16", "16")
PEER = "keras-jax"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="list the steps, run nothing")
    parser.add_argument("--out", default="gpu_check_report.md", help="Markdown report path")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--repeats", type=int, default=2, help="timed epochs per process")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run statdl and Keras this many times in turn; keep each best")
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--skip-bench", action="store_true")
    parser.add_argument("--test-timeout", type=int, default=1800,
                        help="seconds allowed to the test tier")
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.precisions = [p for p in args.precisions.split(",") if p]
    for m in args.models:
        if m not in MODELS:
            parser.error(f"--models: unknown model {m!r}; choose from {', '.join(MODELS)}")
    for p in args.precisions:
        if p not in PRECISIONS:
            parser.error(f"--precisions: unknown precision {p!r}; choose from "
                         f"{', '.join(PRECISIONS)}")
    if args.repeats < 1 or args.rounds < 1:
        parser.error("--repeats and --rounds must be ints >= 1")
    return args


def plan(args) -> list[str]:
    """The steps this run would take, in words."""
    steps = ["print the CUDA device, torch/CUDA/cuDNN versions and jax's devices"]
    if not args.skip_tests:
        steps.append(f"STATDL_DEVICE=cuda {sys.executable} -m pytest -q -m 'not slow' "
                     f"-p no:cacheprovider -rfE  (in {REPO}, at most {args.test_timeout} s)")
    if not args.skip_bench:
        for model in args.models:
            for precision in args.precisions:
                steps.append(f"train_speed {model} on cuda, precision {precision}: statdl, then "
                             f"{PEER} if jax sees a GPU ({args.rounds} round(s), "
                             f"{args.repeats} timed epochs each)")
    steps.append(f"write the Markdown report to {args.out}")
    return steps


def device_info() -> list[str]:
    import torch

    index = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    lines = [
        f"GPU: {props.name}, {props.total_memory / 2**30:.1f} GiB, compute capability "
        f"{props.major}.{props.minor}, {torch.cuda.device_count()} device(s)",
        f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN "
        f"{torch.backends.cudnn.version()}, bfloat16 supported: {torch.cuda.is_bf16_supported()}",
        f"TF32: matmul {torch.backends.cuda.matmul.allow_tf32}, cuDNN "
        f"{torch.backends.cudnn.allow_tf32}",
        f"host: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        f"jax: {jax_devices()}",
    ]
    return lines


def jax_devices() -> str:
    """jax's devices as jax reports them, from a child process (jax may claim GPU memory)."""
    probe = subprocess.run([sys.executable, "-c", "import jax; print(jax.devices())"],
                           capture_output=True, text=True, timeout=300)
    if probe.returncode != 0:
        return "not importable (" + (probe.stderr.strip().splitlines() or ["?"])[-1] + ")"
    return probe.stdout.strip()


def jax_has_gpu() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import jax, sys; sys.exit(jax.default_backend() != 'gpu')"],
        capture_output=True, timeout=300)
    return probe.returncode == 0


def run_tests(timeout: int) -> tuple[str, list[str]]:
    """(the summary line, the FAILED/ERROR lines) of the fast tier on CUDA."""
    env = dict(os.environ, STATDL_DEVICE="cuda")
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider",
           "-rfE"]
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout} s", []
    lines = proc.stdout.strip().splitlines()
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    summary = lines[-1] if lines else f"pytest exited with status {proc.returncode}"
    if proc.returncode not in (0, 1):  # 1: some tests failed; others: pytest itself failed
        summary += f" (pytest status {proc.returncode}: {proc.stderr.strip()[-500:]})"
    return summary, failed


def run_bench(args, peer: bool) -> dict[tuple[str, str, str], float]:
    """samples/s of the best epoch for each (model, precision, framework) that ran."""
    sys.path.insert(0, str(BENCH))
    import train_speed

    frameworks = ["statdl"] + ([PEER] if peer else [])
    speeds: dict[tuple[str, str, str], float] = {}
    for model in args.models:
        for precision in args.precisions:
            for _ in range(args.rounds):
                for fw in frameworks:
                    measured = train_speed._run_child(model, fw, args.repeats, "cuda", precision)
                    if measured is None:
                        continue
                    key = (model, precision, fw)
                    speeds[key] = max(speeds.get(key, 0.0), measured[0])
                    print(f"{model:5s} {precision:5s} {fw:10s} {measured[0]:10.0f} samples/s",
                          flush=True)
    return speeds


def report(info: list[str], tests: tuple[str, list[str]] | None,
           speeds: dict[tuple[str, str, str], float] | None, args, peer: bool) -> str:
    out = ["# statdl GPU check", "", time.strftime("%Y-%m-%d %H:%M:%S"), "", "## Device", ""]
    out += [f"- {line}" for line in info]
    if tests is not None:
        summary, failed = tests
        out += ["", "## Fast test tier with STATDL_DEVICE=cuda", "", f"`{summary}`", ""]
        out += [f"- {line}" for line in failed] or ["No failures."]
    if speeds is not None:
        out += ["", "## Training speed on the GPU (samples/s, best epoch, batch 128)", ""]
        if not peer:
            out += [f"{PEER} did not run: jax sees no GPU here (pip install 'jax[cuda12]').", ""]
        out += ["| model | precision | statdl | Keras-JAX | statdl / Keras-JAX | "
                "statdl / statdl fp32 |", "|---|---|---:|---:|---:|---:|"]
        for model in args.models:
            base = speeds.get((model, "32", "statdl"))
            for precision in args.precisions:
                ours = speeds.get((model, precision, "statdl"))
                theirs = speeds.get((model, precision, PEER))
                out.append(f"| {model} | {precision} | {_num(ours)} | {_num(theirs)} | "
                           f"{_ratio(ours, theirs)} | {_ratio(ours, base)} |")
        out += ["", "A dash: the run failed (its error is on the console) or did not take "
                "place. Keras uses the mixed_bfloat16 / mixed_float16 dtype policies."]
    return "\n".join(out) + "\n"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.2f}"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        print("gpu_check would:")
        for i, step in enumerate(plan(args), 1):
            print(f"  {i}. {step}")
        return 0
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA GPU on this machine (torch "
              f"{torch.__version__}); nothing to check. Run it where `python -c \"import torch; "
              "print(torch.cuda.is_available())\"` prints True, or use --dry-run.",
              file=sys.stderr)
        return 2
    info = device_info()
    print("\n".join(info), flush=True)
    tests = None
    if not args.skip_tests:
        print("running the fast test tier with STATDL_DEVICE=cuda ...", flush=True)
        tests = run_tests(args.test_timeout)
        print(tests[0], *tests[1], sep="\n", flush=True)
    speeds, peer = None, False
    if not args.skip_bench:
        peer = jax_has_gpu()
        speeds = run_bench(args, peer)
    text = report(info, tests, speeds, args, peer)
    with atomic_write(args.out, "w") as fh:
        fh.write(text)
    print(f"\nreport written to {args.out}\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
