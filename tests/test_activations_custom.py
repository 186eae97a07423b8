"""A user's activation function is used as given, even when its name is a built-in's."""

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import layers


def relu(x):  # deliberately named like the built-in: must not be replaced by it
    return torch.where(x > 0, x, 0.5 * x)


def _reference(x, w, b):
    z = x @ w + b
    return np.where(z > 0, z, 0.5 * z)


def test_custom_function_named_relu_is_used_in_dense_predict():
    sd.set_seed(1)
    model = sd.Sequential([layers.Dense(5, activation=relu)], input_shape=(3,))
    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    m = model.layers[0].module
    w, b = m.kernel.detach().numpy(), m.bias.detach().numpy()
    expected = _reference(x, w, b)
    assert (expected < 0).any()  # the built-in relu would give no negative values
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)


def test_custom_function_named_relu_trains_with_its_own_gradient():
    sd.set_seed(2)
    model = sd.Sequential([layers.Dense(4, activation=relu), layers.Dense(1)],
                          input_shape=(3,))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = rng.normal(size=(16, 1)).astype(np.float32)
    first, last = (layer.module for layer in model.layers)
    w1, b1, w2, b2 = (t.detach().clone().requires_grad_(True)
                      for t in (first.kernel, first.bias, last.kernel, last.bias))
    # one plain SGD step by autograd, the independent reference
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss = ((relu(xt @ w1 + b1) @ w2 + b2 - yt) ** 2).mean()
    loss.backward()
    model.compile(optimizer=sd.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(first.kernel.detach().numpy(),
                               (w1 - 0.1 * w1.grad).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_activation_layer_and_conv_keep_the_function():
    x = np.random.default_rng(3).normal(size=(2, 6)).astype(np.float32)
    model = sd.Sequential([layers.Activation(relu)], input_shape=(6,))
    np.testing.assert_allclose(model.predict(x), np.where(x > 0, x, 0.5 * x), rtol=1e-6)
    conv = sd.Sequential([layers.Conv2D(2, 3, activation=relu)], input_shape=(5, 5, 1))
    img = np.random.default_rng(4).normal(size=(3, 5, 5, 1)).astype(np.float32)
    linear = sd.Sequential([layers.Conv2D(2, 3)], input_shape=(5, 5, 1))
    linear.layers[0].module.load_state_dict(conv.layers[0].module.state_dict())
    z = linear.predict(img)
    np.testing.assert_allclose(conv.predict(img), np.where(z > 0, z, 0.5 * z), rtol=1e-5,
                               atol=1e-6)


def test_builtin_given_as_function_is_the_builtin_and_saves_by_name(tmp_path):
    model = sd.Sequential([layers.Dense(2, activation=torch.tanh)], input_shape=(3,))
    assert model.layers[0].activation == "tanh"
    model.save(tmp_path / "m.statdl")
    assert sd.load_model(tmp_path / "m.statdl").layers[0].activation == "tanh"


def test_saving_a_custom_function_is_refused_naming_the_place(tmp_path):
    model = sd.Sequential([layers.Dense(2, activation=relu)], input_shape=(3,))
    with pytest.raises(TypeError, match="activation"):
        model.save(tmp_path / "m.statdl")
    assert not (tmp_path / "m.statdl").exists()
