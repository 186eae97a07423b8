"""Every figure renders to a valid, non-blank PNG (and SVG where asked) with its labels."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

import statdl as sd
from statdl import plots
from statdl.errors import ConfigError


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    img = mpimg.imread(path)                    # decodes the PNG
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert float(img[..., :3].var()) > 1e-3     # not a blank canvas


def texts(fig):
    out = []
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        if ax.get_legend():
            out += [t.get_text() for t in ax.get_legend().get_texts()]
    return out


class FakeHistory:
    """Only the History attributes the contract names (.history, .epoch); not our core."""

    def __init__(self):
        self.history = {"loss": [1.0, 0.7, 0.5, 0.45, 0.4], "val_loss": [1.1, 0.8, 0.7, 0.7, 0.72],
                        "accuracy": [0.5, 0.7, 0.8, 0.85, 0.88],
                        "val_accuracy": [0.5, 0.65, 0.7, 0.72, 0.71],
                        "learning_rate": [0.001] * 5}
        self.epoch = [0, 1, 2, 3, 4]


def test_plot_history_from_history_dict_and_frame(tmp_path):
    h = FakeHistory()
    fig = sd.plot_history(h, path=tmp_path / "h.png")
    assert_png(tmp_path / "h.png")
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]     # no learning rate
    assert {"training", "validation"} <= set(texts(fig))
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 2, 3, 4, 5]
    fig2 = sd.plot_history(h.history, metrics=["accuracy"], learning_rate=True)
    assert [ax.get_ylabel() for ax in fig2.axes] == ["accuracy"]
    import pandas as pd

    fig3 = sd.plot_history(pd.DataFrame(h.history), learning_rate=True, smooth=True,
                           path=tmp_path / "h.svg")
    assert [ax.get_ylabel() for ax in fig3.axes] == ["loss", "accuracy", "learning_rate"]
    assert (tmp_path / "h.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(ConfigError, match="`metrics`"):
        sd.plot_history(h, metrics=["mae"])


def test_plot_predictions_and_activations(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.normal(size=50)
    fig = sd.plot_predictions(y, y + rng.normal(scale=0.3, size=50), path=tmp_path / "p.png")
    assert_png(tmp_path / "p.png")
    assert "predicted = observed" in texts(fig) and "observed" in texts(fig)
    fig = sd.plot_activations(path=tmp_path / "a.png")
    assert_png(tmp_path / "a.png")
    assert {"sigmoid", "ReLU"} <= set(texts(fig))
    with pytest.raises(ConfigError, match="same length"):
        sd.plot_predictions([1, 2], [1])


def test_plot_images_grey_colour_and_flat(tmp_path):
    rng = np.random.default_rng(1)
    fig = sd.plot_images(rng.random((10, 28, 28)), labels=list(range(10)), ncol=5,
                         path=tmp_path / "g.png")
    assert_png(tmp_path / "g.png")
    assert sum(bool(ax.images) for ax in fig.axes) == 10
    assert [ax.get_title() for ax in fig.axes if ax.images][:3] == ["0", "1", "2"]
    sd.plot_images(rng.integers(0, 255, (4, 16, 16, 3)), path=tmp_path / "c.png")
    assert_png(tmp_path / "c.png")
    sd.plot_images(rng.random((3, 64)), path=tmp_path / "f.png")       # flattened 8x8
    assert_png(tmp_path / "f.png")
    with pytest.raises(ConfigError, match="`labels`"):
        sd.plot_images(rng.random((3, 8, 8)), labels=[1])
    with pytest.raises(ConfigError, match="`images`"):
        sd.plot_images(rng.random((3, 7)))


def test_autoencoder_figures(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.random((6, 784))
    fig = sd.plot_reconstructions(x, x * 0.8, 5, corrupted=x * 0.5, path=tmp_path / "r.png")
    assert_png(tmp_path / "r.png")
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == [
        "original", "corrupted", "reconstructed"]
    err = rng.gamma(2.0, size=400)
    fig = sd.plot_error_histogram(err, threshold=6.0, path=tmp_path / "e.png")
    assert_png(tmp_path / "e.png")
    legend = " ".join(texts(fig))
    assert f"({int(np.sum(err > 6.0))} above)" in legend
    with pytest.raises(ConfigError, match="`reconstructions`"):
        sd.plot_reconstructions(x, x[:, :100])


def test_evaluation_figures(tmp_path):
    rng = np.random.default_rng(3)
    ref = rng.integers(0, 4, 200)
    pred = np.where(rng.random(200) < 0.8, ref, rng.integers(0, 4, 200))
    cm = sd.confusion_matrix(pred, ref)
    fig = cm.plot(path=tmp_path / "cm.png")
    assert_png(tmp_path / "cm.png")
    ax = fig.axes[0]
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("Prediction", "Reference")
    assert ax.get_title().startswith("Accuracy")
    cells = {t.get_text() for t in ax.texts}
    assert str(cm.table.iloc[0, 0]) in cells
    plots.plot_confusion_matrix(cm, normalize="reference", path=tmp_path / "cmn.svg")
    y = rng.integers(0, 2, 150)
    prob = np.clip(0.35 * y + 0.65 * rng.random(150), 0, 1)
    fig = sd.roc_curve(y, prob).plot(path=tmp_path / "roc.png")
    assert_png(tmp_path / "roc.png")
    assert any("AUC" in t for t in texts(fig))
    plots.plot_roc(y, prob, label="net", path=tmp_path / "roc2.png")
    assert_png(tmp_path / "roc2.png")
    plots.plot_calibration(y, prob, bins=5, path=tmp_path / "cal.png")
    assert_png(tmp_path / "cal.png")


def test_path_suffix_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="`path`"):
        sd.plot_activations(path=tmp_path / "a.jpg")


# ------------------------------------------------------------- convnet figures (real model)
def _conv_model():
    sd.set_seed(0)
    return sd.Sequential([sd.layers.Conv2D(6, 3, activation="relu", name="conv"),
                          sd.layers.MaxPooling2D(2, name="pool")], input_shape=(12, 12, 1))


def test_plot_filters_from_a_real_conv2d(tmp_path):
    model = _conv_model()
    kernel = model.get_layer("conv").get_weights()[0]
    assert kernel.shape == (3, 3, 1, 6)  # Keras's layout (kh, kw, in, filters)
    fig = sd.plot_filters(model, "conv", ncol=3, path=tmp_path / "filters.png")
    assert_png(tmp_path / "filters.png")
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == 6
    np.testing.assert_allclose(np.asarray(shown[2]), kernel[:, :, 0, 2])
    assert "conv" in fig._suptitle.get_text()
    with pytest.raises(ConfigError, match="`layer`"):
        sd.plot_filters(model, "pool")


def test_plot_feature_maps_with_pooling(tmp_path):
    model = _conv_model()
    image = np.random.default_rng(4).random((12, 12, 1)).astype("float32")
    fig = sd.plot_feature_maps(model, image, "conv", pooled_layer="pool",
                               path=tmp_path / "maps.png")
    assert_png(tmp_path / "maps.png")
    shown = [np.asarray(ax.images[0].get_array()) for ax in fig.axes if ax.images]
    assert len(shown) == 12 and shown[0].shape == (10, 10) and shown[6].shape == (5, 5)
    expected = model.layer_output(image[None], "conv")[0, :, :, 1]
    np.testing.assert_allclose(shown[1], expected, rtol=1e-6)
    with pytest.raises(ConfigError, match="`image`"):
        sd.plot_feature_maps(model, np.zeros((5, 12, 12, 1)), "conv")
