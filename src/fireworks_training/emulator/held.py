"""Counts of requests the emulator is holding right now, that a test thread can wait on."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["HeldRequests"]


class HeldRequests:
    """How many requests are held now, per key (a job id, or ``""``); safe from any thread."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._counts: Counter[str] = Counter()

    @contextmanager
    def holding(self, key: str = "") -> Iterator[None]:
        """Count one request as held while the block runs."""
        self._add(key, 1)
        try:
            yield
        finally:
            self._add(key, -1)

    def _add(self, key: str, n: int) -> None:
        with self._changed:
            self._counts[key] += n
            self._changed.notify_all()

    def count(self, key: str = "") -> int:
        """Requests held now under ``key``."""
        with self._changed:
            return self._counts[key]

    def wait_for(self, key: str = "", count: int = 1, timeout: float | None = None) -> bool:
        """Block until at least ``count`` requests are held under ``key``; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._counts[key] >= count, timeout)
