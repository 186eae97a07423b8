"""Training the Keras-examples way: ``fit(x)`` on ``add_loss`` terms, and a model subclass
with its own ``train_step`` (the Keras VAE example: an encoder with three outputs, a sampling
layer, a decoder model, the KL term in the step).

Reference values come from plain torch / numpy computations of the same step.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import statdl as sd
from statdl import layers as L
from statdl.errors import ConfigError

pytestmark = pytest.mark.skipif(not hasattr(L.Layer, "add_loss"),
                                reason="Keras-style custom layers (add_loss) not present")


class SquaredActivity(L.Layer):
    """Adds ``rate * mean_i ||x_i||^2`` to the loss and passes its input through."""

    def __init__(self, rate=0.5, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * inputs.square().sum(dim=1).mean())
        return inputs


def test_fit_without_targets_trains_on_add_loss_terms():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    inp = sd.Input((3,))
    dense = L.Dense(2, use_bias=False)
    model = sd.Model(inp, SquaredActivity(0.5)(dense(inp)))
    model.compile(optimizer=sd.optimizers.SGD(0.1))
    w = dense.get_weights()[0].astype(np.float64)
    history = model.fit(x, epochs=1, batch_size=16, shuffle=False, verbose=0)
    xd = x.astype(np.float64)
    expected_loss = 0.5 * np.mean(np.sum((xd @ w) ** 2, axis=1))
    expected_w = w - 0.1 * (0.5 * 2 / len(x)) * xd.T @ (xd @ w)
    assert history.history["loss"][0] == pytest.approx(expected_loss, rel=1e-5)
    np.testing.assert_allclose(dense.get_weights()[0], expected_w, rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="`y` and weights are unused"):
        model.fit(x, x[:, :2], verbose=0)


def test_compile_without_loss_needs_add_loss_terms():
    inp = sd.Input((3,))
    model = sd.Model(inp, L.Dense(1)(inp))
    model.compile(optimizer="sgd")
    with pytest.raises(ConfigError, match="no layer .* adds loss terms"):
        model.fit(np.ones((4, 3)), verbose=0)


class Sampling(L.Layer):
    """z = mean + exp(log_var / 2) * eps, as in the Keras VAE example."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        return z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)


def _vae_parts(n_features=12, latent=2):
    enc_in = sd.Input((n_features,))
    h = L.Dense(8, activation="relu", name="enc_hidden")(enc_in)
    z_mean = L.Dense(latent, name="z_mean")(h)
    z_log_var = L.Dense(latent, name="z_log_var")(h)
    z = Sampling(name="sampling")([z_mean, z_log_var])
    encoder = sd.Model(enc_in, [z_mean, z_log_var, z], name="encoder")
    lat_in = sd.Input((latent,))
    out = L.Dense(n_features, activation="sigmoid", name="dec_out")(
        L.Dense(8, activation="relu", name="dec_hidden")(lat_in))
    return encoder, sd.Model(lat_in, out, name="decoder")


def _vae_losses(encoder, decoder, data):
    z_mean, z_log_var, z = encoder(data)
    reconstruction = decoder(z)
    bce = -(data * torch.log(reconstruction + 1e-7)
            + (1 - data) * torch.log(1 - reconstruction + 1e-7))
    reconstruction_loss = bce.sum(dim=1).mean()
    kl = -0.5 * (1 + z_log_var - z_mean.square() - torch.exp(z_log_var))
    kl_loss = kl.sum(dim=1).mean()
    return reconstruction_loss, kl_loss


class VAE(sd.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder

    def train_step(self, data):
        reconstruction_loss, kl_loss = _vae_losses(self.encoder, self.decoder, data)
        return {"loss": reconstruction_loss + kl_loss,
                "reconstruction_loss": reconstruction_loss, "kl_loss": kl_loss}


def test_train_step_override_vae_matches_a_plain_torch_step():
    rng = np.random.default_rng(1)
    x = (rng.random((32, 12)) > 0.5).astype(np.float32)
    sd.set_seed(0)
    encoder, decoder = _vae_parts()
    vae = VAE(encoder, decoder)
    vae.compile(optimizer=sd.optimizers.SGD(0.05))
    params = [p for m in (encoder.module, decoder.module) for p in m.parameters()]
    start = [p.detach().clone() for p in params]
    # the reference step: same weights, same noise (same generator state), plain torch
    torch.manual_seed(7)
    rec, kl = _vae_losses(encoder, decoder, torch.from_numpy(x))
    grads = torch.autograd.grad(rec + kl, params)
    expected = [p.detach() - 0.05 * g for p, g in zip(params, grads)]
    torch.manual_seed(7)
    history = vae.fit(x, epochs=1, batch_size=32, shuffle=False, verbose=0)
    assert set(history.history) == {"loss", "reconstruction_loss", "kl_loss"}
    assert history.history["loss"][0] == pytest.approx(float((rec + kl).detach()), rel=1e-5)
    for p, e, s in zip(params, expected, start):
        torch.testing.assert_close(p.detach(), e, rtol=1e-5, atol=1e-6)
        assert not torch.equal(p.detach(), s)
    codings = encoder.predict(x)[0]        # the encoder model trained through the subclass
    assert codings.shape == (32, 2)


def test_a_subclass_without_graph_or_train_step_says_what_to_do():
    class Empty(sd.Model):
        pass

    model = Empty()
    model.compile(optimizer="sgd")
    with pytest.raises(ConfigError, match="has no graph.*train_step"):
        model.fit(np.ones((4, 2)), verbose=0)
