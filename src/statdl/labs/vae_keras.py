"""Lab ``mnist-vae-keras``: the variational autoencoder written the way the Keras examples write it.

As the keras-io example "Variational AutoEncoder": an encoder ``Model`` with three outputs
(``z_mean``, ``z_log_var`` and ``z``), a ``Sampling`` layer (``z = z_mean + exp(z_log_var / 2)
* eps``), a decoder ``Model``, and a ``VAE`` model subclass whose ``train_step`` computes the
reconstruction and KL terms and returns them to be logged. Architecture and loss are those of
``statdl.autoencoders.Autoencoder(784, 2, hidden=(256,), activation="relu", variational=True,
output_activation="sigmoid")`` (the ``mnist-vae`` lab):

- encoder Dense(256, relu), then ``z_mean`` and ``z_log_var`` Dense(2) each (the builder's one
  Dense(4) whose first two outputs are the means: 1,028 weights either way);
- decoder Dense(256, relu), Dense(784, sigmoid);
- loss per batch: mean squared error over pixels and digits + ``KL / 784`` where KL is the
  batch mean of ``-1/2 sum(1 + log_var - mean^2 - exp(log_var))``. That is the Keras example's
  objective (summed reconstruction error + KL) with squared error in place of binary
  cross-entropy, divided by the 784 pixels.

The lab trains both (Adam, batch 256, the same epochs, all training digits) and prints their
final training losses, their test reconstruction MSE (codings = the means) and 16 digits the
Keras-style decoder generates from N(0, I) codings.
"""

from __future__ import annotations

import argparse
import functools

import numpy as np
import torch

import statdl as sd
from statdl import layers as L

from ._common import Timer, headline, mnist_data, with_interval

LATENT, HIDDEN, PIXELS = 2, 256, 784


@functools.cache
def _example_classes() -> dict[str, type]:
    """``Sampling`` and ``VAE``, defined on first use.

    They are the example's own classes, as a user's script defines them, not library layers:
    defining them at import would put two unregistered ``Layer`` subclasses in every process
    that imports all of statdl's modules (the layer-contract test, which requires each layer
    class of the package to load from a saved file in a fresh process).
    """

    class Sampling(L.Layer):
        """``z = z_mean + exp(z_log_var / 2) * eps``, ``eps ~ N(0, I)``; the mean outside training
        (as ``statdl.autoencoders.GaussianSampling``, so that ``predict`` is deterministic)."""

        def call(self, inputs, training=None):
            z_mean, z_log_var = inputs
            if not training:
                return z_mean
            return z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)

    class VAE(sd.Model):
        """The Keras example's ``VAE(keras.Model)``: ``train_step`` returns the losses to log.

        ``loss = reconstruction_loss + kl_weight * kl_loss`` with ``kl_weight = 1 / pixels`` by
        default (the ``statdl.autoencoders`` definition). ``fit`` averages every returned value
        over the epoch into the History (``loss``, ``reconstruction_loss``, ``kl_loss``), which is
        what the example's ``keras.metrics.Mean`` trackers compute.
        """

        def __init__(self, encoder: sd.Model, decoder: sd.Model, kl_weight: float | None = None,
                     **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.kl_weight = 1.0 / encoder.inputs[0].shape[0] if kl_weight is None else kl_weight

        def train_step(self, data):
            reconstruction_loss, kl_loss = vae_losses(self.encoder, self.decoder, data)
            total_loss = reconstruction_loss + self.kl_weight * kl_loss
            return {"loss": total_loss, "reconstruction_loss": reconstruction_loss,
                    "kl_loss": kl_loss}

        def reconstruct(self, x: np.ndarray) -> np.ndarray:
            """Decoded means of the codings (no sampling): what ``Autoencoder.reconstruct`` gives."""
            return self.decoder.predict(self.encoder.predict(x)[0])

    return {"Sampling": Sampling, "VAE": VAE}


def __getattr__(name: str):
    """``from statdl.labs.vae_keras import Sampling, VAE`` (made by :func:`_example_classes`)."""
    if name in ("Sampling", "VAE"):
        return _example_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def vae_parts(pixels: int = PIXELS, latent: int = LATENT,
              hidden: int = HIDDEN) -> tuple[sd.Model, sd.Model]:
    """The encoder (outputs ``[z_mean, z_log_var, z]``) and the decoder, as the Keras example.

    Examples
    --------
    >>> encoder, decoder = vae_parts()
    >>> encoder.output_names, encoder.count_params() + decoder.count_params()
    (['z_mean', 'z_log_var', 'z'], 404244)
    """
    encoder_inputs = sd.Input((pixels,), name="encoder_input")
    x = L.Dense(hidden, activation="relu", name="encoder_hidden")(encoder_inputs)
    z_mean = L.Dense(latent, name="z_mean")(x)
    z_log_var = L.Dense(latent, name="z_log_var")(x)
    z = _example_classes()["Sampling"](name="z")([z_mean, z_log_var])
    encoder = sd.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = sd.Input((latent,), name="z_sampling")
    x = L.Dense(hidden, activation="relu", name="decoder_hidden")(latent_inputs)
    decoder_outputs = L.Dense(pixels, activation="sigmoid", name="decoder_output")(x)
    decoder = sd.Model(latent_inputs, decoder_outputs, name="decoder")
    return encoder, decoder


def vae_losses(encoder: sd.Model, decoder: sd.Model,
               data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(reconstruction_loss, kl_loss)`` of one batch: the mean squared error over pixels and
    digits, and the batch mean of the Gaussian KL divergence to N(0, I)."""
    z_mean, z_log_var, z = encoder(data)
    reconstruction = decoder(z)
    reconstruction_loss = (data - reconstruction).square().mean()
    kl = -0.5 * (1 + z_log_var - z_mean.square() - torch.exp(z_log_var))
    return reconstruction_loss, kl.sum(dim=1).mean()


def statdl_vae():
    """The ``mnist-vae`` lab's model: ``statdl.autoencoders``' variational autoencoder."""
    from statdl.autoencoders import Autoencoder

    return Autoencoder(PIXELS, LATENT, hidden=(HIDDEN,), activation="relu", variational=True,
                       output_activation="sigmoid")


def _mse(x: np.ndarray, recon: np.ndarray) -> np.ndarray:
    return ((x - recon.reshape(x.shape)) ** 2).mean(axis=1)


def run(args: argparse.Namespace, run) -> dict:
    """Train the Keras-style VAE and statdl's builder VAE; compare losses and reconstructions."""
    x_train, _, x_test, _ = mnist_data(args)
    timer = Timer()
    encoder, decoder = vae_parts()
    encoder.summary()
    decoder.summary()
    vae = _example_classes()["VAE"](encoder, decoder, name="vae")
    vae.compile(optimizer="adam", device=args.device)
    print("\n=== Keras-style VAE (encoder and decoder models, train_step) ===")
    with timer:
        history = vae.fit(x_train, epochs=args.epochs, batch_size=256, verbose=args.verbose)
    print("\n=== statdl.autoencoders variational autoencoder (the mnist-vae lab) ===")
    sd.set_seed(args.seed)
    ae = statdl_vae()
    ae.compile(optimizer="adam", loss="mse", device=args.device)
    with timer:
        ae_history = ae.fit(x_train, epochs=args.epochs, batch_size=256, verbose=args.verbose)
    params = encoder.count_params() + decoder.count_params()
    errors = _mse(x_test, vae.reconstruct(x_test))
    ae_errors = _mse(x_test, ae.reconstruct(x_test))
    mse = float(errors.mean())
    half = 1.96 * float(errors.std(ddof=1)) / np.sqrt(len(errors))
    final = {k: v[-1] for k, v in history.history.items()}
    ae_final = {k: ae_history.history[k][-1] for k in ("loss", "reconstruction_loss", "kl_loss")}
    print(f"\nParameters: Keras-style {params:,}, statdl.autoencoders {ae.count_params():,}.")
    print("Final training loss (MSE + KL/784): Keras-style {:.5f} (reconstruction {:.5f}, KL "
          "{:.3f}); statdl.autoencoders {:.5f} (reconstruction {:.5f}, KL/784 {:.5f})".format(
              final["loss"], final["reconstruction_loss"], final["kl_loss"], ae_final["loss"],
              ae_final["reconstruction_loss"], ae_final["kl_loss"]))
    print(f"Test reconstruction MSE: Keras-style {mse:.5f} (95% CI {mse - half:.5f}-"
          f"{mse + half:.5f}); statdl.autoencoders {float(ae_errors.mean()):.5f}")
    z = np.random.default_rng(args.seed).standard_normal((16, LATENT)).astype(np.float32)
    run.figure(sd.plot_history(history), "history", "Keras-style VAE: total, reconstruction "
               "and KL loss per epoch on the training digits")
    run.figure(sd.plot_images(decoder.predict(z), ncol=8, title="Digits generated from N(0, I) "
                              "codings"), "generated",
               "16 digits the Keras-style decoder generates from random N(0, I) codings")
    results = {
        "headline": headline("reconstruction MSE", mse, mse - half, mse + half,
                             higher_is_better=False),
        "params": {"keras_style": params, "statdl_autoencoders": ae.count_params()},
        "final_loss": {"keras_style": final, "statdl_autoencoders": ae_final},
        "test_mse": {"keras_style": mse, "statdl_autoencoders": float(ae_errors.mean())},
        "fit_seconds": timer.seconds,
    }
    run.record(results, history=history, model=encoder,
               evaluation={**with_interval("reconstruction_mse", mse, mse - half, mse + half),
                           "statdl_autoencoders_mse": float(ae_errors.mean())})
    return results
