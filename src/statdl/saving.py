"""Model files: a zip archive with ``model.json`` (architecture, compile settings, a SHA-256 of
every array member) and one ``.npy`` array per weight (``weights/<key>.npy``) and optimiser
slot (``optimizer/<slot>.npy``).

Loading treats the file as untrusted. ``numpy.load(allow_pickle=False)`` reads the arrays, so a
file never executes code; every member's declared size and every array's header are checked
against the architecture before anything is read or built, so a small crafted file cannot make
the loader allocate much more than deflate could have packed into it; every array is checked
against its SHA-256; every problem is a ``StatdlError`` naming the file and the member or
field. Files of format version 1 (no checksums) still load, without the checksum check.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import math
import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import ConfigError, StatdlError
from .validation import message

__all__ = ["save_model", "load_model", "layer_from_spec", "layer_to_config", "save_weights",
           "load_weights"]

FORMAT = "statdl-model"
VERSION = 2  # 2: SHA-256 of every array member in "checksums"; 1: no checksums
MANIFEST = "model.json"
MAX_MANIFEST_BYTES = 16 * 2**20
#: Deflate cannot expand data more than 1032-fold: a member declaring more is not deflate data.
MAX_DEFLATE_RATIO = 1032
#: Members may declare this many bytes in all, or more when the file is at least a
#: hundredth of that: real weights never pack a hundred-fold.
MAX_TOTAL_BYTES, MAX_TOTAL_RATIO = 2**30, 100
MAX_ITERATIONS = 2**53  # step counts above this lose precision as floats
MAX_NESTING = 32  # models inside models (building is cubic in the depth)
_MEMBER = re.compile(r"(weights|optimizer)/([A-Za-z0-9_.]+)\.npy")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_END_OF_ZIP = b"PK\x05\x06"


# ----------------------------------------------------------------------------- saving
def layer_to_config(layer) -> dict:
    """``{"class_name": ..., "config": ...}`` for a layer or (nested) model.

    Examples
    --------
    >>> from statdl.layers import Dense
    >>> layer_to_config(Dense(3, name="d"))["config"]["units"]
    3
    """
    return {"class_name": type(layer).__name__, "config": layer.full_config()}


def save_model(model, path: str | os.PathLike, include_optimizer: bool = True) -> None:
    """Write ``model`` to ``path`` atomically (see the module docstring for the format).

    A temporary file beside ``path`` is renamed over it at the end; when anything fails the
    temporary file is removed and an existing file at ``path`` is left as it was.

    Examples
    --------
    >>> import os, tempfile, statdl as sd
    >>> model = sd.Sequential([sd.layers.Dense(2)], input_shape=(3,))
    >>> path = os.path.join(tempfile.mkdtemp(), "m.statdl")
    >>> save_model(model, path)
    >>> sd.load_model(path).count_params()
    8
    """
    from .utils import atomic_write

    meta = _manifest(model, include_optimizer)
    checksums: dict[str, str] = {}
    with atomic_write(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, tensor in _array_members(model, include_optimizer):
            data = _npy(tensor, member)
            checksums[member] = hashlib.sha256(data).hexdigest()
            zf.writestr(member, data)
        zf.writestr(MANIFEST, json.dumps({**meta, "checksums": checksums}, indent=1))


def _manifest(model, include_optimizer: bool = True) -> dict:
    """Everything but the checksums; raises before any file is opened when a config is not
    JSON-able."""
    compiled = None
    if model._compiled is not None and include_optimizer:
        opt = model._compiled["optimizer"]
        loss_name = model._compiled["loss_name"]
        if isinstance(loss_name, dict):  # one loss per output: by name, or None if custom
            loss_name = loss_name if all(isinstance(v, str) for v in loss_name.values()) \
                else None
        compiled = {
            "optimizer": {"class_name": type(opt).__name__, "config": opt.get_config(),
                          "iterations": opt.iterations},
            "loss": loss_name if isinstance(loss_name, str | dict) else None,
            "metrics": model._compiled["metric_names"],
        }
        if model._compiled.get("loss_weights") is not None:
            compiled["loss_weights"] = model._compiled["loss_weights"]
    shape = model.built_shape_ or model._input_shape
    shape = [list(s) for s in shape] if shape and isinstance(shape[0], list | tuple) \
        else list(shape)
    meta = {"format": FORMAT, "version": VERSION, "model": layer_to_config(model),
            "input_shape": shape, "compile": compiled}
    where = _not_json(meta, "")
    if where is not None:
        place, value = where
        raise TypeError(message(
            place, "JSON-able (numbers, strings, lists, dicts, None) to be saved", None,
            f"model '{model.name}'", shown=f"a {type(value).__name__}, which a model file "
            "cannot hold", fix="Give layers and the optimiser JSON-able arguments."))
    return meta


def _not_json(value: Any, place: str) -> tuple[str, Any] | None:
    """The first place in ``value`` that JSON cannot hold, or None."""
    if value is None or isinstance(value, str | bool | int | float):
        return None
    if isinstance(value, list | tuple):
        items = enumerate(value)
        return next((w for i, v in items if (w := _not_json(v, f"{place}[{i}]"))), None)
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{place}.{key}" if place else str(key)
            if not isinstance(key, str):
                return sub, key
            found = _not_json(item, sub)
            if found:
                return found
        return None
    return place, value


def _array_members(model, include_optimizer: bool = True):
    """(member name, tensor) for every weight, then every optimiser slot."""
    for key, value in model.module.state_dict().items():
        yield f"weights/{key}.npy", value
    if model._compiled is None or not include_optimizer:
        return
    optimizer = model._compiled["optimizer"]
    n_trainable = sum(p.numel() for p in model._trainable_parameters())
    if any(v.numel() != n_trainable for v in optimizer.state.values()):
        # weights were frozen or unfrozen since the last fit: map the slots onto the current
        # trainable weights, as the next fit would
        model._training_state()
    for key, value in optimizer.state.items():
        yield f"optimizer/{key}.npy", value


def _npy(tensor: torch.Tensor, member: str) -> bytes:
    try:
        array = tensor.detach().cpu().numpy()
    except TypeError as exc:
        raise TypeError(f"Cannot save `{member}`: its dtype {tensor.dtype} has no NumPy "
                        f"equivalent ({exc}); convert the model to float32 first.") from exc
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


# ----------------------------------------------------------------------------- loading
def load_model(path: str | os.PathLike):
    """Read a model saved by ``Sequential.save``.

    Raises ``FileNotFoundError`` when ``path`` is not a file and ``StatdlError`` (naming the
    file and the member or field) for anything wrong inside it.

    Examples
    --------
    >>> import os, tempfile, statdl as sd
    >>> path = os.path.join(tempfile.mkdtemp(), "m.statdl")
    >>> sd.Sequential([sd.layers.Dense(2)], input_shape=(3,)).save(path)
    >>> load_model(path).count_params()
    8
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` {str(path)!r} does not exist or is not a file.")
    with _Archive(path) as archive:
        meta = archive.manifest()
        model = _architecture(archive, meta)
        slots = _check_slot_headers(archive, model)
        optimizer = _optimizer(archive, meta["compile"])
        _load_weights(archive, model)
        if optimizer is not None:
            _compile(archive, model, optimizer, meta["compile"])
            state = {m[len("optimizer/"):-4]: archive.read(m) for m in slots}
            if state:
                model._training_state()
                optimizer.state = {k: torch.from_numpy(v) for k, v in state.items()}
    return model


class _Archive:
    """An opened model file whose members have passed the size checks."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            raise self.unreadable(exc) from None
        try:
            self._check_framing()
            self.infos = self._check_members()
        except BaseException:
            self.zf.close()
            raise
        self.checksums: dict[str, str] | None = None

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.zf.close()

    # ------------------------------------------------------------------ errors
    def error(self, text: str) -> StatdlError:
        return StatdlError(f"Cannot load {str(self.path)!r}: {text}.")

    def field_error(self, field: str, expected: str, got: Any) -> StatdlError:
        shown = repr(got) if len(repr(got)) <= 80 else repr(got)[:77] + "..."
        return self.error(f"field `{field}` of {MANIFEST} must be {expected}; got {shown}")

    def unreadable(self, exc: BaseException) -> StatdlError:
        return StatdlError(f"`path` {str(self.path)!r} is not a readable statdl model file "
                           f"(corrupt, truncated or another format): {exc}")

    # ------------------------------------------------------------------ structure
    def _check_framing(self) -> None:
        """Refuse bytes before the first member or after the end-of-archive record (zipfile
        itself skips both)."""
        size = self.path.stat().st_size
        with open(self.path, "rb") as fh:
            head = fh.read(4)
            fh.seek(max(size - 22, 0))
            tail = fh.read(22)
        if self.zf.infolist() and head != b"PK\x03\x04":
            raise self.unreadable(ValueError("bytes before the first member"))
        if self.zf.comment or not tail.startswith(_END_OF_ZIP):
            raise self.unreadable(ValueError("bytes after the end of the archive"))

    def _check_members(self) -> dict[str, zipfile.ZipInfo]:
        size = self.path.stat().st_size
        infos: dict[str, zipfile.ZipInfo] = {}
        for info in self.zf.infolist():
            name = info.filename
            if name in infos:
                raise self.error(f"member `{name}` appears twice")
            if name != MANIFEST and not _MEMBER.fullmatch(name):
                raise self.error(f"unexpected member `{name}` (a model file holds only "
                                 f"{MANIFEST}, weights/*.npy and optimizer/*.npy)")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) \
                    or info.flag_bits & 0x1:
                raise self.error(f"member `{name}` is encrypted or uses compression method "
                                 f"{info.compress_type}; statdl writes only deflate")
            if info.header_offset + info.compress_size > size:
                raise self.error(f"member `{name}` declares {info.compress_size} compressed "
                                 f"bytes, past the end of the {size}-byte file")
            limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED
                                          else MAX_DEFLATE_RATIO)
            if info.file_size > limit:
                raise self.error(
                    f"member `{name}` declares {info.file_size} bytes but holds "
                    f"{info.compress_size} compressed bytes, which cannot expand to more than "
                    f"{limit}; the file is damaged or was not written by statdl"
                )
            infos[name] = info
        total = sum(info.file_size for info in infos.values())
        if total > max(MAX_TOTAL_BYTES, MAX_TOTAL_RATIO * size):
            raise self.error(f"the members declare {total} bytes in all, more than "
                             f"{MAX_TOTAL_RATIO} times the {size}-byte file; the file is "
                             "damaged or was not written by statdl")
        return infos

    def members(self, folder: str) -> list[str]:
        return [name for name in self.infos if name.startswith(folder + "/")]

    # ------------------------------------------------------------------ reading
    def _read(self, member: str) -> bytes:
        try:
            with self.zf.open(self.infos[member]) as fh:
                return fh.read()
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
                NotImplementedError) as exc:
            raise self.error(f"member `{member}` cannot be read ({exc})") from None

    def manifest(self) -> dict:
        info = self.infos.get(MANIFEST)
        if info is None:
            raise StatdlError(f"`path` {str(self.path)!r} is not a statdl model file: it has "
                              f"no member `{MANIFEST}`.")
        if info.file_size > MAX_MANIFEST_BYTES:
            raise self.error(f"member `{MANIFEST}` declares {info.file_size} bytes; a model "
                             f"description is at most {MAX_MANIFEST_BYTES}")
        try:
            meta = json.loads(self._read(MANIFEST))
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise self.error(f"member `{MANIFEST}` is not valid JSON ({exc})") from None
        if not isinstance(meta, dict):
            raise self.error(f"member `{MANIFEST}` must hold a JSON object; got a "
                             f"{type(meta).__name__}")
        if meta.get("format") != FORMAT:
            raise StatdlError(f"`path` {str(self.path)!r} is not a statdl model file "
                              f"(`format` is {meta.get('format')!r}, not {FORMAT!r}).")
        version = meta.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
            raise StatdlError(f"`path` {str(self.path)!r} was written by a newer statdl "
                              f"(format version {version}); upgrade statdl to read it.")
        if not _is_int(version) or version < 1:
            raise self.field_error("version", f"an int from 1 to {VERSION}", version)
        for key in ("model", "input_shape", "compile"):
            if key not in meta:
                raise self.error(f"field `{key}` is missing from {MANIFEST}")
        if version >= 2:
            self.checksums = self._checksums(meta.get("checksums"))
        return meta

    def _checksums(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.field_error("checksums", "an object mapping each array member to its "
                                   "SHA-256", value)
        arrays = set(self.members("weights") + self.members("optimizer"))
        missing = sorted(arrays - set(value))
        if missing:
            raise self.error(f"member `{missing[0]}` has no SHA-256 in field `checksums`")
        for name, digest in value.items():
            if name not in arrays:
                raise self.error(f"field `checksums` names member `{name}`, which the file "
                                 "lacks")
            if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                raise self.field_error(f"checksums.{name}", "64 lowercase hex digits", digest)
        return value

    def header(self, member: str) -> tuple[tuple[int, ...], np.dtype]:
        """Shape and dtype from the ``.npy`` header, after checking that the member's size is
        exactly what they imply; reads only the header."""
        info = self.infos[member]
        try:
            with self.zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
                offset = fh.tell()
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, TypeError,
                SyntaxError, RecursionError, NotImplementedError) as exc:
            raise self.error(f"member `{member}` is not a valid .npy array ({exc})") from None
        if dtype.kind not in "fiub" or dtype.hasobject or any(d < 0 for d in shape):
            raise self.error(f"member `{member}` holds {dtype} of shape {shape}, not a "
                             "numeric array")
        expected = offset + math.prod(shape) * dtype.itemsize
        if info.file_size != expected:
            raise self.error(f"member `{member}` declares {info.file_size} bytes but its "
                             f"header ({dtype}, shape {shape}) implies {expected}")
        return tuple(shape), dtype

    def read(self, member: str) -> np.ndarray:
        """The array, after checking its SHA-256 (format version 2 and later)."""
        data = self._read(member)
        if self.checksums is not None:
            digest = hashlib.sha256(data).hexdigest()
            if digest != self.checksums[member]:
                raise self.error(f"member `{member}` does not match its SHA-256 in "
                                 f"{MANIFEST} (the file was damaged after saving)")
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise self.error(f"member `{member}` is not a valid .npy array ({exc})") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ----------------------------------------------------------------------------- architecture
def layer_from_spec(spec: Any, where: str = "layer"):
    """Re-create a layer or (nested) model from ``{"class_name": ..., "config": {...}}``.

    Any problem raises ``ConfigError`` naming ``where`` (the spec's place in the file).

    Examples
    --------
    >>> layer_from_spec({"class_name": "Dense", "config": {"units": 3}}).units
    3
    >>> layer_from_spec({"class_name": "Dense", "config": {"units": "3"}}, "model")
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `model` (Dense): `units` of Dense must be an int >= 1; got '3'.
    """
    return _from_spec(spec, where, 0)


def _from_spec(spec: Any, where: str, depth: int):
    from .layers import layer_class
    from .models.functional import Model
    from .models.sequential import Sequential

    if depth > MAX_NESTING:
        raise ConfigError(f"`{where}` nests models more than {MAX_NESTING} deep.")
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
            or not isinstance(spec.get("config", {}), dict):
        shown = repr(spec) if len(repr(spec)) <= 80 else repr(spec)[:77] + "..."
        raise ConfigError(f"`{where}` must be a dict {{'class_name': str, 'config': dict}}; "
                          f"got {shown}.")
    name, config = spec["class_name"], dict(spec.get("config", {}))
    cls = Model if name == "Model" else layer_class(name)
    if cls is None:
        raise ConfigError(f"`{where}` names unknown layer class {name!r}; register custom "
                          "layers with statdl.layers.register_layer before loading.")
    if issubclass(cls, Sequential) and "layers" in config:
        if not isinstance(config["layers"], list):
            raise ConfigError(f"`{where}.config.layers` must be a list; got "
                              f"{type(config['layers']).__name__}.")
        config["layers"] = [_from_spec(s, f"{where}.config.layers[{i}]", depth + 1)
                            for i, s in enumerate(config["layers"])]
    elif issubclass(cls, Model) and not issubclass(cls, Sequential):
        try:  # the graph: each layer from its spec, then each node replayed symbolically
            return cls.from_config(config, lambda s, w: _from_spec(s, w, depth + 1), where)
        except StatdlError:
            raise
        except Exception as exc:  # untrusted graph: whatever building it raises
            raise ConfigError(f"`{where}` ({name}): {exc}") from exc
    accepted = _arguments(cls)
    unknown = sorted(set(config) - accepted) if accepted is not None else []
    if unknown:
        raise ConfigError(f"`{where}` ({name}) has the unknown argument {unknown[0]!r}; "
                          f"{name} takes {sorted(accepted)}.")
    try:
        return cls(**config)
    except Exception as exc:  # untrusted arguments: whatever the constructor raises
        raise ConfigError(f"`{where}` ({name}): {exc}") from exc


def _arguments(cls: type) -> set[str] | None:
    """The keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up the bases; None
    when they reach ``object`` (anything goes)."""
    names: set[str] = set()
    for klass in cls.__mro__[:-1]:
        if "__init__" not in vars(klass):
            continue
        params = list(inspect.signature(vars(klass)["__init__"]).parameters.values())[1:]
        names |= {p.name for p in params
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names
    return None


def _architecture(archive: _Archive, meta: dict):
    """Build the model after checking that the file's weights cover what building allocates."""
    from .layers.symbolic import deferred_building
    from .models.functional import Model

    try:
        with deferred_building():  # no weights until their count is checked below
            model = layer_from_spec(meta["model"], "model")
    except StatdlError as exc:
        raise archive.error(f"field {str(exc).rstrip('.')}") from None
    if not isinstance(model, Model):
        raise archive.field_error("model", "a Sequential or functional model",
                                  meta["model"].get("class_name"))
    shape = meta["input_shape"]
    several = isinstance(shape, list) and bool(shape) and all(isinstance(s, list) for s in shape)
    if not isinstance(shape, list) or not shape or not all(
            _dims_ok(s) for s in (shape if several else [shape])):
        raise archive.field_error("input_shape", "a non-empty list of ints >= 1 (or null)",
                                  shape)
    shape = [tuple(s) for s in shape] if several else shape
    try:
        needed = model.count_params(shape if several else tuple(shape))
    except Exception as exc:  # shapes of an untrusted architecture
        raise archive.error(f"field `model` does not fit `input_shape` {shape} ({exc})") from None
    headers = {m: archive.header(m) for m in archive.members("weights")}
    held = sum(math.prod(s) for s, _ in headers.values())
    if needed > held:
        raise archive.error(f"field `model` needs {needed} weights but the weights members "
                            f"hold {held} values")
    try:
        model.build(shape if several else tuple(shape))
    except (StatdlError, TypeError, ValueError, RuntimeError) as exc:
        raise archive.error(f"field `model` cannot be built ({exc})") from None
    _check_weight_headers(archive, model, headers)
    return model


def _dims_ok(shape: Any) -> bool:
    return isinstance(shape, list) and bool(shape) and all(
        d is None or (_is_int(d) and d >= 1) for d in shape)


def _check_weight_headers(archive: _Archive, model, headers: dict) -> None:
    state = model.module.state_dict()
    wanted = {f"weights/{key}.npy": tensor for key, tensor in state.items()}
    extra = sorted(set(headers) - set(wanted))
    if extra:
        raise archive.error(f"member `{extra[0]}` is not a weight of the architecture")
    for member, tensor in wanted.items():
        if member not in headers:
            raise archive.error(f"member `{member}` is missing")
        shape, dtype = headers[member]
        need = (tuple(tensor.shape), torch.empty(0, dtype=tensor.dtype).numpy().dtype)
        if (shape, dtype) != need:
            raise archive.error(f"member `{member}` holds {dtype} of shape {shape}; the "
                                f"architecture needs {need[1]} of shape {need[0]}")


def _load_weights(archive: _Archive, model) -> None:
    state = {m[len("weights/"):-4]: torch.from_numpy(archive.read(m))
             for m in archive.members("weights")}
    model.module.load_state_dict(state)


# ----------------------------------------------------------------------------- compile
def _check_slot_headers(archive: _Archive, model) -> list[str]:
    """The optimiser members, each checked to be one value per trainable weight."""
    params = model._trainable_parameters()
    n = sum(p.numel() for p in params)
    dtype = torch.empty(0, dtype=params[0].dtype if params else torch.float32).numpy().dtype
    members = archive.members("optimizer")
    for member in members:
        shape, got = archive.header(member)
        if shape != (n,) or got != dtype:
            raise archive.error(f"optimizer slot `{member}` must be a {dtype} vector of the "
                                f"{n} trainable weights; got {got} of shape {shape}")
    return members


def _optimizer(archive: _Archive, spec: Any):
    """The optimiser of the compile section, or None when the file holds no loss by name."""
    from .training.optimizers import OPTIMIZERS

    if spec is None:
        if archive.members("optimizer"):
            raise archive.error("optimizer members are present but field `compile` is null")
        return None
    if not isinstance(spec, dict):
        raise archive.field_error("compile", "an object or null", spec)
    for key in ("optimizer", "loss", "metrics"):
        if key not in spec:
            raise archive.error(f"field `compile.{key}` is missing from {MANIFEST}")
    if spec["loss"] is None:  # a custom loss function: the model comes back uncompiled
        return None
    opt = spec["optimizer"]
    if not isinstance(opt, dict) or not isinstance(opt.get("config"), dict):
        raise archive.field_error("compile.optimizer", "an object with `class_name`, `config` "
                                  "and `iterations`", opt)
    cls = OPTIMIZERS.get(str(opt.get("class_name")).lower())
    if cls is None:
        raise archive.field_error("compile.optimizer.class_name", "one of "
                                  f"{sorted(c.__name__ for c in OPTIMIZERS.values())}",
                                  opt.get("class_name"))
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    for key, value in opt["config"].items():
        if key not in accepted:
            raise archive.error(f"field `compile.optimizer.config` gives {cls.__name__} the "
                                f"unknown argument {key!r}; it takes {sorted(accepted)}")
        if not isinstance(value, int | float):
            raise archive.field_error(f"compile.optimizer.config.{key}", "a number", value)
    iterations = opt.get("iterations")
    if not _is_int(iterations) or not 0 <= iterations <= MAX_ITERATIONS:
        raise archive.field_error("compile.optimizer.iterations",
                                  "an int from 0 to 2**53", iterations)
    try:
        optimizer = cls(**opt["config"])
    except (StatdlError, TypeError, ValueError) as exc:
        raise archive.error(f"field `compile.optimizer.config`: {exc}") from None
    optimizer.iterations = iterations
    return optimizer


def _compile(archive: _Archive, model, optimizer, spec: dict) -> None:
    loss, metrics = spec["loss"], spec["metrics"]
    weights = spec.get("loss_weights")
    if not isinstance(loss, str) and not (isinstance(loss, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in loss.items())):
        raise archive.field_error("compile.loss", "a loss name, a dict of them, or null", loss)
    if metrics is not None and not _names_ok(metrics) and not (
            isinstance(metrics, dict) and all(_names_ok(v) for v in metrics.values())):
        raise archive.field_error("compile.metrics", "a list of metric names", metrics)
    if weights is not None and not (isinstance(weights, list | dict) and all(
            isinstance(w, int | float) and not isinstance(w, bool)
            for w in (weights.values() if isinstance(weights, dict) else weights))):
        raise archive.field_error("compile.loss_weights", "a list or dict of numbers", weights)
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics or None,
                      loss_weights=weights, device="cpu")
    except StatdlError as exc:
        raise archive.error(f"field `compile`: {exc}") from None


# ----------------------------------------------------------------------------- weights only
def _names_ok(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(m, str) for m in value)


def save_weights(model, path: str | os.PathLike) -> None:
    """Write ``model``'s weights (with its architecture, for reference; no optimiser) to
    ``path`` in the model-file format, atomically.

    Examples
    --------
    >>> import os, tempfile, statdl as sd
    >>> m = sd.Sequential([sd.layers.Dense(2)], input_shape=(3,))
    >>> path = os.path.join(tempfile.mkdtemp(), "w.statdl")
    >>> save_weights(m, path); load_weights(m, path)
    """
    save_model(model, path, include_optimizer=False)


def load_weights(model, path: str | os.PathLike) -> None:
    """Replace ``model``'s weights by those in ``path`` (from ``save_weights`` or ``save``);
    every array is checked against the model's weights (names, shapes, dtypes) and its
    SHA-256 before any is copied."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` {str(path)!r} does not exist or is not a file.")
    with _Archive(path) as archive:
        archive.manifest()
        headers = {m: archive.header(m) for m in archive.members("weights")}
        _check_weight_headers(archive, model, headers)
        _load_weights(archive, model)
