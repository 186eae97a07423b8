"""Models subclassed the Keras way: ``class MyModel(statdl.Model)`` with layers assigned as
attributes in ``__init__`` and the forward pass in ``call(inputs, training=None)``.

Ports of the Keras documentation: the ``keras.Model`` API page's ``MyModel`` (Dense, Dropout,
Dense) and the end-to-end example of the guide "Making new layers and models via
subclassing" (a ``VariationalAutoEncoder`` model made of an ``Encoder`` and a ``Decoder``
layer, the KL term added with ``add_loss``, trained with ``compile(optimizer, loss=mse)`` and
``fit(x, x)``). Reference values come from numpy / plain torch computations with the same
weights (and the same noise), and from Keras's own parameter counts.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import layers as L
from statdl.errors import ConfigError, NotFittedError


class MyModel(sd.Model):
    def __init__(self, dropout=0.5):
        super().__init__()
        self.dense1 = L.Dense(64, activation="relu")
        self.dropout = L.Dropout(dropout)
        self.dense2 = L.Dense(10, activation="softmax")

    def call(self, inputs, training=False):
        x = self.dense1(inputs)
        x = self.dropout(x, training=training)
        return self.dense2(x)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 20)).astype(np.float32), rng.integers(0, 10, n)


def test_layers_are_tracked_and_the_model_builds_from_the_data():
    model = MyModel()
    assert model.name.startswith("my_model")
    assert [type(x).__name__ for x in model.layers] == ["Dense", "Dropout", "Dense"]
    with pytest.raises(NotFittedError):
        model.count_params()
    x, y = _data()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss"]
    assert model.count_params() == 20 * 64 + 64 + 64 * 10 + 10     # 1,994 as in Keras
    assert [tuple(w.shape) for w in model.trainable_weights] == [(20, 64), (64,), (64, 10),
                                                                  (10,)]
    text = model.summary(print_fn=None)
    rows = {line.split()[0]: line.split()[2:] for line in text.splitlines()
            if "(Dense)" in line or "(Dropout)" in line}
    assert rows == {model.dense1.name: ["(None,", "64)", "1344"],
                    model.dropout.name: ["(None,", "64)", "0"],
                    model.dense2.name: ["(None,", "10)", "650"]}
    assert "Total params: 1,994" in text
    # predict: no dropout, the numpy forward pass with the trained weights
    w1, b1 = model.dense1.get_weights()
    w2, b2 = model.dense2.get_weights()
    expected = _softmax(np.maximum(x @ w1 + b1, 0) @ w2 + b2)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)
    loss, accuracy = model.evaluate(x, y)
    assert loss == pytest.approx(-np.log(expected[np.arange(len(y)), y]).mean(), rel=1e-5)
    assert accuracy == pytest.approx((expected.argmax(1) == y).mean())
    with pytest.raises(ConfigError, match="layer_output needs a graph|`layer_output`"):
        model.layer_output(x, "dense")


def test_one_fit_step_equals_a_plain_torch_step():
    x, y = _data(16, seed=1)
    model = MyModel(dropout=0.0)
    model.build((20,))
    ref = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    (w1, b1), (w2, b2) = model.dense1.get_weights(), model.dense2.get_weights()
    with torch.no_grad():
        for lin, w, b in ((ref[0], w1, b1), (ref[2], w2, b2)):
            lin.weight.copy_(torch.from_numpy(w.T))
            lin.bias.copy_(torch.from_numpy(b))
    loss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()
    with torch.no_grad():
        for p in ref.parameters():
            p -= 0.1 * p.grad
    model.compile(optimizer=sd.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert history.history["loss"][0] == pytest.approx(float(loss.detach()), rel=1e-5)
    np.testing.assert_allclose(model.dense1.get_weights()[0], ref[0].weight.detach().numpy().T,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.dense2.get_weights()[1], ref[2].bias.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_weights_save_and_load_into_a_new_instance_but_the_model_file_is_refused(tmp_path):
    x, y = _data()
    model = MyModel()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    model.save_weights(tmp_path / "w.statdl")
    again = MyModel()                     # layers with other automatic names: dense_7 ...
    with pytest.raises(NotFittedError, match="build"):
        again.load_weights(tmp_path / "w.statdl")
    again.build((20,))
    again.load_weights(tmp_path / "w.statdl")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    with pytest.raises(ConfigError, match="save_weights"):
        model.save(tmp_path / "m.statdl")


def test_an_embedding_first_subclass_gets_token_ids_and_freezing_applies():
    class Bag(sd.Model):
        def __init__(self):
            super().__init__()
            self.embed = L.Embedding(50, 4)
            self.out = L.Dense(1, activation="sigmoid")

        def call(self, inputs):
            return self.out(self.embed(inputs).mean(dim=1))

    ids = np.random.default_rng(0).integers(0, 50, size=(32, 6))
    labels = (ids[:, 0] > 25).astype(np.float32)
    model = Bag()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(ids, labels, epochs=1, verbose=0)
    table = model.embed.get_weights()[0]
    w, b = model.out.get_weights()
    expected = 1 / (1 + np.exp(-(table[ids].mean(axis=1) @ w + b)))
    np.testing.assert_allclose(model.predict(ids), expected, rtol=1e-5, atol=1e-6)
    model.embed.trainable = False
    model.fit(ids, labels, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.embed.get_weights()[0], table)
    assert model.count_non_trainable_params() == 200


# ----------------------------------------------------------------------------- the guide's VAE
class Sampling(L.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = torch.randn_like(z_mean)
        return z_mean + torch.exp(0.5 * z_log_var) * epsilon


class Encoder(L.Layer):
    """Maps MNIST digits to a triplet (z_mean, z_log_var, z)."""

    def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = L.Dense(intermediate_dim, activation="relu")
        self.dense_mean = L.Dense(latent_dim)
        self.dense_log_var = L.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        z = self.sampling((z_mean, z_log_var))
        return z_mean, z_log_var, z


class Decoder(L.Layer):
    """Converts z, the encoded digit vector, back into a readable digit."""

    def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = L.Dense(intermediate_dim, activation="relu")
        self.dense_output = L.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        x = self.dense_proj(inputs)
        return self.dense_output(x)


class VariationalAutoEncoder(sd.Model):
    """Combines the encoder and decoder into an end-to-end model for training."""

    def __init__(self, original_dim, intermediate_dim=64, latent_dim=32, name="autoencoder",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        # Add KL divergence regularization loss.
        kl_loss = -0.5 * torch.mean(z_log_var - z_mean.square() - z_log_var.exp() + 1)
        self.add_loss(kl_loss)
        return reconstructed


@pytest.fixture(scope="module")
def x_train():
    (x, _), _ = sd.datasets.mnist_sample()
    return x[:256].reshape(256, 784).astype("float32") / 255


def _plain_torch_vae(vae):
    """The same network as plain torch tensors (copies of the weights, Keras layout)."""
    enc, dec = vae.encoder, vae.decoder
    weights = [torch.tensor(a, dtype=torch.float64, requires_grad=True)
               for layer in (enc.dense_proj, enc.dense_mean, enc.dense_log_var,
                             dec.dense_proj, dec.dense_output) for a in layer.get_weights()]

    def loss(x, epsilon):
        w1, b1, wm, bm, wv, bv, w2, b2, w3, b3 = weights
        h = torch.relu(x @ w1 + b1)
        z_mean, z_log_var = h @ wm + bm, h @ wv + bv
        z = z_mean + torch.exp(0.5 * z_log_var) * epsilon
        out = torch.sigmoid(torch.relu(z @ w2 + b2) @ w3 + b3)
        kl = -0.5 * torch.mean(z_log_var - z_mean ** 2 - torch.exp(z_log_var) + 1)
        return ((out - x) ** 2).mean() + kl

    return weights, loss


def test_guide_vae_one_step_equals_plain_torch_with_the_kl_term(x_train):
    sd.set_seed(0)
    vae = VariationalAutoEncoder(784, 64, 32)
    vae.build((784,))
    assert vae.count_params() == 784 * 64 + 64 + 2 * (64 * 32 + 32) + 32 * 64 + 64 \
        + 64 * 784 + 784                          # 107,632 weights: Keras's count
    x = x_train[:64]
    torch.manual_seed(5)
    epsilon = torch.randn(64, 32).double()           # as Sampling draws it, in float32
    weights, loss_fn = _plain_torch_vae(vae)
    loss = loss_fn(torch.from_numpy(x).double(), epsilon)
    grads = torch.autograd.grad(loss, weights)
    expected = [(w - 0.5 * g).detach().numpy() for w, g in zip(weights, grads)]
    vae.compile(sd.optimizers.SGD(learning_rate=0.5), loss="mse")
    torch.manual_seed(5)                  # Sampling's randn_like draws the same epsilon
    history = vae.fit(x, x, epochs=1, batch_size=64, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(float(loss.detach()), rel=1e-5)
    got = [a for layer in (vae.encoder.dense_proj, vae.encoder.dense_mean,
                           vae.encoder.dense_log_var, vae.decoder.dense_proj,
                           vae.decoder.dense_output) for a in layer.get_weights()]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6)


def test_guide_vae_trains_as_the_guide_runs_it(x_train):
    sd.set_seed(0)
    vae = VariationalAutoEncoder(784, 64, 32)
    optimizer = sd.optimizers.Adam(learning_rate=1e-3)
    vae.compile(optimizer, loss="mse")
    history = vae.fit(x_train, x_train, epochs=3, batch_size=64, verbose=0)
    loss = history.history["loss"]
    assert loss[0] > loss[1] > loss[2]
    assert vae.predict(x_train[:4]).shape == (4, 784)
    assert [x.name for x in vae.layers] == ["encoder", "decoder"]


def test_guide_vae_evaluate_includes_the_kl_term_as_keras_does(x_train):
    sd.set_seed(2)
    vae = VariationalAutoEncoder(784, 64, 32)
    vae.compile(sd.optimizers.Adam(), loss="mse")
    x = x_train[:64]
    vae.build((784,))
    torch.manual_seed(9)
    epsilon = torch.randn(64, 32).double()
    _, loss_fn = _plain_torch_vae(vae)
    expected = float(loss_fn(torch.from_numpy(x).double(), epsilon).detach())
    torch.manual_seed(9)
    assert vae.evaluate(x, x, batch_size=64) == pytest.approx(expected, rel=1e-5)


def test_a_registered_subclassed_model_inside_a_sequential_saves_and_loads(tmp_path,
                                                                          monkeypatch):
    class Doubled(sd.Model):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense = L.Dense(units, activation="tanh")

        def call(self, inputs):
            return 2 * self.dense(inputs)

        def get_config(self):
            return {"units": self.units}

    outer = sd.Sequential([Doubled(3, name="doubled"), L.Dense(1)], input_shape=(5,))
    x = np.random.default_rng(5).normal(size=(4, 5)).astype(np.float32)
    w, b = outer.get_layer("doubled").dense.get_weights()
    w2, b2 = outer.layers[1].get_weights()
    np.testing.assert_allclose(outer.predict(x), 2 * np.tanh(x @ w + b) @ w2 + b2, rtol=1e-5,
                               atol=1e-6)
    outer.save(tmp_path / "outer.statdl")
    # registered as any custom layer (the class, not code, is found), for this test only
    monkeypatch.setitem(L.LAYER_CLASSES, "Doubled", Doubled)
    again = sd.load_model(tmp_path / "outer.statdl")
    np.testing.assert_array_equal(again.predict(x), outer.predict(x))
