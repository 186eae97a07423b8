"""Saving writes atomically and loading never runs code; bad files get clear errors."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile

import numpy as np
import pytest
import torch

import statdl as sd
from _saved_models import assert_trains_on_alike, trained_classifier
from statdl import layers as L
from statdl.errors import StatdlError


def _trained(tmp_path):
    return trained_classifier()


def test_round_trip_keeps_predictions_compile_and_optimizer_state(tmp_path):
    model, x, y = _trained(tmp_path)
    path = tmp_path / "model.statdl"
    model.save(path)
    loaded = sd.load_model(path)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert loaded.summary(print_fn=None) == model.summary(print_fn=None)
    # continuing training from the file gives the same weights as continuing in memory
    assert_trains_on_alike(model, loaded, x, y, seed=5)


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


class _Scale(L.Layer):
    """A custom layer whose config holds a NumPy scalar, which JSON cannot hold."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def get_config(self) -> dict:
        return {"factor": self.factor}


def _leaves_old_file(tmp_path, model, error, match):
    path = tmp_path / "model.statdl"
    path.write_bytes(b"the old file")
    with pytest.raises(error, match=match):
        model.save(path)
    assert path.read_bytes() == b"the old file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.statdl"]


def test_unserialisable_config_is_named_and_leaves_nothing_behind(tmp_path):
    model = sd.Sequential([L.Dense(2), _Scale(np.float32(2.0))], input_shape=(3,))
    _leaves_old_file(tmp_path, model, TypeError, re.escape(
        f"`model.config.layers[1].config.factor` of model '{model.name}' must be JSON-able "
        "(numbers, strings, lists, dicts, None) to be saved; got a float32, which a model file "
        "cannot hold."))


def test_failure_mid_write_leaves_nothing_behind(tmp_path):
    """The second layer's weights have no NumPy dtype: the failure comes after the first
    layer's arrays are written to the temporary file."""
    model = sd.Sequential([L.Dense(4), L.Dense(2)], input_shape=(3,))
    model.build()
    model.module.layers[1].to(torch.bfloat16)
    _leaves_old_file(tmp_path, model, TypeError, re.escape(
        "Cannot save `weights/layers.1.kernel.npy`: its dtype torch.bfloat16 has no NumPy "
        "equivalent"))


def test_manifest_records_the_sha256_of_every_array(tmp_path):
    model, _, _ = _trained(tmp_path)
    model.save(tmp_path / "m.statdl")
    with zipfile.ZipFile(tmp_path / "m.statdl") as zf:
        meta = json.loads(zf.read("model.json"))
        arrays = {n: hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist()
                  if n != "model.json"}
    assert meta["version"] == 2
    assert meta["checksums"] == arrays
    assert {n.split("/")[0] for n in arrays} == {"weights", "optimizer"}


def test_saved_after_freezing_keeps_the_optimizer_state(tmp_path):
    """Freezing after fit shrinks the trainable weights: the file holds the optimiser state
    for the weights still trainable, so training on from the file matches training on in
    memory (the slots were silently reset before)."""
    model, x, y = _trained(tmp_path)
    model.freeze(up_to=0)
    model.save(tmp_path / "m.statdl")
    loaded = sd.load_model(tmp_path / "m.statdl")
    assert_trains_on_alike(model, loaded, x, y, seed=3)


def _old_format_file(model, path):
    """The layout of format version 1, written by hand: no checksums."""
    opt = model.optimizer_
    meta = {"format": "statdl-model", "version": 1,
            "model": {"class_name": "Sequential", "config": model.full_config()},
            "input_shape": list(model.built_shape_),
            "compile": {"optimizer": {"class_name": type(opt).__name__,
                                      "config": opt.get_config(), "iterations": opt.iterations},
                        "loss": "categorical_crossentropy", "metrics": ["accuracy"]}}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.json", json.dumps(meta, indent=1))
        for key, value in model.module.state_dict().items():
            buf = io.BytesIO()
            np.save(buf, value.numpy(), allow_pickle=False)
            zf.writestr(f"weights/{key}.npy", buf.getvalue())
        for key, value in opt.state.items():
            buf = io.BytesIO()
            np.save(buf, value.numpy(), allow_pickle=False)
            zf.writestr(f"optimizer/{key}.npy", buf.getvalue())
    return path


def test_files_of_format_version_1_still_load(tmp_path):
    model, x, y = _trained(tmp_path)
    loaded = sd.load_model(_old_format_file(model, tmp_path / "v1.statdl"))
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert loaded.optimizer_.iterations == model.optimizer_.iterations == 4
    assert_trains_on_alike(model, loaded, x, y, seed=5)


def test_version_1_files_get_the_same_structural_checks(tmp_path):
    model, _, _ = _trained(tmp_path)
    model.optimizer_.state["m"] = model.optimizer_.state["m"][:5]
    path = _old_format_file(model, tmp_path / "v1.statdl")
    with pytest.raises(StatdlError, match=re.escape(
            "optimizer slot `optimizer/m.npy` must be a float32 vector of the 38 trainable "
            "weights; got float32 of shape (5,)")):
        sd.load_model(path)

