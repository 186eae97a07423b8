"""Damaged and crafted model files: every problem is a StatdlError naming the file and the
member or field, and nothing big is read or built before the sizes are checked."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import statdl as sd
from _saved_models import trained_classifier
from statdl.errors import StatdlError

KERNEL = "weights/layers.0.kernel.npy"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained model (Adam state included), its file, the file's members and manifest."""
    model, x, y = trained_classifier()
    path = tmp_path_factory.mktemp("saved") / "model.statdl"
    model.save(path)
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(members.pop("model.json"))
    return {"model": model, "x": x, "y": y, "path": path, "members": members, "meta": meta}


def npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def npy_header(shape, descr: str = "<f4") -> bytes:
    """A ``.npy`` header (no data) claiming ``shape`` and ``descr``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path, members: dict, meta=None, declared: dict | None = None,
          method: int = zipfile.ZIP_DEFLATED, prefix: bytes = b"", suffix: bytes = b""):
    """A zip of ``members`` plus ``model.json`` (``meta``, left out when None); ``declared``
    overrides the uncompressed size the central directory states for a member."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if meta is not None:
            zf.writestr("model.json", meta if isinstance(meta, str | bytes) else json.dumps(meta))
        for info in zf.filelist:
            if declared and info.filename in declared:
                info.file_size = declared[info.filename]
    path.write_bytes(prefix + buf.getvalue() + suffix)
    return path


def copies(saved):
    return dict(saved["members"]), json.loads(json.dumps(saved["meta"]))


def refused(path, *fragments: str) -> str:
    with pytest.raises(StatdlError) as info:
        sd.load_model(path)
    text = str(info.value)
    assert str(path) in text
    for fragment in fragments:
        assert fragment in text
    return text


def test_the_untouched_file_loads(saved, tmp_path):
    members, meta = copies(saved)
    loaded = sd.load_model(write(tmp_path / "same.statdl", members, meta))
    np.testing.assert_array_equal(loaded.predict(saved["x"]), saved["model"].predict(saved["x"]))


# ------------------------------------------------------------------ the manifest
def test_missing_manifest(saved, tmp_path):
    members, _ = copies(saved)
    refused(write(tmp_path / "m.statdl", members), "not a statdl model file",
            "no member `model.json`")


@pytest.mark.parametrize("text,fragment", [
    ("[1, 2]", "must hold a JSON object; got a list"),
    ("{not json", "`model.json` is not valid JSON"),
    (b"\xff\xfe{}", "`model.json` is not valid JSON"),
    ("[" * 100000 + "]" * 100000, "`model.json` is not valid JSON"),
])
def test_manifest_that_is_not_an_object(saved, tmp_path, text, fragment):
    members, _ = copies(saved)
    refused(write(tmp_path / "m.statdl", members, text), fragment)


def _drop(meta, *keys):
    *parents, last = keys
    for key in parents:
        meta = meta[key]
    del meta[last]


@pytest.mark.parametrize("keys,fragment", [
    (("version",), "field `version` of model.json must be an int from 1 to 2; got None"),
    (("model",), "field `model` is missing"),
    (("input_shape",), "field `input_shape` is missing"),
    (("compile",), "field `compile` is missing"),
    (("checksums",), "field `checksums` of model.json must be an object"),
    (("compile", "loss"), "field `compile.loss` is missing"),
    (("compile", "optimizer", "iterations"),
     "field `compile.optimizer.iterations` of model.json must be an int from 0 to 2**53; "
     "got None"),
    (("checksums", KERNEL), f"member `{KERNEL}` has no SHA-256 in field `checksums`"),
    (("model", "config", "layers", 0, "class_name"), "`model.config.layers[0]` must be a dict"),
])
def test_missing_keys(saved, tmp_path, keys, fragment):
    members, meta = copies(saved)
    _drop(meta, *keys)
    refused(write(tmp_path / "m.statdl", members, meta), fragment)


def _input_shape(meta, shape):
    meta["input_shape"] = meta["model"]["config"]["input_shape"] = shape


def _layer0(meta):
    return meta["model"]["config"]["layers"][0]


@pytest.mark.parametrize("change,fragment", [
    (lambda m: _layer0(m)["config"].update(units="6"),
     "field `model.config.layers[0]` (Dense): `units` of Dense must be an int >= 1; got '6'."),
    (lambda m: _layer0(m)["config"].update(activation=[1]), "`model.config.layers[0]` (Dense)"),
    (lambda m: _layer0(m)["config"].update(bogus=1),
     "field `model.config.layers[0]` (Dense) has the unknown argument 'bogus'; Dense takes "
     "['activation', 'activity_regularizer', 'bias_initializer', "),
    (lambda m: _layer0(m).update(class_name="Nonesuch"),
     "`model.config.layers[0]` names unknown layer class 'Nonesuch'"),
    (lambda m: _layer0(m).update(class_name=7), "`model.config.layers[0]` must be a dict"),
    (lambda m: _layer0(m).update(config=[]), "`model.config.layers[0]` must be a dict"),
    (lambda m: m["model"]["config"].update(layers={}), "`model.config.layers` must be a list"),
    (lambda m: m.update(model=_layer0(m)), "field `model` of model.json must be a Sequential "
                                           "or functional model; got 'Dense'"),
    (lambda m: m.update(input_shape="3"), "field `input_shape` of model.json must be a "
                                          "non-empty list of ints >= 1 (or null); got '3'"),
    (lambda m: m.update(input_shape=[0]), "field `input_shape`"),
    (lambda m: _input_shape(m, [2]), f"member `{KERNEL}` holds float32 of shape (3, 6); "
                                          "the architecture needs float32 of shape (2, 6)"),
    (lambda m: _input_shape(m, [30]), "field `model` needs 200 weights but the weights "
                                           "members hold 38 values"),
    (lambda m: _input_shape(m, [None]), "field `model` does not fit `input_shape` [None]"),
    (lambda m: m.update(version=True), "field `version` of model.json must be an int"),
    (lambda m: m.update(version=3), "newer statdl (format version 3); upgrade statdl"),
    (lambda m: m.update(format="keras"), "not a statdl model file"),
    (lambda m: m.update(checksums=[]), "field `checksums` of model.json must be an object"),
    (lambda m: m["checksums"].update({KERNEL: "ab"}),
     f"field `checksums.{KERNEL}` of model.json must be 64 lowercase hex digits; got 'ab'"),
    (lambda m: m["checksums"].update({"weights/extra.npy": "0" * 64}),
     "field `checksums` names member `weights/extra.npy`, which the file lacks"),
])
def test_wrong_fields(saved, tmp_path, change, fragment):
    members, meta = copies(saved)
    change(meta)
    refused(write(tmp_path / "m.statdl", members, meta), fragment)


@pytest.mark.parametrize("change,fragment", [
    (lambda c: c["optimizer"]["config"].update(foo=1),
     "field `compile.optimizer.config` gives Adam the unknown argument 'foo'; it takes "
     "['amsgrad', 'beta_1', 'beta_2', 'epsilon', 'learning_rate']"),
    (lambda c: c["optimizer"]["config"].update(learning_rate="0.1"),
     "field `compile.optimizer.config.learning_rate` of model.json must be a number; got '0.1'"),
    (lambda c: c["optimizer"]["config"].update(beta_1=2.0),
     "field `compile.optimizer.config`: `beta_1` of Adam must be a number in [0, 1)"),
    (lambda c: c["optimizer"].update(class_name="Adamax"),
     "field `compile.optimizer.class_name` of model.json must be one of ['Adagrad', 'Adam', "
     "'RMSprop', 'SGD']; got 'Adamax'"),
    (lambda c: c["optimizer"].update(config=None), "field `compile.optimizer` of model.json"),
    (lambda c: c["optimizer"].update(iterations=-1),
     "field `compile.optimizer.iterations` of model.json must be an int from 0 to 2**53; "
     "got -1"),
    (lambda c: c["optimizer"].update(iterations=10**30), "`compile.optimizer.iterations`"),
    (lambda c: c["optimizer"].update(iterations=2.0), "`compile.optimizer.iterations`"),
    (lambda c: c["optimizer"].update(iterations=True), "`compile.optimizer.iterations`"),
    (lambda c: c.update(loss="msq"), "field `compile`: `loss` must be one of"),
    (lambda c: c.update(loss=3), "field `compile.loss` of model.json must be a loss name"),
    (lambda c: c.update(metrics="accuracy"), "field `compile.metrics` of model.json must be a "
                                             "list of metric names"),
    (lambda c: c.update(metrics=["nonesuch"]), "field `compile`: `metrics`"),
])
def test_wrong_compile_fields(saved, tmp_path, change, fragment):
    members, meta = copies(saved)
    change(meta["compile"])
    refused(write(tmp_path / "m.statdl", members, meta), fragment)


def test_optimizer_members_without_compile_section(saved, tmp_path):
    members, meta = copies(saved)
    meta["compile"] = None
    refused(write(tmp_path / "m.statdl", members, meta),
            "optimizer members are present but field `compile` is null")


@pytest.mark.parametrize("depth,fragment", [
    (33, "field `model" + ".config.layers[0]" * 33 + "` nests models more than 32 deep"),
    (5000, "`model.json` is not valid JSON"),
])
def test_deeply_nested_models(saved, tmp_path, depth, fragment):
    members, meta = copies(saved)
    inner = json.dumps(meta.pop("model"))
    nest = '{"class_name": "Sequential", "config": {"layers": ['
    text = json.dumps(meta)[:-1] + ', "model": ' + nest * depth + inner + "]}}" * depth + "}"
    refused(write(tmp_path / "m.statdl", members, text), fragment)


# ------------------------------------------------------------------ the arrays
def test_array_header_that_does_not_match_the_architecture(saved, tmp_path):
    members, meta = copies(saved)
    members[KERNEL] = npy(np.zeros((6, 3), np.float32))
    meta["checksums"][KERNEL] = sha(members[KERNEL])
    refused(write(tmp_path / "m.statdl", members, meta), f"member `{KERNEL}` holds float32 of "
            "shape (6, 3); the architecture needs float32 of shape (3, 6)")
    members[KERNEL] = npy(np.zeros((3, 6), np.float64))
    meta["checksums"][KERNEL] = sha(members[KERNEL])
    refused(write(tmp_path / "m.statdl", members, meta), f"member `{KERNEL}` holds float64")


def test_array_header_claiming_a_billion_values(saved, tmp_path):
    members, meta = copies(saved)
    members[KERNEL] = npy_header((10**9,)) + np.zeros(18, np.float32).tobytes()
    meta["checksums"][KERNEL] = sha(members[KERNEL])
    refused(write(tmp_path / "m.statdl", members, meta),
            f"member `{KERNEL}` declares", "its header (float32, shape (1000000000,)) implies "
            "4000000128")


@pytest.mark.parametrize("array,fragment", [
    (np.array(["a", "b"]), "not a numeric array"),
    (np.zeros(3, complex), "not a numeric array"),
])
def test_arrays_that_are_not_numbers(saved, tmp_path, array, fragment):
    members, meta = copies(saved)
    members[KERNEL] = npy(array)
    meta["checksums"][KERNEL] = sha(members[KERNEL])
    refused(write(tmp_path / "m.statdl", members, meta), f"member `{KERNEL}`", fragment)


def test_object_array_header(saved, tmp_path):
    members, meta = copies(saved)
    members[KERNEL] = npy_header((3, 6), "|O") + bytes(18 * 8)
    meta["checksums"][KERNEL] = sha(members[KERNEL])
    refused(write(tmp_path / "m.statdl", members, meta), f"member `{KERNEL}`")


def test_missing_and_extra_weights(saved, tmp_path):
    members, meta = copies(saved)
    data = members.pop(KERNEL)
    del meta["checksums"][KERNEL]
    refused(write(tmp_path / "m.statdl", members, meta),
            "field `model` needs 38 weights but the weights members hold 20 values")
    members[KERNEL] = data
    members["weights/layers.9.kernel.npy"] = data
    meta["checksums"][KERNEL] = meta["checksums"]["weights/layers.9.kernel.npy"] = sha(data)
    refused(write(tmp_path / "m.statdl", members, meta),
            "member `weights/layers.9.kernel.npy` is not a weight of the architecture")


def test_flipped_weight_bytes_fail_the_checksum(saved, tmp_path):
    """The zip stays valid (its CRC is recomputed), only the SHA-256 tells."""
    members, meta = copies(saved)
    data = bytearray(members[KERNEL])
    data[-3] ^= 0x40
    members[KERNEL] = bytes(data)
    refused(write(tmp_path / "m.statdl", members, meta),
            f"member `{KERNEL}` does not match its SHA-256 in model.json")


@pytest.mark.parametrize("slot", [np.zeros(5, np.float32), np.zeros((38, 1), np.float32),
                                  np.zeros(38, np.float64)])
def test_optimizer_slot_of_the_wrong_shape(saved, tmp_path, slot):
    members, meta = copies(saved)
    members["optimizer/m.npy"] = npy(slot)
    meta["checksums"]["optimizer/m.npy"] = sha(members["optimizer/m.npy"])
    refused(write(tmp_path / "m.statdl", members, meta), "optimizer slot `optimizer/m.npy` must "
            f"be a float32 vector of the 38 trainable weights; got {slot.dtype} of shape "
            f"{slot.shape}")


# ------------------------------------------------------------------ the zip itself
def test_trailing_and_leading_garbage(saved, tmp_path):
    members, meta = copies(saved)
    refused(write(tmp_path / "t.statdl", members, meta, suffix=b"garbage" * 5),
            "not a readable statdl model file", "bytes after the end of the archive")
    refused(write(tmp_path / "l.statdl", members, meta, prefix=b"garbage"),
            "not a readable statdl model file", "bytes before the first member")


def test_duplicate_unexpected_and_undeflated_members(saved, tmp_path):
    members, meta = copies(saved)
    path = write(tmp_path / "dup.statdl", members, meta)
    with zipfile.ZipFile(path, "a") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr(KERNEL, members[KERNEL])
    refused(path, f"member `{KERNEL}` appears twice")
    refused(write(tmp_path / "x.statdl", {**members, "notes.txt": b"hi"}, meta),
            "unexpected member `notes.txt`")
    refused(write(tmp_path / "b.statdl", members, meta, method=zipfile.ZIP_BZIP2),
            "uses compression method 12; statdl writes only deflate")


def test_member_declaring_10_gb(saved, tmp_path):
    members, meta = copies(saved)
    path = write(tmp_path / "m.statdl", members, meta, declared={KERNEL: 10 * 2**30})
    refused(path, f"member `{KERNEL}` declares 10737418240 bytes but holds",
            "the file is damaged or was not written by statdl")
    stored = write(tmp_path / "s.statdl", members, meta, declared={KERNEL: 10 * 2**30},
                   method=zipfile.ZIP_STORED)
    refused(stored, f"member `{KERNEL}` declares 10737418240 bytes")


def test_members_declaring_more_than_a_gigabyte_in_all(saved, tmp_path):
    """Each member within deflate's 1032-fold limit, but together 1000 times the file."""
    members, meta = copies(saved)
    noise = np.random.default_rng(0).bytes(2**20 + 2**16)
    for i in range(2):
        members[f"weights/pad{i}.npy"] = noise
        meta["checksums"][f"weights/pad{i}.npy"] = sha(noise)
    path = write(tmp_path / "m.statdl", members, meta,
                 declared={"weights/pad0.npy": 1000 * len(noise),
                           "weights/pad1.npy": 1000 * len(noise)})
    refused(path, "the members declare 22282", "bytes in all, more than 100 times the")


def test_byte_flips_anywhere_are_refused_or_harmless(saved, tmp_path):
    """Flip every 7th byte of a real file in turn: each load raises a StatdlError or gives
    exactly the saved model's predictions (flips in timestamps and such are harmless)."""
    data = saved["path"].read_bytes()
    want = saved["model"].predict(saved["x"])
    path = tmp_path / "flip.statdl"
    outcomes = {"refused": 0, "same": 0}
    for at in range(0, len(data), 7):
        flipped = bytearray(data)
        flipped[at] ^= 0xFF
        path.write_bytes(bytes(flipped))
        try:
            loaded = sd.load_model(path)
        except StatdlError as exc:
            assert str(path) in str(exc)
            outcomes["refused"] += 1
            continue
        np.testing.assert_array_equal(loaded.predict(saved["x"]), want, err_msg=f"byte {at}")
        outcomes["same"] += 1
    assert outcomes["refused"] > outcomes["same"]


# ------------------------------------------------------------------ bounded memory
LIMITED_LOAD = """
import resource, sys
import statdl as sd
import statdl.saving, statdl.model, statdl.training.optimizers
sd.Sequential([sd.layers.Dense(1)], input_shape=(1,)).build()
with open("/proc/self/status") as fh:
    vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize"))
resource.setrlimit(resource.RLIMIT_AS, (vm + {headroom}, vm + {headroom}))
for path in sys.argv[1:]:
    try:
        sd.load_model(path)
        print("loaded", path)
    except sd.StatdlError as exc:
        print("StatdlError:", exc)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and RLIMIT_AS")
def test_crafted_files_are_refused_within_a_small_memory_limit(saved, tmp_path):
    """Under an address-space limit of 64 MB above the baseline: a member declaring 10 GB,
    and a real zip bomb (256 MB of zeros in 250 kB, with a valid header), are refused with a
    StatdlError before anything big is allocated, while the real file loads."""
    members, meta = copies(saved)
    ten_gb = write(tmp_path / "ten_gb.statdl", members, meta, declared={KERNEL: 10 * 2**30})
    bomb = tmp_path / "bomb.statdl"
    zeros = np.zeros(2**20, np.uint8).tobytes()
    header = npy_header((2**26,))
    digest = hashlib.sha256(header)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if name != KERNEL:
                zf.writestr(name, data)
        with zf.open(KERNEL, "w") as fh:
            fh.write(header)
            for _ in range(256):
                fh.write(zeros)
                digest.update(zeros)
        meta["checksums"][KERNEL] = digest.hexdigest()
        zf.writestr("model.json", json.dumps(meta))
    assert bomb.stat().st_size < 2**20
    script = textwrap.dedent(LIMITED_LOAD).format(headroom=64 * 2**20)
    done = subprocess.run([sys.executable, "-c", script, str(ten_gb), str(bomb),
                           str(saved["path"])], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MALLOC_ARENA_MAX": "1", "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        f"StatdlError: Cannot load {str(ten_gb)!r}: member `{KERNEL}` declares 10737418240 "
        f"bytes but holds {zipfile.ZipFile(ten_gb).getinfo(KERNEL).compress_size} compressed "
        "bytes, which cannot expand to more than "
        f"{1032 * zipfile.ZipFile(ten_gb).getinfo(KERNEL).compress_size}; the file is damaged "
        "or was not written by statdl.",
        f"StatdlError: Cannot load {str(bomb)!r}: member `{KERNEL}` holds float32 of shape "
        "(67108864,); the architecture needs float32 of shape (3, 6).",
        f"loaded {saved['path']}",  # the limit is not so tight that a real file fails
    ]
