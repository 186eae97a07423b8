"""Saving writes atomically and loading never runs code; bad files get clear errors."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

import statdl as sd
from statdl import layers as L
from statdl.errors import StatdlError


def _trained(tmp_path):
    sd.set_seed(0)
    model = sd.Sequential([L.Dense(6, activation="tanh"), L.Dropout(0.2),
                           L.Dense(2, activation="softmax")], input_shape=(3,))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(x[:, 0] > 0).astype(int)]
    model.fit(x, y, epochs=2, verbose=0)
    return model, x, y


def test_round_trip_keeps_predictions_compile_and_optimizer_state(tmp_path):
    model, x, y = _trained(tmp_path)
    path = tmp_path / "model.statdl"
    model.save(path)
    loaded = sd.load_model(path)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert loaded.summary(print_fn=None) == model.summary(print_fn=None)
    # continuing training from the file gives the same weights as continuing in memory
    sd.set_seed(5)
    model.fit(x, y, epochs=1, verbose=0)
    sd.set_seed(5)
    loaded.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_failed_save_leaves_the_old_file_untouched(tmp_path, monkeypatch):
    model, x, _ = _trained(tmp_path)
    path = tmp_path / "model.statdl"
    model.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", boom)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.statdl"]


def test_corrupt_and_foreign_files(tmp_path):
    model, _, _ = _trained(tmp_path)
    path = tmp_path / "model.statdl"
    model.save(path)
    truncated = tmp_path / "truncated.statdl"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(StatdlError, match="not a readable statdl model file"):
        sd.load_model(truncated)
    foreign = tmp_path / "other.zip"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("model.json", '{"format": "keras"}')
    with pytest.raises(StatdlError, match="not a statdl model file"):
        sd.load_model(foreign)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(StatdlError):
        sd.load_model(text)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sd.load_model(tmp_path / "missing.statdl")


def test_weights_are_stored_as_plain_npy_arrays(tmp_path):
    model, _, _ = _trained(tmp_path)
    path = tmp_path / "model.statdl"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "model.json" in names
    assert all(n == "model.json" or n.endswith(".npy") for n in names)
