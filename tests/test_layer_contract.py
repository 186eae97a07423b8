"""The contract every layer keeps: shapes inferred without weights equal the real ones, the
parameter count equals Keras's formula and the module's weights, gradients reach every
trainable weight, and a saved model round-trips, also into a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import autoencoders as AE
from statdl import layers as L


def _seq_input(n, t, vocab=None):
    if vocab:
        return torch.randint(0, vocab, (n, t))
    return torch.randn(n, t, 3)


@L.register_lambda(name="contract_affine")
def _affine(x):
    return x * 2.0 + 1.0


def _functional():
    inp = sd.Input((4,))
    return sd.Model(inp, L.Dense(3, activation="tanh")(inp))


# (factory, input_shape, keras formula for the parameter count); a list of shapes is a layer
# called on several inputs (merge layers): it is checked through its module and its config,
# as a Sequential model cannot hold it
CASES = {
    "Dense": (lambda: L.Dense(7, activation="relu"), (5,), 5 * 7 + 7),
    "Activation": (lambda: L.Activation("tanh"), (4,), 0),
    "Dropout": (lambda: L.Dropout(0.5), (6,), 0),
    "Flatten": (lambda: L.Flatten(), (3, 4, 2), 0),
    "Reshape": (lambda: L.Reshape((2, -1)), (12,), 0),
    "GaussianNoise": (lambda: L.GaussianNoise(0.1), (6,), 0),
    "Conv2D": (lambda: L.Conv2D(4, 3, strides=2, padding="same"), (9, 9, 2), 3 * 3 * 2 * 4 + 4),
    "Conv2DTranspose": (lambda: L.Conv2DTranspose(3, 3, strides=2, padding="same"), (4, 4, 2),
                        3 * 3 * 2 * 3 + 3),
    "MaxPooling2D": (lambda: L.MaxPooling2D(2, padding="same"), (5, 5, 3), 0),
    "AveragePooling2D": (lambda: L.AveragePooling2D((2, 2)), (6, 6, 3), 0),
    "GlobalAveragePooling2D": (lambda: L.GlobalAveragePooling2D(), (4, 4, 3), 0),
    "GlobalMaxPooling2D": (lambda: L.GlobalMaxPooling2D(), (4, 4, 3), 0),
    "UpSampling2D": (lambda: L.UpSampling2D(2), (3, 3, 2), 0),
    "BatchNormalization": (lambda: L.BatchNormalization(), (6,), 4 * 6),
    "Embedding": (lambda: L.Embedding(50, 4), (7,), 50 * 4),
    "SimpleRNN": (lambda: L.SimpleRNN(5), (7, 3), 5 * (3 + 5 + 1)),
    "LSTM": (lambda: L.LSTM(4, return_sequences=True), (7, 3), 4 * 4 * (3 + 4 + 1)),
    "GRU": (lambda: L.GRU(4), (7, 3), 3 * 4 * (3 + 4 + 2)),
    "Bidirectional": (lambda: L.Bidirectional(L.LSTM(4)), (7, 3), 2 * 4 * 4 * (3 + 4 + 1)),
    "RandomAugmentation": (lambda: L.RandomAugmentation(rotation=10, zoom=0.1), (8, 8, 1), 0),
    "Conv1D": (lambda: L.Conv1D(4, 3, strides=2, padding="same"), (9, 2), 3 * 2 * 4 + 4),
    "Conv1DTranspose": (lambda: L.Conv1DTranspose(3, 3, strides=2, padding="same"), (4, 2),
                        3 * 2 * 3 + 3),
    "MaxPooling1D": (lambda: L.MaxPooling1D(2, padding="same"), (5, 3), 0),
    "AveragePooling1D": (lambda: L.AveragePooling1D(2), (6, 3), 0),
    "GlobalMaxPooling1D": (lambda: L.GlobalMaxPooling1D(), (4, 3), 0),
    "GlobalAveragePooling1D": (lambda: L.GlobalAveragePooling1D(), (4, 3), 0),
    "UpSampling1D": (lambda: L.UpSampling1D(2), (3, 2), 0),
    "RepeatVector": (lambda: L.RepeatVector(3), (4,), 0),
    "TimeDistributed": (lambda: L.TimeDistributed(L.Dense(3)), (5, 4), 4 * 3 + 3),
    "LayerNormalization": (lambda: L.LayerNormalization(), (5, 6), 2 * 6),
    "Lambda": (lambda: L.Lambda("contract_affine"), (4,), 0),
    "Concatenate": (lambda: L.Concatenate(), [(3,), (2,)], 0),
    "Add": (lambda: L.Add(), [(3,), (3,)], 0),
    "Subtract": (lambda: L.Subtract(), [(3,), (3,)], 0),
    "Multiply": (lambda: L.Multiply(), [(3,), (3,)], 0),
    "Average": (lambda: L.Average(), [(3,), (3,)], 0),
    "Maximum": (lambda: L.Maximum(), [(3,), (3,)], 0),
    "Minimum": (lambda: L.Minimum(), [(3,), (3,)], 0),
    "Dot": (lambda: L.Dot(axes=1), [(3,), (3,)], 0),
    "MaskingNoise": (lambda: AE.MaskingNoise(0.3), (6,), 0),
    "KLSparsity": (lambda: AE.KLSparsity(0.1, beta=1.0), (6,), 0),
    "GaussianSampling": (lambda: AE.GaussianSampling(), (6,), 0),
    "ContractiveEncoder": (lambda: AE.ContractiveEncoder([L.Dense(4, activation="tanh")],
                                                         contractive=0.1), (5,), 5 * 4 + 4),
    "Model": (lambda: _functional(), (4,), 4 * 3 + 3),
    "Sequential": (lambda: sd.Sequential([L.Dense(3, activation="tanh"), L.Dropout(0.2)]), (4,),
                   4 * 3 + 3),
}


# cases a bare process cannot load: several inputs (no Sequential holds them) and Lambda,
# whose function only this module registers
FRESH = sorted(name for name, (_, shape, _) in CASES.items()
               if not isinstance(shape, list) and name != "Lambda")


def _input_for(name, shape, n=3):
    if isinstance(shape, list):
        return [torch.randn(n, *s) for s in shape]
    if name == "Embedding":
        return torch.randint(0, 50, (n, *shape))
    return torch.randn(n, *shape)


def test_every_registered_layer_has_a_contract_case():
    missing = sorted(set(L.all_layer_classes()) - set(CASES))
    assert not missing, f"layers without a contract case: {missing}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_creating_a_layer_draws_no_random_number(name):
    """Creating a layer (before it is built) must leave torch's global generator where it
    was: otherwise, under a fixed seed, every weight drawn after it changes with the number of
    layers declared but not used (a lab building two heads and training one)."""
    factory, _, _ = CASES[name]
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    if name not in ("Model", "Sequential"):  # these build their layers when declared
        factory()
    assert torch.equal(torch.rand(4), expected)


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_contract(name, tmp_path):
    if name not in L.all_layer_classes():
        pytest.skip(f"{name} is not part of this build")
    factory, shape, keras_params = CASES[name]
    layer = factory()
    assert layer.param_count(shape) == keras_params
    module = layer.build(shape)
    n_weights = sum(p.numel() for p in module.parameters())
    n_buffers = sum(b.numel() for b in module.buffers() if b.dtype.is_floating_point)
    assert n_weights + n_buffers == keras_params
    assert layer.count_non_trainable_params(shape) == n_buffers

    x = _input_for(name, shape)
    module.train()
    out = module(x)
    assert tuple(out.shape[1:]) == layer.output_shape(shape)
    if n_weights:
        out.float().square().sum().backward()
        for pname, p in module.named_parameters():
            assert p.grad is not None and bool(p.grad.abs().sum() > 0), f"no gradient: {pname}"

    if isinstance(shape, list):  # several inputs: the config re-creates the same layer
        config = json.loads(json.dumps(layer.full_config()))
        again = L.layer_class(name)(**config).build(shape)
        torch.testing.assert_close(again.eval()(x), module.eval()(x), rtol=0, atol=0)
        return
    model = sd.Sequential([factory()], input_shape=shape)
    model.save(tmp_path / "m.statdl")
    loaded = sd.load_model(tmp_path / "m.statdl")
    xn = x.numpy()
    np.testing.assert_array_equal(model.predict(xn), loaded.predict(xn))
    assert loaded.count_params() == keras_params


# Abstract bases: Layer subclasses that are never a layer of a model themselves.
BASES = {"KernelLayer", "RNNLayer", "_Pooling2D", "_Pooling1D", "_Merge", "_Elementwise"}

SAVE_CHILD = """
import importlib, json, pkgutil, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, sys.argv[2])
import statdl as sd
from statdl import layers as L
from statdl.layers.base import Layer
from test_layer_contract import CASES, FRESH, _input_for

out = Path(sys.argv[1])
arrays = {}
for name in FRESH:
    factory, shape, _ = CASES[name]
    sd.set_seed(0)
    model = sd.Sequential([factory()], input_shape=shape)
    x = _input_for(name, shape).numpy()
    model.save(out / f"{name}.statdl")
    arrays["x_" + name], arrays["p_" + name] = x, model.predict(x)

# a trained model with an autoencoder layer: its optimiser state must survive too
sd.set_seed(1)
model = sd.autoencoders.Autoencoder(6, 2, corruption="masking", corruption_rate=0.3).model
x = np.random.default_rng(1).normal(size=(40, 6)).astype("float32")
model.compile(optimizer="adam", loss="mse")
model.fit(x, x, epochs=2, verbose=0)
model.save(out / "trained.statdl")
sd.set_seed(2)
model.fit(x, x, epochs=1, verbose=0)
arrays["x_trained"] = x
arrays["w_trained"] = np.concatenate([w.ravel() for w in model.get_weights()])
np.savez(out / "saved.npz", **arrays)

for info in pkgutil.walk_packages(sd.__path__, "statdl."):
    importlib.import_module(info.name)
def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)
names = sorted({c.__name__ for c in subclasses(Layer) if c.__module__.startswith("statdl.")})
(out / "classes.json").write_text(json.dumps(names))
"""

LOAD_CHILD = """
import json, sys
from pathlib import Path
import numpy as np
import statdl as sd

out = Path(sys.argv[1])
saved = np.load(out / "saved.npz")
before = sorted(m for m in sys.modules if m.startswith("statdl"))
preds = {}
for path in sorted(out.glob("*.statdl")):
    if path.stem != "trained":
        preds[path.stem] = sd.load_model(path).predict(saved["x_" + path.stem])
model = sd.load_model(out / "trained.statdl")
x = saved["x_trained"]
sd.set_seed(2)
model.fit(x, x, epochs=1, verbose=0)
preds["w_trained"] = np.concatenate([w.ravel() for w in model.get_weights()])
np.savez(out / "loaded.npz", **preds)
registry = sorted(sd.layers.all_layer_classes())
(out / "loaded.json").write_text(json.dumps({"before": before, "registry": registry}))
"""


def _child(script: str, *args: str) -> None:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_every_layer_saved_in_one_process_loads_in_a_fresh_one(tmp_path):
    """One process saves a model of every layer class (and a trained autoencoder with a
    corruption layer); a second that only imports statdl loads them all, predicts the same
    numbers and continues training to the same weights. The first also lists every Layer
    subclass in the package, which the registry must know."""
    _child(SAVE_CHILD, str(tmp_path), str(Path(__file__).parent))
    _child(LOAD_CHILD, str(tmp_path))
    saved, loaded = np.load(tmp_path / "saved.npz"), np.load(tmp_path / "loaded.npz")
    report = json.loads((tmp_path / "loaded.json").read_text())
    assert "statdl.autoencoders" not in report["before"]  # the child really started bare
    assert sorted(loaded.files) == sorted([*FRESH, "w_trained"])
    for name in FRESH:
        np.testing.assert_array_equal(loaded[name], saved["p_" + name], err_msg=name)
    np.testing.assert_allclose(loaded["w_trained"], saved["w_trained"], rtol=1e-6, atol=1e-7)
    classes = set(json.loads((tmp_path / "classes.json").read_text()))
    assert classes - BASES - set(report["registry"]) == set()
    assert BASES <= classes  # the list of bases is not stale
