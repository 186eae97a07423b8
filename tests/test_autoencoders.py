"""Autoencoders: builders, corruption, penalties, variational model, anomaly detection.

Small data and few epochs; the references come from definitions (PCA, KL divergences,
autograd Jacobians, quantiles), not from pasted outputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import subspace_angles

import statdl as sd
from statdl.autoencoders import (
    AnomalyDetector,
    Autoencoder,
    ContractiveEncoder,
    ConvAutoencoder,
    KLSparsity,
    MaskingNoise,
    corrupt,
    jacobian_penalty,
    reconstruction_error,
)
from statdl.autoencoders.penalties import kl_sparsity
from statdl.autoencoders.variational import gaussian_kl
from statdl.errors import ConfigError, NotFittedError


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run ~10x faster on one thread when the machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():
    (x, _), (xt, _) = sd.datasets.mnist_sample()
    return (x[:1000].reshape(1000, -1) / 255).astype("float32"), \
        (xt[:300].reshape(300, -1) / 255).astype("float32")


# --------------------------------------------------------------------------- builders
def test_course_model_prints_157684_parameters():
    ae = Autoencoder(784, 100)
    text = ae.summary(print_fn=None)
    assert "Total params: 157,684" in text
    assert "encoder (Sequential)" in text and "decoder (Sequential)" in text
    assert ae.count_params() == 784 * 100 + 100 + 100 * 784 + 784
    assert ae.encoder.count_params() == 78500 and ae.decoder.count_params() == 79184


def test_stacked_layers_are_symmetric():
    ae = Autoencoder(784, 32, hidden=(400, 200))
    units = [layer.units for layer in ae.encoder.layers] + [layer.units for layer in ae.decoder.layers]
    assert units == [400, 200, 32, 200, 400, 784]
    sizes = [784, 400, 200, 32, 200, 400, 784]
    assert ae.count_params() == sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def test_encoder_shares_weights_with_model_and_both_fit_routes_work(digits):
    x, _ = digits
    sd.set_seed(0)
    ae = Autoencoder(784, 16)
    before = ae.encoder.get_weights()[0].copy()
    ae.model.compile(optimizer="adam", loss="mse")
    ae.model.fit(x[:200], x[:200], epochs=1, batch_size=50, verbose=0)   # the Keras route
    after = ae.encoder.get_weights()[0]
    assert not np.allclose(before, after)
    h = ae.fit(x[:200], epochs=1, batch_size=50, verbose=0)              # the shortcut
    assert np.isfinite(h.history["loss"][0])
    codings = ae.codings(x[:5])
    manual = np.tanh(x[:5] @ ae.encoder.get_weights()[0] + ae.encoder.get_weights()[1])
    np.testing.assert_allclose(codings, manual, atol=1e-5)
    np.testing.assert_allclose(ae.reconstruct(x[:5]), ae.decode(codings), atol=1e-5)


def test_image_inputs_need_no_flattening(digits):
    x, _ = digits
    ae = Autoencoder((28, 28), 8)
    images = x[:64].reshape(64, 28, 28)
    ae.fit(images, epochs=1, verbose=0)
    assert ae.reconstruct(images).shape == (64, 28, 28)
    assert ae.codings(x[:64]).shape == (64, 8)   # flat rows are accepted too


def test_linear_autoencoder_spans_the_principal_subspace():
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(8, 3)))
    x = (rng.normal(size=(300, 3)) * [3.0, 2.0, 1.5]) @ basis.T
    x = (x + 0.1 * rng.normal(size=(300, 8)) + 1.0).astype("float32")
    pcs = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)[2][:3].T
    sd.set_seed(0)
    ae = Autoencoder(8, 3, activation=None)            # identity activations, MSE
    ae.compile(optimizer=sd.optimizers.Adam(learning_rate=0.05), loss="mse")
    ae.fit(x, epochs=40, batch_size=50, verbose=0)
    decoder_kernel = ae.decoder.get_weights()[0]        # (codings, features)
    angles = subspace_angles(decoder_kernel.T, pcs)
    assert angles.max() < 0.05, angles


# --------------------------------------------------------------------------- denoising
def test_corrupt_is_repeatable_and_has_the_requested_rate():
    x = np.full((50, 200), 0.5, dtype=np.float32)
    a = corrupt(x, "masking", 0.3, seed=1)
    np.testing.assert_array_equal(a, corrupt(x, "masking", 0.3, seed=1))
    assert abs((a == 0).mean() - 0.3) < 0.02 and set(np.unique(a)) == {0.0, 0.5}
    sp = corrupt(x, "salt_and_pepper", 0.2, seed=2)
    assert abs((sp != 0.5).mean() - 0.2) < 0.02 and set(np.unique(sp)) == {0.0, 0.5, 1.0}
    g = corrupt(x, "gaussian", 0.1, seed=3)
    assert abs((g - x).std() - 0.1) < 0.005
    np.testing.assert_array_equal(x, 0.5)               # input left untouched


def test_masking_layer_is_training_only_and_fresh_each_batch():
    module = MaskingNoise(0.4).build((1000,))
    x = torch.ones(4, 1000)
    module.train()
    a, b = module(x), module(x)
    assert abs(float((a == 0).float().mean()) - 0.4) < 0.03
    assert not torch.equal(a, b)
    module.eval()
    assert torch.equal(module(x), x)
    sp = MaskingNoise(0.5, salt_and_pepper=True).build((1000,)).train()(x * 0.5)
    assert set(torch.unique(sp).tolist()) == {0.0, 0.5, 1.0}


def test_denoising_beats_plain_on_corrupted_inputs(digits):
    x, xt = digits
    noisy = corrupt(xt, "masking", 0.5, seed=0)
    errors = {}
    for corruption in (None, "masking"):
        sd.set_seed(1)
        ae = Autoencoder(784, 256, output_activation="sigmoid", corruption=corruption,
                         corruption_rate=0.5)
        ae.compile(optimizer=sd.optimizers.Adam(learning_rate=0.005), loss="mse")
        ae.fit(x, epochs=10, batch_size=32, verbose=0)
        errors[corruption] = float(np.mean((ae.reconstruct(noisy) - xt) ** 2))
    # same clean training data and seed; only the training-time corruption differs
    assert errors["masking"] < 0.85 * errors[None], errors


# --------------------------------------------------------------------------- sparse
def test_l1_activity_penalty_shrinks_codings(digits):
    x, _ = digits
    mean_abs = {}
    for l1 in (None, 1e-2):
        sd.set_seed(2)
        ae = Autoencoder(784, 32, sparsity_l1=l1)
        ae.fit(x, epochs=3, batch_size=32, verbose=0)
        mean_abs[l1] = float(np.abs(ae.codings(x)).mean())
    assert mean_abs[1e-2] < 0.5 * mean_abs[None], mean_abs


def test_kl_sparsity_penalty_matches_its_definition_and_pulls_activity_to_rho(digits):
    h = torch.rand(16, 5) * 0.8 + 0.1
    rho_hat = h.mean(0)
    ref = (0.05 * torch.log(0.05 / rho_hat) + 0.95 * torch.log(0.95 / (1 - rho_hat))).sum()
    assert torch.allclose(kl_sparsity(h, 0.05), ref)
    x, _ = digits
    means = {}
    for target in (None, 0.05):
        sd.set_seed(3)
        ae = Autoencoder(784, 32, codings_activation="sigmoid", sparsity_target=target,
                         sparsity_weight=0.5)
        ae.fit(x, epochs=4, batch_size=32, verbose=0)
        means[target] = float(ae.codings(x).mean())
    assert abs(means[0.05] - 0.05) < abs(means[None] - 0.05) / 2, means
    assert any(isinstance(layer, KLSparsity) for layer in ae.encoder.layers)


# --------------------------------------------------------------------------- contractive
def _autograd_frobenius(f, x: torch.Tensor) -> float:
    return float(np.mean([torch.autograd.functional.jacobian(f, xi).square().sum().item()
                          for xi in x]))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", None])
def test_contractive_closed_form_equals_autograd_jacobian(activation):
    sd.set_seed(0)
    enc = ContractiveEncoder([sd.layers.Dense(4, activation=activation)], input_shape=(6,),
                             contractive=1.0)
    x = torch.randn(5, 6)
    module = enc.module
    h = module(x)
    value = float(jacobian_penalty(list(module.layers), x, h).detach())
    assert value == pytest.approx(_autograd_frobenius(lambda v: module(v[None])[0], x), rel=1e-5)


def test_contractive_general_encoder_uses_exact_jacobian():
    sd.set_seed(0)
    enc = ContractiveEncoder([sd.layers.Dense(5, activation="relu"),
                              sd.layers.Dense(3, activation="tanh")], input_shape=(6,),
                             contractive=1.0)
    x = torch.randn(4, 6)
    module = enc.module
    value = float(jacobian_penalty(list(module.layers), x, module(x)).detach())
    assert value == pytest.approx(_autograd_frobenius(lambda v: module(v[None])[0], x), rel=1e-5)


def test_contractive_training_shrinks_the_jacobian(digits):
    x, _ = digits
    norms = {}
    for lam in (0.0, 0.5):
        sd.set_seed(4)
        ae = Autoencoder(784, 32, contractive=lam)
        ae.fit(x, epochs=3, batch_size=32, verbose=0)
        enc = ae.encoder.module
        xt = torch.from_numpy(x[:100])
        norms[lam] = float(jacobian_penalty(list(enc.layers), xt, enc(xt)).detach())
    assert norms[0.5] < 0.5 * norms[0.0], norms
    assert isinstance(ae.encoder, ContractiveEncoder)


# --------------------------------------------------------------------------- convolutional
def test_conv_autoencoder_on_images(digits):
    x, _ = digits
    images = x[:64].reshape(64, 28, 28)
    for upsampling in ("upsampling", "transpose"):
        sd.set_seed(0)
        ae = ConvAutoencoder((28, 28), filters=(8, 4), upsampling=upsampling)
        h = ae.fit(images, epochs=1, batch_size=32, verbose=0)
        assert np.isfinite(h.history["loss"][0])
        assert ae.reconstruct(images).shape == (64, 28, 28)
        assert ae.codings(images).shape == (64, 7, 7, 4)
    dense_codes = ConvAutoencoder((28, 28, 1), filters=(8,), codings=10)
    assert dense_codes.codings(images[:3]).shape == (3, 10)
    assert dense_codes.reconstruct(images[:3]).shape == (3, 28, 28, 1)
    with pytest.raises(ConfigError, match="filters"):
        ConvAutoencoder((28, 28), filters=(8, 8, 8))


# --------------------------------------------------------------------------- variational
def test_gaussian_kl_matches_torch_distributions():
    mean, log_var = torch.randn(3, 4), torch.randn(3, 4)
    q = torch.distributions.Normal(mean, (0.5 * log_var).exp())
    p = torch.distributions.Normal(torch.zeros(3, 4), torch.ones(3, 4))
    ref = torch.distributions.kl_divergence(q, p).sum(-1)
    assert torch.allclose(gaussian_kl(mean, log_var), ref, atol=1e-5)


def test_variational_reports_kl_and_samples_repeatably(digits):
    x, _ = digits
    sd.set_seed(5)
    vae = Autoencoder((28, 28), 4, hidden=(64,), output_activation="sigmoid", variational=True)
    vae.compile(optimizer="adam", loss="binary_crossentropy")
    h = vae.fit(x, epochs=2, batch_size=50, verbose=0)
    kl, rec, loss = (np.array(h.history[k]) for k in ("kl_loss", "reconstruction_loss", "loss"))
    assert np.all(kl > 0) and np.all(rec > 0)
    np.testing.assert_allclose(rec + kl, loss, rtol=1e-6)
    samples = vae.sample(6, seed=7)
    assert samples.shape == (6, 28, 28) and np.all((samples >= 0) & (samples <= 1))
    np.testing.assert_array_equal(samples, vae.sample(6, seed=7))
    assert not np.allclose(samples, vae.sample(6, seed=8))
    np.testing.assert_array_equal(vae.codings(x[:5]), vae.codings(x[:5]))  # mean at predict


def test_custom_layers_survive_save_and_load(tmp_path, digits):
    x, _ = digits
    for kwargs in ({"corruption": "masking"}, {"sparsity_target": 0.1}, {"contractive": 0.1},
                   {"variational": True}):
        ae = Autoencoder(784, 8, **kwargs)
        ae.fit(x[:100], epochs=1, verbose=0)
        path = tmp_path / "ae.statdl"
        ae.save(path)
        loaded = sd.load_model(path)
        np.testing.assert_allclose(loaded.predict(x[:5]), ae.reconstruct(x[:5]), atol=1e-6)


# --------------------------------------------------------------------------- anomaly detection
def test_reconstruction_error_is_the_row_mean_of_squared_errors(digits):
    x, _ = digits
    ae = Autoencoder(784, 8)
    recon = ae.reconstruct(x[:10])
    per_feature = reconstruction_error(ae, x[:10], per_feature=True)
    np.testing.assert_allclose(per_feature, (x[:10] - recon) ** 2, rtol=1e-6)
    np.testing.assert_allclose(reconstruction_error(ae, x[:10]), per_feature.mean(axis=1))
    np.testing.assert_allclose(reconstruction_error(ae.model, x[:10]), per_feature.mean(axis=1))


def test_detector_threshold_flags_and_worst(digits):
    x, _ = digits
    sd.set_seed(6)
    det = AnomalyDetector(Autoencoder(784, 16), quantile=0.9)
    with pytest.raises(NotFittedError, match="fit"):
        det.score(x)
    det.fit(x, epochs=2, batch_size=50, verbose=0)
    errors = det.score(x)
    assert det.threshold_ == pytest.approx(np.quantile(errors, 0.9), rel=1e-5)
    assert det.predict(x).mean() == pytest.approx(0.1, abs=0.002)
    idx, worst = det.worst(x, 5)
    np.testing.assert_array_equal(idx, np.argsort(-errors)[:5])
    assert np.all(np.diff(worst) <= 0)
    fig = det.plot_errors(x)
    assert any("threshold" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert len([ax for ax in det.plot_worst(x, 4).axes if ax.images]) == 8


def test_refit_on_clean_keeps_the_lower_errors(digits):
    x, _ = digits
    sd.set_seed(7)
    det = AnomalyDetector(Autoencoder(784, 16), quantile=0.95, refit_on_clean=0.75)
    det.fit(x, epochs=1, batch_size=50, verbose=0)
    assert det.clean_mask_.mean() == pytest.approx(0.75, abs=0.002)
    assert det.train_errors_.shape == (int(det.clean_mask_.sum()),)
    assert det.threshold_ == pytest.approx(np.quantile(det.train_errors_, 0.95))


def test_noise_images_rank_on_top(digits):
    x, xt = digits
    rng = np.random.default_rng(0)
    noise = rng.random((30, 784)).astype("float32")
    mixed = np.concatenate([xt, noise])
    label = np.r_[np.zeros(len(xt)), np.ones(len(noise))]
    sd.set_seed(8)
    det = AnomalyDetector(Autoencoder(784, 32, output_activation="sigmoid")).fit(
        x, epochs=3, batch_size=32, verbose=0)
    scores = det.score(mixed)
    auc = sd.roc_auc(label, scores / scores.max()).auc
    assert auc > 0.95
    assert set(det.worst(mixed, 30)[0]) == set(range(len(xt), len(mixed)))


# --------------------------------------------------------------------------- bad input
def test_overcomplete_codings_warn_naming_codings():
    with pytest.warns(UserWarning, match="`codings` \\(10\\) >= the input size \\(8\\)"):
        Autoencoder(8, 10)
    with pytest.warns(UserWarning, match="codings"):
        Autoencoder(8, 8)


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5])
def test_bad_corruption_rate(rate):
    with pytest.raises(ConfigError, match="`corruption_rate`.*\\[0, 1\\)"):
        Autoencoder(784, 32, corruption="masking", corruption_rate=rate)
    with pytest.raises(ConfigError, match="`rate`"):
        corrupt(np.ones((2, 3)), "masking", rate)
    with pytest.raises(ConfigError, match="`rate`"):
        MaskingNoise(rate)


def test_bad_corruption_kind_and_gaussian_sd():
    with pytest.raises(ConfigError, match="`corruption` must be one of"):
        Autoencoder(784, 32, corruption="blur")
    with pytest.raises(ConfigError, match="`corruption_rate`.*sd"):
        Autoencoder(784, 32, corruption="gaussian", corruption_rate=-1)


@pytest.mark.parametrize("q", [0, 1, 1.5, -0.2, True])
def test_bad_quantile(q):
    with pytest.raises(ConfigError, match="`quantile` must be a number in \\(0, 1\\)"):
        AnomalyDetector(Autoencoder(784, 32), quantile=q)
    with pytest.raises(ConfigError, match="`refit_on_clean`"):
        AnomalyDetector(Autoencoder(784, 32), refit_on_clean=q)


def test_scoring_before_fit_raises_not_fitted():
    det = AnomalyDetector(Autoencoder(784, 32))
    for call in (lambda: det.score(np.zeros((2, 784))), lambda: det.predict(np.zeros((2, 784))),
                 lambda: det.worst(np.zeros((2, 784)), 1), det.plot_errors):
        with pytest.raises(NotFittedError, match="threshold_"):
            call()


def test_other_bad_arguments():
    with pytest.raises(ConfigError, match="`codings`"):
        Autoencoder(784, 0)
    with pytest.raises(ConfigError, match="`sample` needs a variational"):
        Autoencoder(784, 32).sample(3)
    with pytest.raises(ConfigError, match="not both"):
        Autoencoder(784, 32, sparsity_l1=0.1, sparsity_target=0.1)
    with pytest.raises(ConfigError, match="`sparsity_target`"):
        Autoencoder(784, 32, sparsity_target=1.0)
    with pytest.raises(ConfigError, match="`contractive`"):
        Autoencoder(784, 32, contractive=-1)
    with pytest.raises(ConfigError, match="^`codings` of ConvAutoencoder must be an int when variational"):
        ConvAutoencoder((28, 28), variational=True)
    with pytest.raises(sd.ShapeError, match="`x` must hold samples of shape \\(784,\\)"):
        Autoencoder(784, 32).codings(np.zeros((2, 10)))
