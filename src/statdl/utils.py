"""Small shared utilities: seeding, device choice, atomic file writes; and
``to_categorical``, where Keras users look for it (``keras.utils.to_categorical``).

Examples
--------
>>> from statdl.utils import to_categorical
>>> to_categorical([1, 0], num_classes=3).tolist()
[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ConfigError
from .validation import choice_error, message

if TYPE_CHECKING:  # torch is imported where it is used, so atomic_write stays cheap to import
    import torch

__all__ = ["set_seed", "resolve_device", "atomic_write", "to_categorical"]  # noqa: F822


def __getattr__(name: str):
    # ``to_categorical`` lives in statdl.preprocessing, which loads pandas: imported when
    # first asked for, so that importing this module stays cheap.
    if name == "to_categorical":
        from .preprocessing import to_categorical

        return to_categorical
    raise AttributeError(f"module 'statdl.utils' has no attribute {name!r}")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch so that CPU runs repeat bit for bit.

    Examples
    --------
    >>> import torch
    >>> set_seed(1); a = torch.rand(2)
    >>> set_seed(1); bool((a == torch.rand(2)).all())
    True
    """
    import torch

    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(message("seed", "an int >= 0", seed))
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` (or ``"cuda:1"``) into a torch device.

    ``"auto"`` (and None) is the environment variable ``STATDL_DEVICE`` when it is set (so
    ``STATDL_DEVICE=cuda pytest`` runs the tests on the GPU), else a GPU when torch sees one,
    else the CPU.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    import torch

    if isinstance(device, torch.device):
        return device
    source = "device"
    if device is None or device == "auto":
        chosen = os.environ.get("STATDL_DEVICE", "").strip()
        if not chosen or chosen == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device, source = chosen, "STATDL_DEVICE"  # the environment variable
    if not isinstance(device, str) or device.split(":")[0] not in ("cpu", "cuda", "mps"):
        raise choice_error(source, device, ["auto", "cpu", "cuda"])
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(message(source, "a device torch sees here", device,
                                  fix="Torch sees no CUDA GPU here; use 'cpu' or 'auto'."))
    try:
        return torch.device(device)
    except RuntimeError as error:  # e.g. "cuda:x"
        raise ConfigError(message(source, "a torch device name", device,
                                  fix=f"Use 'cpu', 'cuda' or 'cuda:<index>' (torch says: "
                                      f"{error}).")) from None


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temporary file beside ``path``; rename it over ``path`` only on success.

    Nothing is left half-written: if the block raises, the temporary file is removed and the
    old ``path`` (if any) is untouched.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> with atomic_write(p, "w") as f:
    ...     _ = f.write("hello")
    >>> open(p).read()
    'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    encoding = None if "b" in mode else "utf-8"
    try:
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def available_memory() -> int | None:
    """Bytes of memory the system can still give (``MemAvailable`` of ``/proc/meminfo``), or
    None where that is unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def require_memory(nbytes: int, message: str) -> None:
    """Raise ``ConfigError(message + sizes)`` when an allocation of ``nbytes`` cannot fit.

    Linux grants large allocations lazily and kills the process when the pages are touched,
    so an argument that asks for more than the machine has must be refused before allocating.

    Examples
    --------
    >>> require_memory(1024, "`maxlen` is too large")
    """
    free = available_memory()
    if free is not None and nbytes > free:
        raise ConfigError(f"{message}: it needs {nbytes / 2**30:.1f} GiB and "
                          f"{free / 2**30:.1f} GiB of memory is free.")
