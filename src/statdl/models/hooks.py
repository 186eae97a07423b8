"""Callbacks every ``fit`` adds: a registry other parts of statdl (tuning) install into.

Kept free of torch and of the model classes, so that installing a factory costs nothing (the
tuning child process installs one before the user's script imports torch).

Examples
--------
>>> def factory():
...     return []              # callbacks to add to every fit
>>> register_fit_callback_factory(factory)
>>> factory in fit_callback_factories()
True
>>> unregister_fit_callback_factory(factory)
"""

from __future__ import annotations

from collections.abc import Callable

from ..validation import message

__all__ = ["register_fit_callback_factory", "unregister_fit_callback_factory",
           "fit_callback_factories", "extra_fit_callbacks"]

_FACTORIES: list[Callable[[], list]] = []


def register_fit_callback_factory(factory: Callable[[], list]) -> None:
    """Make every later ``fit`` call ``factory()`` and add the callbacks it returns.

    A callback whose class is already among the user's callbacks is not added twice. Used by
    ``statdl.tuning`` to record each epoch into a run's folder (``statdl run``) without the
    trainer knowing about runs. Registering the same factory again has no effect.
    """
    if not callable(factory):
        raise TypeError(message("factory", "callable (returning a list of callbacks)", None,
                                "register_fit_callback_factory", shown=type(factory).__name__))
    if factory not in _FACTORIES:
        _FACTORIES.append(factory)


def unregister_fit_callback_factory(factory: Callable[[], list]) -> None:
    """Undo ``register_fit_callback_factory`` (no error when it was not registered)."""
    if factory in _FACTORIES:
        _FACTORIES.remove(factory)


def fit_callback_factories() -> list[Callable[[], list]]:
    """The registered factories, in registration order."""
    return list(_FACTORIES)


def extra_fit_callbacks(callbacks: list) -> list:
    """``callbacks`` plus those of the registered factories (each class at most once)."""
    out = list(callbacks)
    for factory in _FACTORIES:
        for cb in factory() or []:
            if not any(type(existing) is type(cb) for existing in out):
                out.append(cb)
    return out
