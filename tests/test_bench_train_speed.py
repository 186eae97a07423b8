"""bench/train_speed.py: every framework trains the same network, and statdl's functional form
takes the same fast paths as its Sequential form (the speed itself is the benchmark's job)."""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import train_speed  # noqa: E402

from statdl import fast_paths  # noqa: E402
from statdl.layers.modules import SequentialModule  # noqa: E402
from statdl.training.dense_step import DenseStackStep  # noqa: E402

MODELS = list(train_speed.SAMPLES)


def _torch_count(model: str) -> int:
    return sum(p.numel() for p in train_speed.torch_net(model).parameters())


def test_doctests():
    assert doctest.testmod(train_speed).failed == 0


@pytest.mark.parametrize("model", MODELS)
def test_both_statdl_forms_match_the_plain_torch_network(model):
    expected = _torch_count(model)
    if model == "lstm":  # torch's LSTM has two bias vectors (b_ih, b_hh), Keras's one
        expected -= 4 * 32
    for functional in (False, True):
        assert train_speed.statdl_net(model, functional).count_params() == expected


@pytest.mark.parametrize("model", MODELS)
def test_the_functional_chain_takes_the_sequential_fast_paths(model):
    seq, fun = (train_speed.statdl_net(model, f) for f in (False, True))
    modules = [[type(m).__name__ for m in net.module.modules()] for net in (seq, fun)]
    assert type(fun.module) is SequentialModule and modules[0] == modules[1]
    with fast_paths.on("dense_step"):  # held on whatever STATDL_FAST_PATHS says
        steps = [DenseStackStep.for_state(net._training_state()) for net in (seq, fun)]
    # the hand-written Dense pass applies to the MLP alone, in both forms
    assert [k is not None for k in steps] == [model == "mlp"] * 2


def test_conv1d_forward_equals_the_plain_torch_network():
    ref = train_speed.torch_net("conv1d").eval()
    net = train_speed.statdl_net("conv1d")
    with torch.no_grad():
        for mine, theirs in zip(net.module.parameters(),
                                [ref.emb.weight, ref.conv.weight, ref.conv.bias,
                                 ref.out.weight.T, ref.out.bias], strict=True):
            mine.copy_(theirs)
        ids = np.random.default_rng(1).integers(0, 10_000, (6, 500))
        expected = torch.sigmoid(ref(torch.from_numpy(ids))).numpy()
    np.testing.assert_allclose(net.predict(ids), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_keras_networks_have_statdl_parameter_counts():
    if not train_speed.keras_available("jax"):
        pytest.skip("keras with the jax backend is not installed")
    script = ("import json, train_speed; print(json.dumps({m: train_speed.keras_net(m)"
              ".count_params() for m in train_speed.SAMPLES}))")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", script], cwd=BENCH, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts == {m: train_speed.statdl_net(m).count_params() for m in MODELS}


def test_paired_child_times_both_forms_in_one_process():
    """``--paired-forms``' process trains the Sequential and the functional form in turn and
    reports one functional/Sequential speed ratio per pair of epochs."""
    done = subprocess.run([sys.executable, str(BENCH / "train_speed.py"), "--child", "mlp",
                           "statdl-paired", "512", "--repeats", "2"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(out["ratios"]) == 2 and all(0 < r < 100 for r in out["ratios"])
    assert out["n"] == 512 and out["best_s"] > 0
