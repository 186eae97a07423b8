"""The layers of issue #14 against Keras 3 itself: parameter counts, output shapes (also with
unknown dimensions), forward outputs with the same weights, and the inputs Keras refuses.

One child process (``KERAS_BACKEND=jax``) builds every Keras layer, perturbs its weights (so
biases and gammas are not their initial constants), runs it on inputs drawn here, and writes
weights, outputs, parameter counts and output shapes to a file. Each statdl layer is written
with the *same expression* (``X.Conv1D(4, 3)`` with ``X`` bound to ``keras.layers`` there and
to ``statdl.layers`` here), receives the Keras weights through ``set_weights`` (Keras's
layouts), gives them back unchanged through ``get_weights``, and runs on the same inputs. Merge layers are called on lists through
their built module (``layer.build([s1, s2])`` then ``module([t1, t2])``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from statdl import layers as L
from statdl.errors import ShapeError

pytestmark = pytest.mark.skipif(importlib.util.find_spec("keras") is None
                                or importlib.util.find_spec("jax") is None,
                                reason="needs keras and jax")

# name -> (expression, input shape or list of shapes); X is keras.layers or statdl.layers
CASES: dict[str, tuple[str, object]] = {
    "conv1d_valid": ("X.Conv1D(4, 3, activation='relu')", (11, 3)),
    "conv1d_same_strided_even": ("X.Conv1D(5, 4, strides=2, padding='same')", (11, 3)),
    "conv1d_same_even": ("X.Conv1D(2, 2, padding='same')", (10, 3)),
    "conv1d_causal_dilated": ("X.Conv1D(3, 3, padding='causal', dilation_rate=2, "
                              "activation='tanh')", (12, 2)),
    "conv1d_strided_nobias": ("X.Conv1D(3, 5, strides=3, use_bias=False)", (17, 2)),
    "conv1d_dilated_valid": ("X.Conv1D(2, 3, dilation_rate=3)", (15, 2)),
    "conv1d_causal_strided": ("X.Conv1D(2, 4, strides=2, padding='causal')", (9, 2)),
    "convt_valid": ("X.Conv1DTranspose(3, 3, strides=2)", (6, 2)),
    "convt_same_even": ("X.Conv1DTranspose(3, 4, strides=2, padding='same')", (6, 2)),
    "convt_same_odd": ("X.Conv1DTranspose(2, 5, strides=3, padding='same', "
                       "activation='sigmoid')", (5, 2)),
    "convt_short_kernel": ("X.Conv1DTranspose(2, 2, strides=3)", (5, 2)),
    "convt_short_kernel_same": ("X.Conv1DTranspose(2, 2, strides=3, padding='same')", (5, 2)),
    "convt_dilated": ("X.Conv1DTranspose(2, 3, dilation_rate=2)", (6, 2)),
    "convt_dilated_same": ("X.Conv1DTranspose(2, 3, dilation_rate=2, padding='same')", (6, 2)),
    # Conv2DTranspose (an older layer) with a kernel shorter than its stride: the outputs no
    # input reaches still count (bias only)
    "convt2d_short_kernel": ("X.Conv2DTranspose(2, (2, 3), strides=(3, 2))", (5, 4, 2)),
    "convt2d_short_kernel_same": ("X.Conv2DTranspose(2, 2, strides=3, padding='same')",
                                  (5, 4, 2)),
    "convt2d_same_odd": ("X.Conv2DTranspose(2, 5, strides=3, padding='same')", (4, 3, 2)),
    "maxpool": ("X.MaxPooling1D(2)", (9, 3)),
    "maxpool_same": ("X.MaxPooling1D(3, strides=2, padding='same')", (10, 3)),
    "avgpool": ("X.AveragePooling1D(3)", (10, 3)),
    "avgpool_same": ("X.AveragePooling1D(4, strides=3, padding='same')", (10, 3)),
    "global_max": ("X.GlobalMaxPooling1D()", (7, 3)),
    "global_avg": ("X.GlobalAveragePooling1D()", (7, 3)),
    "global_avg_keepdims": ("X.GlobalAveragePooling1D(keepdims=True)", (7, 3)),
    "upsampling": ("X.UpSampling1D(3)", (4, 2)),
    "concatenate": ("X.Concatenate()", [(3,), (5,)]),
    "concatenate_axis1": ("X.Concatenate(axis=1)", [(2, 4), (3, 4)]),
    "concatenate_three": ("X.Concatenate(axis=-2)", [(2, 4), (1, 4), (3, 4)]),
    "add": ("X.Add()", [(4,), (4,), (4,)]),
    "add_lower_rank": ("X.Add()", [(3, 4), (4,)]),
    "add_size_one": ("X.Add()", [(3, 4), (1, 4)]),
    "subtract": ("X.Subtract()", [(2, 3), (2, 3)]),
    "multiply": ("X.Multiply()", [(2, 3), (2, 3), (2, 3)]),
    "average": ("X.Average()", [(5,), (5,)]),
    "maximum": ("X.Maximum()", [(5,), (5,), (5,)]),
    "minimum": ("X.Minimum()", [(2, 3), (2, 3)]),
    "dot_vectors": ("X.Dot(axes=1)", [(5,), (5,)]),
    "dot_cosine": ("X.Dot(axes=-1, normalize=True)", [(5,), (5,)]),
    "dot_matrices": ("X.Dot(axes=(1, 2))", [(3, 5), (4, 3)]),
    "dot_matrix_vector": ("X.Dot(axes=(2, 1))", [(3, 5), (5,)]),
    "dot_last_axes": ("X.Dot(axes=2, normalize=True)", [(3, 4), (2, 4)]),
    "repeat_vector": ("X.RepeatVector(3)", (4,)),
    "time_distributed_dense": ("X.TimeDistributed(X.Dense(3, activation='tanh'))", (5, 4)),
    "time_distributed_conv2d": ("X.TimeDistributed(X.Conv2D(2, 3))", (3, 6, 6, 1)),
    "layer_norm": ("X.LayerNormalization()", (5, 6)),
    "layer_norm_two_axes": ("X.LayerNormalization(axis=[1, 2])", (3, 4)),
    "layer_norm_first_axis": ("X.LayerNormalization(axis=1, center=False)", (3, 4)),
    "layer_norm_apart": ("X.LayerNormalization(axis=[1, 3], epsilon=1e-5)", (3, 4, 5)),
    "layer_norm_vector": ("X.LayerNormalization(epsilon=0.1, scale=False)", (6,)),
    "lambda": ("X.Lambda(lambda x: x[:, ::2] * 2 + 1)", (6,)),
    "lambda_two_inputs": ("X.Lambda(lambda xs: xs[0] * xs[1] - xs[0])", [(3,), (3,)]),
}

# the default tier runs one or two cases per layer (the Keras child costs about 0.4 s of jax
# compilation per case); the other variants run with -m slow
FAST = {
    "conv1d_same_strided_even", "conv1d_causal_dilated", "convt_same_even", "convt_short_kernel",
    "convt2d_short_kernel_same",
    "maxpool_same", "avgpool_same", "global_max", "global_avg", "upsampling",
    "concatenate_axis1", "add_lower_rank", "subtract", "multiply", "average", "maximum",
    "minimum", "dot_matrices", "dot_cosine", "repeat_vector", "time_distributed_dense",
    "layer_norm", "layer_norm_apart", "lambda_two_inputs",
}

# output shapes with unknown dimensions: name -> (expression, shapes)
SHAPE_CASES: dict[str, tuple[str, object]] = {
    "conv1d_same_unknown": ("X.Conv1D(4, 3, strides=2, padding='same')", (None, 3)),
    "conv1d_causal_unknown": ("X.Conv1D(4, 3, padding='causal')", (None, 3)),
    "convt_unknown": ("X.Conv1DTranspose(4, 3, strides=2)", (None, 3)),
    "pool_unknown": ("X.MaxPooling1D(2)", (None, 3)),
    "global_unknown": ("X.GlobalAveragePooling1D()", (None, 3)),
    "upsampling_unknown": ("X.UpSampling1D(2)", (None, 3)),
    "concatenate_unknown": ("X.Concatenate(axis=1)", [(None, 4), (3, 4)]),
    "concatenate_unknown_other": ("X.Concatenate()", [(None, 4), (None, 2)]),
    "add_unknown": ("X.Add()", [(None, 4), (5, 4)]),
    "dot_unknown": ("X.Dot(axes=2)", [(None, 4), (7, 4)]),
    "time_distributed_unknown": ("X.TimeDistributed(X.Dense(3))", (None, 4)),
}

# inputs both Keras and statdl must refuse: name -> (expression, shapes)
REFUSED: dict[str, tuple[str, object]] = {
    "subtract_three": ("X.Subtract()", [(3,), (3,), (3,)]),
    "add_mismatch": ("X.Add()", [(3,), (4,)]),
    "concatenate_mismatch": ("X.Concatenate(axis=1)", [(2, 4), (2, 5)]),
    "concatenate_ranks": ("X.Concatenate()", [(2, 4), (4,)]),
    "dot_mismatch": ("X.Dot(axes=1)", [(3,), (4,)]),
    "dot_three": ("X.Dot(axes=1)", [(3,), (3,), (3,)]),
}

KERAS_CHILD = r"""
import json, sys
import numpy as np
import keras
X = keras.layers

cases, shape_cases, refused = json.loads(open(sys.argv[1]).read())
inputs = np.load(sys.argv[2])
rng = np.random.default_rng(1)
out, info = {}, {}

def as_shapes(shapes, multi):
    return [tuple(s) for s in shapes] if multi else tuple(shapes)

for name, (expr, shapes, multi) in cases.items():
    layer = eval(expr)
    xs = [inputs[f"{name}_x{i}"] for i in range(len(shapes) if multi else 1)]
    layer.build([x.shape for x in xs] if multi else xs[0].shape)
    weights = [w + rng.normal(scale=0.3, size=w.shape).astype(np.float32)
               for w in layer.get_weights()]
    layer.set_weights(weights)
    out[f"{name}_y"] = np.asarray(layer(xs if multi else xs[0]))
    for j, w in enumerate(weights):
        out[f"{name}_w{j}"] = w
    info[name] = {"params": int(layer.count_params()), "n_weights": len(weights)}

for name, (expr, shapes, multi) in shape_cases.items():
    full = [(None, *s) for s in shapes] if multi else (None, *shapes)
    layer = eval(expr)
    layer.build(full)
    info[name] = {"shape": list(layer.compute_output_shape(full))[1:]}

for name, (expr, shapes, multi) in refused.items():
    full = [(2, *s) for s in shapes]
    try:
        layer = eval(expr)
        layer.build(full)
        layer.compute_output_shape(full)
        layer([np.zeros(s, "float32") for s in full])
        info[name] = {"refused": None}
    except Exception as err:  # ValueError from Keras, TypeError from jax's concatenate
        info[name] = {"refused": f"{type(err).__name__}: {err}"[:200]}

np.savez(sys.argv[3], **out)
open(sys.argv[4], "w").write(json.dumps(info))
"""


def _multi(shapes) -> bool:
    return isinstance(shapes, list)


def _table(cases: dict) -> dict:
    return {name: (expr, [list(s) for s in shapes] if _multi(shapes) else list(shapes),
                   _multi(shapes)) for name, (expr, shapes) in cases.items()}


def _inputs(names) -> dict[str, np.ndarray]:
    xs = {}
    for name in names:
        shapes = CASES[name][1]
        rng = np.random.default_rng(sorted(CASES).index(name))
        for i, s in enumerate(shapes if _multi(shapes) else [shapes]):
            xs[f"{name}_x{i}"] = rng.normal(size=(4, *s)).astype(np.float32)
    return xs


def _run_keras(folder, names, with_shapes: bool):
    """Keras's outputs, weights, counts (and shapes, refusals) for ``names`` (one child)."""
    xs = _inputs(names)
    np.savez(folder / "x.npz", **xs)
    tables = [_table({n: CASES[n] for n in names}),
              _table(SHAPE_CASES) if with_shapes else {}, _table(REFUSED) if with_shapes else {}]
    (folder / "cases.json").write_text(json.dumps(tables))
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KERAS_CHILD), str(folder / "cases.json"),
         str(folder / "x.npz"), str(folder / "y.npz"), str(folder / "info.json")],
        capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return xs, dict(np.load(folder / "y.npz")), json.loads((folder / "info.json").read_text())


@pytest.fixture(scope="module")
def keras_run(tmp_path_factory):
    return _run_keras(tmp_path_factory.mktemp("keras_fast"), sorted(FAST), True)


@pytest.fixture(scope="module")
def keras_variants(tmp_path_factory):
    return _run_keras(tmp_path_factory.mktemp("keras_slow"), sorted(set(CASES) - FAST), False)


def _ours(expr: str):
    return eval(expr, {"X": L})


def _shapes(shapes):
    return [tuple(s) for s in shapes] if _multi(shapes) else tuple(shapes)


def _check_against_keras(name, run):
    xs, ys, info = run
    expr, shapes = CASES[name]
    layer = _ours(expr)
    shape = _shapes(shapes)
    assert layer.param_count(shape) == info[name]["params"]
    module = layer.build(shape)
    weights = [ys[f"{name}_w{j}"] for j in range(info[name]["n_weights"])]
    layer.set_weights(weights)  # Keras's layouts and order
    for mine, theirs in zip(layer.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    inputs = [torch.from_numpy(xs[f"{name}_x{i}"])
              for i in range(len(shapes) if _multi(shapes) else 1)]
    with torch.no_grad():
        got = module.eval()(inputs if _multi(shapes) else inputs[0]).numpy()
    expected = ys[f"{name}_y"]
    assert got.shape == expected.shape
    assert got.shape[1:] == layer.output_shape(shape)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(FAST))
def test_forward_and_params_match_keras(name, keras_run):
    _check_against_keras(name, keras_run)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(CASES) - FAST))
def test_more_variants_match_keras(name, keras_variants):
    _check_against_keras(name, keras_variants)


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_output_shapes_with_unknown_dimensions_match_keras(name, keras_run):
    expr, shapes = SHAPE_CASES[name]
    assert list(_ours(expr).output_shape(_shapes(shapes))) == keras_run[2][name]["shape"]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_inputs_keras_refuses_are_refused_with_a_shape_error(name, keras_run):
    expr, shapes = REFUSED[name]
    assert keras_run[2][name]["refused"] is not None  # Keras refuses them too
    with pytest.raises(ShapeError):
        _ours(expr).output_shape(_shapes(shapes))
