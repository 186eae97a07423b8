"""The worked examples of issue #14 written with the functional API: the course's autoencoder
(``en`` / ``auto_encode``), a wide-and-deep Hitters model, the VAE the Keras-examples way, and a
Conv1D IMDB classifier (the slow test trains it on the real reviews).

Reference values come from definitions (parameter arithmetic, ``tanh(x W + b)``), the raw
Hitters table, and statdl's builder VAE with the same weights and the same noise.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import statdl as sd
from statdl.labs import run_lab
from statdl.labs.autoencoders import course_autoencoder
from statdl.labs.hitters_wide_deep import hitters_parts, wide_and_deep
from statdl.labs.imdb_conv1d import build as conv1d_build
from statdl.labs.vae_keras import VAE, statdl_vae, vae_parts


def _digits(n: int) -> np.ndarray:
    (x, _), _ = sd.datasets.mnist_sample()
    return x[:n].reshape(n, 784).astype(np.float32) / 255


# ----------------------------------------------------------------------------- the course's AE
def test_course_autoencoder_summary_counts_and_codings_through_shared_weights():
    en, auto_encode = course_autoencoder()
    lines: list[str] = []
    auto_encode.summary(print_fn=lines.append)
    text = "\n".join(lines)
    rows = re.findall(r"^(\S+) \((\w+)\)\s+\S.*?\s([\d,]+)\s*$", text, re.M)
    assert [(kind, int(count.replace(",", ""))) for _, kind, count in rows] == [
        ("InputLayer", 0), ("Dense", 784 * 100 + 100), ("Dense", 100 * 784 + 784)]
    assert "Total params: 157,684" in text
    assert en.count_params() == 78_500 and auto_encode.count_params() == 157_684

    x = _digits(512)
    before = en.predict(x)
    auto_encode.compile(loss="mean_squared_error", optimizer="adam")
    auto_encode.fit(x, x, epochs=1, batch_size=256, verbose=0)   # en itself is never trained
    codings = en.predict(x)
    dense = auto_encode.layers[1]
    assert en.layers[1] is dense                                  # one layer, two models
    w, b = (a.astype(np.float64) for a in dense.get_weights())
    np.testing.assert_allclose(codings, np.tanh(x.astype(np.float64) @ w + b), atol=1e-5)
    assert np.abs(codings - before).max() > 1e-3                  # training moved the codings


def test_mnist_autoencoder_lab_prints_codings_of_the_functional_model(tmp_path, capsys):
    res = run_lab("mnist-autoencoder", quick=True, runs_dir=str(tmp_path), verbose=0,
                  no_view=True)
    out = capsys.readouterr().out
    assert "(InputLayer)" in out and "Total params: 157,684" in out
    assert "encoded_imgs[1:10, 1:5]" in out
    head = np.asarray(res["codings_head"])
    assert head.shape == (10, 5) and np.all(np.abs(head) < 1)    # tanh codings
    (x_train, _), (x_test, _) = sd.datasets.mnist_sample()
    x_train, x_test = (x.reshape(len(x), 784).astype(np.float64) / 255 for x in (x_train, x_test))
    mean_digit = np.mean((x_test - x_train.mean(0)) ** 2)    # predicting the mean digit: ~0.067
    assert 0 < res["headline"]["value"] < mean_digit


# ----------------------------------------------------------------------------- wide and deep
def test_hitters_parts_codes_follow_the_raw_table():
    table = sd.datasets.hitters()
    d = hitters_parts(seed=1001)
    expected = np.column_stack([(table["League"] == "N").to_numpy(),
                                (table["Division"] == "W").to_numpy() + 2,
                                (table["NewLeague"] == "N").to_numpy() + 4]).astype(np.int64)
    np.testing.assert_array_equal(d["codes"], expected)
    numeric = table.drop(columns=["League", "Division", "NewLeague", "Salary"])
    scaled = (numeric - numeric.mean()) / numeric.std(ddof=1)
    np.testing.assert_allclose(d["numeric"], scaled.to_numpy(), rtol=1e-5, atol=1e-5)
    assert len(d["test"]) == 79 and len(np.intersect1d(d["train"], d["test"])) == 0


def test_wide_and_deep_counts_and_two_inputs():
    model = wide_and_deep()
    assert model.count_params() == (16 * 64 + 64) + 6 * 2 + (64 + 6 + 1)
    assert model.input_names == ["numeric", "categorical"]
    emb = model.get_layer("embedding")
    d = hitters_parts(seed=1001)
    out = model.predict([d["numeric"][:5], d["codes"][:5]])
    # the same forward pass by hand from the layers' Keras-layout weights
    wd, bd = model.get_layer("deep").get_weights()
    (table,) = emb.get_weights()
    ws, bs = model.get_layer("salary").get_weights()
    merged = np.concatenate([np.maximum(d["numeric"][:5] @ wd + bd, 0),
                             table[d["codes"][:5]].reshape(5, -1)], axis=1)
    np.testing.assert_allclose(out, merged @ ws + bs, rtol=1e-5, atol=1e-5)


def test_hitters_wide_deep_lab_compares_with_the_course_network(tmp_path):
    res = run_lab("hitters-wide-deep", quick=True, runs_dir=str(tmp_path), verbose=0,
                  no_view=True)                                   # 100 epochs of 6 steps
    mse_wd = res["wide_and_deep"]["MSE"]["estimate"]
    mse_seq = res["sequential"]["MSE"]
    squared = res["comparison"]["squared error"]
    assert squared["difference"] == pytest.approx(mse_wd - mse_seq, rel=1e-5)   # float32 predictions
    assert res["params"] == {"wide_and_deep": 1171, "sequential": 20 * 64 + 64 + 65}
    var = float(np.var(hitters_parts(1001)["y"]))                 # ~0.79: predicting the mean
    assert 0 < mse_wd < var and 0 < mse_seq < var


# ----------------------------------------------------------------------------- the VAE
def _copy_builder_weights(ae, encoder: sd.Model, decoder: sd.Model) -> None:
    """statdl's builder VAE -> the Keras-style parts: its Dense(4) is [z_mean | z_log_var]."""
    hidden, codings = [layer for layer in ae.encoder.layers if layer.count_params()][:2]
    encoder.get_layer("encoder_hidden").set_weights(hidden.get_weights())
    k, b = codings.get_weights()
    encoder.get_layer("z_mean").set_weights([k[:, :2], b[:2]])
    encoder.get_layer("z_log_var").set_weights([k[:, 2:], b[2:]])
    dec = [layer for layer in ae.decoder.layers if layer.count_params()]
    decoder.get_layer("decoder_hidden").set_weights(dec[0].get_weights())
    decoder.get_layer("decoder_output").set_weights(dec[1].get_weights())


def test_keras_style_vae_has_the_builders_parameters_and_loss():
    ae = statdl_vae()
    encoder, decoder = vae_parts()
    count = (784 * 256 + 256) + 2 * (256 * 2 + 2) + (2 * 256 + 256) + (256 * 784 + 784)
    assert encoder.count_params() + decoder.count_params() == ae.count_params() == count
    _copy_builder_weights(ae, encoder, decoder)
    x = _digits(64)
    np.testing.assert_allclose(VAE(encoder, decoder).reconstruct(x), ae.reconstruct(x),
                               rtol=1e-5, atol=1e-6)
    # one full-batch SGD step each, with the same noise: the same loss and the same update
    ae.compile(optimizer=sd.optimizers.SGD(0.5), loss="mse")
    vae = VAE(encoder, decoder)
    vae.compile(optimizer=sd.optimizers.SGD(0.5))
    torch.manual_seed(3)
    h_ae = ae.fit(x, epochs=1, batch_size=64, shuffle=False, verbose=0).history
    torch.manual_seed(3)
    h_vae = vae.fit(x, epochs=1, batch_size=64, shuffle=False, verbose=0).history
    assert h_vae["loss"][0] == pytest.approx(h_ae["loss"][0], rel=1e-5)
    assert h_vae["kl_loss"][0] / 784 == pytest.approx(h_ae["kl_loss"][0], rel=1e-4)
    assert h_vae["reconstruction_loss"][0] == pytest.approx(h_ae["reconstruction_loss"][0],
                                                            rel=1e-4)
    np.testing.assert_allclose(VAE(encoder, decoder).reconstruct(x), ae.reconstruct(x),
                               rtol=1e-4, atol=1e-5)


def test_keras_style_vae_trains_as_far_as_the_builder():
    x = _digits(2048)
    sd.set_seed(5)
    encoder, decoder = vae_parts()
    vae = VAE(encoder, decoder)
    vae.compile(optimizer="adam")
    h_vae = vae.fit(x, epochs=4, batch_size=256, verbose=0).history
    sd.set_seed(5)
    ae = statdl_vae()
    ae.compile(optimizer="adam", loss="mse")
    h_ae = ae.fit(x, epochs=4, batch_size=256, verbose=0).history
    assert h_vae["loss"][-1] < 0.7 * h_vae["loss"][0] and h_ae["loss"][-1] < 0.7 * h_ae["loss"][0]
    assert h_vae["loss"][-1] == pytest.approx(h_ae["loss"][-1], rel=0.1)


# ----------------------------------------------------------------------------- Conv1D on IMDB
def test_conv1d_classifier_counts():
    model = conv1d_build(500)
    assert model.count_params() == 10000 * 32 + (7 * 32 * 32 + 32) + (32 + 1)
    assert model.compute_output_shape((500,)) == (1,)


@pytest.mark.slow
def test_imdb_conv1d_reaches_087_on_the_real_reviews(shared_data, tmp_path):
    if not (shared_data / "aclImdb_labeled.tar.gz").exists():
        pytest.skip(f"IMDB reviews are not in {shared_data}")
    res = run_lab("imdb-conv1d", data_dir=str(shared_data), runs_dir=str(tmp_path), verbose=0,
                  no_view=True)
    assert res["headline"]["value"] >= 0.87, res["headline"]
