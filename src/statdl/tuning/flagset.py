"""Flags: a training script's typed hyperparameters, with tfruns's precedence.

Values come from, lowest to highest: the defaults declared in the script, a ``flags.yml``
beside the script, the script's command line (``--nodes1=128`` or ``--nodes1 128``), and the
values passed by :func:`statdl.training_run` / :func:`statdl.tuning_run` (JSON in the
``STATDL_FLAGS`` environment variable).

:func:`parse_flags` is the parsing alone (only what it is given; no output, no exit);
:func:`flags` adds a script's context. Nothing here exits the process: ``--help-flags``
raises :class:`FlagsHelpRequested`, and the declaration that ``declared_flags`` asks for goes
to the handler the run's child process installs (:func:`on_declare`).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, StatdlError
from ..run_folders.files import ENV_FLAGS, ENV_RUN_DIR, META, write_json
from ..validation import check_callable, check_choice, label, message

__all__ = [
    "Flag", "Flags", "flags", "flag_integer", "flag_numeric", "flag_boolean", "flag_string",
    "convert_flag", "parse_scalar", "read_flags_file", "parse_flags", "script_arguments",
    "FlagsHelpRequested", "on_declare",
]

TYPES = ("integer", "numeric", "boolean", "string")
_TRUE = {"true", "yes", "on", "y", "t", "1"}
_FALSE = {"false", "no", "off", "n", "f", "0"}
_INT_RE = re.compile(r"^[-+]?\d+$")
_FLOAT_RE = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(\.inf|inf|\.nan|nan)$", re.I)


@dataclass(frozen=True)
class Flag:
    """One declared flag: its name, type (integer, numeric, boolean, string), default and help."""

    name: str
    type: str
    default: Any
    description: str = ""
    range: tuple[Any, Any] | None = None       # where a random or TPE search draws it
    log: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = {"type": self.type, "default": self.default, "description": self.description}
        if self.range is not None:
            out.update(range=list(self.range), log=self.log)
        return out


def _make(kind: str, name: str, default: Any, description: str | None,
          range: Any = None, log: bool = False) -> Flag:
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(message("name", "a Python identifier", name, "a flag"))
    if range is not None:
        from .search import search_range  # checks the ends (and log's low > 0)

        if not isinstance(range, list | tuple) or len(range) != 2:
            raise ConfigError(message("range", "(low, high)", range, f"flag `{name}`"))
        try:
            span = search_range(*(convert_flag(name, kind, v) for v in range), log=log)
        except ConfigError as exc:
            raise ConfigError(f"{label('range', f'flag `{name}`')}: {exc}") from None
        range = (span.low, span.high)
    elif log:
        raise ConfigError(message("log", "False without a `range` to draw from", log,
                                  f"flag `{name}`", fix="E.g. range=(1e-4, 1e-1), log=True."))
    return Flag(name, kind, convert_flag(name, kind, default), description or "", range, log)


def flag_integer(name: str, default: int, description: str | None = None, *,
                 range: tuple[int, int] | None = None, log: bool = False) -> Flag:
    """Declare an integer flag (tfruns's ``flag_integer``).

    ``range=(low, high)`` (and ``log=True`` for a log scale) is where
    ``tuning_run(search="random" | "tpe")`` draws it when given no ``flags``.

    Examples
    --------
    >>> flags(flag_integer("nodes1", 256, "units of the first layer")).nodes1
    256
    """
    return _make("integer", name, default, description, range, log)


def flag_numeric(name: str, default: float, description: str | None = None, *,
                 range: tuple[float, float] | None = None, log: bool = False) -> Flag:
    """Declare a floating-point flag (tfruns's ``flag_numeric``).

    ``range=(low, high)`` (and ``log=True`` to draw uniformly on the log scale) is where
    ``tuning_run(search="random" | "tpe")`` draws it when given no ``flags``.

    Examples
    --------
    >>> flags(flag_numeric("dropout1", 0.4)).dropout1
    0.4
    >>> flag_numeric("lr", 0.01, range=(1e-4, 0.1), log=True).to_dict()["range"]
    [0.0001, 0.1]
    """
    return _make("numeric", name, default, description, range, log)


def flag_boolean(name: str, default: bool, description: str | None = None) -> Flag:
    """Declare a boolean flag (tfruns's ``flag_boolean``).

    Examples
    --------
    >>> flags(flag_boolean("batchnorm", False)).batchnorm
    False
    """
    return _make("boolean", name, default, description)


def flag_string(name: str, default: str, description: str | None = None) -> Flag:
    """Declare a string flag (tfruns's ``flag_string``).

    Examples
    --------
    >>> flags(flag_string("optimizer", "rmsprop")).optimizer
    'rmsprop'
    """
    return _make("string", name, default, description)


def _type_of(name: str, default: Any) -> str:
    if isinstance(default, bool):
        return "boolean"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "numeric"
    if isinstance(default, str):
        return "string"
    if hasattr(default, "item") and not isinstance(default, list | tuple | dict):
        return _type_of(name, default.item())         # numpy scalar
    raise ConfigError(message("default", "of type int, float, bool or str", default,
                              f"flag `{name}`", shown=f"{default!r} ({type(default).__name__})"))


def parse_scalar(text: str) -> Any:
    """Read a command-line or ``flags.yml`` value as YAML would: bool, int, float, str or list.

    Examples
    --------
    >>> parse_scalar("128"), parse_scalar("1e-3"), parse_scalar("yes"), parse_scalar("'adam'")
    (128, 0.001, True, 'adam')
    >>> parse_scalar("[1, 2]")
    [1, 2]
    """
    s = text.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    if s.startswith("[") and s.endswith("]"):
        inner = s[1:-1].strip()
        return [parse_scalar(p) for p in inner.split(",")] if inner else []
    low = s.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "~", ""):
        return None
    if _INT_RE.match(s):
        return int(s)
    if _FLOAT_RE.match(s):
        return float(s.replace(".inf", "inf").replace(".nan", "nan"))
    return s


def convert_flag(name: str, kind: str, value: Any) -> Any:
    """Convert ``value`` to the flag's type or raise a ConfigError naming the flag and type.

    Strings are read as on a command line (``"128"`` -> 128 for an integer flag).

    Examples
    --------
    >>> convert_flag("nodes1", "integer", "128"), convert_flag("lr", "numeric", 1)
    (128, 1.0)
    >>> convert_flag("nodes1", "integer", "abc")
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: Unable to convert flag `nodes1` to integer: got 'abc'.
    """
    check_choice(kind, "type", TYPES, f"flag `{name}`")
    if hasattr(value, "item") and not isinstance(value, list | tuple | dict | str):
        value = value.item()
    if isinstance(value, list | tuple | dict | set):
        raise ConfigError("Flag " + message(name, f"a single {kind} value", value,
                                            shown=f"{value!r}, which has length > 1"))
    bad = ConfigError(f"Unable to convert flag `{name}` to {kind}: got {value!r}.")
    if kind == "string":
        if value is None:
            raise bad
        return value if isinstance(value, str) else str(value)
    if isinstance(value, str):
        if kind == "boolean":
            low = value.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise bad
        value = parse_scalar(value)
        if isinstance(value, str | list) or value is None:
            raise bad
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        raise bad
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError("Flag " + message(name, "a finite number", value))
    if kind == "integer":
        if isinstance(value, float):
            if not value.is_integer():
                raise bad
            return int(value)
        return int(value)
    return float(value)


class Flags(Mapping):
    """The resolved flag values: ``FLAGS.nodes1`` or ``FLAGS["nodes1"]``.

    ``declared`` holds the :class:`Flag` declarations, ``sources`` where each value came
    from (``default``, ``file``, ``command line`` or ``run``) and ``help_requested`` whether
    ``--help-flags`` was among the arguments.

    Examples
    --------
    >>> FLAGS = flags(nodes1=256, optimizer="rmsprop")
    >>> FLAGS.nodes1 + 1, dict(FLAGS)
    (257, {'nodes1': 256, 'optimizer': 'rmsprop'})
    """

    def __init__(self, declared: dict[str, Flag], values: dict[str, Any],
                 sources: dict[str, str], help_requested: bool = False):
        object.__setattr__(self, "declared", declared)
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "sources", dict(sources))
        object.__setattr__(self, "help_requested", help_requested)

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(f"no flag named {name!r}; declared: {sorted(self._values)}") from None

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"no flag named {name!r}; declared: {sorted(values)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("flags are read-only; change them with flags.yml, the command "
                             "line or training_run(flags=...)")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def to_dict(self) -> dict[str, Any]:
        """The values as a plain dict."""
        return dict(self._values)

    def __repr__(self) -> str:
        if not self._values:
            return "Flags()"
        width = max(len(n) for n in self._values)
        lines = [f"{'name':<{width}}  {'type':<8} {'value':<14} source"]
        for n, v in self._values.items():
            lines.append(f"{n:<{width}}  {self.declared[n].type:<8} {v!r:<14} {self.sources[n]}")
        return "\n".join(lines)


def _strip_comment(text: str) -> str:
    quote = None
    for i, ch in enumerate(text):
        if ch in "'\"":
            quote = None if quote == ch else (ch if quote is None else quote)
        elif ch == "#" and quote is None and (i == 0 or text[i - 1].isspace()):
            return text[:i]
    return text


def _unquote(text: str) -> str:
    s = text.strip()
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"" else s


def read_flags_file(path: str | os.PathLike, profile: str | None = None) -> dict[str, str]:
    """Read a flat ``flags.yml`` (``name: value`` lines; ``#`` comments).

    A config-package style file (top-level profiles such as ``default:`` with indented flags) is
    read too: the ``default`` profile, overlaid with ``profile`` (``STATDL_CONFIG`` or
    ``R_CONFIG_ACTIVE`` when not given). Values come back as raw text; the flag types convert them.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "flags.yml")
    >>> _ = open(p, "w").write("nodes1: 128  # units\\noptimizer: 'adam'\\n")
    >>> read_flags_file(p)
    {'nodes1': '128', 'optimizer': 'adam'}
    """
    flat: dict[str, str] = {}
    nested: dict[str, dict[str, str]] = {}
    current: str | None = None
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = _strip_comment(raw.rstrip("\n")).rstrip()
            if not line.strip() or line.strip() == "---":
                continue
            indented = line[0] in " \t"
            key, sep, value = line.strip().partition(":")
            key = key.strip().strip("'\"")
            if not sep or not key:
                raise ConfigError(f"{path}, line {lineno}: expected `name: value`; got {raw.strip()!r}.")
            if indented:
                if current is None:
                    raise ConfigError(f"{path}, line {lineno}: unexpected indentation.")
                nested[current][key] = _unquote(value)
            elif value.strip():
                flat[key] = _unquote(value)
                current = None
            else:
                current = key
                nested[key] = {}
    if nested:
        profile = profile or os.environ.get("STATDL_CONFIG") or os.environ.get(
            "R_CONFIG_ACTIVE", "default")
        merged = dict(nested.get("default", {}))
        merged.update(nested.get(profile, {}))
        merged.update(flat)
        return merged
    return flat


def _script_path() -> Path | None:
    """The running script when Python runs one (``python x.py`` or a training run)."""
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    if getattr(main, "__spec__", None) is None and isinstance(file, str) and file.endswith(".py"):
        return Path(file)
    return None


def script_arguments() -> list[str]:
    """The command-line arguments of the running script, as ``flags()`` reads them by default.

    ``sys.argv[1:]`` when Python was started to run a script file (``python train.py
    --nodes1 64``, or ``statdl run`` / ``training_run``, whose child runs the script so): the
    arguments were given to that script, as tfruns reads ``Rscript train.R --nodes1 64``.
    Empty otherwise (a notebook, ``python -m``, pytest), so a library call never picks up
    another program's arguments.

    Examples
    --------
    >>> script_arguments()    # under the doctest runner: no script of ours
    []
    """
    return sys.argv[1:] if _script_path() is not None else []


class FlagsHelpRequested(StatdlError):
    """``--help-flags`` (or ``--help``) was among a script's arguments: the script should stop.

    ``help`` holds the text listing the flags. The command line (``statdl run``, the child of
    ``training_run``) prints it and ends the script with exit code 0; elsewhere the exception
    says so itself, since library code never exits the process.
    """

    def __init__(self, help: str):
        super().__init__(f"{help}\n(--help-flags was given: the flags are listed above and the "
                         "script stops here; run it without --help-flags to train)")
        self.help = help


# What the command line does with a declaration (``statdl.tuning._child`` in declaration mode:
# write it and stop the script). None: flags() resolves values as usual.
_on_declare: Callable[[dict[str, dict]], None] | None = None


def on_declare(handler: Callable[[dict[str, dict]], None] | None) -> None:
    """Make every later :func:`flags` call hand its declaration (name -> ``{"type", "default",
    "description"}``) to ``handler`` first; ``None`` undoes it.

    Used by ``statdl.tuning._child`` so that :func:`statdl.tuning.declared_flags` learns a
    script's flags without training: its handler writes them and stops the script.

    Examples
    --------
    >>> seen = []
    >>> on_declare(seen.append)
    >>> _ = flags(units=8, arguments=[])
    >>> on_declare(None)
    >>> seen
    [{'units': {'type': 'integer', 'default': 8, 'description': ''}}]
    """
    global _on_declare
    check_callable(handler, "handler", "on_declare", allow_none=True)
    _on_declare = handler


def _parse_command_line(arguments: list[str]) -> tuple[dict[str, str], bool]:
    values: dict[str, str] = {}
    want_help = False
    i = 0
    while i < len(arguments):
        arg = arguments[i]
        i += 1
        if arg == "--args":
            break
        if arg in ("--help", "--help-flags", "-h"):
            want_help = True
            continue
        if not arg.startswith("--") or len(arg) == 2:
            continue
        key, sep, value = arg[2:].partition("=")
        if not sep:
            if i < len(arguments) and not arguments[i].startswith("--"):
                value = arguments[i]
                i += 1
            else:
                value = "true"
        values[key.replace("-", "_")] = value
    return values, want_help


def _help_text(declared: dict[str, Flag], values: dict[str, Any]) -> str:
    lines = ["Flags (set with --name=value):"]
    width = max([len(n) for n in declared] + [4])
    for n, f in declared.items():
        desc = f" {f.description}" if f.description else ""
        lines.append(f"  --{n.replace('_', '-'):<{width}}  {f.type:<8}{desc} ({values[n]!r})")
    return "\n".join(lines)


def _undeclared(names: list[str], declared: dict[str, Flag], where: str) -> ConfigError:
    return ConfigError(
        f"The following flags were provided {where} but not declared: {', '.join(names)}. "
        f"Declared flags: {', '.join(declared) or '(none)'}."
    )


def _declare(declarations: tuple[Any, ...], defaults: dict[str, Any]) -> dict[str, Flag]:
    declared: dict[str, Flag] = {}
    for d in declarations:
        if not isinstance(d, Flag):
            raise ConfigError(message("*declarations", "flag_integer/flag_numeric/... "
                                      "declarations", d, "flags",
                                      fix="Use name=default for plain defaults."))
        if d.name in declared:
            raise ConfigError(message(d.name, "declared once", d, "flags",
                                      shown="a flag declared more than once"))
        declared[d.name] = d
    for name, default in defaults.items():
        if name in declared:
            raise ConfigError(message(name, "declared once", default, "flags",
                                      shown="a flag declared more than once"))
        kind = _type_of(name, default)
        declared[name] = Flag(name, kind, convert_flag(name, kind, default))
    return declared


def _overlay(declared: dict[str, Flag], values: dict[str, Any], sources: dict[str, str],
             given: Mapping[str, Any], source: str, where: str) -> None:
    unknown = [k for k in given if k not in declared]
    if unknown:
        raise _undeclared(unknown, declared, where)
    for k, v in given.items():
        values[k] = convert_flag(k, declared[k].type, v)
        sources[k] = source


def _find_file(file: str | os.PathLike, script_dir: Path | None) -> Path | None:
    path = Path(file)
    candidates = [path] if path.is_absolute() else (
        ([script_dir / path] if script_dir else []) + [Path.cwd() / path])
    found = next((c for c in candidates if c.is_file()), None)
    if found is None and str(file) != "flags.yml":
        warnings.warn(f"flags file {file} not found; using the defaults", stacklevel=4)
    return found


def parse_flags(*declarations: Flag, file: str | os.PathLike | None = "flags.yml",
                arguments: list[str] | tuple[str, ...] = (),
                passed: Mapping[str, Any] | None = None,
                script_dir: str | os.PathLike | None = None, **defaults: Any) -> Flags:
    """Resolve flag values from exactly what is given: no ``sys.argv``, no environment, no
    output, no exit, nothing written.

    :func:`flags` is this plus a script's context (its command line, the values a training
    run passes, recording them in the run folder). Precedence, lowest to highest: defaults,
    ``file``, ``arguments``, ``passed``. ``--help-flags`` among ``arguments`` sets
    ``help_requested`` on the result instead of stopping anything.

    Examples
    --------
    >>> F = parse_flags(nodes1=256, lr=0.1, arguments=["--nodes1", "64"], passed={"lr": 0.01})
    >>> F.nodes1, F.lr, F.sources["lr"], F.help_requested
    (64, 0.01, 'run', False)
    >>> parse_flags(nodes1=256, arguments=["--nodes2=3"])
    Traceback (most recent call last):
    ...
    statdl.errors.ConfigError: The following flags were provided on the command line but not ...
    """
    declared = _declare(declarations, defaults)
    return _resolve(declared, file, list(arguments), passed,
                    Path(script_dir) if script_dir is not None else None)


def _resolve(declared: dict[str, Flag], file: str | os.PathLike | None, arguments: list[str],
             passed: Mapping[str, Any] | None, script_dir: Path | None) -> Flags:
    values = {n: f.default for n, f in declared.items()}
    sources = dict.fromkeys(declared, "default")
    found = _find_file(file, script_dir) if file is not None else None
    if found is not None:
        _overlay(declared, values, sources, read_flags_file(found), "file", f"in {found}")
    cmd, want_help = _parse_command_line(arguments)
    _overlay(declared, values, sources, cmd, "command line", "on the command line")
    if passed:
        _overlay(declared, values, sources, passed, "run", "by the training run")
    return Flags(declared, values, sources, help_requested=want_help)


def _passed_by_run() -> dict[str, Any] | None:
    text = os.environ.get(ENV_FLAGS)
    if not text:
        return None
    try:
        passed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(message(ENV_FLAGS, "a JSON object", text, verb="hold",
                                  shown=f"{text!r} ({exc})")) from None
    if not isinstance(passed, dict):
        raise ConfigError(message(ENV_FLAGS, "a JSON object", passed, verb="hold"))
    return passed


def flags(*declarations: Flag, file: str | os.PathLike | None = "flags.yml",
          arguments: list[str] | None = None, **defaults: Any) -> Flags:
    """Declare a script's flags and resolve their values.

    Parameters
    ----------
    *declarations : Flag
        Flags made with :func:`flag_integer`, :func:`flag_numeric`, :func:`flag_boolean` or
        :func:`flag_string` (these carry a description for ``--help-flags``).
    file : str or path, optional
        YAML file of values; a relative path is looked up beside the running script (then in
        the working directory). A missing default ``flags.yml`` is ignored; a missing file given
        explicitly only warns, as in tfruns. ``None`` skips it.
    arguments : list of str, optional
        Command-line arguments; by default the running script's (:func:`script_arguments`:
        ``sys.argv[1:]`` only when Python runs a script file, as tfruns reads them).
    **defaults
        ``name=default``; the type (int, float, bool, str) is the default's.

    Returns
    -------
    Flags
        Read-only mapping with attribute access. Inside a training run the values are also
        recorded in the run folder (``flags.json``).

    Raises
    ------
    ConfigError
        An undeclared flag was given, a value does not convert, or a name is declared twice.
    FlagsHelpRequested
        ``--help-flags`` was given: the script should stop (``statdl run`` prints the help and
        exits 0). Nothing here exits the process.

    Examples
    --------
    >>> FLAGS = flags(nodes1=256, dropout1=0.4, optimizer="rmsprop", arguments=["--nodes1=64"])
    >>> FLAGS.nodes1, FLAGS.sources["nodes1"], FLAGS["dropout1"]
    (64, 'command line', 0.4)
    """
    declared = _declare(declarations, defaults)
    if _on_declare is not None:
        _on_declare({n: f.to_dict() for n, f in declared.items()})
    script = _script_path()
    result = _resolve(declared, file, script_arguments() if arguments is None else list(arguments),
                      _passed_by_run(), script.parent if script else None)
    if result.help_requested:
        raise FlagsHelpRequested(_help_text(declared, dict(result)))
    run_dir = os.environ.get(ENV_RUN_DIR)
    if run_dir and os.path.isdir(run_dir):
        write_json(Path(run_dir) / META / "flags.json", dict(result))
        write_json(Path(run_dir) / META / "flag_types.json",
                   {n: f.type for n, f in declared.items()})
    return result
