"""Custom layers written the Keras way (``build`` / ``add_weight`` / ``call`` / ``add_loss``).

The layers are ported from Keras's guide "Making new layers and models via subclassing"
(keras.io/guides/making_new_layers_and_models_via_subclassing/): Linear, ComputeSum,
MLPBlock, ActivityRegularizationLayer, OuterLayer. Each is checked against the same layer
written for real Keras 3 (JAX backend) with the same weights: forward outputs, weight counts
and layouts, and one epoch of training including the ``add_loss`` term and a weight
regulariser. The Keras comparisons import Keras and JAX (about a minute on two cores): slow
tier; the fast tier checks the same behaviour against sums written out by hand.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import statdl as sd
from statdl.errors import ConfigError, ShapeError, StatdlError
from statdl.layers import LAYER_CLASSES, Dense, Layer, register_layer

os.environ.setdefault("KERAS_BACKEND", "jax")

def with_keras(test):
    """Slow tier (imports Keras and JAX), Keras's NumPy-2 deprecation warnings ignored."""
    return pytest.mark.slow(pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*")(test))


# ------------------------------------------------------------------ the guide's layers, statdl
class Linear(Layer):
    """The guide's ``Linear``: weights made in ``build`` from the input's last axis."""

    def __init__(self, units=32, kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.kernel_regularizer = kernel_regularizer

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True,
                                 regularizer=self.kernel_regularizer, name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                 trainable=True, name="b")

    def call(self, inputs):
        return torch.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {"units": self.units}


class EagerLinear(Layer):
    """The guide's first ``Linear``: weights made in ``__init__`` (input size known)."""

    def __init__(self, units=32, input_dim=32, **kwargs):
        super().__init__(**kwargs)
        self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal")
        self.b = self.add_weight(shape=(units,), initializer="zeros")

    def call(self, inputs):
        return torch.matmul(inputs, self.w) + self.b


class ComputeSum(Layer):
    """The guide's non-trainable weight, updated in ``call``."""

    def __init__(self, input_dim, **kwargs):
        super().__init__(**kwargs)
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs):
        self.total.assign_add(torch.sum(inputs, dim=0))
        return self.total


class MLPBlock(Layer):
    """The guide's block of three ``Linear`` layers held as attributes."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.linear_1 = Linear(32)
        self.linear_2 = Linear(32)
        self.linear_3 = Linear(1)

    def call(self, inputs):
        x = torch.relu(self.linear_1(inputs))
        x = torch.relu(self.linear_2(x))
        return self.linear_3(x)


class ActivityRegularizationLayer(Layer):
    """The guide's ``add_loss`` example."""

    def __init__(self, rate=1e-2, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * torch.mean(inputs))
        return inputs

    def get_config(self):
        return {"rate": self.rate}


class OuterLayer(Layer):
    """The guide's layer holding an ``add_loss`` layer: the inner loss reaches training."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.activity_reg = ActivityRegularizationLayer(1e-2)

    def call(self, inputs):
        return self.activity_reg(inputs)


# ------------------------------------------------------------------ the same in real Keras
def _keras_layers():
    keras = pytest.importorskip("keras")
    ops = keras.ops

    class KLinear(keras.layers.Layer):
        def __init__(self, units=32, kernel_regularizer=None):
            super().__init__()
            self.units = units
            self.kernel_regularizer = kernel_regularizer

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True,
                                     regularizer=self.kernel_regularizer)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                     trainable=True)

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

    class KMLPBlock(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.linear_1 = KLinear(32)
            self.linear_2 = KLinear(32)
            self.linear_3 = KLinear(1)

        def call(self, inputs):
            x = keras.activations.relu(self.linear_1(inputs))
            x = keras.activations.relu(self.linear_2(x))
            return self.linear_3(x)

    class KActivityRegularizationLayer(keras.layers.Layer):
        def __init__(self, rate=1e-2):
            super().__init__()
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * ops.mean(inputs))
            return inputs

    return keras, KLinear, KMLPBlock, KActivityRegularizationLayer


def _x(n=6, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


# ------------------------------------------------------------------ forward parity
@with_keras
def test_linear_matches_keras_with_copied_weights():
    keras, KLinear, _, _ = _keras_layers()
    x = _x()
    theirs = KLinear(3)
    expected = np.asarray(theirs(x))
    ours = Linear(3)
    assert ours.output_shape((4,)) == (3,)
    ours.set_weights(theirs.get_weights())
    got = ours(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert ours.count_params() == theirs.count_params() == 15
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    # in a model, through predict
    model = sd.Sequential([ours], input_shape=(4,))
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6, atol=1e-6)


@with_keras
def test_block_of_held_layers_matches_keras():
    keras, _, KMLPBlock, _ = _keras_layers()
    x = _x(5, 64)
    theirs = KMLPBlock()
    expected = np.asarray(theirs(x))
    ours = MLPBlock()
    model = sd.Sequential([ours], input_shape=(64,))
    assert len(ours.weights) == len(theirs.weights) == 6
    assert model.count_params() == theirs.count_params() == 64 * 32 + 32 + 32 * 32 + 32 + 33
    model.set_weights(theirs.get_weights())
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-5)
    # every held layer's weights belong to the module, so fit trains them all
    trainable = {id(p) for p in model.module.parameters() if p.requires_grad}
    assert all(id(w) in trainable for w in ours.weights)


def test_weights_made_in_init_count_before_building():
    layer = EagerLinear(units=4, input_dim=2)
    assert layer.count_params() == 12
    assert [tuple(w.shape) for w in layer.weights] == [(2, 4), (4,)]
    x = torch.ones(3, 2)
    expected = x.numpy() @ layer.get_weights()[0] + layer.get_weights()[1]
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-6)


def test_non_trainable_weight_updated_in_call_as_in_the_guide():
    my_sum = ComputeSum(2)
    x = torch.ones(2, 2)
    my_sum(x)
    y = my_sum(x)
    assert y.detach().numpy().tolist() == [4.0, 4.0]  # the guide's printed result
    assert len(my_sum.weights) == 1
    assert my_sum.trainable_weights == [] and len(my_sum.non_trainable_weights) == 1
    assert my_sum.count_non_trainable_params() == 2
    my_sum.trainable = True  # unfreezing the layer never makes a trainable=False weight train
    assert not my_sum.total.requires_grad


def test_unknown_dimensions_follow_the_input():
    class Doubler(Layer):
        def call(self, inputs):
            return torch.cat([inputs, inputs], dim=1)

    layer = Doubler()
    assert layer.output_shape((None, 3)) == (None, 3)
    assert Doubler().output_shape((5, 3)) == (10, 3)


def test_keras_compute_output_shape_includes_the_batch_axis():
    calls = []

    class Head(Layer):
        def compute_output_shape(self, input_shape):
            calls.append(input_shape)
            return (input_shape[0], 2)

        def call(self, inputs):
            return inputs[:, :2]

    layer = Head()
    assert layer.output_shape((7,)) == (2,)
    assert calls == [(None, 7)]
    assert not layer.built  # known without running call


def test_several_inputs_as_a_list():
    class Sampling(Layer):  # the Keras VAE example's sampling layer
        def call(self, inputs):
            z_mean, z_log_var = inputs
            return z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)

    layer = Sampling()
    assert layer.output_shape([(2,), (2,)]) == (2,)
    mean, log_var = torch.full((4, 2), 3.0), torch.full((4, 2), -200.0)  # sd e^-100: none
    np.testing.assert_allclose(layer([mean, log_var]).numpy(), 3.0)


def test_keras_build_idioms_and_inherited_builds():
    """``super().build(input_shape)`` and ``self.built = True`` in ``build``, and a subclass
    whose ``build`` extends its parent's through ``super().build``."""
    class Base(Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 2), initializer="ones")
            super().build(input_shape)
            self.built = True

        def call(self, inputs):
            return inputs @ self.w

    class Shifted(Base):
        def build(self, input_shape):
            super().build(input_shape)
            self.shift = self.add_weight(shape=(2,), initializer="ones")

        def call(self, inputs):
            return super().call(inputs) + self.shift

    layer = Shifted()
    assert layer.count_params((3,)) == 8 and layer.built
    np.testing.assert_allclose(layer(torch.ones(1, 3)).detach().numpy(), [[4.0, 4.0]])


def test_training_flag_reaches_call_and_held_layers():
    class Noisy(Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dropout = sd.layers.Dropout(0.5)

        def call(self, inputs, training=None):
            return self.dropout(inputs) * (10.0 if training else 1.0)

    layer = Noisy()
    model = sd.Sequential([layer], input_shape=(1000,))
    x = np.ones((2, 1000), dtype=np.float32)
    np.testing.assert_array_equal(model.predict(x), x)  # inference: no dropout, training False
    module = layer.module.train()
    out = module(torch.from_numpy(x)).numpy()
    assert set(np.unique(out)) == {0.0, 20.0}  # dropout scaled by 2, training True
    np.testing.assert_array_equal(layer(torch.from_numpy(x)).numpy(), x)  # eager: inference
    assert set(np.unique(layer(torch.from_numpy(x), training=True).numpy())) == {0.0, 20.0}


# ------------------------------------------------------------------ training
def test_one_sgd_step_equals_the_gradient_by_hand():
    x, y = _x(8, 3, seed=1), _x(8, 2, seed=2)
    layer = Linear(2)
    model = sd.Sequential([layer], input_shape=(3,))
    w0, b0 = (w.astype(np.float64) for w in layer.get_weights())
    model.compile(optimizer=sd.optimizers.SGD(learning_rate=0.1), loss="mse")
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    residual = x @ w0 + b0 - y
    expected_loss = float(np.mean(residual ** 2))
    dpred = 2 * residual / residual.size
    w1, b1 = layer.get_weights()
    np.testing.assert_allclose(history.history["loss"][0], expected_loss, rtol=1e-5)
    np.testing.assert_allclose(w1, w0 - 0.1 * x.T @ dpred, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b0 - 0.1 * dpred.sum(axis=0), rtol=1e-5, atol=1e-6)


@with_keras
@pytest.mark.parametrize("nested", [False, True])
def test_add_loss_and_weight_regularizer_train_as_in_keras(nested):
    """One epoch of SGD (one full batch) with an ``add_loss`` layer and an L2 penalty made by
    ``add_weight(regularizer=...)``: the loss Keras reports and the weights it reaches."""
    keras, KLinear, _, KActivityReg = _keras_layers()
    x, y = _x(16, 4, seed=3), _x(16, 1, seed=4)
    kmodel = keras.Sequential([keras.Input((4,)),
                               KLinear(3, kernel_regularizer=keras.regularizers.L2(0.05)),
                               KActivityReg(1e-2), keras.layers.Dense(1)])
    reg = OuterLayer() if nested else ActivityRegularizationLayer(1e-2)
    model = sd.Sequential([Linear(3, kernel_regularizer=sd.regularizers.L2(0.05)), reg,
                           Dense(1)], input_shape=(4,))
    model.set_weights(kmodel.get_weights())
    kmodel.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.compile(optimizer=sd.optimizers.SGD(learning_rate=0.1), loss="mse")
    theirs = kmodel.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    ours = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    mse_only = float(np.mean((kmodel.predict(x, verbose=0) - y) ** 2))
    assert abs(theirs.history["loss"][0] - mse_only) > 1e-3  # the extra terms do count
    np.testing.assert_allclose(ours.history["loss"][0], theirs.history["loss"][0], rtol=1e-5)
    for got, expected in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("nested", [False, True])
def test_add_loss_and_weight_regularizer_enter_the_training_loss(nested):
    """The loss of the first epoch (one full batch, so measured before the update) is the mean
    squared error plus the ``add_loss`` term plus the L2 penalty of ``add_weight``."""
    x, y = _x(16, 4, seed=3), _x(16, 1, seed=4)
    first = Linear(3, kernel_regularizer=sd.regularizers.L2(0.05))
    reg = OuterLayer() if nested else ActivityRegularizationLayer(1e-2)
    model = sd.Sequential([first, reg, Dense(1)], input_shape=(4,))
    w, b, kernel, bias = (v.astype(np.float64) for v in model.get_weights())
    hidden = x @ w + b
    expected = (np.mean((hidden @ kernel + bias - y) ** 2) + 1e-2 * hidden.mean()
                + 0.05 * np.sum(w ** 2))
    model.compile(optimizer=sd.optimizers.SGD(learning_rate=0.1), loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)
    assert reg.losses == []  # the step used the terms and cleared them


def test_add_loss_terms_are_dropped_outside_training():
    layer = ActivityRegularizationLayer(1.0)
    module = layer.build((3,))
    module.eval()
    layer(torch.ones(2, 3))
    with torch.no_grad():
        module.train()(torch.ones(2, 3))
    assert layer.losses == []
    module.train()(torch.ones(2, 3))
    assert [float(t) for t in layer.losses] == [1.0]


def test_frozen_custom_layer_keeps_its_weights():
    x, y = _x(8, 3), _x(8, 1)
    first = Linear(2)
    model = sd.Sequential([first, Dense(1)], input_shape=(3,))
    first.trainable = False
    assert first.trainable_weights == [] and len(first.non_trainable_weights) == 2
    before = first.get_weights()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(before, first.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_replaced_by_a_conversion_stay_the_layers_weights():
    """Moving a module may replace its parameters by new objects (torch does so across
    devices unless it can swap the data in place); the layer's attributes follow."""
    layer = SavedScale(2)
    module = layer.build((3,))
    previous = torch.__future__.get_overwrite_module_params_on_conversion()
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    try:
        old = layer.kernel
        module.to(torch.float64)
    finally:
        torch.__future__.set_overwrite_module_params_on_conversion(previous)
    assert layer.kernel is not old and layer.kernel is module.kernel
    assert layer.kernel.dtype == torch.float64 and layer.count is module.count
    assert not layer.count.requires_grad and layer.count.assign(2.0).item() == 2.0
    out = layer(torch.ones(1, 3, dtype=torch.float64))
    np.testing.assert_allclose(out.detach().numpy(), layer.kernel.numpy().sum(0)[None] + 2.0)


# ------------------------------------------------------------------ saving
class SavedScale(Layer):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     name="count")

    def call(self, inputs):
        return torch.matmul(inputs, self.kernel) + self.count

    def get_config(self):
        return {"units": self.units}


@pytest.fixture
def registered(monkeypatch):
    """``register_layer`` for the length of one test (the registry is global)."""
    def register(cls):
        monkeypatch.setitem(LAYER_CLASSES, cls.__name__, cls)
        assert register_layer(cls) is cls

    return register


def test_registered_custom_layer_saves_and_loads(tmp_path, registered):
    registered(SavedScale)
    x = _x(5, 3)
    layer = SavedScale(4)
    model = sd.Sequential([layer, Dense(1)], input_shape=(3,))
    layer.count.assign(2.5)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    path = tmp_path / "m.statdl"
    model.save(path)
    loaded = sd.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert float(loaded.get_layer(0).count) == 2.5
    assert loaded.count_params() == model.count_params() == 3 * 4 + 1 + 5


@pytest.mark.skipif(not hasattr(sd, "Model"), reason="the functional API (statdl.Model)")
def test_custom_layer_in_a_functional_graph(tmp_path, registered):
    registered(Linear)
    inputs = sd.Input((4,))
    hidden = Linear(3)(inputs)
    model = sd.Model(inputs, Dense(1)(hidden))
    assert model.count_params() == 4 * 3 + 3 + 3 + 1
    x = _x(5, 4)
    w, b, kernel, bias = model.get_weights()
    np.testing.assert_allclose(model.predict(x), (x @ w + b) @ kernel + bias, rtol=1e-5,
                               atol=1e-6)
    path = tmp_path / "graph.statdl"
    model.save(path)
    np.testing.assert_array_equal(sd.load_model(path).predict(x), model.predict(x))


def test_unregistered_custom_layer_cannot_be_loaded(tmp_path):
    class Unregistered(Layer):
        def call(self, inputs):
            return inputs * 2

    model = sd.Sequential([Unregistered(), Dense(1)], input_shape=(3,))
    path = tmp_path / "m.statdl"
    model.save(path)
    with pytest.raises(StatdlError, match="register_layer"):
        sd.load_model(path)


# ------------------------------------------------------------------ mistakes made loud
def test_class_computing_nothing_is_refused():
    with pytest.raises(TypeError, match="neither call\\(\\) nor make_module"):
        class OnlyBuild(Layer):  # noqa: F841
            def build(self, input_shape):
                self.w = self.add_weight(shape=(input_shape[-1],))


def test_call_on_a_builtin_layer_is_refused():
    with pytest.raises(TypeError, match="inherits make_module\\(\\) from Dense"):
        class TwiceDense(Dense):  # noqa: F841
            def call(self, inputs):
                return 2 * inputs


def test_add_weight_before_init_is_explained():
    class Early(Layer):
        def __init__(self):
            self.w = self.add_weight(shape=(2,))
            super().__init__()

        def call(self, inputs):
            return inputs

    with pytest.raises(TypeError, match="super\\(\\).__init__"):
        Early()


def test_bad_add_weight_arguments():
    layer = ActivityRegularizationLayer()
    with pytest.raises(ConfigError, match="`constraint` of add_weight"):
        layer.add_weight(shape=(2,), constraint="non_neg")
    with pytest.raises(ConfigError, match="'float32' for a trainable weight"):
        layer.add_weight(shape=(2,), dtype="int64")
    with pytest.raises(ConfigError, match="name as a keyword"):
        layer.add_weight("kernel")
    with pytest.raises(ConfigError, match="initializer"):
        layer.add_weight(shape=(2,), initializer="bogus")
    assert layer.add_weight(shape=(2,), dtype="int64", trainable=False).dtype == torch.int64


def test_add_loss_needs_a_tensor():
    class Bad(Layer):
        def call(self, inputs):
            self.add_loss(0.5)
            return inputs

    with pytest.raises(ShapeError, match="TypeError: `loss` of add_loss"):
        Bad().build((2,))


def test_call_that_cannot_run_on_zeros_says_what_to_define():
    class NeedsPositive(Layer):
        def call(self, inputs):
            if not bool((inputs > 0).all()):
                raise ValueError("inputs must be positive")
            return torch.log(inputs)

    with pytest.raises(ShapeError, match="Define compute_output_shape"):
        NeedsPositive().output_shape((3,))
