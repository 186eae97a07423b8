"""Custom training the Keras way: a ``Model`` subclass whose ``train_step`` computes its
losses, gets gradients from torch, updates the weights with
``self.optimizer.apply_gradients(zip(grads, self.trainable_weights))`` and logs
``statdl.metrics.Mean`` trackers listed by a ``metrics`` property.

The model is the keras-io example "Variational AutoEncoder" (examples/generative/vae.py):
same encoder (two strided Conv2D, Dense(16), ``z_mean`` / ``z_log_var`` Dense(2), a Sampling
layer), same decoder (Dense(7*7*64), Reshape, three Conv2DTranspose), same losses (summed
binary cross-entropy per image, KL), same trackers, on a slice of MNIST. Reference values
come from definitions: Keras's Mean formula, Keras's Adam update written out in numpy on
gradients from ``torch.autograd.grad``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import layers as L
from statdl.errors import ConfigError, ShapeError


# ----------------------------------------------------------------------------- the example
class Sampling(L.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = torch.randn_like(z_mean)
        return z_mean + torch.exp(0.5 * z_log_var) * epsilon


def build_encoder(latent_dim=2):
    encoder_inputs = sd.Input(shape=(28, 28, 1))
    x = L.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = L.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = L.Flatten()(x)
    x = L.Dense(16, activation="relu")(x)
    z_mean = L.Dense(latent_dim, name="z_mean")(x)
    z_log_var = L.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    return sd.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")


def build_decoder(latent_dim=2):
    latent_inputs = sd.Input(shape=(latent_dim,))
    x = L.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = L.Reshape((7, 7, 64))(x)
    x = L.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = L.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = L.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    return sd.Model(latent_inputs, decoder_outputs, name="decoder")


def binary_crossentropy(target, output, eps=1e-7):
    """Keras's ``keras.losses.binary_crossentropy``: clipped, averaged over the last axis."""
    output = output.clamp(eps, 1 - eps)
    return -(target * output.log() + (1 - target) * (1 - output).log()).mean(dim=-1)


def vae_losses(encoder, decoder, data):
    z_mean, z_log_var, z = encoder(data)
    reconstruction = decoder(z)
    reconstruction_loss = binary_crossentropy(data, reconstruction).sum(dim=(1, 2)).mean()
    kl_loss = -0.5 * (1 + z_log_var - z_mean.square() - z_log_var.exp())
    kl_loss = kl_loss.sum(dim=1).mean()
    return reconstruction_loss + kl_loss, reconstruction_loss, kl_loss


class VAE(sd.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = sd.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = sd.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = sd.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker,
                self.kl_loss_tracker]

    def train_step(self, data):
        total_loss, reconstruction_loss, kl_loss = vae_losses(self.encoder, self.decoder, data)
        grads = torch.autograd.grad(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }


@pytest.fixture(scope="module")
def digits():
    (x_train, _), _ = sd.datasets.mnist_sample()
    return np.expand_dims(x_train[:128], -1).astype("float32") / 255


# ----------------------------------------------------------------------------- Mean
def test_mean_tracker_follows_keras_formula():
    t = sd.metrics.Mean(name="total_loss")
    assert float(t.result()) == 0.0                       # divide-no-nan before any value
    t.update_state(torch.tensor(2.0, requires_grad=True) * 1)
    t.update_state(np.array([[1.0, 3.0], [5.0, 7.0]]))    # two samples, means 2 and 6
    assert float(t.result()) == pytest.approx((2 + 2 + 6) / 3)
    t.reset_state()
    t.update_state([1.0, 2.0, 4.0], sample_weight=[1.0, 0.0, 3.0])
    assert float(t.result()) == pytest.approx((1 + 12) / 4)
    with pytest.raises(ShapeError, match="sample_weight"):
        t.update_state([1.0, 2.0], sample_weight=[1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="`name` of Mean"):
        sd.metrics.Mean(name="")


# ----------------------------------------------------------------------------- the VAE
def test_keras_vae_example_trains_and_logs_its_trackers(digits):
    sd.set_seed(0)
    vae = VAE(build_encoder(), build_decoder())
    vae.compile(optimizer=sd.optimizers.Adam())
    history = vae.fit(digits, epochs=3, batch_size=32, verbose=0)
    # Keras logs what train_step returns: its keys, the trackers' epoch means
    assert sorted(history.history) == ["kl_loss", "loss", "reconstruction_loss"]
    assert [m.name for m in vae.metrics] == ["total_loss", "reconstruction_loss", "kl_loss"]
    loss = history.history["loss"]
    assert loss[0] > loss[1] > loss[2]       # about 540, 524, 489 per image
    assert history.history["loss"][-1] == pytest.approx(float(vae.total_loss_tracker.result()))
    z_mean, _, _ = vae.encoder.predict(digits[:5])
    assert z_mean.shape == (5, 2)
    assert vae.decoder.predict(np.zeros((3, 2), np.float32)).shape == (3, 28, 28, 1)


def _adam(w, g, m, v, t, lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    """Keras's Adam update, in float64."""
    m = m + (1 - b1) * (g - m)
    v = v + (1 - b2) * (g * g - v)
    alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    return w - alpha * m / (np.sqrt(v) + eps), m, v


def test_two_steps_equal_autograd_gradients_and_keras_adam_by_hand(digits):
    sd.set_seed(1)
    vae = VAE(build_encoder(), build_decoder())
    vae.compile(optimizer="adam")
    x = digits[:64]
    weights = vae.trainable_weights
    assert len(weights) == 18                                  # 9 layers with kernel + bias
    w = [p.detach().double().numpy().copy() for p in weights]
    start = [a.copy() for a in w]
    m = [np.zeros_like(a) for a in w]
    v = [np.zeros_like(a) for a in w]
    totals = []
    for t, seed in ((1, 11), (2, 12)):   # reference: same weights, same noise, by hand
        with torch.no_grad():
            for p, a in zip(weights, w):
                p.copy_(torch.from_numpy(a))
        torch.manual_seed(seed)
        total, _, _ = vae_losses(vae.encoder, vae.decoder, torch.from_numpy(x[32 * (t - 1):
                                                                              32 * t]))
        grads = torch.autograd.grad(total, weights)
        totals.append(float(total.detach()))
        for i, g in enumerate(grads):
            w[i], m[i], v[i] = _adam(w[i], g.double().numpy(), m[i], v[i], t)
    sd.set_seed(1)   # a fresh model with the same initial weights takes the two steps in fit
    vae = VAE(build_encoder(), build_decoder())
    vae.compile(optimizer="adam")
    for p, a in zip(vae.trainable_weights, start):
        np.testing.assert_array_equal(p.detach().double().numpy(), a)
    seeds = iter((11, 12))
    step = VAE.train_step

    def seeded_step(self, data):
        torch.manual_seed(next(seeds))
        return step(self, data)

    vae.train_step = seeded_step.__get__(vae)
    history = vae.fit(x, epochs=1, batch_size=32, shuffle=False, verbose=0)
    for p, expected in zip(vae.trainable_weights, w):
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=2e-4, atol=2e-6)
    # the epoch's "loss" is the tracker's mean of the two batch losses
    assert history.history["loss"][0] == pytest.approx(np.mean(totals), rel=1e-5)
    assert vae.optimizer.iterations == 2


# ----------------------------------------------------------------------------- other forms
class Regressor(sd.Model):
    """A linear model trained by a hand-written step, Keras's torch-backend pattern:
    ``zero_grad``, ``loss.backward()``, ``optimizer.apply(grads, weights)``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = L.Dense(1, use_bias=False)
        self.dense.build((3,))
        self.mse_tracker = sd.metrics.Mean(name="mse")    # found as an attribute

    def train_step(self, data):
        x, y, w = data
        self.zero_grad()
        loss = (w * (self.dense(x)[:, 0] - y).square()).mean()
        loss.backward()
        weights = self.trainable_weights
        self.optimizer.apply([p.grad for p in weights], weights)
        self.mse_tracker.update_state(loss)
        return {"mse": self.mse_tracker.result()}

    def test_step(self, data):
        x, y = data[:2]
        self.mse_tracker.update_state((self.dense(x)[:, 0] - y).square())
        return {"mse": self.mse_tracker.result()}


def test_backward_and_apply_with_sample_weights_equal_sgd_by_hand():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y = rng.normal(size=8).astype(np.float32)
    sw = rng.random(8).astype(np.float32)
    model = Regressor()
    model.compile(optimizer=sd.optimizers.SGD(0.1))
    w = model.dense.get_weights()[0][:, 0].astype(np.float64)
    expected_losses = []
    for b in (slice(0, 4), slice(4, 8)):
        xb, yb, wb = x[b].astype(np.float64), y[b], sw[b]
        r = xb @ w - yb
        expected_losses.append(np.mean(wb * r ** 2))
        w = w - 0.1 * 2 * xb.T @ (wb * r) / 4
    history = model.fit(x, y, sample_weight=sw, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(model.dense.get_weights()[0][:, 0], w, rtol=1e-5)
    assert history.history["mse"] == [pytest.approx(np.mean(expected_losses), rel=1e-5)]
    # test_step: evaluate and fit's validation (the tracker reset before each)
    mse = float(np.mean((x @ w - y) ** 2))
    assert model.evaluate(x, y, batch_size=3) == pytest.approx(mse, rel=1e-5)
    history = model.fit(x, y, sample_weight=sw, validation_data=(x, y), verbose=0, epochs=1,
                        batch_size=8)
    assert sorted(history.history) == ["mse", "val_mse"]


def test_two_optimizers_update_their_own_weights():
    """The GAN examples' pattern: each optimiser applies gradients to a subset."""

    class TwoParts(sd.Model):
        def __init__(self):
            super().__init__()
            self.a, self.b = L.Dense(1, use_bias=False), L.Dense(1, use_bias=False)
            self.a.build((2,))
            self.b.build((2,))
            self.opt_a, self.opt_b = sd.optimizers.SGD(0.1), sd.optimizers.SGD(0.5)

        def train_step(self, x):
            for layer, opt in ((self.a, self.opt_a), (self.b, self.opt_b)):
                loss = layer(x).square().mean()
                grads = torch.autograd.grad(loss, layer.trainable_weights)
                opt.apply_gradients(zip(grads, layer.trainable_weights))
            return {"a": self.a(x).square().mean()}

    x = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    model = TwoParts()
    model.compile()
    wa, wb = model.a.get_weights()[0], model.b.get_weights()[0]
    model.fit(x, epochs=3, batch_size=2, verbose=0)
    # loss = mean_i (x_i w)^2 = (w1^2 + w2^2) / 2: gradient w, so w <- (1 - lr) w each step
    np.testing.assert_allclose(model.a.get_weights()[0], wa * 0.9 ** 3, rtol=1e-5)
    np.testing.assert_allclose(model.b.get_weights()[0], wb * 0.5 ** 3, rtol=1e-5)
    assert model.opt_a.iterations == model.opt_b.iterations == 3


def test_a_step_that_neither_applies_nor_returns_a_loss_is_refused():
    class Detached(sd.Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(1)
            self.d.build((2,))

        def train_step(self, x):
            return {"loss": self.d(x).mean().detach()}

    model = Detached()
    model.compile()
    with pytest.raises(ConfigError, match="apply_gradients"):
        model.fit(np.ones((4, 2)), verbose=0)
    with pytest.raises(ConfigError, match="test_step"):
        model.fit(np.ones((4, 2)), validation_split=0.5, verbose=0)
    with pytest.raises(ConfigError, match="one gradient per weight"):
        model.optimizer.apply([None], model.trainable_weights)


def test_compute_loss_adds_the_models_loss_terms():
    """Keras 3's guide pattern: ``y_pred = self(x, training=True)``, ``compute_loss``."""

    class Guided(sd.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(1, kernel_regularizer=sd.regularizers.L2(0.1))

        def call(self, inputs):
            return self.dense(inputs)

        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = torch.autograd.grad(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            return {"loss": loss}

    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 2)).astype(np.float32)
    y = rng.normal(size=6).astype(np.float32)
    model = Guided()
    model.build((2,))
    w, b = [a.astype(np.float64) for a in model.dense.get_weights()]
    r = x @ w[:, 0] + b[0] - y
    expected_loss = np.mean(r ** 2) + 0.1 * np.sum(w ** 2)
    grad_w = 2 * x.T @ r / 6 + 0.2 * w[:, 0]
    model.compile(optimizer=sd.optimizers.SGD(0.1), loss="mse")
    history = model.fit(x, y, batch_size=6, verbose=0)
    assert history.history["loss"][0] == pytest.approx(expected_loss, rel=1e-5)
    np.testing.assert_allclose(model.dense.get_weights()[0][:, 0], w[:, 0] - 0.1 * grad_w,
                               rtol=1e-5)
