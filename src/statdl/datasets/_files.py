"""Finding data files: explicit path, ``STATDL_DATA``, the cache, system folders, download.

Resolution order for a file ``name`` of a dataset stored in folder ``subdir``:

1. an explicit ``path=`` (a file, or a folder holding ``name``);
2. ``$STATDL_DATA/<subdir>/<name>`` or ``$STATDL_DATA/<name>``;
3. the cache ``$STATDL_CACHE/<subdir>/<name>`` (default ``~/.cache/statdl``);
4. ``/usr/share/datasets/<subdir>/<name>`` (Debian's dataset packages);
5. a download from ``BASE_URLS[subdir]`` (or ``$STATDL_DATA_URL``) into the cache: written to a
   temporary file, checksum-verified, then renamed. ``STATDL_OFFLINE=1`` forbids downloads.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StatdlError

__all__ = ["DataFileError", "FileSpec", "resolve", "cache_dir", "BASE_URLS", "download"]


class DataFileError(StatdlError, FileNotFoundError):
    """A data file is missing, truncated, corrupt or failed its checksum."""


# Canonical public locations. Tests (and mirrors) override them with $STATDL_DATA_URL or by
# assigning to this dict.
BASE_URLS: dict[str, str] = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
    "imdb": "https://ai.stanford.edu/~amaas/data/sentiment",
}
SYSTEM_DIRS = [Path("/usr/share/datasets")]


@dataclass(frozen=True)
class FileSpec:
    """A known data file: its name, dataset folder and accepted MD5 checksums."""

    name: str
    subdir: str
    md5: tuple[str, ...] = field(default_factory=tuple)
    size_hint: str = ""


def cache_dir() -> Path:
    """The download cache: ``$STATDL_CACHE`` or ``~/.cache/statdl``.

    Examples
    --------
    >>> isinstance(cache_dir(), Path)
    True
    """
    env = os.environ.get("STATDL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "statdl"


def _candidates(spec: FileSpec, path: str | os.PathLike | None) -> list[Path]:
    out: list[Path] = []
    if path is not None:
        p = Path(path).expanduser()
        return [p / spec.name] if p.is_dir() else [p]
    data = os.environ.get("STATDL_DATA")
    if data:
        d = Path(data).expanduser()
        out += [d / spec.subdir / spec.name, d / spec.name]
    out.append(cache_dir() / spec.subdir / spec.name)
    out += [d / spec.subdir / spec.name for d in SYSTEM_DIRS]
    return out


def find_local(spec: FileSpec, path: str | os.PathLike | None = None) -> Path | None:
    """First existing local candidate for ``spec`` (no download)."""
    for cand in _candidates(spec, path):
        if cand.is_file():
            return cand
    return None


def resolve(spec: FileSpec, path: str | os.PathLike | None = None,
            download_ok: bool = True) -> Path:
    """Path of a local copy of ``spec``, downloading it into the cache when needed."""
    if path is not None:
        cand = _candidates(spec, path)[0]
        if not cand.is_file():
            raise DataFileError(
                f"`path` {os.fspath(path)!r} does not hold {spec.name!r} (looked for {cand})."
            )
        return cand
    local = find_local(spec)
    if local is not None:
        return local
    target = cache_dir() / spec.subdir / spec.name
    if not download_ok or os.environ.get("STATDL_OFFLINE", "") not in ("", "0"):
        raise _missing(spec, target, "downloads are disabled (STATDL_OFFLINE)")
    return download(spec, target)


def _missing(spec: FileSpec, target: Path, why: str) -> DataFileError:
    data = os.environ.get("STATDL_DATA")
    where = f"$STATDL_DATA/{spec.subdir}/ ({data})" if data else "a folder named by $STATDL_DATA"
    return DataFileError(
        f"Data file {spec.name!r} ({spec.subdir}) is not available locally and {why}. "
        f"Put it in {target.parent}/, or in {where}, or pass `path=`."
    )


def url_for(spec: FileSpec) -> str:
    base = os.environ.get("STATDL_DATA_URL") or BASE_URLS[spec.subdir]
    return base.rstrip("/") + "/" + spec.name


def md5sum(path: str | os.PathLike) -> str:
    """Hex MD5 of a file."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(spec: FileSpec, target: Path, progress: bool = True) -> Path:
    """Fetch ``spec`` to ``target`` through a temporary file, verifying its MD5."""
    url = url_for(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".part", dir=target.parent)
    try:
        h = hashlib.md5()
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                total = int(resp.headers.get("Content-Length") or 0) or None
                with _progress(spec.name, total, progress) as advance:
                    for block in iter(lambda: resp.read(1 << 16), b""):
                        out.write(block)
                        h.update(block)
                        advance(len(block))
                out.flush()
                os.fsync(out.fileno())
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise _missing(spec, target, f"the download from {url} failed ({exc})") from None
        digest = h.hexdigest()
        if spec.md5 and digest not in spec.md5:
            raise DataFileError(
                f"Downloaded {spec.name!r} from {url} has MD5 {digest}, expected "
                f"{' or '.join(spec.md5)}; the file was discarded."
            )
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


@contextlib.contextmanager
def _progress(name: str, total: int | None, enabled: bool):
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), transient=True) as bar:
        task = bar.add_task(f"Downloading {name}", total=total)
        yield lambda n: bar.update(task, advance=n)
