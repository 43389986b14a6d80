"""The base of every backend service: the shared store, its lock, the clock, the settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from .settings import Settings
from .store import Clock, Store
from .wire import ApiError

__all__ = ["Service", "lookup"]

T = TypeVar("T")


class Service:
    """A part of the backend over the shared store.

    Every public method takes ``_lock`` itself (reentrant, shared by all services, since they
    persist into one file and some calls span two services); routes and the ``Emulator``
    never lock.
    """

    def __init__(self, store: Store, clock: Clock, settings: Settings) -> None:
        self._store = store
        self._lock = store.lock
        self._clock = clock
        self._settings = settings

    @property
    def _account(self) -> str:
        return self._settings.account_id


def lookup(table: Mapping[str, T], key: str, what: str) -> T:
    """``table[key]``, or a 404 naming ``what``."""
    found = table.get(key)
    if found is None:
        raise ApiError(404, f"{what} {key!r} not found", reason="NOT_FOUND")
    return found
