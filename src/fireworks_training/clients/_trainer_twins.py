"""The ``*_async`` twins of the trainer clients' methods, derived from the sync methods.

tinker and the official SDK give most methods an ``async`` twin with the same parameters.
Here such a twin is one line of the class body, ``name_async = AsyncTwin(name, ...)``: an
``async def`` that takes the sync method's parameters (``inspect.signature`` and ``help()``
show them, through ``__wrapped__``) and calls the method by name on the instance, so that a
subclass's override is the one that runs.

It is a descriptor rather than a function returned by a helper so that mypy types each twin
from the method it wraps (a helper's result would be typed from tinker's declaration of the
attribute it replaces). Where tinker's twin takes other parameters, mypy says so as an
``[assignment]`` error, ignored on that line as the sync method's ``[override]`` is.
"""

from __future__ import annotations

import asyncio
import functools
import types
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

__all__ = ["AsyncTwin"]

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


class AsyncTwin(Generic[S, P, R]):
    """The ``async`` twin of ``method``.

    ``in_thread=True`` runs the method on a worker thread (``asyncio.to_thread``): for
    methods that wait on the trainer. ``in_thread=False`` calls it on the event loop: for
    methods that do not block (an op is queued and its future returned at once).
    """

    def __init__(self, method: Callable[Concatenate[S, P], R], *, in_thread: bool) -> None:
        name = method.__name__

        @functools.wraps(method)
        async def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            bound: Callable[P, R] = getattr(self, name)
            if in_thread:
                return await asyncio.to_thread(bound, *args, **kwargs)
            return bound(*args, **kwargs)

        how = "run on a worker thread" if in_thread else "it does not block"
        twin.__doc__ = f":meth:`{name}` from async code ({how})."
        self._function = twin

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._function.__name__ = name
        self._function.__qualname__ = f"{owner.__qualname__}.{name}"

    @overload
    def __get__(
        self, instance: None, owner: type[Any]
    ) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]: ...

    @overload
    def __get__(self, instance: S, owner: type[Any]) -> Callable[P, Coroutine[Any, Any, R]]: ...

    def __get__(self, instance: S | None, owner: type[Any]) -> Any:
        if instance is None:
            return self._function
        return types.MethodType(self._function, instance)
