"""Model files: a zip archive with ``model.json`` (architecture, compile settings) and one
``.npy`` array per weight and optimiser slot. ``numpy.load(allow_pickle=False)`` reads the
arrays, so loading a file never executes code from it."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from .errors import ConfigError, StatdlError

__all__ = ["save_model", "load_model"]

FORMAT = "statdl-model"
VERSION = 1


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def save_model(model, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` atomically (see module docstring for the format)."""
    from .model import layer_to_config
    from .utils import atomic_write

    module = model.module
    compiled = None
    if model._compiled is not None:
        opt = model._compiled["optimizer"]
        compiled = {
            "optimizer": {"class_name": type(opt).__name__, "config": opt.get_config(),
                          "iterations": opt.iterations},
            "loss": model._compiled["loss_name"] if isinstance(model._compiled["loss_name"], str)
            else None,
            "metrics": model._compiled["metric_names"],
        }
    meta = {
        "format": FORMAT, "version": VERSION, "model": layer_to_config(model),
        "input_shape": list(model.built_shape_ or model.input_shape),
        "compile": compiled,
    }
    state = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}
    with atomic_write(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.json", json.dumps(meta, indent=1))
        for key, value in state.items():
            zf.writestr(f"weights/{key}.npy", _npy(value))
        if compiled is not None:
            for key, value in model._compiled["optimizer"].state.items():
                zf.writestr(f"optimizer/{key}.npy", _npy(value.detach().cpu().numpy()))


def load_model(path: str | os.PathLike):
    """Read a model saved by ``Sequential.save``; raises a clear error for other files."""
    from .model import layer_from_config
    from .training.optimizers import OPTIMIZERS

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"`path` {str(path)!r} does not exist or is not a file.")
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("model.json"))
            if meta.get("format") != FORMAT:
                raise StatdlError(f"`path` {str(path)!r} is not a statdl model file.")
            if meta.get("version", 0) > VERSION:
                raise StatdlError(
                    f"`path` {str(path)!r} was written by a newer statdl (format version "
                    f"{meta['version']}); upgrade statdl to read it."
                )
            arrays = {name[len("weights/"):-4]: np.load(io.BytesIO(zf.read(name)),
                                                       allow_pickle=False)
                      for name in zf.namelist() if name.startswith("weights/")}
            slots = {name[len("optimizer/"):-4]: np.load(io.BytesIO(zf.read(name)),
                                                        allow_pickle=False)
                     for name in zf.namelist() if name.startswith("optimizer/")}
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError, EOFError) as exc:
        if isinstance(exc, StatdlError):
            raise
        raise StatdlError(
            f"`path` {str(path)!r} is not a readable statdl model file (corrupt, truncated or "
            f"another format): {exc}"
        ) from None
    model = layer_from_config(meta["model"])
    model.build(tuple(meta["input_shape"]))
    state = {k: torch.from_numpy(v) for k, v in arrays.items()}
    try:
        model.module.load_state_dict(state)
    except RuntimeError as exc:
        raise StatdlError(f"The weights in {str(path)!r} do not fit the architecture: {exc}"
                          ) from None
    compiled = meta.get("compile")
    if compiled and compiled.get("loss"):
        spec = compiled["optimizer"]
        cls = OPTIMIZERS.get(spec["class_name"].lower())
        if cls is None:
            raise ConfigError(f"Unknown optimizer {spec['class_name']!r} in {str(path)!r}.")
        optimizer = cls(**spec["config"])
        optimizer.iterations = int(spec.get("iterations", 0))
        model.compile(optimizer=optimizer, loss=compiled["loss"],
                      metrics=compiled.get("metrics") or None, device="cpu")
        if slots:
            model._training_state()
            optimizer.state = {k: torch.from_numpy(v.copy()) for k, v in slots.items()}
    return model
