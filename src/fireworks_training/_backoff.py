"""The one backoff formula: every wait that grows between attempts or polls comes from here.

Retries of a failed request, operation polls, trainer job polls and trainer result polls
each keep their own cadence (first wait, multiplier, cap, jitter); the arithmetic is this.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Waits of ``first_s * multiplier**(n-1)`` plus up to ``jitter_s``, capped at ``cap_s``."""

    first_s: float
    multiplier: float = 2.0
    cap_s: float = float("inf")
    jitter_s: float = 0.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        try:
            grown = self.first_s * self.multiplier ** (attempt - 1)
        except OverflowError:
            return self.cap_s
        if self.jitter_s > 0:
            grown += random.uniform(0, self.jitter_s)
        return min(grown, self.cap_s)

    def delays(self) -> Iterator[float]:
        """The waits in order: ``delay(1)``, ``delay(2)``, ... without end."""
        attempt = 0
        while True:
            attempt += 1
            yield self.delay(attempt)
