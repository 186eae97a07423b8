"""Finding data files: explicit path, ``STATDL_DATA``, the cache, system folders, download.

Resolution order for a file ``name`` of a dataset stored in folder ``subdir``:

1. an explicit ``path=`` (a file, or a folder holding ``name``);
2. ``$STATDL_DATA/<subdir>/<name>`` or ``$STATDL_DATA/<name>``;
3. the cache ``$STATDL_CACHE/<subdir>/<name>`` (default ``~/.cache/statdl``);
4. ``/usr/share/datasets/<subdir>/<name>`` (Debian's dataset packages);
5. a download from ``BASE_URLS[subdir]`` (or ``$STATDL_DATA_URL``) into the cache: written to a
   temporary file, checksum-verified, then renamed. ``STATDL_OFFLINE=1`` forbids downloads.

A file found locally is checked against the spec's MD5 checksums once; the result is
remembered in ``<cache>/verified.json`` by path, size and mtime, so an unchanged file is not
read again and a changed one is checked anew. A cached copy that fails the check (or, through
:func:`load`, fails to parse) is deleted and fetched again when downloads are allowed; any other
file that fails is never trusted nor touched: the error names it, with the expected and actual
checksums. A file given by ``path=`` under a name other than the spec's is a user-supplied
variant with no known checksum: it is read as it is (its parse is still checked).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, StatdlError
from ..validation import message

__all__ = ["DataFileError", "FileSpec", "resolve", "load", "check_path", "cache_dir",
           "BASE_URLS", "download"]


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


def check_path(path, argument: str = "path", optional: bool = True) -> Path | None:
    """``path`` as a ``Path`` (``None`` stays ``None``); a ConfigError when it is not a path.

    Examples
    --------
    >>> check_path("~/data").name
    'data'
    >>> check_path(123)
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: `path` must be a file or folder path (str or os.PathLike) or None; got int (123).
    """
    if path is None and optional:
        return None
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        what = "a file or folder path (str or os.PathLike) or None" if optional else \
            "a file path (str or os.PathLike)"
        raise ConfigError(message(argument, what, path,
                                  shown=f"{type(path).__name__} ({path!r:.40})"))
    return Path(path).expanduser()


def existing_file(path, argument: str = "path") -> Path:
    """``path`` checked to name an existing file: ConfigError or DataFileError otherwise."""
    p = check_path(path, argument, optional=False)
    if not p.is_file():
        state = "is a folder" if p.is_dir() else "does not exist"
        raise DataFileError(f"`{argument}` {os.fspath(path)!r} {state}; expected a file.")
    return p


def _local_candidates(spec: FileSpec) -> list[tuple[Path, bool]]:
    """Where ``spec`` may already be, in order, each with whether it is statdl's cache."""
    out: list[tuple[Path, bool]] = []
    data = os.environ.get("STATDL_DATA")
    if data:
        d = Path(data).expanduser()
        out += [(d / spec.subdir / spec.name, False), (d / spec.name, False)]
    out.append((cache_dir() / spec.subdir / spec.name, True))
    out += [(d / spec.subdir / spec.name, False) for d in SYSTEM_DIRS]
    return out


def _downloads_allowed(download_ok: bool = True) -> bool:
    return download_ok and os.environ.get("STATDL_OFFLINE", "") in ("", "0")


def find_local(spec: FileSpec, download_ok: bool = True) -> Path | None:
    """First local copy of ``spec`` that passes its checksum (no download).

    A cached copy that fails is deleted when downloads are allowed (so that the caller fetches
    it again); any other failing file raises ``DataFileError``.
    """
    for cand, cached in _local_candidates(spec):
        if cand.is_file():
            if _verify(spec, cand, cached, _downloads_allowed(download_ok)):
                return cand
            # the corrupt cached copy is gone: a later candidate or a download replaces it
    return None


def explicit_file(spec: FileSpec, path) -> Path:
    """The file that ``path=`` names for ``spec`` (the file, or ``spec.name`` in the folder)."""
    p = check_path(path)
    if not p.exists():
        raise DataFileError(f"`path` {os.fspath(path)!r} does not exist; pass the folder holding "
                            f"{spec.name!r}, or the file itself.")
    cand = p / spec.name if p.is_dir() else p
    if not cand.is_file():
        raise DataFileError(
            f"`path` {os.fspath(path)!r} does not hold {spec.name!r} (looked for {cand})."
        )
    if cand.name == spec.name:  # a file of another name is the user's variant: no checksum
        _verify(spec, cand, cached=False, refetch=False)
    return cand


def resolve(spec: FileSpec, path: str | os.PathLike | None = None,
            download_ok: bool = True) -> Path:
    """Path of a verified local copy of ``spec``, downloading it into the cache when needed."""
    if path is not None:
        return explicit_file(spec, path)
    local = find_local(spec, download_ok)
    if local is not None:
        return local
    target = cache_dir() / spec.subdir / spec.name
    if not _downloads_allowed(download_ok):
        raise _missing(spec, target, "downloads are disabled (STATDL_OFFLINE)")
    return download(spec, target)


def load(spec: FileSpec, path, reader):
    """``reader(resolve(spec, path))``; a cached copy that fails to parse is fetched again.

    Offline, or for a file that is not statdl's cache, the parse error is raised, naming the
    file and what to do with it.
    """
    file = resolve(spec, path)
    try:
        return reader(file)
    except DataFileError as exc:
        cached = path is None and file == cache_dir() / spec.subdir / spec.name
        if not cached:
            raise
        if not _downloads_allowed():
            raise _corrupt_cache(file, str(exc)) from None
        file.unlink(missing_ok=True)
        return reader(download(spec, file))


# ----------------------------------------------------------------------------- checksums
_MEMO = "verified.json"


def _verify(spec: FileSpec, file: Path, cached: bool, refetch: bool) -> bool:
    """Whether ``file`` has one of ``spec.md5`` (remembered by size and mtime).

    A failing cached copy is deleted and False returned when ``refetch``; every other failure
    raises ``DataFileError`` naming the file, the checksums and the fix.
    """
    if not spec.md5:
        return True
    st = file.stat()
    key = str(file.resolve())
    seen = _read_memo().get(key)
    if (isinstance(seen, dict) and seen.get("md5") in spec.md5
            and (seen.get("size"), seen.get("mtime_ns")) == (st.st_size, st.st_mtime_ns)):
        return True
    digest = md5sum(file)
    if digest in spec.md5:
        _remember(key, st, digest)
        return True
    why = f"has MD5 {digest}, expected {' or '.join(spec.md5)}"
    if cached and refetch:
        file.unlink(missing_ok=True)
        return False
    if cached:
        raise _corrupt_cache(file, f"{file} {why}.")
    raise DataFileError(
        f"{file} {why}: it is not the original {spec.name!r} (truncated, altered or another "
        f"release). Replace it with the original (from {url_for(spec)}), or remove it so that "
        "statdl uses its own verified copy."
    )


def _corrupt_cache(file: Path, why: str) -> DataFileError:
    return DataFileError(
        f"{why} The cached copy {file} is corrupt: delete it (statdl fetches it again when "
        "downloads are allowed: unset STATDL_OFFLINE) or replace it with a good copy."
    )


def _read_memo() -> dict:
    try:
        memo = json.loads((cache_dir() / _MEMO).read_text("utf-8"))
    except (OSError, ValueError):  # absent or damaged: every file is simply checked again
        return {}
    return memo if isinstance(memo, dict) else {}


def _remember(key: str, st: os.stat_result, digest: str) -> None:
    from ..utils import atomic_write

    memo = _read_memo()
    memo[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": digest}
    try:
        with atomic_write(cache_dir() / _MEMO, "w") as fh:
            json.dump(memo, fh, indent=0)
    except OSError:  # a read-only cache: the file is checked again next time, nothing else
        pass


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
        _remember(str(target.resolve()), target.stat(), digest)
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
