"""Exception types shared by the whole package."""

from __future__ import annotations

__all__ = ["StatdlError", "NotFittedError", "ShapeError", "ConfigError"]


class StatdlError(ValueError):
    """Base class of statdl's user-facing errors (a ``ValueError``)."""


class NotFittedError(StatdlError, AttributeError):
    """A method that needs a fitted, built or compiled object was called too early."""


class ShapeError(StatdlError):
    """Two shapes that must agree do not."""


class ConfigError(StatdlError):
    """An argument has a value outside what is accepted."""


def choice_error(argument: str, got: object, valid: list[str] | tuple[str, ...]) -> ConfigError:
    """The error for an unknown name, listing the valid ones: kept for code that imported it
    from here; statdl itself uses ``statdl.validation.choice_error`` (same words, plus the
    closest name), which sits above this module and so cannot be imported by it.

    Examples
    --------
    >>> str(choice_error("loss", "msq", ["mse", "mae"]))
    "`loss` must be one of 'mae', 'mse'; got 'msq'."
    """
    names = ", ".join(repr(v) for v in sorted(valid))
    return ConfigError(f"`{argument}` must be one of {names}; got {got!r}.")
