"""Figures say what they show (issue #12): integer epoch ticks, which data a figure evaluates,
the worst reconstructions labelled with their digit and error, colour bars on feature maps."""

from __future__ import annotations

import numpy as np
import pytest

import statdl as sd
from statdl.errors import ConfigError


def _colorbars(fig) -> list:
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


@pytest.mark.parametrize("n_epochs", [3, 7, 40])
def test_history_epoch_ticks_are_integers(n_epochs):
    loss = list(np.linspace(1.0, 0.2, n_epochs))
    fig = sd.plot_history({"loss": loss, "val_loss": [v + 0.1 for v in loss]})
    ax = fig.axes[-1]
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert len(ticks) >= 2
    assert all(float(t).is_integer() for t in ticks), ticks


def test_evaluation_titles_name_the_data():
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 3, 90)
    pred = np.where(rng.random(90) < 0.8, ref, (ref + 1) % 3)
    cm = sd.confusion_matrix(pred, ref)
    assert "test data" in cm.plot(data="test").axes[0].get_title()
    assert "training data" in sd.plot_confusion_matrix(cm, data="training").axes[0].get_title()
    assert "data" not in cm.plot().axes[0].get_title()
    y = rng.integers(0, 2, 80)
    prob = np.clip(0.4 * y + 0.6 * rng.random(80), 0, 1)
    assert sd.plot_roc(y, prob, data="test").axes[0].get_title() == "ROC curve, test data"
    assert sd.plot_calibration(y, prob, data="test").axes[0].get_title() == \
        "Calibration, test data"
    title = sd.plot_predictions([1.0, 2.0, 3.0], [1.1, 2.2, 2.7], data="test").axes[0].get_title()
    assert title.startswith("Predicted vs observed, test data\n")
    fig = sd.plot_error_histogram(rng.gamma(2.0, size=50), data="training")
    assert fig.axes[0].get_title() == "Reconstruction errors, training data"
    x = rng.random((3, 16))
    fig = sd.plot_reconstructions(x, x, data="test")
    assert fig.get_suptitle() == "Original and reconstructed images, test data"


def test_data_must_be_text():
    with pytest.raises(ConfigError, match=r"`data` of plot_roc must be a string"):
        sd.plot_roc([0, 1, 0, 1], [0.2, 0.6, 0.4, 0.9], data=1)


def test_reconstruction_panels_show_label_and_error():
    rng = np.random.default_rng(7)
    x = rng.random((4, 64))
    recon = np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1)
    mse = ((x - recon) ** 2).mean(axis=1)             # computed here, independently
    fig = sd.plot_reconstructions(x, recon, labels=[7, 2, 1, 0], errors=mse)
    top = [ax for ax in fig.axes if ax.images][:4]
    titles = [ax.get_title() for ax in top]
    for t, digit, e in zip(titles, [7, 2, 1, 0], mse):
        first, second = t.split("\n")
        assert first == str(digit) and second.startswith("MSE ")
        assert float(second[4:]) == pytest.approx(e, rel=1e-3)
    with pytest.raises(ConfigError, match="`errors` of plot_reconstructions"):
        sd.plot_reconstructions(x, recon, errors=mse[:2])
    with pytest.raises(ConfigError, match="`labels` of plot_reconstructions"):
        sd.plot_reconstructions(x, recon, labels=[1, 2])


def test_worst_reconstructions_are_labelled_with_digit_and_error():
    from statdl.autoencoders import AnomalyDetector, Autoencoder

    rng = np.random.default_rng(3)
    x = rng.random((60, 16)).astype("float32")
    labels = np.arange(60) % 10
    sd.set_seed(0)
    ae = Autoencoder(16, 4)
    ae.compile(optimizer="adam", loss="mse", device="cpu")
    det = AnomalyDetector(ae, quantile=0.9).fit(x, epochs=1, batch_size=30, verbose=0)
    fig = det.plot_worst(x, 5, labels=labels, data="training")
    recon = ae.reconstruct(x)
    errors = ((x - recon) ** 2).mean(axis=1)
    worst = np.argsort(-errors, kind="stable")[:5]
    titles = [ax.get_title() for ax in fig.axes if ax.images][:5]
    assert [t.split("\n")[0] for t in titles] == [str(labels[i]) for i in worst]
    shown = [float(t.split("\n")[1].removeprefix("MSE ")) for t in titles]
    np.testing.assert_allclose(shown, errors[worst], rtol=1e-3)
    assert fig.get_suptitle().endswith("training data")


def test_feature_maps_have_colour_bars():
    sd.set_seed(0)
    model = sd.Sequential([sd.layers.Conv2D(4, 3, activation="relu", name="conv"),
                           sd.layers.MaxPooling2D(2, name="pool")], input_shape=(10, 10, 1))
    image = np.random.default_rng(4).random((10, 10, 1)).astype("float32")
    fig = sd.plot_feature_maps(model, image, "conv")
    assert len(_colorbars(fig)) == 1
    maps = model.layer_output(image[None], "conv")[0]
    lo, hi = _colorbars(fig)[0].get_ylim()
    assert lo == pytest.approx(float(maps.min())) and hi == pytest.approx(float(maps.max()))
    fig = sd.plot_feature_maps(model, image, "conv", pooled_layer="pool")
    assert len(_colorbars(fig)) == 2
