"""A fake monotonic clock for tests: it moves only when the code under test sleeps."""

from __future__ import annotations


class FakeClock:
    """Call it for the time; ``sleep``/``async_sleep`` record the wait and move the time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)
