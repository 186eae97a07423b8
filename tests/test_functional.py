"""The functional API: ``statdl.Input``, layers called on symbolic tensors, ``statdl.Model``.

Reference values come from definitions (parameter counts) and from numpy computations on the
models' own weights; training runs are compared with the ``Sequential`` of the same layers.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import fast_paths
from statdl import layers as L
from statdl.errors import ConfigError, ShapeError
from statdl.layers.modules import GraphModule, SequentialModule
from statdl.models.hooks import register_fit_callback_factory, unregister_fit_callback_factory
from statdl.resampling import clone_model
from statdl.training.dense_step import DenseStackStep


def _rng(seed=0):
    return np.random.default_rng(seed)


def _dense(layer, x):
    """``x @ W + b`` of a Dense layer from its weights (Keras layout), in numpy."""
    w, b = layer.get_weights()[:2]
    return x @ w + b


# ----------------------------------------------------------------------------- course example
def test_course_autoencoder_functional_summary_and_shared_codings():
    sd.set_seed(0)
    input_layer = sd.Input(shape=784)
    encoder = L.Dense(100, activation="tanh")(input_layer)
    en = sd.Model(input_layer, encoder)
    decoder = L.Dense(784)(encoder)
    auto_encode = sd.Model(input_layer, decoder)
    auto_encode.compile(loss="mean_squared_error", optimizer="adam")

    text = auto_encode.summary(print_fn=None)
    rows = [line.split() for line in text.splitlines()
            if "(InputLayer)" in line or "(Dense)" in line]
    assert [r[1:] for r in rows] == [
        ["(InputLayer)", "[(None,", "784)]", "0"],                    # as the course prints it
        ["(Dense)", "(None,", "100)", str(784 * 100 + 100)],          # 78,500
        ["(Dense)", "(None,", "784)", str(100 * 784 + 784)]]          # 79,184
    assert "Total params: 157,684" in text and "Trainable params: 157,684" in text

    x = _rng().random((256, 784), dtype=np.float32)
    before = en.predict(x[:10])
    auto_encode.fit(x, x, epochs=2, batch_size=64, verbose=0)
    codings = en.predict(x[:10])
    assert not np.allclose(before, codings)       # training auto_encode moved en's weights
    dense = auto_encode.layers[1]
    np.testing.assert_allclose(codings, np.tanh(_dense(dense, x[:10])), rtol=1e-5, atol=1e-5)
    assert en.layers[1] is dense and en.count_params() == 78_500


# ----------------------------------------------------------------------------- chains
def _mlp_layers():
    return [L.Dense(16, activation="relu"), L.Dropout(0.3), L.Dense(3, activation="softmax")]


def test_functional_chain_lowers_to_the_sequential_module_and_trains_identically():
    # the Dense step is part of the claim (same fast path whichever API declared the model)
    with fast_paths.on("dense_step"):
        _check_chain_lowers_and_trains_identically()


def _check_chain_lowers_and_trains_identically():
    x = _rng().normal(size=(200, 8)).astype(np.float32)
    y = sd.to_categorical(_rng(1).integers(0, 3, 200), 3)
    sd.set_seed(3)
    seq = sd.Sequential(_mlp_layers(), input_shape=(8,))
    sd.set_seed(3)
    inp = sd.Input((8,))
    out = inp
    for layer in _mlp_layers():
        out = layer(out)
    fun = sd.Model(inp, out)
    assert type(fun.module) is SequentialModule
    for model in (seq, fun):
        model.compile("rmsprop", "categorical_crossentropy", ["accuracy"])
        assert DenseStackStep.for_state(model._training_state()) is not None  # fast path
    torch.manual_seed(5)
    h1 = seq.fit(x, y, epochs=2, verbose=0)
    torch.manual_seed(5)
    h2 = fun.fit(x, y, epochs=2, verbose=0)
    assert h1.history == h2.history
    for a, b in zip(seq.get_weights(), fun.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_sequential_accepts_input_first_and_is_a_linear_graph():
    inp = sd.Input((4,))
    model = sd.Sequential([inp, L.Dense(3, name="h"), L.Dense(1)])
    assert model.input_shape == (None, 4) and model.count_params() == 4 * 3 + 3 + 3 + 1
    assert type(model.module) is SequentialModule
    assert [n.layer.name for n in model._nodes][0] == "h"
    sub = sd.Model(model.input, model.get_layer("h").output)
    x = _rng().normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(sub.predict(x), _dense(model.get_layer("h"), x), rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(ConfigError, match="must have an Input first; got an Input after"):
        sd.Sequential([L.Dense(2), sd.Input((3,))])


def test_sequential_and_model_share_one_trainer():
    """One implementation of compile / fit / evaluate / predict: the trainer's, for both."""
    from statdl.models.trainer import Trainer

    assert issubclass(sd.Sequential, sd.Model) and issubclass(sd.Model, Trainer)
    for name in ("compile", "fit", "evaluate", "predict", "predict_classes", "train_step",
                 "test_step", "to"):
        assert name in vars(Trainer)
        assert getattr(sd.Sequential, name) is getattr(sd.Model, name) is getattr(Trainer, name)


# ----------------------------------------------------------------------------- graphs
def _two_in_two_out():
    a = sd.Input((5,), name="num")
    b = sd.Input((3,), name="ids")
    f = L.Flatten(name="flat")(L.Embedding(10, 2, name="emb")(b))
    shared = L.Dense(4, activation="relu", name="shared")
    h1, h3 = shared(a), shared(L.Dense(5, name="proj")(f))
    c = L.Concatenate(name="cat")([h1, h3])
    o1 = L.Dense(1, name="reg")(c)
    o2 = L.Dense(3, activation="softmax", name="cls")(c)
    return sd.Model([a, b], [o1, o2])


def _numpy_forward(model, xa, xb):
    emb = model.get_layer("emb").get_weights()[0][xb].reshape(len(xb), -1)
    shared = model.get_layer("shared")
    h1 = np.maximum(_dense(shared, xa), 0)
    h3 = np.maximum(_dense(shared, _dense(model.get_layer("proj"), emb)), 0)
    c = np.concatenate([h1, h3], axis=1)
    z = _dense(model.get_layer("cls"), c)
    p = np.exp(z - z.max(1, keepdims=True))
    return _dense(model.get_layer("reg"), c), p / p.sum(1, keepdims=True)


def _data(n=120):
    rng = _rng(2)
    return (rng.normal(size=(n, 5)).astype(np.float32), rng.integers(0, 10, (n, 3)),
            rng.normal(size=n).astype(np.float32), rng.integers(0, 3, n))


def test_input_shape_is_keras_model_property_and_the_given_shape_stays_the_layers():
    """``model.input_shape`` is Keras's: ``(None, *shape)`` (a list for several inputs, dicts
    included), symmetric with ``output_shape``; a layer's ``input_shape`` is still the shape it
    was given, and a Sequential's given shape is what saving and clone_model rebuild from."""
    inp = sd.Input((4,))
    assert sd.Model(inp, L.Dense(3)(inp)).input_shape == (None, 4)
    a, b = sd.Input((3,), name="a"), sd.Input((2, 5), name="b")
    two = sd.Model({"a": a, "b": b}, L.Concatenate()([a, L.Flatten()(b)]))
    assert two.input_shape == [(None, 3), (None, 2, 5)] and two.output_shape == (None, 13)
    seq = sd.Sequential([L.Dense(3, input_shape=(4,)), L.Dense(1)])
    assert seq.input_shape == (None, 4) and seq.layers[0].input_shape == (4,)
    assert L.Dense(2).input_shape is None
    seq.compile(optimizer="sgd", loss="mse")
    assert clone_model(seq).input_shape == (None, 4)
    unbuilt = sd.Sequential([L.Dense(3)])
    for attr in ("input_shape", "output_shape", "input", "output", "inputs", "outputs"):
        with pytest.raises(sd.errors.NotFittedError, match=f"`{attr}`|input shape"):
            getattr(unbuilt, attr)
    unbuilt.build((6,))
    assert unbuilt.input_shape == (None, 6) and unbuilt.output_shape == (None, 3)
    assert unbuilt.input.shape == (6,)  # a symbolic tensor's shape has no batch axis


def test_a_saved_sequential_keeps_its_input_shape(tmp_path):
    seq = sd.Sequential([L.Dense(3), L.Dense(1)], input_shape=(4,))
    seq.save(tmp_path / "m.statdl")
    back = sd.load_model(tmp_path / "m.statdl")
    assert back.input_shape == (None, 4) and back.count_params() == seq.count_params()


def test_input_takes_a_name_and_a_dtype():
    ids = sd.Input((3,), name="ids", dtype="int32")
    assert (ids.shape, ids.dtype, ids.name) == ((3,), "int32", "ids")
    model = sd.Model(ids, L.Dense(1, name="out")(L.Flatten()(L.Embedding(10, 2, name="emb")(ids))))
    assert model.input_names == ["ids"]
    x = np.array([[1, 2, 3], [4, 5, 9]])
    (table,) = model.get_layer("emb").get_weights()
    expected = _dense(model.get_layer("out"), table[x].reshape(2, -1))
    for given in (x, x.astype(np.float32)):       # float ids are read as the ids they hold
        np.testing.assert_allclose(model.predict(given), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="`dtype` of Input must be one of .*got 'str'"):
        sd.Input((3,), dtype="str")


def test_shared_layer_counts_once_and_graph_matches_numpy():
    model = _two_in_two_out()
    assert type(model.module) is GraphModule
    # emb 20, proj 6*5+5, shared 5*4+4 (once), reg 8+1, cls 8*3+3
    assert model.count_params() == 20 + 35 + 24 + 9 + 27
    assert model.input_names == ["num", "ids"] and model.output_names == ["reg", "cls"]
    xa, xb, _, _ = _data(7)
    reg, cls = model.predict([xa, xb])
    ref_reg, ref_cls = _numpy_forward(model, xa, xb)
    np.testing.assert_allclose(reg, ref_reg, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cls, ref_cls, rtol=1e-5, atol=1e-6)
    by_name = model.predict({"ids": xb, "num": xa})
    np.testing.assert_array_equal(by_name[1], cls)
    np.testing.assert_allclose(model.layer_output([xa, xb], "cat")[:, :4],
                               np.maximum(_dense(model.get_layer("shared"), xa), 0), rtol=1e-5,
                               atol=1e-6)


def test_two_outputs_losses_weights_and_keras_history_names():
    model = _two_in_two_out()
    model.compile("adam", {"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  metrics={"cls": ["accuracy"]}, loss_weights={"reg": 2.0, "cls": 0.5})
    xa, xb, y1, y2 = _data()
    logs = model.evaluate([xa, xb], [y1, y2], return_dict=True)
    reg, cls = _numpy_forward(model, xa, xb)
    mse = np.mean((reg[:, 0] - y1) ** 2)
    ce = -np.mean(np.log(cls[np.arange(len(y2)), y2]))
    assert logs["reg_loss"] == pytest.approx(mse, rel=1e-5)
    assert logs["cls_loss"] == pytest.approx(ce, rel=1e-5)
    assert logs["loss"] == pytest.approx(2.0 * mse + 0.5 * ce, rel=1e-5)
    assert logs["cls_accuracy"] == pytest.approx(np.mean(cls.argmax(1) == y2))
    # Keras 3's names: its trackers (the compiled metrics are one, 'compile_metrics')
    assert model.metrics_names == ["loss", "compile_metrics", "reg_loss", "cls_loss"]
    assert model.evaluate([xa, xb], [y1, y2]) == list(logs.values())   # Keras's list
    history = model.fit([xa, xb], {"reg": y1, "cls": y2}, epochs=2, verbose=0,
                        validation_split=0.25)
    assert list(history.history) == ["loss", "reg_loss", "cls_loss", "cls_accuracy",
                                     "val_loss", "val_reg_loss", "val_cls_loss",
                                     "val_cls_accuracy"]
    with pytest.raises(ConfigError, match="class_weight"):
        model.fit([xa, xb], [y1, y2], class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ConfigError, match="one entry per output"):
        model.compile("adam", ["mse"])


def test_evaluate_returns_what_keras_returns():
    x = _rng().normal(size=(20, 3)).astype(np.float32)
    y = x.sum(1)
    model = sd.Sequential([L.Dense(1)], input_shape=(3,))
    model.compile("sgd", "mse")
    err = model.predict(x)[:, 0] - y
    loss = model.evaluate(x, y)
    assert isinstance(loss, float) and loss == pytest.approx(np.mean(err ** 2), rel=1e-5)
    model.compile("sgd", "mse", metrics=["mae", "mse"])
    loss, mae, mse = model.evaluate(x, y)       # the unpacking Keras code does
    assert model.metrics_names == ["loss", "compile_metrics"]     # as Keras 3 names them
    assert (loss, mae, mse) == pytest.approx(
        (np.mean(err ** 2), np.mean(np.abs(err)), np.mean(err ** 2)), rel=1e-5)
    assert model.evaluate(x, y, return_dict=True) == {"loss": loss, "mae": mae, "mse": mse}


def test_held_out_rows_keep_their_sample_weights_but_not_the_class_weights():
    """Keras's rule: ``validation_split`` holds out the last rows with their ``sample_weight``;
    ``class_weight`` weights the training rows only. ``val_loss`` after one epoch is the
    (weighted) mean cross-entropy of the final model's predictions on those rows."""
    rng = _rng(4)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    sw = rng.uniform(0.5, 2.0, 40)
    for weights, val_w in (({"class_weight": {0: 1.0, 1: 5.0}}, np.ones(10)),
                           ({"sample_weight": sw}, sw[30:]),
                           ({"class_weight": {0: 1.0, 1: 5.0}, "sample_weight": sw}, sw[30:])):
        model = sd.Sequential([L.Dense(1, activation="sigmoid")], input_shape=(3,))
        model.compile("sgd", "binary_crossentropy")
        history = model.fit(x, y, epochs=1, batch_size=8, validation_split=0.25, verbose=0,
                            shuffle=False, **weights)
        p = model.predict(x[30:])[:, 0].astype(np.float64)
        bce = -(y[30:] * np.log(p) + (1 - y[30:]) * np.log(1 - p))
        assert history.history["val_loss"][0] == pytest.approx(np.mean(val_w * bce), rel=1e-5)


def test_model_used_as_a_layer_shares_weights():
    inp = sd.Input((6,))
    inner = sd.Model(inp, L.Dense(2, name="code")(inp))
    outer_in = sd.Input((6,))
    outer = sd.Model(outer_in, L.Dense(1, name="head")(inner(outer_in)))
    assert outer.count_params() == inner.count_params() + 3
    outer.compile("sgd", "mse")
    x = _rng().normal(size=(64, 6)).astype(np.float32)
    before = inner.get_weights()[0].copy()
    outer.fit(x, x.sum(1), epochs=1, verbose=0)
    assert not np.allclose(before, inner.get_weights()[0])
    # two forward passes of the same float32 layer (different batch blocking): 1e-7 apart
    np.testing.assert_allclose(outer.layer_output(x, "code"), inner.predict(x), rtol=1e-6,
                               atol=1e-6)
    inner.trainable = False
    assert outer.count_non_trainable_params() == inner.count_params()


def test_freezing_and_dict_inputs_and_outputs():
    a = sd.Input((4,), name="a")
    shared = L.Dense(3, name="shared")
    h = shared(a)
    model = sd.Model({"a": a}, {"first": L.Dense(1, name="o1")(h),
                                "second": L.Dense(2, name="o2")(h)})
    assert model.count_params() == 15 + 4 + 8
    model.freeze(up_to="shared")
    assert model.count_non_trainable_params() == 15
    model.compile("sgd", {"first": "mse", "second": "mse"})
    x = _rng().normal(size=(32, 4)).astype(np.float32)
    before = shared.get_weights()
    model.fit({"a": x}, {"first": x[:, :1], "second": x[:, :2]}, epochs=1, verbose=0)
    for w0, w1 in zip(before, shared.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    out = model.predict({"a": x})
    assert sorted(out) == ["first", "second"] and out["second"].shape == (32, 2)
    model.unfreeze()
    assert model.count_non_trainable_params() == 0


def test_eager_calls_build_and_run_the_layer():
    dense = L.Dense(2)
    x = _rng().normal(size=(3, 4)).astype(np.float32)
    out = dense(x)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, _dense(dense, x), rtol=1e-6, atol=1e-6)
    t = dense(torch.from_numpy(x))
    assert isinstance(t, torch.Tensor) and t.requires_grad


def test_graph_errors_name_the_problem():
    a, b = sd.Input((3,), name="a"), sd.Input((3,), name="b")
    out = L.Concatenate()([a, b])
    with pytest.raises(ConfigError,
                       match="must hold every input the outputs need; got no input 'b'"):
        sd.Model(a, out)
    with pytest.raises(ConfigError, match="mix of symbolic tensors"):
        L.Concatenate()([a, np.ones((2, 3))])
    with pytest.raises(ShapeError, match="must have a shape the layer can take; got input shape"):
        L.Dense(2)(L.Conv2D(2, 3)(a))
    with pytest.raises(ConfigError, match="unique"):
        sd.Model(a, L.Dense(1, name="same")(L.Dense(2, name="same")(a)))


def test_save_and_load_a_graph_model(tmp_path):
    model = _two_in_two_out()
    model.compile("adam", ["mse", "sparse_categorical_crossentropy"],
                  metrics=[[], ["accuracy"]], loss_weights=[1.0, 0.5])
    xa, xb, y1, y2 = _data()
    model.fit([xa, xb], [y1, y2], epochs=1, verbose=0)
    model.save(tmp_path / "m.statdl")
    loaded = sd.load_model(tmp_path / "m.statdl")
    assert isinstance(loaded, sd.Model) and loaded.output_names == ["reg", "cls"]
    for a, b in zip(model.predict([xa, xb]), loaded.predict([xa, xb])):
        np.testing.assert_array_equal(a, b)
    assert loaded.evaluate([xa, xb], [y1, y2]) == pytest.approx(
        model.evaluate([xa, xb], [y1, y2]))
    fresh = _two_in_two_out()
    fresh.load_weights(tmp_path / "m.statdl")
    np.testing.assert_array_equal(fresh.predict([xa, xb])[1], model.predict([xa, xb])[1])
    model.save_weights(tmp_path / "w.statdl")
    with pytest.raises(sd.StatdlError, match="not a weight of the architecture|missing"):
        sd.Sequential([L.Dense(2)], input_shape=(5,)).load_weights(tmp_path / "w.statdl")


def test_fit_callback_factory_hook():
    seen = []

    class Record(sd.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    def factory():
        return [Record()]

    model = sd.Sequential([L.Dense(1)], input_shape=(2,))
    model.compile("sgd", "mse")
    register_fit_callback_factory(factory)
    try:
        model.fit(np.ones((4, 2)), np.ones(4), epochs=2, verbose=0)
    finally:
        unregister_fit_callback_factory(factory)
    model.fit(np.ones((4, 2)), np.ones(4), epochs=1, verbose=0)
    assert seen == [0, 1]


def test_training_package_does_not_import_the_models():
    code = ("import sys, statdl.training.loop, statdl.training.dense_step, "
            "statdl.training.inference; "
            "print([m for m in sys.modules if m in ('statdl.model', 'statdl.models.functional',"
            " 'statdl.models.sequential', 'statdl.models.trainer', 'statdl.tuning')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_a_run_records_every_fit_through_the_hook(tmp_path):
    """Inside ``statdl run`` a fit without callbacks still writes each epoch to the run folder
    (the child process installs the hook; the trainer never reads STATDL_RUN_DIR)."""
    from statdl.tuning import training_run

    script = tmp_path / "train.py"
    script.write_text(
        "import json, numpy as np, statdl as sd\n"
        "inp = sd.Input((3,))\n"
        "model = sd.Model(inp, sd.layers.Dense(1)(inp))\n"
        "model.compile('sgd', 'mse')\n"
        "model.fit(np.ones((8, 3)), np.ones(8), epochs=2, verbose=0)\n"
        "path = sd.tuning.run_dir() / 'statdl.d' / 'metrics.json'\n"
        "assert len(json.loads(path.read_text())['loss']) == 2, path.read_text()\n")
    run = training_run(script, runs_dir=tmp_path / "runs", echo=False)
    assert run["status"] == "completed", run.get("error_message")
    assert run["epochs_completed"] == 2


def test_nested_models_save_and_load(tmp_path):
    """A functional model inside a Sequential, and a Sequential inside a functional model."""
    inp = sd.Input((4,))
    inner = sd.Model(inp, L.Dense(3, activation="tanh", name="inner_dense")(inp), name="inner")
    seq = sd.Sequential([inner, L.Dense(1, name="head")], input_shape=(4,))
    block = sd.Sequential([L.Dense(2, name="block_dense")], name="block")
    a = sd.Input((4,), name="a")
    outer = sd.Model(a, L.Concatenate(name="cat")([block(a), inner(a)]), name="outer")
    x = _rng().normal(size=(6, 4)).astype(np.float32)
    for model in (seq, outer):
        path = tmp_path / f"{model.name}.statdl"
        model.save(path)
        loaded = sd.load_model(path)
        assert type(loaded) is type(model) and loaded.count_params() == model.count_params()
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert outer.count_params() == 4 * 2 + 2 + 4 * 3 + 3



class _Sizes(L.Layer):
    """The identity, recording the rows of each batch it sees."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sizes = []

    def call(self, inputs):
        self.sizes.append(inputs.shape[0])
        return inputs


def _recording_model():
    sizes = _Sizes()
    inp = sd.Input((3,))
    return sd.Model(inp, L.Dense(1)(sizes(inp))), sizes


def test_predict_runs_in_batches_of_the_size_asked():
    model, sizes = _recording_model()
    model.predict(_rng().normal(size=(10, 3)).astype(np.float32), batch_size=4)
    assert sizes.sizes[-3:] == [4, 4, 2]
    model.compile("sgd", "mse")  # evaluate too, and the automatic size without batch_size
    model.evaluate(_rng().normal(size=(10, 3)).astype(np.float32), np.zeros(10), batch_size=3)
    assert sizes.sizes[-4:] == [3, 3, 3, 1]
    model.predict(_rng().normal(size=(10, 3)).astype(np.float32))
    assert sizes.sizes[-1] == 10


def test_history_and_optimizer_are_the_models():
    model, _ = _recording_model()
    x = _rng().normal(size=(10, 3)).astype(np.float32)
    assert model.optimizer is None and model.history is None
    model.compile(sd.optimizers.SGD(0.01), "mse")
    assert isinstance(model.optimizer, sd.optimizers.SGD)
    assert model.optimizer.learning_rate == 0.01
    history = model.fit(x, x.sum(1), epochs=1, batch_size=5, verbose=0)
    assert model.history is history and len(history.history["loss"]) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_graph_model_moves_to_the_gpu_and_back():
    xa, xb, y1, y2 = _data()
    model = _two_in_two_out()
    cpu_pred = model.predict([xa, xb])
    model.compile("sgd", loss=["mse", "sparse_categorical_crossentropy"], device="cuda")
    for gpu, cpu in zip(model.predict([xa, xb]), cpu_pred):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-5)
    model.fit([xa, xb], [y1, y2], epochs=1, verbose=0)
    trained = model.predict([xa, xb])
    y_pred = model([torch.from_numpy(xa).cuda(), torch.from_numpy(xb).cuda()])
    assert float(model.compute_loss(y=[torch.from_numpy(y1).cuda(), torch.from_numpy(y2).cuda()],
                                    y_pred=y_pred).detach()) > 0
    model.to("cpu")
    for back, gpu in zip(model.predict([xa, xb]), trained):
        np.testing.assert_allclose(back, gpu, rtol=1e-4, atol=1e-5)
